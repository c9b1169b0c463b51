"""What every task pipeline shares: configuration, run directories, atomic files, metrics
tables, model weights and the trainer configuration.

Run directory layout (``--out DIR``)::

    DIR/run.json           the manifest: settings (written before training), status, checksums
    DIR/config.json        task, dataset, every setting (model, data, training), tokenizer/scaler
    DIR/model.safetensors  the trained weights
    DIR/metrics.json       {"task", "dataset", "test": {...}, "baselines": {...}, "train_seconds"}
    DIR/checkpoints/       the trainer's checkpoints (for --resume DIR)
    DIR/*.png              plots; DIR/history.csv the per-epoch history
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from rnnkit.tasks import rundir
from rnnkit.tasks.errors import UsageError

__all__ = [
    "COMMON_DEFAULTS",
    "CLIError",
    "UsageError",
    "format_table",
    "load_config_file",
    "load_weights",
    "make_out_dir",
    "read_run",
    "resolve_config",
    "save_weights",
    "trainer_config",
    "write_json",
    "write_metrics",
]


# The historical name of :class:`~rnnkit.tasks.errors.UsageError` (one class, two names).
CLIError = UsageError


COMMON_DEFAULTS: dict[str, Any] = {
    "data": None,
    "test_data": None,
    "model": "lstm",
    "epochs": None,
    "time_budget": None,
    "out": None,
    "resume": None,
    "overwrite": False,
    "seed": 0,
    "quiet": False,
    "batch_size": None,
    "lr": None,
    "hidden_size": None,
    "num_layers": None,
    "dropout": None,
    "bidirectional": None,
    "layer_norm": None,
    "precision": "fp32",
    "device": "auto",
}


def load_config_file(path: str | os.PathLike | None, allowed: set[str]) -> dict[str, Any]:
    """Read a TOML config; every key must be a known setting (the flags' names, with ``_``).

    Nested tables are flattened one level (``[model] hidden_size = 64`` → ``hidden_size``).
    """
    if path is None:
        return {}
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"--config: expected a TOML file, got '{p}' (no such file).")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise CLIError(f"--config: expected valid TOML in '{p}', got a syntax error: {e}.") from e
    flat: dict[str, Any] = {}
    for k, v in raw.items():
        items = v.items() if isinstance(v, dict) else [(k, v)]
        for kk, vv in items:
            key = kk.replace("-", "_")
            if key not in allowed:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise CLIError(f"--config: unknown key '{kk}' in '{p}'.{hint} Allowed keys: "
                               f"{', '.join(sorted(allowed))}.")
            flat[key] = vv
    return flat


def resolve_config(task_defaults: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """defaults < TOML file (``args['config']``) < flags given on the command line (not None)."""
    defaults = {**COMMON_DEFAULTS, **task_defaults}
    cfg = dict(defaults)
    cfg.update(load_config_file(args.get("config"), set(defaults)))
    cfg.update({k: v for k, v in args.items() if v is not None and k in defaults})
    return cfg


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, sort_keys=False, default=_json_default)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def make_out_dir(cfg: dict[str, Any], task: str, dataset: str, *,
                 no_checkpoints: str | None = None) -> Path:
    """The run directory (``--out``, ``--resume``'s, or ``runs/<task>-<dataset>``), created
    with its ``run.json`` settings: call it only once every setting has validated. See
    :func:`rnnkit.tasks.rundir.open_run` for the rules (no silent overwrite, no folder of
    other files; ``no_checkpoints`` names a training path that cannot be continued)."""
    return rundir.open_run(_as_dict(cfg), task, dataset, no_checkpoints=no_checkpoints)


def _as_dict(cfg: Any) -> dict[str, Any]:
    """A settings dataclass (``tasks.task.CommonSettings``) or a dict, as a dict."""
    return cfg.to_dict() if hasattr(cfg, "to_dict") else cfg


def save_weights(model: torch.nn.Module, out_dir: str | os.PathLike) -> Path:
    """``out_dir/model.safetensors``, written atomically; its sha256 goes into ``run.json``."""
    path = Path(out_dir) / "model.safetensors"
    tmp = path.with_name(f".{path.name}.tmp")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    try:
        save_file(state, str(tmp))
        digest = rundir.file_sha256(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    rundir.update_manifest(out_dir, weights_sha256=digest)
    return path


_PICKLE_HEADS = (b"\x80", b"PK\x03\x04")  # pickle protocol 2+, torch.save's zip


def load_weights(model: torch.nn.Module, run_dir: str | os.PathLike) -> torch.nn.Module:
    """Load ``run_dir/model.safetensors`` into ``model`` after checking it: a safetensors file
    (never a pickle), the sha256 recorded with the run, readable, and of the shapes the run's
    config.json describes. Every failure is a one-line :class:`UsageError`."""
    path = Path(run_dir) / "model.safetensors"
    if not path.is_file():
        raise UsageError(f"{run_dir}: expected a trained model at '{path}', got nothing. "
                         f"Train first with 'rnnkit train ... --out {run_dir}'.")
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(_PICKLE_HEADS):
        raise UsageError(f"{path}: expected safetensors weights, got a pickle / torch.save file. "
                         f"rnnkit never unpickles (it can run code); train again.")
    recorded = (rundir.read_manifest(run_dir) or {}).get("weights_sha256")
    if recorded and rundir.file_sha256(path) != recorded:
        raise UsageError(f"{path}: expected the weights recorded with the run (sha256 "
                         f"{recorded[:12]}…), got a file with another checksum: it is damaged or "
                         f"was replaced. Restore it or train again.")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise UsageError(f"{path}: expected a complete safetensors file, got a damaged or "
                         f"truncated one ({e}). Train again.") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        detail = next((ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()), str(e))
        raise UsageError(f"{run_dir}: expected config.json's model to match model.safetensors, "
                         f"got {detail.rstrip('.')}. config.json was edited or the files come "
                         f"from different runs; train again.") from None
    return model


def read_run(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's config.json (task, dataset, settings), checked against the checksum recorded
    when the run finished."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise UsageError(f"{run_dir}: expected a run directory with config.json, got none. Pass "
                         f"the --out directory of 'rnnkit train'.")
    recorded = (rundir.read_manifest(run_dir) or {}).get("config_sha256")
    if recorded and rundir.file_sha256(path) != recorded:
        raise UsageError(f"{path}: expected the settings recorded with the run, got an edited "
                         f"or damaged file (its sha256 differs). Restore it or train again.")
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: expected valid JSON, got a parse error ({e}). The run "
                         f"directory is damaged; train again.") from None
    if not isinstance(run, dict):
        raise UsageError(f"{path}: expected a JSON object, got {type(run).__name__}. The run "
                         f"directory is damaged; train again.")
    return run


def write_metrics(out_dir: str | os.PathLike, task: str, dataset: str, test: dict[str, float],
                  baselines: dict[str, dict[str, float]], train_seconds: float,
                  **extra: Any) -> dict[str, Any]:
    """Write ``metrics.json`` in the documented shape and return it."""
    metrics = {"task": task, "dataset": dataset,
               "test": {k.lower(): float(v) for k, v in test.items()},
               "baselines": {n: {k.lower(): float(v) for k, v in m.items()}
                             for n, m in baselines.items()},
               "train_seconds": round(float(train_seconds), 2), **extra}
    write_json(Path(out_dir) / "metrics.json", metrics)
    return metrics


def format_table(test: dict[str, float], baselines: dict[str, dict[str, float]],
                 model_name: str = "model") -> str:
    """A plain-text table: one row for the model, one per baseline, one column per metric."""
    cols = list(test) + [c for m in baselines.values() for c in m if c not in test]
    cols = list(dict.fromkeys(cols))
    rows = [(model_name, test), *baselines.items()]
    w0 = max(len(r[0]) for r in rows) + 2
    head = "".ljust(w0) + "".join(c.rjust(12) for c in cols)
    lines = [head, "-" * len(head)]
    for name, vals in rows:
        cells = "".join((f"{vals[c]:12.4g}" if c in vals else "-".rjust(12)) for c in cols)
        lines.append(name.ljust(w0) + cells)
    return "\n".join(lines)


def trainer_config(cfg: dict[str, Any], out_dir: Path, **overrides: Any):
    """The TrainerConfig for a task run (checkpoints in ``out_dir/checkpoints``)."""
    from rnnkit.training import TrainerConfig

    cfg = _as_dict(cfg)
    base = dict(epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                seed=cfg["seed"], time_budget=cfg.get("time_budget"),
                precision=cfg.get("precision", "fp32"), device=cfg.get("device", "auto"),
                progress="none" if cfg.get("quiet") else "bar",
                checkpoint_dir=str(out_dir / "checkpoints"), log_dir=str(out_dir))
    base.update(overrides)
    return TrainerConfig(**{k: v for k, v in base.items() if v is not None})

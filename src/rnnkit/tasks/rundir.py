"""The run directory as the unit of work: created once, settings first, resumable, checked.

A run directory (``--out DIR``) holds, besides the task's files (see :mod:`.common`)::

    DIR/run.json   {"format": "rnnkit-run", "task", "dataset", "status", "settings",
                    "weights_sha256", "config_sha256", "stop_reason"}

``run.json`` is written (atomically) *before* training starts, with every setting the task
resolved, so ``rnnkit train TASK --resume DIR`` / ``rnnkit resume DIR`` need no other flag.
``status`` is ``training`` while a run is in progress (or was killed), ``interrupted`` after an
error or Ctrl-C once a checkpoint exists, ``finished`` after the task wrote its results.

Rules (:func:`open_run`, called by every task through ``common.make_out_dir`` once its settings
have validated, so a config error never leaves a directory behind):

* an existing run in ``--out`` is refused (fix: ``--overwrite``, ``--resume DIR`` or another
  ``--out``); a non-empty folder that is not a run is never written into, whatever the flags;
* a run created by this process that fails before its first checkpoint is removed again
  (:func:`session`), so nothing half-written is left;
* the weights' sha256 is recorded by ``save_weights`` and checked by ``load_weights``; the
  config's when the run finishes, and checked by ``read_run``;
* a training path that keeps no checkpoints (the many-series forecaster, classification's
  model selection by cross-validation) says so in ``run.json`` (``"no_checkpoints": what``):
  ``--resume`` of such a run is a one-line error with the fix (``rnnkit resume DIR
  --overwrite`` trains it again from the beginning with its own settings), never a silent
  retraining over it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rnnkit.tasks.errors import UsageError

__all__ = ["MANIFEST", "current_run", "file_sha256", "finish_run", "is_run", "open_run",
           "read_manifest", "resume_settings", "session", "stop_summary", "update_manifest"]

MANIFEST = "run.json"
FORMAT = "rnnkit-run"
_RUN_MARKERS = (MANIFEST, "config.json", "model.safetensors", "metrics.json", "checkpoints")
# Settings a resumed run may change: limits (extend training) and how it is shown / where.
EXTENDABLE = ("epochs", "time_budget", "quiet", "device")
_NOT_SETTINGS = ("resume", "overwrite", "config", "quiet")
MIN_FREE_BYTES = 16 << 20  # refuse to start a run on a disk with less free space than this

_current: dict[str, Any] = {}  # the run opened in this process (for session())


def is_run(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a run directory (holds a manifest, config, weights or checkpoints)."""
    p = Path(path)
    return p.is_dir() and any((p / m).exists() for m in _RUN_MARKERS)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json_default(o: Any) -> Any:
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"run.json: cannot store a value of type {type(o).__name__}")


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """``run.json`` of ``run_dir`` (None if the run predates it); a damaged one is an error."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: expected valid JSON, got a damaged file ({e}). Restore it or "
                         f"train again.") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise UsageError(f"{path}: expected an rnnkit run manifest, got something else. Restore "
                         f"it or train again.")
    return m


def update_manifest(run_dir: str | os.PathLike, **fields: Any) -> None:
    """Set ``fields`` in ``run.json`` (atomically); no-op for a run without a manifest."""
    m = read_manifest(run_dir)
    if m is not None:
        m.update(fields)
        _write_json_atomic(Path(run_dir) / MANIFEST, m)


def _slug(name: str) -> str:
    base = Path(str(name)).stem if ("/" in str(name) or "." in str(name)) else str(name)
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in base.lower()) or "data"


def _settings(cfg: dict[str, Any]) -> dict[str, Any]:
    s = {k: v for k, v in cfg.items() if k not in _NOT_SETTINGS}
    for k in ("data", "test_data"):  # a file is stored absolute: resume works from anywhere
        v = s.get(k)
        if isinstance(v, str) and Path(v).is_file():
            s[k] = str(Path(v).resolve())
    return s


def clean_temporary(run_dir: Path) -> list[Path]:
    """Remove temporary files / folders an interrupted writer left in ``run_dir`` and its
    checkpoint roots (``.NAME.tmp``, ``.tmp-*``, ``.old-*``); returns what was removed."""
    removed = []
    roots = [run_dir, *(p.parent for p in run_dir.glob("checkpoints/**/latest"))]
    if (run_dir / "checkpoints").is_dir():
        roots.append(run_dir / "checkpoints")
    for root in dict.fromkeys(roots):
        for p in root.iterdir():
            if p.name.startswith((".tmp-", ".old-")) or (p.name.startswith(".")
                                                        and p.name.endswith(".tmp")):
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def open_run(cfg: dict[str, Any], task: str, dataset: str, *,
             no_checkpoints: str | None = None) -> Path:
    """Create (or, with ``resume``, reopen) the run directory and write ``run.json``.

    Call only after every setting has validated. ``no_checkpoints`` names a training path
    that writes no checkpoints (e.g. "the many-series forecaster"): ``--resume`` then refuses
    to retrain over the run without ``--overwrite``. Raises :class:`UsageError` for an
    existing run without ``overwrite``, a folder of other files, a file, or a nearly full disk.
    """
    resume = cfg.get("resume")
    out = Path(cfg.get("out") or resume or Path("runs") / f"{task}-{_slug(dataset)}")
    if int(os.environ.get("RANK", "0")) != 0:  # data-parallel: rank 0 owns the directory
        out.mkdir(parents=True, exist_ok=True)
        return out
    if resume:
        if cfg.get("out") and Path(cfg["out"]).resolve() != Path(resume).resolve():
            raise UsageError(f"--out: expected nothing or the resumed directory '{resume}' with "
                             f"--resume, got '{cfg['out']}'. A resumed run stays in its "
                             f"directory; drop --out.")
        out = Path(resume)
        if not out.is_dir():
            raise UsageError(f"--resume: expected a run directory, got '{resume}' (no such "
                             f"folder). Pass the --out directory of an earlier 'rnnkit train'.")
        clean_temporary(out)
        created = False
    else:
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out: expected a directory, got the file '{out}'. Choose another "
                             f"path.")
        if out.is_dir() and any(out.iterdir()):
            if not is_run(out):
                raise UsageError(f"--out: expected a new or empty folder, got '{out}', which "
                                 f"holds other files (not an rnnkit run). Choose another --out; "
                                 f"rnnkit does not write into folders of other files.")
            if not cfg.get("overwrite"):
                raise UsageError(f"--out: expected a new run directory, got '{out}', which holds "
                                 f"an earlier run. Pass --overwrite to replace it, --resume "
                                 f"{out} to continue it, or choose another --out.")
            shutil.rmtree(out)
        # "new": this process creates the folder; "empty": it was there, empty. Either way a
        # failure before the first checkpoint takes back what this run wrote.
        created = "new" if not out.exists() else "empty"
        out.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(out).free
    if free < MIN_FREE_BYTES:
        raise UsageError(f"--out: expected at least {MIN_FREE_BYTES >> 20} MiB free for the "
                         f"run, got {free >> 20} MiB free on the disk of '{out}'. Free some "
                         f"space or choose another --out.")
    _current.clear()
    _current.update(out=out, created=created, task=task)
    old = read_manifest(out) if resume else None
    manifest = {"format": FORMAT, "version": 1, "task": task, "dataset": dataset,
                "status": "training", "settings": _settings(cfg),
                "weights_sha256": (old or {}).get("weights_sha256"), "stop_reason": None}
    if no_checkpoints:
        manifest["no_checkpoints"] = no_checkpoints
    if old is not None:
        manifest["settings"] = {**old.get("settings", {}),
                                **{k: cfg.get(k) for k in EXTENDABLE if k in cfg
                                   and k != "quiet"}}
    _write_json_atomic(out / MANIFEST, manifest)  # an unwritable --out fails here, not later
    return out


def current_run() -> Path | None:
    """The run directory opened by this process (None before :func:`open_run`)."""
    return _current.get("out")


def _latest_states(run_dir: Path) -> list[dict[str, Any]]:
    """trainer_state.json of each checkpoint root's ``latest`` checkpoint, oldest first."""
    states = []
    for ptr in sorted(run_dir.glob("checkpoints/**/latest")):
        meta = ptr.parent / ptr.read_text().strip() / "trainer_state.json"
        with contextlib.suppress(OSError, ValueError):
            states.append(json.loads(meta.read_text()))
    return states


def has_checkpoint(run_dir: str | os.PathLike) -> bool:
    return any(Path(run_dir).glob("checkpoints/**/latest"))


def stop_summary(run_dir: str | os.PathLike) -> str | None:
    """Why training stopped, from the last checkpoint: the trainer's reason (time budget,
    early stopping) or "all N epochs done"; None without checkpoints."""
    states = _latest_states(Path(run_dir))
    if not states:
        return None
    s = states[-1]
    epochs = int(s.get("config", {}).get("epochs") or 0)
    done = len(s.get("history") or [])
    if s.get("stop_reason"):
        of = f" of {epochs}" if epochs < 10_000 else ""  # else a placeholder: the budget decides
        return f"{s['stop_reason']} (after {done} epoch(s){of})"
    return f"all {done} epochs done" if done >= epochs else f"stopped after epoch {done} of " \
        f"{epochs}"


def finish_run(run_dir: Path) -> str | None:
    """Mark the run finished, record the config's checksum and why training stopped."""
    reason = stop_summary(run_dir)
    config = run_dir / "config.json"
    update_manifest(run_dir, status="finished", stop_reason=reason,
                    config_sha256=file_sha256(config) if config.is_file() else None)
    return reason


@contextlib.contextmanager
def session() -> Iterator[dict[str, Any]]:
    """Around one ``train``: on success mark the run finished and print why training stopped;
    on any error remove a run this process created that has no checkpoint yet (nothing
    half-written), else mark it ``interrupted`` (resumable with ``rnnkit resume DIR``)."""
    _current.clear()
    info: dict[str, Any] = {}
    try:
        yield info
    except BaseException:
        out = _current.get("out")
        if out is not None and out.is_dir():
            info["out"] = out
            with contextlib.suppress(OSError, UsageError):
                if _current.get("created") and not has_checkpoint(out):
                    if _current["created"] == "new":
                        shutil.rmtree(out, ignore_errors=True)
                    else:  # the user's empty folder: empty it again
                        for p in out.iterdir():
                            shutil.rmtree(p) if p.is_dir() else p.unlink()
                    info["removed"] = True
                else:
                    update_manifest(out, status="interrupted")
                    info["resumable"] = True
        raise
    out = _current.get("out")
    if out is not None and out.is_dir():
        reason = finish_run(out)
        if reason:
            print(f"training stopped: {reason}.")
        info["out"] = out


# ---- resume -------------------------------------------------------------------------------


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str) and Path(a).exists():
        return Path(a).resolve() == Path(b).resolve()
    return a == b


def resume_settings(task: str | None, given: dict[str, Any],
                    defaults: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str]:
    """The settings to continue ``given['resume']`` with: the run's own, plus the extendable
    flags in ``given``. Returns ``(task, settings or None, note)``; None means there is
    nothing to do (a finished run whose limits were not extended) and ``note`` says why.

    Raises:
        UsageError: not a run, a run of another task, or a flag that conflicts with the run's.
    """
    d = Path(given["resume"])
    m = read_manifest(d) if d.is_dir() else None
    if m is None:
        what = "no such folder" if not d.exists() else f"no {MANIFEST}"
        raise UsageError(f"--resume: expected a run directory made by 'rnnkit train', got '{d}' "
                         f"({what}). Pass the --out directory of an earlier run.")
    if task is not None and m["task"] != task:
        raise UsageError(f"--resume: expected a {task} run, got a {m['task']} run in '{d}'. Use "
                         f"'rnnkit resume {d}'.")
    if given.get("config"):
        raise UsageError(f"--config: expected no settings file with --resume (the run's settings "
                         f"are in {d / MANIFEST}), got '{given['config']}'. Drop --config.")
    stored = dict(m.get("settings") or {})
    for key, value in given.items():
        if value is None or key in (*EXTENDABLE, *_NOT_SETTINGS, "out"):
            continue
        old = stored.get(key, defaults.get(key))
        if not _same(value, old):
            raise UsageError(f"{_flag(key)}: expected the resumed run's value {old!r} (or no "
                             f"flag), got {value!r}. Drop {_flag(key)} to continue '{d}' as it "
                             f"was started, or start a new run with another --out.")
    if given.get("out") and Path(given["out"]).resolve() != d.resolve():
        raise UsageError(f"--out: expected nothing or '{d}' with --resume, got '{given['out']}'. "
                         f"A resumed run stays in its directory; drop --out.")
    cfg = {**defaults, **stored, "resume": str(d), "out": str(d), "overwrite": False}
    for key in EXTENDABLE:
        if given.get(key) is not None:
            cfg[key] = given[key]
    cfg["quiet"] = bool(given.get("quiet"))
    if m.get("no_checkpoints"):
        return _restart(m, d, cfg, given)
    if given.get("overwrite"):  # never ignore a flag that asks to replace a run
        raise UsageError(f"--overwrite: expected no --overwrite with --resume, which continues "
                         f"'{d}' from its checkpoints. Drop --overwrite to continue it, or drop "
                         f"--resume and pass --out {d} --overwrite to start it again.")
    if m.get("status") == "finished":
        extended = [k for k in ("epochs", "time_budget") if given.get(k) is not None
                    and not _same(given[k], stored.get(k))]
        if not extended:
            return m["task"], None, (
                f"'{d}' already finished ({m.get('stop_reason') or 'done'}); nothing to resume. "
                f"Pass --epochs N (more than {stored.get('epochs')}) or --time-budget S to "
                f"train it further.")
    if not has_checkpoint(d):
        cfg.update(resume=None, overwrite=True)
        return m["task"], cfg, (f"note: '{d}' has no complete checkpoint yet; training starts "
                                f"from the beginning with its settings.")
    return m["task"], cfg, ""


def _restart(m: dict[str, Any], d: Path, cfg: dict[str, Any],
             given: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str]:
    """``--resume`` of a run whose training path keeps no checkpoints: nothing to continue.
    With ``--overwrite``: train it again from the beginning with its settings; else a finished
    run is a note (exit 0) and an unfinished one a one-line error, both with the fix."""
    what = m["no_checkpoints"]
    fix = (f"Run 'rnnkit resume {d} --overwrite' to train it again from the beginning with its "
           f"settings.")
    if given.get("overwrite"):
        cfg.update(resume=None, overwrite=True)
        return m["task"], cfg, (f"note: {what} keeps no checkpoints; training '{d}' again from "
                                f"the beginning with its settings (--overwrite).")
    extended = [k for k in ("epochs", "time_budget") if given.get(k) is not None]
    if m.get("status") == "finished" and not extended:
        return m["task"], None, (f"'{d}' already finished ({m.get('stop_reason') or 'done'}); "
                                 f"nothing to resume. {fix}")
    state = "finished" if m.get("status") == "finished" else "did not finish"
    raise UsageError(f"--resume: expected a run with a checkpoint to continue, got '{d}', which "
                     f"{state} ({what} keeps no checkpoints). {fix}")


def print_note(note: str) -> None:
    if note:
        print(note, file=sys.stderr)

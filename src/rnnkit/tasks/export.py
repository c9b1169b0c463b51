"""``rnnkit export DIR [--format onnx|pt2]``: a trained run's model as one graph file, with the
metadata its preprocessing needs, and the onnxruntime predictors that ``--runtime onnxruntime``
uses in ``rnnkit predict`` / ``rnnkit forecast`` / ``rnnkit generate``.

Files (written atomically into ``DIR/export/``; an existing one is kept unless ``--overwrite``)::

    DIR/export/model.onnx | model.pt2   the graph (torch.onnx dynamo exporter / torch.export)
    DIR/export/export.json              {"format": "rnnkit-export", "task", "file", "sha256",
                                         "weights_sha256", "inputs", "outputs", ...task metadata}

What is exported, per task (the time axis is fixed at the run's window: the exported graph
unrolls the recurrence over it):

* ``forecast`` (single series): ``(x [1, L, C], x_future [1, H, F]) -> (point, lower, upper)``
  each ``[1, H, K]``, the network's forecast of the run's horizon H in the *scaled* space,
  intervals included. ``export.json`` holds the plan (lookback L, horizon, columns, season) and
  the transform (log, differencing, per-column shift/scale) that make x from the raw series and
  invert the forecast; the statistical combination members (``combine``) stay outside the graph.
* ``classify`` (numeric sequences): ``(x [B, T, C], lengths [B]) -> proba [B, K]`` with a
  dynamic batch; T is the run's training length; shorter series are right-padded (padded steps
  are masked, so the result is exact). ``export.json`` holds the classes, channels and the
  per-channel scaling ``(x - mean) / std``.

* ``lm``: one generation step ``(token [1, 1], state0, …) -> (logits [1, V], new_state0, …)``
  (the recurrent state flattened to tensors; zeros start afresh). ``export.json`` holds the
  tokenizer and pad id; :class:`OnnxLanguageModel` feeds the prime one token at a time.

Other runs (text classifiers, many-series forecasters, seq2seq, taggers, MiniRocket / NB
ensembles) are refused with a one-line error.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.tasks import rundir
from rnnkit.tasks.common import load_weights, read_run, write_json
from rnnkit.tasks.errors import UsageError

__all__ = ["FORMATS", "OnnxForecaster", "OnnxLanguageModel", "check_exportable", "export",
           "onnx_predict_proba", "open_onnx"]

FORMATS = ("onnx", "pt2")
EXPORT_DIR = "export"
META = "export.json"
_INSTALL = 'pip install "rnnkit[export]"'


class _ForecastGraph(torch.nn.Module):
    """The forecaster's whole forecast of its horizon (recursive steps unrolled)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, x_future: torch.Tensor):
        out = self.model.forecast(x, x_future, steps=self.model.config.horizon)
        return out["point"], out["lower"], out["upper"]


class _ClassifyGraph(torch.nn.Module):
    """Class probabilities of a classifier (or an ensemble of them)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x, lengths).float(), dim=-1)


def export(run_dir: str | Path, args: dict[str, Any]) -> int:
    """``rnnkit export DIR [--format onnx|pt2] [--overwrite]``: write ``DIR/export/``."""
    fmt = args.get("format") or "onnx"
    if fmt not in FORMATS:
        raise UsageError(f"--format: expected one of {list(FORMATS)}, got {fmt!r}.")
    run = read_run(run_dir)
    out = Path(run_dir) / EXPORT_DIR
    target = out / f"model.{fmt}"
    if target.exists() and not args.get("overwrite"):
        raise UsageError(f"{target}: expected no earlier export, got one. Pass --overwrite to "
                         f"replace it.")
    if fmt == "onnx":
        _need_onnx("export --format onnx")
    graph, example, dyn, meta = _graph_and_meta(run_dir, run)
    names = list(meta["inputs"]), list(meta["outputs"])
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".model.{fmt}.{os.getpid()}.tmp"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "onnx":
                prog = torch.onnx.export(graph, example, dynamo=True, input_names=names[0],
                                         output_names=names[1], dynamic_shapes=dyn,
                                         verbose=False)
                prog.save(str(tmp))
                _embed_metadata(tmp, {"task": run["task"], **meta})
            else:
                ep = torch.export.export(graph, example, dynamic_shapes=dyn)
                torch.export.save(ep, str(tmp))
        digest = rundir.file_sha256(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    manifest = rundir.read_manifest(run_dir) or {}
    meta = {"format": "rnnkit-export", "task": run["task"], "file": target.name,
            "model_format": fmt, "sha256": digest,
            "weights_sha256": manifest.get("weights_sha256"), **meta}
    write_json(out / META, meta)
    print(f"exported: {target} (+ {out / META})")
    return 0


def _embed_metadata(path: Path, meta: dict[str, Any]) -> None:
    """The preprocessing metadata also inside the ONNX file (``metadata_props['rnnkit']``, JSON),
    so the graph is self-describing away from ``export.json``."""
    import json

    import onnx

    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = "rnnkit", json.dumps(meta)
    onnx.save(model, str(path))


def check_exportable(run_dir: str | Path, run: dict[str, Any], where: str = "export") -> None:
    """Raise a one-line :class:`UsageError` unless the run's model can be exported."""
    task, kind = run.get("task"), run.get("kind")
    if (task == "forecast" and kind != "panel") or task == "lm":
        return
    if task == "classify" and kind == "sequence" and not (run.get("rocket") or run.get("nb")):
        return
    what = f"a '{task}' run" + (f" of kind '{kind}'" if kind else "")
    if run.get("rocket") or run.get("nb"):
        what += " with a MiniRocket / NB member"
    raise UsageError(f"{where}: expected a single-series forecast, numeric-sequence classify "
                     f"or lm run, got {what} in {run_dir}. Use the default torch runtime.")


def _graph_and_meta(run_dir: str | Path, run: dict[str, Any]):
    """``(module, example inputs, dynamic shapes, metadata)`` of a run's exportable graph."""
    check_exportable(run_dir, run)
    if run["task"] == "forecast":
        from rnnkit.models.forecaster import Forecaster, ForecasterConfig

        model = load_weights(Forecaster(ForecasterConfig.from_dict(run["model"])), run_dir)
        c = model.config
        n_in = c.n_targets + c.n_covariates + c.n_future
        x = torch.zeros(1, c.lookback, n_in)
        xf = torch.zeros(1, c.horizon, c.n_future)
        meta = {"inputs": {"x": [1, c.lookback, n_in], "x_future": [1, c.horizon, c.n_future]},
                "outputs": {n: [1, c.horizon, c.n_targets] for n in ("point", "lower", "upper")},
                "lookback": c.lookback, "horizon": c.horizon, "level": c.level,
                "plan": run["plan"], "transform": run["transform"],
                "combine": run.get("combine")}
        return _ForecastGraph(model).eval(), (x, xf), None, meta
    if run["task"] == "lm":
        return _lm_step_graph(run_dir, run)
    return _classify_graph(run_dir, run)


def _classify_graph(run_dir: str | Path, run: dict[str, Any]):
    """A numeric-sequence classifier: dynamic batch, T fixed at the training length."""
    from rnnkit.tasks.classify_data import load_source
    from rnnkit.tasks.classify_models import build_model

    model = load_weights(build_model(run), run_dir).eval()
    length = int(load_source(run["source"]).X_train.shape[1])  # the training window
    c = len(run["data"]["channels"])
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    x = torch.zeros(2, length, c)
    lengths = torch.full((2,), length, dtype=torch.int64)
    meta = {"inputs": {"x": ["batch", length, c], "lengths": ["batch"]},
            "outputs": {"proba": ["batch", len(run["data"]["classes"])]},
            "length": length, "classes": run["data"]["classes"],
            "channels": run["data"]["channels"],
            "scaling": {"mean": run["data"]["mean"], "std": run["data"]["std"]}}
    return _ClassifyGraph(model).eval(), (x, lengths), ({0: batch}, {0: batch}), meta


def _flatten(state: Any) -> list[torch.Tensor]:
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for part in state for t in _flatten(part)]


def _skeleton(state: Any) -> Any:
    """The nesting of a recurrent state, tensors replaced by None."""
    if isinstance(state, torch.Tensor):
        return None
    return tuple(_skeleton(part) for part in state)


def _unflatten(skeleton: Any, leaves: Any) -> Any:
    if skeleton is None:
        return next(leaves)
    return tuple(_unflatten(part, leaves) for part in skeleton)


class _LMStepGraph(torch.nn.Module):
    """One generation step of a language model: ``(token [1, 1], *state) -> (logits [1, V],
    *new state)`` — the recurrent state passes in and out as plain tensors."""

    def __init__(self, model: torch.nn.Module, skeleton: Any) -> None:
        super().__init__()
        self.model, self.skeleton = model, skeleton

    def forward(self, token: torch.Tensor, *state: torch.Tensor):
        logits, new = self.model(token, _unflatten(self.skeleton, iter(state)))
        return (logits[:, -1], *_flatten(new))


def _lm_step_graph(run_dir: str | Path, run: dict[str, Any]):
    """A language model's step for generation (T = 1, batch 1); state zeros = a fresh start."""
    from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

    model = load_weights(LanguageModel(LanguageModelConfig.from_dict(run["model"])),
                         run_dir).eval()
    token = torch.zeros(1, 1, dtype=torch.int64)
    with torch.no_grad():
        _, state = model(token)
    leaves = [torch.zeros_like(t) for t in _flatten(state)]
    names = [f"state{i}" for i in range(len(leaves))]
    meta = {"inputs": {"token": [1, 1], **{n: list(t.shape) for n, t in zip(names, leaves)}},
            "outputs": {"logits": [1, model.config.vocab_size],
                        **{f"new_{n}": list(t.shape) for n, t in zip(names, leaves)}},
            "state": names, "pad_id": model.config.pad_id, "tokenizer": run["tokenizer"],
            "default_prime": run.get("default_prime")}
    graph = _LMStepGraph(model, _skeleton(state)).eval()
    return graph, (token, *leaves), None, meta


# ---- onnxruntime ------------------------------------------------------------------------------

def _need_onnx(where: str) -> None:
    import importlib.util

    for mod in ("onnxruntime", "onnx", "onnxscript"):
        if importlib.util.find_spec(mod) is None:
            raise UsageError(f"{where}: expected the '{mod}' package, got none installed. Run: "
                             f"{_INSTALL} and try again.")


def open_onnx(run_dir: str | Path, task: str):
    """``(onnxruntime session, export.json)`` of ``DIR/export/model.onnx``, checked: the file's
    sha256, and that it was exported from the run's current weights."""
    _need_onnx("--runtime onnxruntime")
    import json

    import onnxruntime as ort

    out = Path(run_dir) / EXPORT_DIR
    path, meta_path = out / "model.onnx", out / META
    if not path.is_file() or not meta_path.is_file():
        raise UsageError(f"--runtime onnxruntime: expected an ONNX export in '{out}', got none. "
                         f"Run 'rnnkit export {run_dir}' first.")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("task") != task or rundir.file_sha256(path) != meta.get("sha256"):
        raise UsageError(f"{path}: expected the file recorded in {meta_path}, got another one "
                         f"(checksum or task differs). Run 'rnnkit export {run_dir} --overwrite'.")
    weights = (rundir.read_manifest(run_dir) or {}).get("weights_sha256")
    if weights != meta.get("weights_sha256"):
        raise UsageError(f"{path}: expected an export of the run's current weights, got one of "
                         f"earlier weights. Run 'rnnkit export {run_dir} --overwrite'.")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]), meta


class OnnxForecaster:
    """The forecaster's ``forecast(x, x_future, steps)`` through onnxruntime (steps = the
    exported horizon), for :func:`rnnkit.tasks.forecast._model_forecast`."""

    def __init__(self, run_dir: str | Path) -> None:
        self.session, self.meta = open_onnx(run_dir, "forecast")

    def forecast(self, x: torch.Tensor, x_future: torch.Tensor,
                 steps: int | None = None) -> dict[str, torch.Tensor]:
        h = self.meta["horizon"]
        if steps not in (None, h):
            raise UsageError(f"--horizon: expected the exported horizon {h} with --runtime "
                             f"onnxruntime, got {steps}. Drop --horizon or the --runtime flag.")
        xf = np.ascontiguousarray(x_future[:, :h].numpy(), dtype=np.float32)
        if xf.shape[1] < h:  # as Forecaster.forecast: repeat the last known-future row
            f = xf.shape[2]
            pad = xf[:, -1:] if xf.shape[1] else x[:, -1:, x.shape[2] - f:].numpy()
            xf = np.concatenate([xf, np.repeat(pad, h - xf.shape[1], 1)], 1)
        feeds = {"x": np.ascontiguousarray(x.numpy(), dtype=np.float32), "x_future": xf}
        outs = self.session.run(list(self.meta["outputs"]), feeds)
        return {n: torch.from_numpy(v) for n, v in zip(self.meta["outputs"], outs, strict=True)}


def onnx_predict_proba(run_dir: str | Path, items: Any, batch_size: int = 256) -> np.ndarray:
    """Class probabilities ``[N, K]`` of classify ``items`` through onnxruntime: each batch is
    right-padded to the exported length T (padded steps are masked)."""
    from rnnkit.data import pad_collate

    session, meta = open_onnx(run_dir, "classify")
    t = int(meta["length"])
    out = []
    for start in range(0, len(items), batch_size):
        batch = pad_collate([items[i] for i in range(start, min(start + batch_size,
                                                                  len(items)))])
        x, lengths = batch.inputs.float(), batch.lengths
        if bool((lengths < 1).any()):  # the graph skips this check (data-dependent)
            raise UsageError("--data: expected every series to have at least one step, got "
                             "an empty one. Drop empty rows.")
        if x.shape[1] > t:
            raise UsageError(f"--data: expected series of at most {t} steps (the exported "
                             f"length), got {x.shape[1]}. Predict without --runtime onnxruntime.")
        x = torch.nn.functional.pad(x, (0, 0, 0, t - x.shape[1]))
        out.append(session.run(["proba"], {"x": x.numpy(), "lengths": lengths.numpy()})[0])
    return np.concatenate(out)


class OnnxLanguageModel:
    """A language model's ``generate`` through its exported step (onnxruntime): the prime is
    fed one token at a time, then each sampled id, with the state carried between calls."""

    def __init__(self, run_dir: str | Path) -> None:
        self.session, self.meta = open_onnx(run_dir, "lm")

    def step_logits(self, ids: list[int], state: list[np.ndarray] | None = None,
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Feed ``ids`` one by one from ``state`` (None: zeros); ``(last logits [1, V], state)``."""
        names = self.meta["state"]
        if state is None:
            state = [np.zeros(self.meta["inputs"][n], np.float32) for n in names]
        out = list(self.meta["outputs"])
        for i in ids:
            feeds = {"token": np.array([[i]], np.int64), **dict(zip(names, state, strict=True))}
            logits, *state = self.session.run(out, feeds)
        return logits, state

    def generate(self, prime: list[int], length: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 generator: torch.Generator | None = None,
                 banned: list[int] | None = None) -> list[int]:
        """As :meth:`rnnkit.models.language_model.LanguageModel.generate`."""
        from rnnkit.models.sampling import check_sampling, sample_next

        check_sampling(temperature, top_k, top_p)
        logits, state = self.step_logits(list(prime))
        out: list[int] = []
        for i in range(length):
            nxt = sample_next(torch.from_numpy(logits), temperature, top_k, top_p, generator,
                              banned=[self.meta["pad_id"], *(banned or ())])
            out.append(int(nxt[0]))
            if i + 1 < length:
                logits, state = self.step_logits([out[-1]], state)
        return out

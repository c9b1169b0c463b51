"""Checkpoints as safetensors + JSON directories, written atomically, loaded without pickle.

Layout of a checkpoint root (``TrainerConfig.checkpoint_dir``)::

    root/
      latest                      text: name of the newest complete checkpoint
      best                        text: name of the best one (by ``monitor``), if any
      epoch0003-batch000040/
        model.safetensors         model weights (state_dict, CPU tensors)
        optimizer.safetensors     every tensor of the optimiser state ("state.3.exp_avg", ...)
        state.safetensors         torch RNG states and the carried TBPTT state
        trainer_state.json        config, epoch/batch/step, history, callback and schedule
                                  state, optimiser hyper-parameters, python/numpy RNG,
                                  sha256 of the three files above

A checkpoint is written into ``root/.tmp-<name>-<pid>`` and renamed into place only once every
file is flushed; pointer files are replaced atomically (temp file + ``os.replace``). A crash
therefore leaves the previous checkpoint and pointers intact. Loading checks that all files
exist and match their hashes and raises :class:`CheckpointError` otherwise; given a root, a
damaged ``latest`` falls back to the newest older complete checkpoint with a
:class:`CheckpointWarning`, and leftover ``.tmp-*`` / ``.old-*`` folders of writers that died are
removed (:func:`clean_temporary`). A run directory whose ``checkpoints/`` folder is the root
may be passed for the root. Pickle-based files
(``torch.save``, ``.pt``/``.pkl``) are refused. Tensors load on CPU, so GPU checkpoints load
anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

__all__ = [
    "CHECKPOINT_FILES",
    "CheckpointError",
    "CheckpointWarning",
    "capture_rng",
    "clean_temporary",
    "decode_tree",
    "encode_tree",
    "load_weights",
    "read_checkpoint",
    "read_pointer",
    "resolve_checkpoint",
    "restore_rng",
    "write_checkpoint",
    "write_pointer",
]

FORMAT = "rnnkit-checkpoint"
VERSION = 1
META_FILE = "trainer_state.json"
CHECKPOINT_FILES = ("model.safetensors", "optimizer.safetensors", "state.safetensors")
_PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib"}


class CheckpointError(RuntimeError):
    """A checkpoint is missing, partial, corrupt, or of an unsafe (pickle) format."""


class CheckpointWarning(UserWarning):
    """A damaged newest checkpoint was skipped for an older complete one."""


# ---- nested structures <-> (flat tensor dict, JSON skeleton) ---------------------------------


def encode_tree(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Move every tensor of a nested dict/list/tuple into ``tensors`` (keys ``prefix.path``)
    and return a JSON-able skeleton that :func:`decode_tree` turns back into ``obj``."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        items = [[encode_tree(k, f"{prefix}.k", {}), encode_tree(v, f"{prefix}.{k}", tensors)]
                 for k, v in obj.items()]
        return {"__dict__": items}
    if isinstance(obj, list | tuple):
        enc = [encode_tree(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
        return {"__tuple__": enc} if isinstance(obj, tuple) else enc
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(
        f"checkpoint: cannot store a value of type {type(obj).__name__} at {prefix!r}; only "
        "tensors, numbers, strings, None and dicts/lists/tuples of them are supported."
    )


def decode_tree(skel: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode_tree`."""
    if isinstance(skel, dict):
        if "__tensor__" in skel:
            key = skel["__tensor__"]
            if key not in tensors:
                raise CheckpointError(f"checkpoint: tensor {key!r} is missing from the file.")
            return tensors[key]
        if "__tuple__" in skel:
            return tuple(decode_tree(v, tensors) for v in skel["__tuple__"])
        return {decode_tree(k, tensors): decode_tree(v, tensors) for k, v in skel["__dict__"]}
    if isinstance(skel, list):
        return [decode_tree(v, tensors) for v in skel]
    return skel


# ---- RNG states -------------------------------------------------------------------------------


def capture_rng(tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Store torch (CPU, CUDA) RNG states in ``tensors``; return python/numpy states as JSON."""
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    version, state, gauss = random.getstate()
    np_state = np.random.get_state()
    return {
        "python": [version, list(state), gauss],
        "numpy": [np_state[0], np_state[1].tolist(), *[float(x) for x in np_state[2:]]],
    }


def restore_rng(meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """Inverse of :func:`capture_rng`. CUDA states are restored only where CUDA exists."""
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    version, state, gauss = meta["python"]
    random.setstate((version, tuple(state), gauss))
    name, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss),
                         float(cached)))


# ---- atomic writing ---------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_pointer(root: str | os.PathLike, name: str, target: str) -> None:
    """Atomically make ``root/name`` contain ``target`` (temp file + ``os.replace``)."""
    root = Path(root)
    tmp = root / f".tmp-{name}-{os.getpid()}"
    tmp.write_text(target + "\n")
    _fsync(tmp)
    os.replace(tmp, root / name)


def read_pointer(root: str | os.PathLike, name: str) -> str | None:
    """The checkpoint name stored in ``root/name``, or None if there is no such pointer."""
    p = Path(root) / name
    return p.read_text().strip() if p.is_file() else None


def write_checkpoint(
    root: str | os.PathLike,
    name: str,
    files: dict[str, dict[str, torch.Tensor]],
    meta: dict[str, Any],
) -> Path:
    """Write one checkpoint directory atomically and return its path.

    Args:
        root: checkpoint root (created if needed).
        name: directory name inside ``root``.
        files: ``{"model.safetensors": {...}, ...}``: the tensors of each safetensors file.
        meta: JSON-able dict written as ``trainer_state.json`` (hashes are added).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / name
    tmp = root / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    hashes = {}
    for fname, tensors in files.items():
        save_file(tensors, str(tmp / fname))
        _fsync(tmp / fname)
        hashes[fname] = _sha256(tmp / fname)
    meta = {"format": FORMAT, "version": VERSION, **meta, "files": hashes}
    (tmp / META_FILE).write_text(json.dumps(meta, indent=1))
    _fsync(tmp / META_FILE)
    if final.exists():  # same position saved twice: swap, never leaving the name empty long
        old = root / f".old-{name}-{os.getpid()}"
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    _fsync(root)
    return final


# ---- safe reading -----------------------------------------------------------------------------


def _refuse_unsafe_file(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(4)
    if path.suffix.lower() in _PICKLE_SUFFIXES or head[:1] == b"\x80" or head[:2] == b"PK":
        raise CheckpointError(
            f"Refusing to load {path}: it looks like a pickle-based file (torch.save/pickle), "
            "and unpickling can run arbitrary code. rnnkit reads only safetensors + JSON "
            "checkpoint directories. If you trust the file, convert it yourself: "
            "safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors')."
        )


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """Turn a checkpoint root (with a ``latest`` pointer) or a checkpoint directory into the
    checkpoint directory; refuse files and pickles with a clear :class:`CheckpointError`."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"No checkpoint at {p}: the path does not exist.")
    if p.is_file():
        _refuse_unsafe_file(p)
        raise CheckpointError(
            f"Expected a checkpoint directory (or a root with a 'latest' pointer), got the file "
            f"{p}. Use load_weights() for a bare model.safetensors."
        )
    if (p / META_FILE).exists() or any((p / f).exists() for f in CHECKPOINT_FILES):
        return p
    if read_pointer(p, "latest") is None and read_pointer(p / "checkpoints", "latest"):
        p = p / "checkpoints"  # a run directory: its checkpoint root
    latest = read_pointer(p, "latest")
    if latest is None:
        raise CheckpointError(
            f"{p} is neither a checkpoint directory (no {META_FILE}) nor a checkpoint root "
            "(no 'latest' pointer). Was the run started with checkpoint_dir set?"
        )
    if not (p / latest).is_dir():
        raise CheckpointError(f"{p}/latest points to {latest!r}, which does not exist.")
    return p / latest


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"Checkpoint file {path} is corrupt or truncated: {e}") from e


def clean_temporary(root: str | os.PathLike) -> list[Path]:
    """Remove the ``.tmp-*`` / ``.old-*`` entries of ``root`` that no live writer of this
    process owns (left by a writer killed mid-checkpoint); returns what was removed."""
    root, removed = Path(root), []
    if not root.is_dir():
        return removed
    for p in root.iterdir():
        if p.name.startswith((".tmp-", ".old-")) and not p.name.endswith(f"-{os.getpid()}"):
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _complete_checkpoints(root: Path) -> list[Path]:
    """Checkpoint directories of ``root``, newest name first (names sort by position)."""
    return sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                   and (d / META_FILE).is_file()), key=lambda d: d.name, reverse=True)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
    """Read and verify a checkpoint. Returns ``(tensors per file, meta)``; all tensors on CPU.

    ``path`` may be a checkpoint directory, a root (its ``latest``; if that is damaged, the
    newest older complete checkpoint, with a :class:`CheckpointWarning`) or a run directory.

    Raises:
        CheckpointError: missing/partial directory, hash mismatch, unreadable file, pickle
        (for a root: when no checkpoint of it is complete).
    """
    p = Path(path)
    if p.is_dir() and not (p / META_FILE).exists() and not (p / "latest").is_file() \
            and (p / "checkpoints" / "latest").is_file():
        p = p / "checkpoints"
    if not (p.is_dir() and (p / "latest").is_file()):
        return _read_one(resolve_checkpoint(p))
    clean_temporary(p)
    try:
        return _read_one(resolve_checkpoint(p))
    except CheckpointError as first:
        latest = read_pointer(p, "latest")
        for d in _complete_checkpoints(p):
            if d.name == latest:
                continue
            try:
                out = _read_one(d)
            except CheckpointError:
                continue
            warnings.warn(f"{p}: the latest checkpoint {latest!r} is damaged ({first}); "
                          f"resuming from the previous complete one, {d.name!r}.",
                          CheckpointWarning, stacklevel=2)
            return out
        raise


def _read_one(d: Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
    meta_path = d / META_FILE
    missing = [f for f in (*CHECKPOINT_FILES, META_FILE) if not (d / f).is_file()]
    if missing:
        raise CheckpointError(
            f"Checkpoint {d} is partial: missing {missing}. It was probably interrupted while "
            "being written; resume from the previous checkpoint in the same root instead."
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"Checkpoint {d}: {META_FILE} is corrupt: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"Checkpoint {d}: {META_FILE} is not an rnnkit checkpoint.")
    tensors = {}
    for fname in CHECKPOINT_FILES:
        expected = meta.get("files", {}).get(fname)
        if expected is not None and _sha256(d / fname) != expected:
            raise CheckpointError(
                f"Checkpoint {d} is corrupt: {fname} does not match the sha256 recorded in "
                f"{META_FILE}. Resume from the previous checkpoint in the same root instead."
            )
        tensors[fname] = _load_tensors(d / fname)
    meta["path"] = str(d)
    return tensors, meta


def load_weights(model: torch.nn.Module, path: str | os.PathLike, strict: bool = True) -> None:
    """Load weights into ``model`` from a checkpoint dir/root or a ``.safetensors`` file.

    Tensors are read on CPU and copied to wherever ``model`` lives (GPU checkpoints load on CPU).
    Pickle files are refused.
    """
    p = Path(path)
    if p.is_file():
        _refuse_unsafe_file(p)
        state = _load_tensors(p)
    else:
        tensors, _ = read_checkpoint(p)
        state = tensors["model.safetensors"]
    model.load_state_dict(state, strict=strict)

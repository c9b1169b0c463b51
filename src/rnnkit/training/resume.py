"""Saving and restoring a trainer's complete state (what exact resume needs).

The state is: model weights, optimiser state, the position in the epoch, the global step, the
history, the running epoch meters, callback and schedule states, the carried TBPTT state,
GradScaler state and every RNG (torch CPU/CUDA, numpy, python). It is written with
:func:`~rnnkit.training.checkpoint.write_checkpoint` (safetensors + JSON, atomic) by rank 0
and read back with :func:`~rnnkit.training.checkpoint.read_checkpoint` (verified, no pickle).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .checkpoint import (
    capture_rng,
    decode_tree,
    encode_tree,
    read_checkpoint,
    restore_rng,
    write_checkpoint,
    write_pointer,
)
from .distributed import barrier
from .protocol import move_to_device

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["restore_trainer_state", "save_trainer_state"]


def _cpu_copies(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous, unshared copies (safetensors refuses tensors sharing memory)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()
            if isinstance(v, torch.Tensor)}


def save_trainer_state(trainer: Trainer, root: str | os.PathLike, name: str) -> Path:
    """Checkpoint ``trainer`` to ``root/name`` on rank 0, update ``latest``, then sync ranks.

    Returns:
        The checkpoint directory.
    """
    root = Path(root)
    t = trainer
    if t.is_main:
        opt_t: dict[str, torch.Tensor] = {}
        opt_skel = encode_tree(t.optimizer.state_dict(), "opt", opt_t)
        state_t: dict[str, torch.Tensor] = {}
        rng = capture_rng(state_t)
        carried = encode_tree(t._carried, "carried", state_t)
        meta = {
            "config": t.config.to_dict(), "position": list(t.position),
            "global_step": t.global_step, "history": t.history,
            "skipped_steps": t.skipped_steps, "should_stop": t.should_stop,
            "stop_reason": t.stop_reason, "meters": t._meters,
            "callbacks": t.callbacks.state_dict(), "optimizer": opt_skel, "rng": rng,
            "carried": carried, "world_size": t.dist.world_size,
            "scaler": t.scaler.state_dict() if t.scaler else None,
            "torch_version": torch.__version__,
        }
        files = {"model.safetensors": _cpu_copies(t.model.state_dict()),
                 "optimizer.safetensors": opt_t, "state.safetensors": state_t}
        write_checkpoint(root, name, files, meta)
        write_pointer(root, "latest", name)
    barrier()
    return root / name


def restore_trainer_state(trainer: Trainer, path: str | os.PathLike) -> None:
    """Load a checkpoint (root or directory) into a trainer whose model, optimiser and
    callbacks are already built; RNG states are restored last."""
    t = trainer
    tensors, meta = read_checkpoint(path)
    t.model.load_state_dict(tensors["model.safetensors"])
    t.optimizer.load_state_dict(decode_tree(meta["optimizer"], tensors["optimizer.safetensors"]))
    t.position = tuple(meta["position"])
    t.global_step, t.history = int(meta["global_step"]), list(meta["history"])
    t.skipped_steps = int(meta["skipped_steps"])
    t.should_stop, t.stop_reason = bool(meta["should_stop"]), meta["stop_reason"]
    t._meters = meta["meters"]
    t.callbacks.load_state_dict(meta["callbacks"])
    carried = decode_tree(meta["carried"], tensors["state.safetensors"])
    t._carried = move_to_device(carried, t.device)
    if t.scaler and meta.get("scaler"):
        t.scaler.load_state_dict(meta["scaler"])
    restore_rng(meta["rng"], tensors["state.safetensors"])
    t.last_checkpoint = Path(meta["path"])

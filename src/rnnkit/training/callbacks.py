"""Callbacks: small objects whose ``on_*`` methods the trainer calls at fixed points.

Event order in ``fit``::

    on_fit_start
      on_epoch_start
        on_train_batch_start, [on_before_optimizer_step | on_skipped_step]*, on_train_batch_end
        ...
      on_epoch_end        (logs hold train and val_ metrics; history already appended)
      ...
    on_fit_end            (or on_exception if training raised)

``on_before_optimizer_step`` runs after clipping, once per optimiser step (so once per TBPTT
chunk or per ``accumulate_grad_batches`` micro-batches). A callback that must survive a resume
returns JSON-able ``state_dict()`` and implements ``load_state_dict``. Callbacks that write
files do so on rank 0 only (``trainer.is_main``).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checkpoint import read_pointer, write_pointer
from .optim import LRSchedule

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "JSONLogger",
    "LRScheduler",
    "ModelCheckpoint",
    "TensorBoardLogger",
]


class Callback:
    """Base class: override the events you need; every method is a no-op here."""

    def on_fit_start(self, trainer: Trainer) -> None: ...
    def on_epoch_start(self, trainer: Trainer) -> None: ...
    def on_train_batch_start(self, trainer: Trainer, batch: Any) -> None: ...
    def on_before_optimizer_step(self, trainer: Trainer) -> None: ...
    def on_skipped_step(self, trainer: Trainer, reason: str) -> None: ...
    def on_train_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None: ...
    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None: ...
    def on_fit_end(self, trainer: Trainer) -> None: ...
    def on_exception(self, trainer: Trainer, error: BaseException) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state saved in checkpoints (empty by default)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` on resume."""


class CallbackList:
    """Calls an event on each callback in order; keys their states by class name (+ index)."""

    def __init__(self, callbacks: list[Callback]) -> None:
        self.callbacks = list(callbacks)

    def __getattr__(self, event: str) -> Any:
        if not event.startswith("on_"):
            raise AttributeError(event)

        def dispatch(*args: Any) -> None:
            for cb in self.callbacks:
                getattr(cb, event)(*args)

        return dispatch

    def _keys(self) -> list[str]:
        return [f"{i}:{type(cb).__name__}" for i, cb in enumerate(self.callbacks)]

    def state_dict(self) -> dict[str, Any]:
        return {k: cb.state_dict() for k, cb in zip(self._keys(), self.callbacks)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, cb in zip(self._keys(), self.callbacks):
            if k in state:
                cb.load_state_dict(state[k])


def _improved(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def monitored(logs: dict[str, float], monitor: str) -> float:
    """``logs[monitor]``; ``val_X`` falls back to ``X`` when there is no validation data."""
    if monitor in logs:
        return float(logs[monitor])
    if monitor.startswith("val_") and monitor[4:] in logs and not any(
        k.startswith("val_") for k in logs
    ):
        return float(logs[monitor[4:]])
    raise ValueError(
        f"Trainer: monitor={monitor!r} is not among the epoch metrics {sorted(logs)}. "
        "Set TrainerConfig.monitor to one of them."
    )


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 3,
                 min_delta: float = 0.0) -> None:
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta
        self.best: float | None = None
        self.wait = 0

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        value = monitored(logs, self.monitor)
        if _improved(value, self.best, self.mode, self.min_delta):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.should_stop = True
            trainer.stop_reason = (
                f"early stopping: {self.monitor} did not improve for {self.patience} epochs "
                f"(best {self.best:.6g})"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], int(state["wait"])


class LRScheduler(Callback):
    """Applies an :class:`~rnnkit.training.optim.LRSchedule` before every optimiser step and
    feeds ``monitor`` to it at epoch end (for ``plateau``)."""

    def __init__(self, schedule: LRSchedule, monitor: str = "val_loss") -> None:
        self.schedule, self.monitor = schedule, monitor

    def on_fit_start(self, trainer: Trainer) -> None:
        self.schedule.apply(trainer.optimizer, trainer.global_step)

    def on_before_optimizer_step(self, trainer: Trainer) -> None:
        self.schedule.apply(trainer.optimizer, trainer.global_step)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.schedule.config.schedule == "plateau":
            self.schedule.on_metric(monitored(logs, self.monitor))
            self.schedule.apply(trainer.optimizer, trainer.global_step)

    def state_dict(self) -> dict[str, Any]:
        return self.schedule.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.schedule.load_state_dict(state)


class ModelCheckpoint(Callback):
    """Last and best checkpoints under ``root`` (see :mod:`rnnkit.training.checkpoint`).

    Saves at every epoch end (pointer ``latest``), every ``every_n_steps`` optimiser steps
    mid-epoch, and marks the epoch-end checkpoint ``best`` when ``monitor`` improves. Keeps the
    ``keep_last`` newest step checkpoints plus ``best``; older ones are deleted only after a
    newer one is complete.
    """

    def __init__(self, root: str | os.PathLike, every_n_steps: int | None = None,
                 keep_last: int = 2, monitor: str = "val_loss", mode: str = "min") -> None:
        self.root = Path(root)
        self.every_n_steps, self.keep_last = every_n_steps, keep_last
        self.monitor, self.mode = monitor, mode
        self.best: float | None = None
        self.saved: list[str] = []
        self.last_saved_step = -1

    def on_fit_start(self, trainer: Trainer) -> None:
        self.last_saved_step = max(self.last_saved_step, trainer.global_step)

    def on_train_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        n = self.every_n_steps
        if n and trainer.at_step_boundary and trainer.global_step - self.last_saved_step >= n:
            self._save(trainer)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        is_best = _improved(monitored(logs, self.monitor), self.best, self.mode, 0.0)
        if is_best:
            self.best = monitored(logs, self.monitor)
        name = self._save(trainer)
        if is_best and trainer.is_main:
            write_pointer(self.root, "best", name)

    def _save(self, trainer: Trainer) -> str:
        self.last_saved_step = trainer.global_step
        name = f"epoch{trainer.position[0]:04d}-batch{trainer.position[1]:06d}"
        if name not in self.saved:
            self.saved.append(name)
        trainer.save_checkpoint(self.root, name)
        if trainer.is_main:
            self._prune()
        return name

    def _prune(self) -> None:
        keep = set(self.saved[-self.keep_last :]) | {read_pointer(self.root, "best")}
        for name in self.saved[: -self.keep_last]:
            if name not in keep:
                shutil.rmtree(self.root / name, ignore_errors=True)
        self.saved = [n for n in self.saved if n in keep]

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "saved": self.saved, "last_saved_step": self.last_saved_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.saved = state["best"], list(state["saved"])
        self.last_saved_step = int(state["last_saved_step"])


class CSVLogger(Callback):
    """Rewrites ``path`` (CSV, one row per epoch) from ``trainer.history`` at each epoch end."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if not trainer.is_main:
            return
        keys = list(dict.fromkeys(k for row in trainer.history for k in row))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(trainer.history)
        os.replace(tmp, self.path)


class JSONLogger(Callback):
    """Rewrites ``path`` (a JSON list of per-epoch dicts) at each epoch end."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if not trainer.is_main:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(trainer.history, indent=1))
        os.replace(tmp, self.path)


class TensorBoardLogger(Callback):
    """Scalars to TensorBoard under ``log_dir`` (needs the optional ``tensorboard`` package):
    per step ``train/loss``, ``train/lr``, ``train/grad_norm``; per epoch every metric."""

    def __init__(self, log_dir: str | os.PathLike) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:  # tensorboard is optional
            raise ImportError(
                "TensorBoardLogger needs the optional dependency tensorboard: "
                "pip install 'rnnkit[tensorboard]'."
            ) from e
        self._writer_cls = SummaryWriter
        self.log_dir = str(log_dir)
        self.writer: Any = None

    def on_fit_start(self, trainer: Trainer) -> None:
        if trainer.is_main:
            self.writer = self._writer_cls(self.log_dir)

    def on_train_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.writer is not None:
            for k, v in logs.items():
                self.writer.add_scalar(f"train/{k}", v, trainer.global_step)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.writer is not None:
            for k, v in logs.items():
                if isinstance(v, int | float):
                    self.writer.add_scalar(f"epoch/{k}", v, trainer.global_step)
            self.writer.flush()

    def on_fit_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        self.on_fit_end(trainer)

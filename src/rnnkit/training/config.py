"""``TrainerConfig``: every setting of a training run, frozen, validated, saved in checkpoints.

Model and data settings live elsewhere; this holds only what the engine needs (optimiser,
schedule, clipping, batching, TBPTT, precision, checkpointing, logging).

Example:
    >>> cfg = TrainerConfig(epochs=5, lr=3e-3, schedule="cosine", warmup_steps=100)
    >>> TrainerConfig.from_dict(cfg.to_dict()) == cfg
    True
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["OPTIMIZERS", "PRECISIONS", "PROGRESS_MODES", "SCHEDULES", "TrainerConfig"]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine", "step", "plateau")
PRECISIONS = ("fp32", "bf16", "fp16")
PROGRESS_MODES = ("bar", "epoch", "none")


def _fail(msg: str) -> None:
    raise ValueError(f"TrainerConfig: {msg}")


@dataclass(frozen=True)
class TrainerConfig:
    """Settings of a training run.

    Args:
        epochs: passes over the training data.
        max_steps: stop after this many optimiser steps (None: no limit).
        time_budget: stop training after this many seconds (checked after each batch; None:
            no limit). The epoch in progress is closed normally (validation, checkpoints).
        batch_size: items per batch *on each process* (global batch = batch_size * world size).
        shuffle: reshuffle the training data each epoch (order fixed by ``seed`` and epoch).
        drop_last: drop the last incomplete batch of each epoch.
        bucket_by_length: group sequences of similar length into batches (less padding).
        num_workers: DataLoader worker processes.
        optimizer: one of ``adam``, ``adamw``, ``sgd`` (with momentum), ``rmsprop``.
        lr: peak learning rate.
        weight_decay: decay applied to matrices/embeddings only; biases and 1-d (norm)
            parameters get none.
        momentum: momentum of ``sgd`` and ``rmsprop``.
        nesterov: Nesterov momentum for ``sgd``.
        betas: Adam(W) betas.
        eps: optimiser epsilon.
        schedule: ``constant``, ``cosine`` (to ``min_lr`` at the last step), ``step`` (times
            ``lr_gamma`` every ``lr_step_size`` steps) or ``plateau`` (times ``lr_gamma`` after
            ``plateau_patience`` epochs without improvement of ``monitor``).
        warmup_steps: linear warm-up from 0 to ``lr`` before the schedule (any schedule).
        min_lr: floor of the cosine schedule.
        lr_step_size: period in optimiser steps of the ``step`` schedule.
        lr_gamma: multiplicative factor of the ``step`` and ``plateau`` schedules.
        plateau_patience: epochs without improvement before ``plateau`` reduces the LR.
        clip_grad_norm: rescale gradients so their global L2 norm is at most this (None: off).
        clip_grad_value: clamp each gradient element to [-v, v] (None: off). Applied first.
        accumulate_grad_batches: optimiser step every k micro-batches (k-times larger batch).
        tbptt_steps: truncated BPTT chunk length in time steps (None: full BPTT). Needs a
            model with ``training_step(batch, state)``; see ``docs/training.md``.
        stateful: carry the (detached) recurrent state across consecutive batches; needs
            ``drop_last=True`` so every batch has the same size.
        precision: ``fp32``, ``bf16`` (autocast; CPU or GPU) or ``fp16`` (autocast + loss
            scaling; GPU only).
        device: ``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
        seed: seeds torch, numpy, random and the data order; one seed makes CPU runs repeat.
        deterministic: also ask torch for deterministic kernels (``warn_only``).
        checkpoint_dir: where checkpoints go (None: no checkpoints).
        checkpoint_every_steps: also checkpoint mid-epoch every this many optimiser steps.
        keep_last: step checkpoints kept (besides ``best``); older ones are deleted.
        monitor: metric for best checkpoint, early stopping and plateau (``val_loss`` falls
            back to ``loss`` without validation data).
        mode: ``min`` or ``max``: whether a smaller or a larger ``monitor`` is better.
        early_stopping_patience: stop after this many epochs without improvement (None: off).
        early_stopping_min_delta: improvement smaller than this does not count.
        max_nonfinite_steps: consecutive skipped (NaN/inf) steps tolerated before stopping.
        progress: ``bar`` (tqdm), ``epoch`` (one line per epoch) or ``none`` (quiet).
        log_dir: where ``history.csv``/``history.json``/``history.png`` (and TensorBoard
            events, if ``tensorboard=True``) go (None: nowhere).
        tensorboard: write TensorBoard scalars to ``log_dir`` (needs ``tensorboard``).
    """

    epochs: int = 10
    max_steps: int | None = None
    time_budget: float | None = None
    batch_size: int = 32
    shuffle: bool = True
    drop_last: bool = False
    bucket_by_length: bool = False
    num_workers: int = 0
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    schedule: str = "constant"
    warmup_steps: int = 0
    min_lr: float = 0.0
    lr_step_size: int = 1000
    lr_gamma: float = 0.1
    plateau_patience: int = 2
    clip_grad_norm: float | None = None
    clip_grad_value: float | None = None
    accumulate_grad_batches: int = 1
    tbptt_steps: int | None = None
    stateful: bool = False
    precision: str = "fp32"
    device: str = "auto"
    seed: int = 0
    deterministic: bool = False
    checkpoint_dir: str | None = None
    checkpoint_every_steps: int | None = None
    keep_last: int = 2
    monitor: str = "val_loss"
    mode: str = "min"
    early_stopping_patience: int | None = None
    early_stopping_min_delta: float = 0.0
    max_nonfinite_steps: int = 10
    progress: str = "bar"
    log_dir: str | None = None
    tensorboard: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        self._check_positive_ints()
        self._check_choices()
        self._check_floats()
        if self.stateful and not self.drop_last:
            _fail(
                "stateful=True needs drop_last=True, since the carried state has a fixed batch "
                "size. Set drop_last=True."
            )

    def _check_positive_ints(self) -> None:
        for name in ("epochs", "batch_size", "accumulate_grad_batches", "lr_step_size",
                     "max_nonfinite_steps", "keep_last"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                _fail(f"expected {name} >= 1 (an int), got {v!r}.")
        for name in ("max_steps", "tbptt_steps", "checkpoint_every_steps",
                     "early_stopping_patience"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                _fail(f"expected {name} >= 1 (an int) or None, got {v!r}.")
        for name in ("warmup_steps", "num_workers", "plateau_patience", "seed"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                _fail(f"expected {name} >= 0 (an int), got {v!r}.")

    def _check_choices(self) -> None:
        for name, options in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES),
                              ("precision", PRECISIONS), ("progress", PROGRESS_MODES),
                              ("mode", ("min", "max"))):
            v = getattr(self, name)
            if v not in options:
                _fail(f"expected {name} in {options}, got {v!r}.")
        d = self.device
        if not (d in ("auto", "cpu", "cuda") or d.startswith("cuda:") or d == "mps"):
            _fail(f"expected device 'auto', 'cpu', 'cuda' or 'cuda:N', got {d!r}.")

    def _check_floats(self) -> None:
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            _fail(f"expected lr > 0, got {self.lr}. Pass a positive learning rate.")
        for name in ("weight_decay", "min_lr", "early_stopping_min_delta", "momentum"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                _fail(f"expected {name} >= 0, got {v}.")
        if self.min_lr > self.lr:
            _fail(f"expected min_lr <= lr, got min_lr={self.min_lr} > lr={self.lr}.")
        if not 0 < self.lr_gamma <= 1:
            _fail(f"expected 0 < lr_gamma <= 1, got {self.lr_gamma}.")
        if not (len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas)):
            _fail(f"expected betas = (b1, b2) with 0 <= b < 1, got {self.betas}.")
        if not self.eps > 0:
            _fail(f"expected eps > 0, got {self.eps}.")
        tb = self.time_budget
        if tb is not None and not (isinstance(tb, int | float) and math.isfinite(tb) and tb > 0):
            _fail(f"expected time_budget > 0 seconds or None, got {tb!r}. "
                  f"Pass None for no limit.")
        for name in ("clip_grad_norm", "clip_grad_value"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                _fail(f"expected {name} > 0 or None, got {v}. Pass None to disable clipping.")
        if self.nesterov and self.optimizer != "sgd":
            _fail(f"nesterov=True applies to optimizer='sgd' only, got {self.optimizer!r}.")

    @property
    def quiet(self) -> bool:
        """True when nothing is printed (``progress='none'``)."""
        return self.progress == "none"

    def replace(self, **changes: Any) -> TrainerConfig:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field (tuples become lists)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["betas"] = list(self.betas)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainerConfig:
        """Inverse of :meth:`to_dict`. Unknown keys raise ``ValueError`` (typos do not pass)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(
                f"TrainerConfig: unknown field(s) {unknown}. Valid fields: {sorted(names)}."
            )
        return cls(**d)

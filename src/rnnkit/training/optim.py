"""Optimisers, weight-decay parameter groups and learning-rate schedules.

The schedule is a pure function of the optimiser step (plus, for ``plateau``, a scale that
validation results shrink), so resuming needs only the step count and a tiny JSON state:

    lr(step) = base_lr * warmup(step) * shape(step) * plateau_scale
    warmup(s) = min(1, (s + 1) / warmup_steps)          (1 without warm-up)
    shape(s)  = 1                                        constant, plateau
              = m + (1 - m) * (1 + cos(pi * p)) / 2      cosine, p = progress after warm-up in
                                                         [0, 1], m = min_lr / lr
              = gamma ** (s // step_size)                step

Example:
    >>> opt = build_optimizer(model, TrainerConfig(optimizer="sgd", lr=0.1, weight_decay=1e-4))
    >>> sched = LRSchedule(TrainerConfig(schedule="cosine", warmup_steps=10), total_steps=1000)
    >>> sched.apply(opt, step=0)   # sets each group's lr
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .config import TrainerConfig

__all__ = ["LRSchedule", "build_optimizer", "weight_decay_groups"]


def weight_decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Split trainable parameters into a decayed and a non-decayed group.

    Matrices and embeddings (``dim >= 2``) are decayed; biases, norm gains and other 1-d/0-d
    parameters are not (decaying them hurts and has no regularising purpose). Empty groups are
    dropped. Order follows ``model.named_parameters()``, so it is the same on every rank.

    Args:
        model: any module.
        weight_decay: decay of the first group.
    """
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError(
            f"build_optimizer: {type(model).__name__} has no trainable parameters "
            "(none with requires_grad=True)."
        )
    return groups


def build_optimizer(model: nn.Module, config: TrainerConfig) -> torch.optim.Optimizer:
    """The optimiser named by ``config.optimizer`` over :func:`weight_decay_groups`.

    ``adam`` uses coupled L2 decay (torch's Adam), ``adamw`` decoupled decay, ``sgd`` momentum
    ``config.momentum`` (optionally Nesterov), ``rmsprop`` momentum ``config.momentum``.
    """
    groups = weight_decay_groups(model, config.weight_decay)
    name, lr = config.optimizer, config.lr
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=config.betas, eps=config.eps)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=config.betas, eps=config.eps)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=config.momentum, nesterov=config.nesterov)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, momentum=config.momentum, eps=config.eps)
    raise ValueError(f"build_optimizer: unknown optimizer {name!r}.")  # config already checks


class LRSchedule:
    """Learning rate as a function of the optimiser step (see the module docstring).

    Args:
        config: reads ``lr``, ``schedule``, ``warmup_steps``, ``min_lr``, ``lr_step_size``,
            ``lr_gamma``, ``plateau_patience``, ``mode``, ``early_stopping_min_delta``.
        total_steps: planned optimiser steps (the cosine reaches ``min_lr`` there).
    """

    def __init__(self, config: TrainerConfig, total_steps: int) -> None:
        self.config = config
        self.total_steps = max(int(total_steps), 1)
        self.plateau_scale = 1.0
        self.best: float | None = None
        self.bad_epochs = 0

    def factor(self, step: int) -> float:
        """Multiplier of the base LR at optimiser step ``step`` (0-based)."""
        c = self.config
        f = min(1.0, (step + 1) / c.warmup_steps) if c.warmup_steps else 1.0
        if c.schedule == "cosine":
            span = max(self.total_steps - c.warmup_steps, 1)
            p = min(max(step - c.warmup_steps, 0) / span, 1.0)
            m = c.min_lr / c.lr
            f *= m + (1 - m) * 0.5 * (1 + math.cos(math.pi * p))
        elif c.schedule == "step":
            f *= c.lr_gamma ** (step // c.lr_step_size)
        return f * self.plateau_scale

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set every group's ``lr`` for step ``step``; returns the new LR."""
        lr = self.config.lr * self.factor(step)
        for g in optimizer.param_groups:
            g["lr"] = lr
        return lr

    def on_metric(self, value: float) -> bool:
        """Feed an epoch's monitored metric (``plateau`` only). Returns True if LR was reduced."""
        c = self.config
        if c.schedule != "plateau" or not math.isfinite(value):
            return False
        better = (
            self.best is None
            or (c.mode == "min" and value < self.best - c.early_stopping_min_delta)
            or (c.mode == "max" and value > self.best + c.early_stopping_min_delta)
        )
        if better:
            self.best, self.bad_epochs = value, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs > c.plateau_patience:
            self.plateau_scale *= c.lr_gamma
            self.bad_epochs = 0
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state (the step itself is the trainer's)."""
        return {"plateau_scale": self.plateau_scale, "best": self.best,
                "bad_epochs": self.bad_epochs, "total_steps": self.total_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.plateau_scale = float(state["plateau_scale"])
        self.best = state["best"]
        self.bad_epochs = int(state["bad_epochs"])
        self.total_steps = int(state["total_steps"])

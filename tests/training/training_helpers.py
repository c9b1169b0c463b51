"""Tiny models and data shared by the trainer tests and their subprocess scripts."""

from __future__ import annotations

import os
import signal
from typing import Any

import torch
from torch import nn

from rnnkit.data.collate import PaddedBatch, pad_collate
from rnnkit.training import Callback, Trainer, TrainerConfig, seed_everything


class TinyGRU(nn.Module):
    """GRUCell(I→H) run over time with masking + Linear(H→1) at every step.

    training_step(batch, state=None) -> (loss, logs, state): masked MSE over the valid steps of
    a PaddedBatch; padded steps keep the state (rnnkit's masking rule), so chunks are exact.
    """

    def __init__(self, input_size: int = 2, hidden_size: int = 6, dropout: float = 0.0) -> None:
        super().__init__()
        self.cell = nn.GRUCell(input_size, hidden_size)
        self.head = nn.Linear(hidden_size, 1)
        self.drop = nn.Dropout(dropout)
        self.hidden_size = hidden_size
        self.seen_states: list[Any] = []  # (incoming state, requires_grad) per call, for tests
        self.record = False

    def run(self, x: torch.Tensor, lengths: torch.Tensor, h: torch.Tensor | None):
        B, T, _ = x.shape
        h = x.new_zeros(B, self.hidden_size) if h is None else h
        outs = []
        for t in range(T):
            valid = (lengths > t).to(x.device).unsqueeze(-1)
            h = torch.where(valid, self.cell(x[:, t], h), h)
            outs.append(self.head(self.drop(h)) * valid)
        return torch.stack(outs, 1), h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lengths = torch.full((x.shape[0],), x.shape[1])
        return self.run(x, lengths, None)[0]

    def training_step(self, batch: PaddedBatch, state: Any = None):
        if self.record:
            self.seen_states.append(None if state is None else state.clone())
        x, y, lengths = batch
        pred, h = self.run(x, lengths, state)
        mask = (torch.arange(x.shape[1]) < lengths.unsqueeze(1)).to(x.device).unsqueeze(-1)
        n = mask.sum().clamp_min(1)
        loss = (((pred - y) ** 2) * mask).sum() / n
        return loss, {"mae": float(((pred - y).abs() * mask).sum().detach() / n)}, h


def ragged_dataset(n: int = 24, T: int = 9, input_size: int = 2, seed: int = 1):
    """Items (x [T_i, I], y [T_i, 1]) with T_i in [2, T]; y = cumulative sum of x[:, 0]."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(n):
        t = int(torch.randint(2, T + 1, (1,), generator=g))
        x = torch.randn(t, input_size, generator=g)
        items.append((x, 0.3 * x[:, :1].cumsum(0)))
    return items


class KillAt(Callback):
    """SIGKILLs this process right after optimiser step ``step`` (simulates a crash)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: Trainer, logs: dict) -> None:
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def resume_config(ckpt_dir: str) -> TrainerConfig:
    return TrainerConfig(
        epochs=3, batch_size=4, lr=5e-3, optimizer="adam", schedule="cosine", warmup_steps=2,
        clip_grad_norm=1.0, checkpoint_dir=ckpt_dir, checkpoint_every_steps=2, progress="none",
        seed=3,
    )


def resume_run(ckpt_dir: str, kill_at: int | None = None, resume: str | None = None):
    """Train TinyGRU (with dropout) on ragged data; optionally crash or resume."""
    torch.set_num_threads(1)
    seed_everything(11)
    model = TinyGRU(dropout=0.2)
    cbs = [KillAt(kill_at)] if kill_at else []
    trainer = Trainer(resume_config(ckpt_dir), callbacks=cbs, collate_fn=pad_collate)
    history = trainer.fit(model, ragged_dataset(), ragged_dataset(8, seed=2), resume=resume)
    return model, trainer, history

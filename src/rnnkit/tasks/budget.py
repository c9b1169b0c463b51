"""Time budgets on any clock, and the cosine learning rate that anneals to them.

The trainer's own ``time_budget`` measures wall time. A benchmark on a shared machine budgets
*CPU* time instead (``clock=time.process_time`` with one torch thread): then the task passes
``time_budget=None`` to the trainer and adds one of these callbacks, which stop training when
``clock`` has advanced by ``budget`` seconds since the fit started (checked after each batch).

* :class:`ClockBudget` only stops (any trainer schedule, e.g. ``plateau``, keeps the LR);
* :class:`CosineToBudget` also sets the LR: linear warm-up, then a cosine down to
  ``min_ratio · lr`` over whichever ends first, the steps or the budget.

Used by ``tasks.lm`` and ``tasks.seq2seq`` (``train(cfg, clock=...)``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from rnnkit.training import Callback, Trainer

__all__ = ["ClockBudget", "CosineToBudget", "budget_callback"]


class ClockBudget(Callback):
    """Stop training once ``clock()`` has advanced ``budget`` seconds since ``on_fit_start``
    (None: never; the trainer's own ``time_budget`` still applies). The clock restarts on
    ``--resume``."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter,
                 budget: float | None = None) -> None:
        self.clock, self.budget, self.t0 = clock, budget, 0.0

    def on_fit_start(self, trainer: Trainer) -> None:
        self.t0 = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.t0

    def on_train_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.budget and self.elapsed() >= self.budget and not trainer.should_stop:
            trainer.should_stop = True
            trainer.stop_reason = f"time budget of {self.budget:g} s reached"


class CosineToBudget(ClockBudget):
    """Linear warm-up, then a cosine from ``lr`` to ``min_ratio · lr`` whose progress is the
    larger of steps / (epochs · batches per epoch) and elapsed / ``budget`` seconds of
    ``clock``, so the LR anneals fully whichever limit ends training. With a ``budget`` it
    also stops training when that is spent (:class:`ClockBudget`); without one it anneals to
    the trainer's ``time_budget``. The warm-up is at most a tenth of the step horizon."""

    def __init__(self, warmup_steps: int, min_ratio: float,
                 clock: Callable[[], float] = time.perf_counter,
                 budget: float | None = None) -> None:
        super().__init__(clock, budget)
        self.warmup, self.min_ratio, self.total = max(warmup_steps, 0), min_ratio, 1

    def on_fit_start(self, trainer: Trainer) -> None:
        super().on_fit_start(trainer)
        self.total = max(trainer.config.epochs * (trainer.batches_per_epoch or 1), 1)
        self.warmup = min(self.warmup, max(self.total // 10, 1))  # short runs: short warm-up
        self.on_before_optimizer_step(trainer)

    def on_before_optimizer_step(self, trainer: Trainer) -> None:
        c, step = trainer.config, trainer.global_step
        p = step / self.total
        budget = self.budget or c.time_budget
        if budget:
            p = max(p, self.elapsed() / budget)
        f = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        f *= self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * min(p, 1.0)))
        for g in trainer.optimizer.param_groups:
            g["lr"] = c.lr * f


def budget_callback(clock: Callable[[], float] | None, time_budget: float | None,
                    cosine: tuple[int, float] | None = None) -> Callback | None:
    """The callback a task adds for ``time_budget`` measured on ``clock`` (None: the trainer's
    wall clock, so no callback unless ``cosine = (warmup_steps, min_ratio)`` asks for the
    cosine LR). Pass the trainer ``time_budget=None`` whenever ``clock`` is given."""
    if cosine is not None:
        return CosineToBudget(*cosine, clock or time.perf_counter,
                              time_budget if clock is not None else None)
    if clock is not None:
        return ClockBudget(clock, time_budget)
    return None

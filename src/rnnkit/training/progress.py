"""Progress reporting: a tqdm bar with live loss, metrics and throughput, or one line per epoch.

``TrainerConfig.progress`` picks ``bar`` (:class:`ProgressBar`), ``epoch``
(:class:`EpochLogger`: one plain line per epoch, good for log files and CI) or ``none``
(quiet: nothing printed). Only rank 0 prints.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from .callbacks import Callback

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["EpochLogger", "ProgressBar", "epoch_label", "format_metrics"]

# An epoch limit at least this large next to a time budget is a placeholder ("until the budget
# ends"), not a total worth printing (the language model's "epoch 6/100000").
_PLACEHOLDER_EPOCHS = 10_000


def epoch_label(trainer: Trainer) -> str:
    """``epoch 3/10``; with a time budget ``epoch 3/10, budget 60 s``, or ``epoch 3 (until the
    60 s budget)`` when the epoch limit is only a placeholder. The budget is the trainer's or
    a callback's ``budget`` (e.g. :class:`rnnkit.tasks.budget.ClockBudget`)."""
    n, total = trainer.epoch + 1, trainer.config.epochs
    callbacks = getattr(trainer.callbacks, "callbacks", [])
    budget = trainer.config.time_budget or next(
        (b for b in (getattr(c, "budget", None) for c in callbacks) if b), None)
    if not budget:
        return f"epoch {n}/{total}"
    if total >= _PLACEHOLDER_EPOCHS:
        return f"epoch {n} (until the {budget:g} s budget)"
    return f"epoch {n}/{total}, budget {budget:g} s"


def format_metrics(logs: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Short strings for numeric entries of ``logs`` (4 significant digits)."""
    return {k: f"{v:.4g}" for k, v in logs.items() if isinstance(v, int | float) and k not in skip}


class ProgressBar(Callback):
    """One tqdm bar per epoch; postfix shows running loss, the step's metrics, lr and samples/s.

    Args:
        file: stream to draw on (stderr by default).
        refresh_every: update the postfix every this many batches (formatting is not free).
    """

    def __init__(self, file: TextIO | None = None, refresh_every: int = 1) -> None:
        self.file = file
        self.refresh_every = max(1, refresh_every)
        self.bar: Any = None
        self._t0 = 0.0
        self._samples = 0

    def on_epoch_start(self, trainer: Trainer) -> None:
        if not trainer.is_main:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=trainer.batches_per_epoch, initial=trainer.position[1],
            desc=epoch_label(trainer), leave=True,
            file=self.file or sys.stderr, dynamic_ncols=True,
        )
        self._t0, self._samples = time.perf_counter(), 0

    def on_train_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.bar is None:
            return
        self._samples += trainer.last_batch_size * trainer.dist.world_size
        self.bar.update(1)
        if self.bar.n % self.refresh_every == 0:
            rate = self._samples / max(time.perf_counter() - self._t0, 1e-9)
            post = format_metrics(logs, skip=("loss",))
            post = {"loss": f"{trainer.running_loss:.4g}", **post, "samples/s": f"{rate:.0f}"}
            self.bar.set_postfix(post, refresh=False)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.set_postfix(format_metrics(logs, skip=("epoch", "step")), refresh=True)
            self.bar.close()
            self.bar = None

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class EpochLogger(Callback):
    """Prints one line per epoch, e.g. ``epoch 3/10 step 120 loss=0.41 val_loss=0.45 12.3s``."""

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file
        self._t0 = 0.0

    def on_epoch_start(self, trainer: Trainer) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if not trainer.is_main:
            return
        parts = " ".join(f"{k}={v}" for k, v in format_metrics(logs, ("epoch", "step")).items())
        line = (f"{epoch_label(trainer)} step {trainer.global_step} "
                f"{parts} {time.perf_counter() - self._t0:.1f}s")
        print(line, file=self.file or sys.stdout, flush=True)

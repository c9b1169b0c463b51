"""History plots: loss and metric curves per epoch to a PNG (needs ``matplotlib``).

Each metric ``X`` gets one panel with its train curve and, if present, ``val_X``.

Example:
    >>> history = trainer.fit(model, train, val)
    >>> plot_history(history, "runs/history.png")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .callbacks import Callback

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["HistoryPlot", "plot_history"]

_NOT_METRICS = {"epoch", "step", "lr", "time_s", "skipped_steps"}


def _panels(history: list[dict[str, Any]]) -> list[str]:
    keys = list(dict.fromkeys(k for row in history for k in row))
    base = [k[4:] if k.startswith("val_") else k for k in keys if k not in _NOT_METRICS]
    return list(dict.fromkeys(base))


def plot_history(
    history: list[dict[str, Any]], path: str | os.PathLike, title: str | None = None
) -> Path:
    """Draw each metric (train and ``val_``) against the epoch and save a PNG.

    Args:
        history: ``trainer.history``: one dict per epoch with ``epoch`` and metric values.
        path: output PNG path (parent folders are created).
        title: optional figure title.

    Returns:
        The path written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("plot_history needs matplotlib: pip install 'rnnkit[plots]'.") from e
    if not history:
        raise ValueError("plot_history: the history is empty; train at least one epoch.")
    panels = _panels(history)
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.5 * max(len(panels), 1), 3.5),
                             squeeze=False)
    for ax, name in zip(axes[0], panels):
        for key, style in ((name, "-o"), (f"val_{name}", "--s")):
            pts = [(r["epoch"], r[key]) for r in history if isinstance(r.get(key), int | float)]
            if pts:
                ax.plot(*zip(*pts), style, label=key, markersize=3)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


class HistoryPlot(Callback):
    """Redraws :func:`plot_history` to ``path`` at the end of fit (and on a crash)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_fit_end(self, trainer: Trainer) -> None:
        if trainer.is_main and trainer.history:
            plot_history(trainer.history, self.path)

    def on_exception(self, trainer: Trainer, error: BaseException) -> None:
        self.on_fit_end(trainer)

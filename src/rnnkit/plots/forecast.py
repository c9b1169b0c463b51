"""Forecast-vs-actual figure: the history, the held-out actuals, the model's point forecast with
its prediction interval, and optionally a baseline's forecast.

Example:
    >>> plot_forecast("forecast.png", t, y, t_test, point, lower, upper, actual=y_test)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["plot_forecast", "plot_panel"]


def plot_forecast(path: str | os.PathLike, time: np.ndarray, history: np.ndarray,
                  future_time: np.ndarray, point: np.ndarray, lower: np.ndarray,
                  upper: np.ndarray, actual: np.ndarray | None = None,
                  baselines: dict[str, np.ndarray] | None = None, title: str = "",
                  level: float = 0.8, max_history: int | None = None, xlabel: str = "time",
                  ylabels: list[str] | None = None) -> Path:
    """Draw one panel per target column and save a PNG (written atomically).

    Args:
        path: the PNG to write.
        time: ``[T]`` time of the history (datetimes or numbers). history: ``[T, K]`` values.
        future_time: ``[H]`` time of the forecast. point, lower, upper: ``[H, K]``.
        actual: ``[H, K]`` held-out values, or ``None`` (a true forecast of the future).
        baselines: ``{name: [H]}`` forecasts of the first target to draw dashed.
        title: the figure title. level: interval coverage, for the legend.
        max_history: show only the last this many history steps (default ``max(3·H, 36)``:
            the plot zooms on the recent history and the horizon).
        xlabel, ylabels: axis labels (the time column; one per target column).

    Returns:
        The written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = np.asarray(history, dtype=float).reshape(len(time), -1)
    point, lower, upper = (np.asarray(a, dtype=float).reshape(len(future_time), -1)
                           for a in (point, lower, upper))
    k = history.shape[1]
    # zoom on the recent history and the horizon: the last 3 horizons (at least 36 steps)
    n = max_history or max(3 * len(future_time), 36)
    fig, axes = plt.subplots(k, 1, figsize=(9, 3.2 * k), squeeze=False)
    for j, ax in enumerate(axes[:, 0]):
        ax.plot(time[-n:], history[-n:, j], color="0.3", lw=1.2, label="history")
        if actual is not None:
            act = np.asarray(actual, dtype=float).reshape(len(future_time), -1)
            ax.plot(future_time, act[:, j], color="black", lw=1.5, label="actual")
        ax.fill_between(future_time, lower[:, j], upper[:, j], color="tab:blue", alpha=0.25,
                        label=f"{round(level * 100)} % interval")
        ax.plot(future_time, point[:, j], color="tab:blue", lw=1.8, label="forecast")
        if j == 0:
            for name, values in (baselines or {}).items():
                ax.plot(future_time, np.asarray(values)[: len(future_time)], ls="--", lw=1,
                        label=name)
        ax.grid(alpha=0.3)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabels[j] if ylabels and j < len(ylabels) else "value")
        ax.legend(loc="upper left", fontsize=8)
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def plot_panel(path: str | os.PathLike, panel, test: list[np.ndarray], point: np.ndarray,
               lower: np.ndarray, upper: np.ndarray, level: float = 0.8, title: str = "",
               n_show: int = 4) -> Path:
    """A grid of the first ``n_show`` series of a set: recent history, test part, forecast and
    interval (each zoomed on the last 3 horizons of history)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = min(n_show, len(panel.ids))
    h = point.shape[1]
    fig, axes = plt.subplots(k, 1, figsize=(9, 2.6 * k), squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        y, t = np.asarray(panel.y[i]), np.asarray(panel.ds[i])
        n = max(3 * h, 36)
        tf = np.arange(len(t), len(t) + h) if t.dtype.kind != "M" else None
        if tf is None:
            from rnnkit.data.long_format import future_stamps

            tf = future_stamps(t, h, panel.freq)
        elif t.dtype.kind in "iu":
            tf = t[-1] + (t[-1] - t[-2] if len(t) > 1 else 1) * np.arange(1, h + 1)
        ax.plot(t[-n:], y[-n:], color="0.3", lw=1.2, label="history")
        ax.plot(tf, test[i][:h], color="black", lw=1.5, label="actual")
        ax.fill_between(tf, lower[i], upper[i], color="tab:blue", alpha=0.25,
                        label=f"{round(level * 100)} % interval")
        ax.plot(tf, point[i], color="tab:blue", lw=1.8, label="forecast")
        ax.set_title(str(panel.ids[i]), fontsize=9, loc="left")
        ax.set_xlabel("time step" if t.dtype.kind != "M" else "date")
        ax.set_ylabel("value")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(loc="upper left", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path

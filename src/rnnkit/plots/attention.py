"""Heatmaps of attention weights and bar charts of per-step saliency (matplotlib Agg, lazy).

Example:
    >>> plot_attention(alpha, src_tokens, out_tokens, "attention.png")   # alpha [N, S]
    >>> plot_saliency(scores, "saliency.png", labels=tokens)             # scores [T]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot_attention", "plot_saliency"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    """Save atomically (temp file, then rename) and close the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
    _plt().close(fig)
    return path


def plot_attention(weights, source_tokens: Sequence[str], output_tokens: Sequence[str],
                   path: str | os.PathLike, title: str | None = None,
                   xlabel: str = "source") -> Path:
    """Heatmap of attention weights: one row per output token, one column per source token.

    Args:
        weights: [N, S] array (rows sum to 1 over the valid source steps).
        source_tokens: S labels (x axis). output_tokens: N labels (y axis).
        path: PNG to write. title: optional title. xlabel: x-axis label.

    Signed matrices (saliency) use a diverging colour map centred on 0.
    """
    w = np.asarray(getattr(weights, "detach", lambda: weights)(), dtype=float)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape != (len(output_tokens), len(source_tokens)):
        raise ValueError(f"plot_attention: expected weights of shape ({len(output_tokens)}, "
                         f"{len(source_tokens)}) (outputs × sources), got {w.shape}.")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(3.0, 0.35 * w.shape[1] + 1.5),
                                    max(2.0, 0.35 * w.shape[0] + 1.2)))
    if float(w.min()) < 0:
        lim = max(float(np.abs(w).max()), 1e-9)
        im = ax.imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    else:
        im = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=max(float(w.max()), 1e-9),
                       aspect="auto")
    ax.set_xticks(range(w.shape[1]), [str(t) for t in source_tokens], rotation=90)
    ax.set_yticks(range(w.shape[0]), [str(t) for t in output_tokens])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("output")
    if title:
        ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _save(fig, path)


def plot_saliency(scores, path: str | os.PathLike, labels: Sequence[str] | None = None,
                  series=None, title: str | None = None) -> Path:
    """Per-time-step saliency as bars (and the input series above them, if given).

    Args:
        scores: [T] saliency per step (signed; red positive, blue negative).
        path: PNG to write. labels: T tick labels (tokens), optional.
        series: [T] or [T, C] input values to draw above the bars (numeric inputs).
        title: optional title.
    """
    s = np.asarray(getattr(scores, "detach", lambda: scores)(), dtype=float).reshape(-1)
    if labels is not None and len(labels) != len(s):
        raise ValueError(f"plot_saliency: expected {len(s)} labels (one per step), got "
                         f"{len(labels)}.")
    plt = _plt()
    rows = 2 if series is not None else 1
    width = max(4.0, min(0.3 * len(s) + 2, 16.0))
    fig, axes = plt.subplots(rows, 1, figsize=(width, 2.2 * rows), sharex=True, squeeze=False)
    if series is not None:
        axes[0, 0].plot(np.asarray(series, dtype=float))
        axes[0, 0].set_ylabel("input")
        axes[0, 0].set_xlabel("time step")
    ax = axes[-1, 0]
    from matplotlib import cm, colors

    bound = float(np.abs(s).max()) if s.size and np.abs(s).max() > 0 else 1.0
    norm = colors.Normalize(-bound, bound)
    cmap = plt.get_cmap("coolwarm")
    ax.bar(range(len(s)), s, color=cmap(norm(s)))
    ax.axhline(0.0, color="0.5", linewidth=0.5)
    ax.set_ylabel("saliency")
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[:, 0].tolist(),
                 fraction=0.03, pad=0.02,
                 label="saliency (red: pushes towards the explained class)")
    if labels is not None:
        ax.set_xticks(range(len(s)), [str(t) for t in labels], rotation=90)
        ax.set_xlabel("input token")
    else:
        ax.set_xlabel("time step")
    if title:
        axes[0, 0].set_title(title)
    return _save(fig, path)

"""Confusion matrix of a classifier as a PNG (matplotlib, Agg backend, imported lazily).

``M[i, j]`` counts test items of true class ``i`` predicted as class ``j``; each cell shows the
count and the row-normalised share (recall of class ``i`` on the diagonal).

Example:
    >>> plot_confusion(y_true, y_pred, classes=("great", "other"), path="runs/x/confusion.png")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["confusion_matrix", "plot_confusion"]


def confusion_matrix(y_true: object, y_pred: object, num_classes: int) -> np.ndarray:
    """Counts ``[K, K]`` (int64): rows true class, columns predicted class.

    Raises:
        ValueError: labels outside ``[0, num_classes)`` or arrays of different lengths.
    """
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: expected y_true and y_pred of equal length, got "
                         f"{t.size} and {p.size}.")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= num_classes):
        raise ValueError(f"confusion_matrix: expected labels in [0, {num_classes}), got range "
                         f"[{min(t.min(), p.min())}, {max(t.max(), p.max())}].")
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (t, p), 1)
    return m


def plot_confusion(y_true: object, y_pred: object, classes: Sequence[str],
                   path: str | os.PathLike, title: str | None = None) -> Path:
    """Draw the confusion matrix and save it atomically as a PNG.

    Args:
        y_true, y_pred: ``[N]`` class indices.
        classes: the K class names (axis labels).
        path: output PNG.
        title: figure title (default: accuracy).

    Returns:
        The path written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("plot_confusion needs matplotlib: pip install 'rnnkit[plots]'.") from e
    k = len(classes)
    m = confusion_matrix(y_true, y_pred, k)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    size = 2.5 + 0.45 * k
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    if k <= 20:  # cell labels stay legible up to ~20 classes
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{m[i, j]}\n{share[i, j]:.0%}", ha="center", va="center",
                        fontsize=8, color="white" if share[i, j] > 0.5 else "black")
    names = [str(c)[:14] for c in classes]
    ax.set_xticks(range(k), names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(m) / max(m.sum(), 1)
    ax.set_title(title or f"accuracy {acc:.1%} (n={m.sum()})")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, out)
    return out

"""Evaluation metrics: numpy (or CPU/GPU tensors, lists) in, Python ``float`` out.

Forecasting (same-shape ``y_true`` / ``y_pred``, any shape, averaged over all elements):

* ``mae``   = mean |e|,  ``rmse`` = sqrt(mean e²)       with e = y_true - y_pred
* ``mape``  = 100 · mean |e / y_true|                   (percent; y_true must be non-zero)
* ``smape`` = 100 · mean 2|e| / (|y_true| + |y_pred|)   (percent, in [0, 200]; 0/0 counts 0)
* ``mase``  = mae / mean |y_train[t] - y_train[t - m]|  (scaled by the in-sample seasonal naive)

Classification (integer labels ``[N]``): ``accuracy`` (a fraction in [0, 1]), ``macro_f1``
(unweighted mean of per-class F1 over the classes present in y_true or y_pred),
``confusion_matrix`` (rows = true, columns = predicted).

Language modelling, from a mean negative log-likelihood in nats per symbol (the value
``torch.nn.functional.cross_entropy`` returns): ``bpc`` = nll / ln 2, ``perplexity`` = exp(nll).
Pass ``count=`` when ``nll`` is a sum over ``count`` symbols.

Example:
    >>> mape([100, 200], [110, 180])
    10.0
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "accuracy",
    "bpc",
    "confusion_matrix",
    "macro_f1",
    "mae",
    "mape",
    "mase",
    "perplexity",
    "rmse",
    "smape",
]


def _array(x: object, name: str, where: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, on any device
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: expected numbers for {name}, got {type(x).__name__}.") from None
    if arr.size == 0:
        raise ValueError(f"{where}: expected a non-empty {name}, got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{where}: expected finite values in {name}, got NaN/inf.")
    return arr


def _pair(y_true: object, y_pred: object, where: str) -> tuple[np.ndarray, np.ndarray]:
    t, p = _array(y_true, "y_true", where), _array(y_pred, "y_pred", where)
    if t.shape != p.shape:
        raise ValueError(f"{where}: expected y_true and y_pred of the same shape, got {t.shape} "
                         f"and {p.shape}.")
    return t, p


def mae(y_true: object, y_pred: object) -> float:
    """Mean absolute error."""
    t, p = _pair(y_true, y_pred, "mae")
    return float(np.mean(np.abs(t - p)))


def rmse(y_true: object, y_pred: object) -> float:
    """Root mean squared error."""
    t, p = _pair(y_true, y_pred, "rmse")
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mape(y_true: object, y_pred: object) -> float:
    """Mean absolute percentage error, in percent. Raises if ``y_true`` has a zero."""
    t, p = _pair(y_true, y_pred, "mape")
    if (t == 0).any():
        raise ValueError("mape: expected non-zero y_true, got zeros. Use smape or mase instead.")
    return float(100.0 * np.mean(np.abs((t - p) / t)))


def smape(y_true: object, y_pred: object) -> float:
    """Symmetric MAPE in percent, ``100 · mean(2|e| / (|y| + |ŷ|))``; terms with 0/0 count 0."""
    t, p = _pair(y_true, y_pred, "smape")
    den = np.abs(t) + np.abs(p)
    ratio = np.divide(2.0 * np.abs(t - p), den, out=np.zeros_like(den), where=den > 0)
    return float(100.0 * np.mean(ratio))


def mase(y_true: object, y_pred: object, y_train: object, season: int = 1) -> float:
    """Mean absolute scaled error: forecast MAE over the in-sample seasonal-naive MAE.

    Args:
        y_true: ``[H]`` (or ``[H, K]``) actual values of the horizon.
        y_pred: same shape as ``y_true``.
        y_train: ``[T]`` (or ``[T, K]``) training series preceding the horizon.
        season: m, the lag of the naive scale (1 = non-seasonal naive).
    """
    t, p = _pair(y_true, y_pred, "mase")
    train = _array(y_train, "y_train", "mase")
    if season < 1 or train.shape[0] <= season:
        raise ValueError(f"mase: expected 1 <= season < len(y_train) = {train.shape[0]}, got "
                         f"{season}.")
    scale = float(np.mean(np.abs(train[season:] - train[:-season])))
    if scale == 0:
        raise ValueError("mase: expected a non-constant y_train (seasonal naive MAE > 0), got 0.")
    return float(np.mean(np.abs(t - p))) / scale


def _labels(y_true: object, y_pred: object, where: str) -> tuple[np.ndarray, np.ndarray]:
    t, p = _pair(y_true, y_pred, where)
    if t.ndim != 1:
        raise ValueError(f"{where}: expected 1-D label arrays [N], got shape {t.shape}.")
    if (t != np.round(t)).any() or (p != np.round(p)).any() or t.min() < 0 or p.min() < 0:
        raise ValueError(f"{where}: expected non-negative integer class labels, got other values."
                         " Take argmax of the scores first.")
    return t.astype(np.int64), p.astype(np.int64)


def accuracy(y_true: object, y_pred: object) -> float:
    """Fraction of correct predictions, in [0, 1]."""
    t, p = _labels(y_true, y_pred, "accuracy")
    return float(np.mean(t == p))


def confusion_matrix(y_true: object, y_pred: object, n_classes: int | None = None) -> np.ndarray:
    """Counts ``[K, K]`` (int64): entry ``[i, j]`` = true class i predicted as j.

    Args:
        n_classes: K (default: 1 + the largest label seen).
    """
    t, p = _labels(y_true, y_pred, "confusion_matrix")
    k = int(max(t.max(), p.max())) + 1
    if n_classes is not None:
        if n_classes < k:
            raise ValueError(f"confusion_matrix: expected labels < n_classes={n_classes}, got "
                             f"label {k - 1}.")
        k = n_classes
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (t, p), 1)
    return cm


def macro_f1(y_true: object, y_pred: object) -> float:
    """Unweighted mean F1 over the classes present in ``y_true`` or ``y_pred`` (in [0, 1])."""
    cm = confusion_matrix(y_true, y_pred)
    tp = np.diag(cm).astype(np.float64)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    present = (support + predicted) > 0
    den = support + predicted
    f1 = np.divide(2 * tp, den, out=np.zeros_like(tp), where=den > 0)
    return float(f1[present].mean())


def _nll(nll: object, count: int | None, where: str) -> float:
    value = float(_array(nll, "nll", where).sum())
    if count is not None:
        if count < 1:
            raise ValueError(f"{where}: expected count >= 1, got {count}.")
        value /= count
    if value < 0:
        raise ValueError(f"{where}: expected a non-negative NLL in nats, got {value:.4g}.")
    return value


def bpc(nll: object, count: int | None = None) -> float:
    """Bits per character (symbol) from a mean NLL in nats: ``nll / ln 2``.

    Args:
        nll: mean negative log-likelihood in nats per symbol, or a sum when ``count`` is given.
        count: number of symbols the sum covers.
    """
    return _nll(nll, count, "bpc") / math.log(2.0)


def perplexity(nll: object, count: int | None = None) -> float:
    """Perplexity ``exp(nll)`` from a mean NLL in nats per token (or a sum over ``count``)."""
    return math.exp(_nll(nll, count, "perplexity"))

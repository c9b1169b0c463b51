"""Classification baselines: majority class, 1-NN Euclidean (sequences), TF-IDF + LR (text).

Each baseline returns predicted labels ``[N_test]`` (int64); :func:`run_classification_baselines`
scores them on a :class:`~rnnkit.data.SequenceClassData` or
:class:`~rnnkit.data.TextClassData`. scikit-learn is imported lazily
(``pip install scikit-learn``).

Example:
    >>> d = load_dataset("GunPoint")
    >>> pred = nearest_neighbour(d.X_train, d.y_train, d.X_test)
    >>> accuracy(d.y_test, pred)        # ≈ 0.913 (UCR: 1-NN ED 91.3 %)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.data.containers import SequenceClassData, TextClassData
from rnnkit.data.deps import require
from rnnkit.metrics import accuracy, macro_f1

__all__ = [
    "classification_metrics",
    "majority_class",
    "nearest_neighbour",
    "run_classification_baselines",
    "tfidf_logreg",
]


def majority_class(y_train: object, n_test: int) -> np.ndarray:
    """Predict the most frequent training label (smallest label on ties) ``n_test`` times."""
    y = np.asarray(y_train, dtype=np.int64)
    if y.ndim != 1 or y.size == 0 or y.min() < 0:
        raise ValueError(f"majority_class: expected non-negative int labels [N], got shape "
                         f"{y.shape}.")
    return np.full(int(n_test), int(np.bincount(y).argmax()), dtype=np.int64)


def _resample(X: np.ndarray, lengths: np.ndarray | None, length: int) -> np.ndarray:
    """Linearly resample each valid part ``X[i, :lengths[i]]`` to ``length`` steps."""
    N, T, C = X.shape
    lengths = np.full(N, T) if lengths is None else np.asarray(lengths)
    if length == T and (lengths == T).all():
        return X.astype(np.float64)
    out = np.empty((N, length, C))
    grid = np.linspace(0.0, 1.0, length)
    for i in range(N):
        n = int(lengths[i])
        src = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
        for c in range(C):
            out[i, :, c] = np.interp(grid, src, X[i, :n, c])
    return out


def nearest_neighbour(X_train: np.ndarray, y_train: object, X_test: np.ndarray,
                      lengths_train: np.ndarray | None = None,
                      lengths_test: np.ndarray | None = None,
                      chunk: int = 256) -> np.ndarray:
    """1-nearest-neighbour with Euclidean distance over all steps and channels.

    Variable-length sequences (``lengths`` given and not all equal, or train/test lengths
    differ) are first resampled linearly to the longest length, the usual UCR practice for
    Euclidean distance. Ties go to the first training example.

    Args:
        X_train: ``[N, T, C]`` (or ``[N, T]``) training sequences (right-padded).
        y_train: ``[N]`` labels.
        X_test: ``[M, T', C]`` test sequences.
        lengths_train, lengths_test: valid lengths (``None``: all full length).
        chunk: test rows per distance block (memory bound).

    Returns:
        ``[M]`` int64 predicted labels.
    """
    X_train, X_test = (np.asarray(X, dtype=np.float64) for X in (X_train, X_test))
    X_train, X_test = (X[..., None] if X.ndim == 2 else X for X in (X_train, X_test))
    y = np.asarray(y_train, dtype=np.int64)
    if X_train.ndim != 3 or X_test.ndim != 3 or X_train.shape[2] != X_test.shape[2]:
        raise ValueError(f"nearest_neighbour: expected X_train [N, T, C] and X_test [M, T', C], "
                         f"got {X_train.shape} and {X_test.shape}.")
    if y.shape != (X_train.shape[0],):
        raise ValueError(f"nearest_neighbour: expected y_train of shape ({X_train.shape[0]},), "
                         f"got {y.shape}.")
    variable = (X_train.shape[1] != X_test.shape[1] or any(
        lens is not None and np.unique(lens).size > 1 for lens in (lengths_train, lengths_test)))
    if variable:
        length = int(max(X_train.shape[1], X_test.shape[1]))
        X_train = _resample(X_train, lengths_train, length)
        X_test = _resample(X_test, lengths_test, length)
    A = X_train.reshape(len(X_train), -1)
    B = X_test.reshape(len(X_test), -1)
    a2 = (A**2).sum(axis=1)
    pred = np.empty(len(B), dtype=np.int64)
    for s in range(0, len(B), chunk):
        b = B[s:s + chunk]
        d2 = a2[None, :] - 2.0 * b @ A.T  # + |b|² is constant per row
        pred[s:s + chunk] = y[d2.argmin(axis=1)]
    return pred


def tfidf_logreg(texts_train: Sequence[str], y_train: object, texts_test: Sequence[str],
                 C: float = 10.0, ngram_range: tuple[int, int] = (1, 2),
                 min_df: int = 2) -> np.ndarray:
    """TF-IDF (sublinear tf, word n-grams) + logistic regression (scikit-learn).

    Args:
        texts_train, texts_test: raw strings.
        y_train: ``[N]`` labels.
        C: inverse L2 regularisation strength.
        ngram_range: word n-gram range.
        min_df: minimum document frequency of a term.

    Returns:
        ``[M]`` int64 predicted labels.
    """
    fe = require("sklearn.feature_extraction.text", "pip install scikit-learn", "tfidf_logreg")
    lm = require("sklearn.linear_model", "pip install scikit-learn", "tfidf_logreg")
    vec = fe.TfidfVectorizer(ngram_range=ngram_range, min_df=min_df, sublinear_tf=True)
    Xtr = vec.fit_transform(list(texts_train))
    clf = lm.LogisticRegression(C=C, max_iter=2000)
    clf.fit(Xtr, np.asarray(y_train, dtype=np.int64))
    return clf.predict(vec.transform(list(texts_test))).astype(np.int64)


def classification_metrics(y_true: object, y_pred: object) -> dict[str, float]:
    """``{"accuracy", "macro_f1"}``, both fractions in [0, 1]."""
    return {"accuracy": accuracy(y_true, y_pred), "macro_f1": macro_f1(y_true, y_pred)}


def run_classification_baselines(data: SequenceClassData | TextClassData) -> list[dict]:
    """Score every applicable baseline on the official test split.

    Returns:
        One dict per baseline: ``{"baseline", "pred" [N_test], "accuracy", "macro_f1"}``.
    """
    preds = {"majority_class": majority_class(data.y_train, len(data.y_test))}
    if isinstance(data, SequenceClassData):
        preds["1nn_euclidean"] = nearest_neighbour(data.X_train, data.y_train, data.X_test,
                                                   data.lengths_train, data.lengths_test)
    elif isinstance(data, TextClassData):
        preds["tfidf_logreg"] = tfidf_logreg(data.texts_train, data.y_train, data.texts_test)
    else:
        raise TypeError(f"run_classification_baselines: expected SequenceClassData or "
                        f"TextClassData, got {type(data).__name__}.")
    return [{"baseline": k, "pred": p, **classification_metrics(data.y_test, p)}
            for k, p in preds.items()]

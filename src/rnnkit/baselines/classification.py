"""Classification baselines: majority class, 1-NN Euclidean, 1-NN DTW and MiniRocket
(sequences), TF-IDF + LR (text).

Each baseline returns predicted labels ``[N_test]`` (int64); :func:`run_classification_baselines`
scores them on a :class:`~rnnkit.data.SequenceClassData` or
:class:`~rnnkit.data.TextClassData` with each one's fit + predict seconds. scikit-learn and
aeon are imported lazily (``pip install scikit-learn aeon``).

Variable-length sequences are resampled linearly to one length for the methods that need it
(1-NN, MiniRocket; the usual UCR practice); missing values (NaN) are interpolated in time.
1-NN DTW uses a Sakoe–Chiba window of 10 % and, on series longer than 256 steps, the series
averaged down to at most 256 steps (full-length DTW on PLAID would take hours).

Example:
    >>> d = load_dataset("GunPoint")
    >>> pred = nearest_neighbour(d.X_train, d.y_train, d.X_test)
    >>> accuracy(d.y_test, pred)        # ≈ 0.913 (UCR: 1-NN ED 91.3 %)
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from rnnkit.data.containers import SequenceClassData, TextClassData
from rnnkit.data.deps import require
from rnnkit.metrics import accuracy, macro_f1

__all__ = [
    "classification_metrics",
    "equal_length",
    "majority_class",
    "minirocket",
    "nearest_neighbour",
    "nearest_neighbour_dtw",
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


def _fill_nan(X: np.ndarray) -> np.ndarray:
    """Linear interpolation in time of NaN steps of each ``[T, C]`` series (ends held)."""
    if not np.isnan(X).any():
        return X
    X = X.copy()
    t = np.arange(X.shape[1])
    for i, c in zip(*np.nonzero(np.isnan(X).any(axis=1))):
        v = X[i, :, c]
        ok = ~np.isnan(v)
        X[i, :, c] = np.interp(t, t[ok], v[ok]) if ok.any() else 0.0
    return X


def equal_length(X: np.ndarray, lengths: np.ndarray | None, length: int) -> np.ndarray:
    """``[N, length, C]`` float64: each valid part resampled to ``length`` steps, NaN filled."""
    X = np.asarray(X, dtype=np.float64)
    X = X[..., None] if X.ndim == 2 else X
    if lengths is not None:
        valid = np.arange(X.shape[1])[None, :] < np.asarray(lengths)[:, None]
        X = np.where(valid[..., None], X, 0.0)
    return _fill_nan(_resample(X, lengths, int(length)))


def minirocket(X_train: np.ndarray, y_train: object, X_test: np.ndarray,
               lengths_train: np.ndarray | None = None, lengths_test: np.ndarray | None = None,
               seed: int = 0) -> np.ndarray:
    """MiniRocket (Dempster et al. 2021; aeon's ``MiniRocketClassifier``: 10,000 features,
    ridge regression with CV over alphas), deterministic under ``seed``.

    Args:
        X_train, X_test: ``[N, T, C]`` right-padded sequences; lengths as in
            :func:`nearest_neighbour` (resampled to the longest length when they vary).
        y_train: ``[N]`` labels.
        seed: the random state of the kernels' biases.

    Returns:
        ``[M]`` int64 predicted labels.
    """
    conv = require("aeon.classification.convolution_based", "pip install aeon", "minirocket")
    length = int(max(np.asarray(X_train).shape[1], np.asarray(X_test).shape[1], 9))
    A, B = (equal_length(X, n, length).transpose(0, 2, 1)
            for X, n in ((X_train, lengths_train), (X_test, lengths_test)))
    clf = conv.MiniRocketClassifier(random_state=int(seed), n_jobs=1)
    clf.fit(A, np.asarray(y_train, dtype=np.int64))
    return np.asarray(clf.predict(B)).astype(np.int64)


def nearest_neighbour_dtw(X_train: np.ndarray, y_train: object, X_test: np.ndarray,
                          lengths_train: np.ndarray | None = None,
                          lengths_test: np.ndarray | None = None, window: float = 0.1,
                          max_length: int = 256) -> np.ndarray:
    """1-nearest-neighbour with dynamic time warping (aeon, Sakoe–Chiba ``window`` as a share
    of the length), on series resampled to one length, averaged down to ``<= max_length``
    steps when longer.

    Returns:
        ``[M]`` int64 predicted labels.
    """
    dist = require("aeon.classification.distance_based", "pip install aeon",
                   "nearest_neighbour_dtw")
    length = int(max(np.asarray(X_train).shape[1], np.asarray(X_test).shape[1]))
    f = -(-length // max_length)
    A, B = (equal_length(X, n, length) for X, n in ((X_train, lengths_train),
                                                   (X_test, lengths_test)))
    if f > 1:
        pad = (-length) % f
        A, B = (np.pad(X, ((0, 0), (0, pad), (0, 0)), mode="edge").reshape(
            len(X), (length + pad) // f, f, X.shape[2]).mean(2) for X in (A, B))
    clf = dist.KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw",
                                              distance_params={"window": window}, n_jobs=1)
    clf.fit(A.transpose(0, 2, 1), np.asarray(y_train, dtype=np.int64))
    return np.asarray(clf.predict(B.transpose(0, 2, 1))).astype(np.int64)


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
    X_train, X_test = _fill_nan(X_train), _fill_nan(X_test)
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


def run_classification_baselines(data: SequenceClassData | TextClassData,
                                 seed: int = 0) -> list[dict]:
    """Score every applicable baseline on the official test split.

    Sequences: majority class, 1-NN Euclidean, 1-NN DTW and MiniRocket (``seed``); texts:
    majority class and TF-IDF + logistic regression.

    Returns:
        One dict per baseline: ``{"baseline", "pred" [N_test], "accuracy", "macro_f1",
        "seconds"}`` (fit + predict wall seconds).
    """
    d = data
    if isinstance(d, SequenceClassData):
        seq = (d.X_train, d.y_train, d.X_test, d.lengths_train, d.lengths_test)
        jobs = {"majority_class": lambda: majority_class(d.y_train, len(d.y_test)),
                "1nn_euclidean": lambda: nearest_neighbour(*seq[:3], *seq[3:]),
                "1nn_dtw": lambda: nearest_neighbour_dtw(*seq),
                "minirocket": lambda: minirocket(*seq, seed=seed)}
    elif isinstance(d, TextClassData):
        jobs = {"majority_class": lambda: majority_class(d.y_train, len(d.y_test)),
                "tfidf_logreg": lambda: tfidf_logreg(d.texts_train, d.y_train, d.texts_test)}
    else:
        raise TypeError(f"run_classification_baselines: expected SequenceClassData or "
                        f"TextClassData, got {type(data).__name__}.")
    out = []
    for name, job in jobs.items():
        t0 = time.perf_counter()
        pred = job()
        seconds = time.perf_counter() - t0
        out.append({"baseline": name, "pred": pred, **classification_metrics(d.y_test, pred),
                    "seconds": round(seconds, 3)})
    return out

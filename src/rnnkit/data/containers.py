"""Frozen containers that every loader returns and every task pipeline consumes.

Four shapes of data, one class each:

* :class:`SeriesData` — a (multivariate) time series for forecasting: ``values [T, C]``.
* :class:`SequenceClassData` — numeric sequences with a class label per sequence, official
  train/test split, right-padded to ``[N, T, C]`` with per-sequence ``lengths``.
* :class:`TextClassData` — raw texts with a class label each, train/test split.
* :class:`TextCorpus` — one long text for character/word language modelling.

Letters: N sequences, T time steps, C channels (columns), H forecast horizon.
Labels are always ``int64`` indices into ``classes`` (a tuple of class names as strings).
The classes are ``frozen`` (no attribute reassignment) and use identity equality because they
hold numpy arrays; treat the arrays as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SequenceClassData", "SeriesData", "TextClassData", "TextCorpus"]


@dataclass(frozen=True, eq=False)
class SeriesData:
    """A time series for forecasting.

    Args:
        values: float64 array ``[T, C]``, one column per entry of ``columns``; no NaNs.
        columns: names of the ``C`` columns.
        target_cols: the columns to forecast (a non-empty subset of ``columns``).
        covariate_cols: past covariates: observed up to the forecast origin only.
        future_cols: known-future covariates (calendar, planned inputs, weather forecasts):
            available for the horizon too. Disjoint from ``target_cols`` and ``covariate_cols``.
        time_index: ``[T]`` timestamps (``datetime64``) or numbers, or ``None``.
        freq: a pandas-style frequency hint (``"MS"``, ``"YS"``, ``"30min"``) or ``None``.
        season: the seasonal period in steps when known (12 for monthly data), else ``None``;
            see :func:`rnnkit.data.detect_season` to estimate it.
        name: a short name used in reports.

    Example:
        >>> s = load_dataset("airline"); s.target.shape
        (144, 1)
    """

    values: np.ndarray
    columns: tuple[str, ...]
    target_cols: tuple[str, ...]
    covariate_cols: tuple[str, ...] = ()
    future_cols: tuple[str, ...] = ()
    time_index: np.ndarray | None = None
    freq: str | None = None
    season: int | None = None
    name: str = "series"

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[1] != len(self.columns):
            raise ValueError(
                f"SeriesData: expected values of shape (T, {len(self.columns)}), "
                f"got {values.shape}. Pass one name per column."
            )
        object.__setattr__(self, "values", values)
        for attr in ("columns", "target_cols", "covariate_cols", "future_cols"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        if not self.target_cols:
            raise ValueError("SeriesData: expected at least one target column, got none.")
        used = self.target_cols + self.covariate_cols + self.future_cols
        unknown = [c for c in used if c not in self.columns]
        if unknown:
            raise ValueError(
                f"SeriesData: expected column names among {list(self.columns)}, got {unknown}."
            )
        if len(set(used)) != len(used):
            raise ValueError(
                "SeriesData: expected target, covariate and future columns to be disjoint, "
                f"got {list(used)}."
            )
        if self.time_index is not None and len(self.time_index) != len(values):
            raise ValueError(
                f"SeriesData: expected a time_index of length {len(values)}, "
                f"got {len(self.time_index)}."
            )
        if self.season is not None and self.season < 2:
            raise ValueError(f"SeriesData: expected season >= 2 or None, got {self.season}.")

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def _cols(self, names: tuple[str, ...]) -> np.ndarray:
        idx = [self.columns.index(c) for c in names]
        return self.values[:, idx]

    @property
    def target(self) -> np.ndarray:
        """Target columns, ``[T, len(target_cols)]``."""
        return self._cols(self.target_cols)

    @property
    def covariates(self) -> np.ndarray:
        """Past covariates, ``[T, len(covariate_cols)]`` (may have zero columns)."""
        return self._cols(self.covariate_cols)

    @property
    def future(self) -> np.ndarray:
        """Known-future covariates, ``[T, len(future_cols)]`` (may have zero columns)."""
        return self._cols(self.future_cols)

    @property
    def y(self) -> np.ndarray:
        """The first target as a 1-D array ``[T]`` (what univariate baselines take)."""
        return self.target[:, 0]


@dataclass(frozen=True, eq=False)
class SequenceClassData:
    """Numeric sequences with one label each, split into train and test.

    Sequences are right-padded with zeros to the longest one in their split; ``lengths`` gives
    each one's valid length (all equal to ``T`` for equal-length data such as GunPoint).

    Args:
        X_train: float32 ``[N_train, T_train, C]``.
        y_train: int64 ``[N_train]`` indices into ``classes``.
        X_test: float32 ``[N_test, T_test, C]``.
        y_test: int64 ``[N_test]``.
        classes: class names, index ``k`` is label ``k``.
        lengths_train: int64 ``[N_train]`` valid lengths (``None`` → all ``T_train``).
        lengths_test: int64 ``[N_test]`` valid lengths (``None`` → all ``T_test``).
        channels: names of the ``C`` channels.
        name: a short name used in reports.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    lengths_train: np.ndarray | None = None
    lengths_test: np.ndarray | None = None
    channels: tuple[str, ...] = ()
    name: str = "sequences"

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            X = np.asarray(getattr(self, f"X_{split}"), dtype=np.float32)
            y = np.asarray(getattr(self, f"y_{split}"), dtype=np.int64)
            if X.ndim != 3 or y.shape != (X.shape[0],):
                raise ValueError(
                    f"SequenceClassData: expected X_{split} (N, T, C) and y_{split} (N,), "
                    f"got {X.shape} and {y.shape}."
                )
            lengths = getattr(self, f"lengths_{split}")
            lengths = (np.full(X.shape[0], X.shape[1], dtype=np.int64) if lengths is None
                       else np.asarray(lengths, dtype=np.int64))
            if lengths.shape != y.shape or (lengths.size and lengths.max() > X.shape[1]):
                raise ValueError(
                    f"SequenceClassData: expected lengths_{split} of shape {y.shape} and "
                    f"<= {X.shape[1]}, got {lengths.shape}."
                )
            object.__setattr__(self, f"X_{split}", X)
            object.__setattr__(self, f"y_{split}", y)
            object.__setattr__(self, f"lengths_{split}", lengths)
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        if not self.channels:
            object.__setattr__(self, "channels", tuple(f"dim_{i}" for i in range(self.n_channels)))
        _check_labels("SequenceClassData", self.y_train, self.y_test, len(self.classes))

    @property
    def n_channels(self) -> int:
        """Number of channels ``C``."""
        return int(self.X_train.shape[2])

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def equal_length(self) -> bool:
        """True when every sequence in both splits has the same length."""
        lengths = np.concatenate([self.lengths_train, self.lengths_test])
        return bool(lengths.min() == lengths.max())


@dataclass(frozen=True, eq=False)
class TextClassData:
    """Texts with one label each, split into train and test.

    Args:
        texts_train: ``N_train`` strings.
        y_train: int64 ``[N_train]`` indices into ``classes``.
        texts_test: ``N_test`` strings.
        y_test: int64 ``[N_test]``.
        classes: class names.
        name: a short name used in reports.
    """

    texts_train: tuple[str, ...]
    y_train: np.ndarray
    texts_test: tuple[str, ...]
    y_test: np.ndarray
    classes: tuple[str, ...]
    name: str = "texts"

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            texts = tuple(str(t) for t in getattr(self, f"texts_{split}"))
            y = np.asarray(getattr(self, f"y_{split}"), dtype=np.int64)
            if y.shape != (len(texts),):
                raise ValueError(
                    f"TextClassData: expected y_{split} of shape ({len(texts)},), got {y.shape}."
                )
            object.__setattr__(self, f"texts_{split}", texts)
            object.__setattr__(self, f"y_{split}", y)
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        _check_labels("TextClassData", self.y_train, self.y_test, len(self.classes))

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)


@dataclass(frozen=True, eq=False)
class TextCorpus:
    """One long text for language modelling.

    Args:
        text: the whole corpus as one string (non-empty).
        name: a short name used in reports.

    Example:
        >>> train, valid, test = load_dataset("kjv").split()
    """

    text: str
    name: str = "corpus"

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text:
            raise ValueError(f"TextCorpus '{self.name}': expected a non-empty string, got "
                             f"{type(self.text).__name__} of length {len(self.text or '')}.")

    def __len__(self) -> int:
        return len(self.text)

    def split(self, valid_frac: float = 0.05, test_frac: float = 0.1) -> tuple[str, str, str]:
        """Contiguous ``(train, valid, test)`` split: test is the last ``test_frac`` of the text,
        valid the ``valid_frac`` just before it (the held-out tail convention of DATASETS.md)."""
        if not (0 <= valid_frac < 1 and 0 < test_frac < 1 and valid_frac + test_frac < 1):
            raise ValueError(
                f"TextCorpus.split: expected 0 <= valid_frac, 0 < test_frac, sum < 1, "
                f"got valid_frac={valid_frac}, test_frac={test_frac}."
            )
        n = len(self.text)
        test_start = n - round(n * test_frac)
        valid_start = test_start - round(n * valid_frac)
        return self.text[:valid_start], self.text[valid_start:test_start], self.text[test_start:]


def _check_labels(where: str, y_train: np.ndarray, y_test: np.ndarray, n_classes: int) -> None:
    for y in (y_train, y_test):
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(
                f"{where}: expected labels in [0, {n_classes}), got range "
                f"[{y.min()}, {y.max()}]. Labels index into `classes`."
            )

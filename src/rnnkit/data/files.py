"""Loaders for the user's own files: forecasting CSV, classification CSV, plain text.

Every error is one line, ``<where>: expected …, got …. <fix>.``, naming the column and row for
bad values. Reading CSV needs pandas (``pip install pandas``), imported lazily.

Example:
    >>> s = load_series_csv("sales.csv", target="units", future_covariates=["promo"])
    >>> d = load_classification_csv("reviews.csv", label_col="stars", text_col="review")
    >>> c = load_text("novel.txt")
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnkit.data.containers import SequenceClassData, SeriesData, TextClassData, TextCorpus
from rnnkit.data.deps import require
from rnnkit.data.missing import check_finite, fill_missing

__all__ = ["load_classification_csv", "load_series_csv", "load_text", "read_csv"]

_TIME_NAMES = ("time", "date", "datetime", "timestamp", "ds", "month", "year", "period", "index")


def read_csv(path: str | Path, where: str, **kwargs):
    """``pandas.read_csv`` whose failures are one-line ``ValueError``s naming ``where``, the
    file, the line and the fix (never pandas' own "No columns to parse from file").

    Raises:
        FileNotFoundError: no such file. ValueError: empty, not UTF-8, malformed rows, a
        header without data rows.
    """
    pd = require("pandas", "pip install pandas", where)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{where}: expected a CSV file, got missing path '{path}'. "
                                "Check the path.")
    name = path.name
    try:
        df = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{where}: expected a CSV file with a header row and data rows, got "
                         f"an empty file '{name}'. Check the path or write the header "
                         f"(column names) on its first line.") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: expected UTF-8 text in '{name}', got an undecodable byte "
                         f"at offset {e.start}. Save the file as UTF-8 CSV.") from None
    except pd.errors.ParserError as e:
        detail = str(e).strip().split("\n")[0].rstrip(".")
        raise ValueError(f"{where}: expected the same number of fields on every row of "
                         f"'{name}' (the header's), got a malformed row ({detail}). Fix that "
                         f"row or quote fields that hold commas.") from None
    if len(df.columns) and kwargs.get("nrows") != 0 and len(df) == 0:
        raise ValueError(f"{where}: expected data rows in '{name}', got only the header "
                         f"{list(map(str, df.columns))}. Add rows or check the path.")
    return df


_read_csv = read_csv


def _check_columns(df, names: Sequence[str], what: str, where: str) -> None:
    for name in names:
        if name not in df.columns:
            raise ValueError(f"{where}: expected a {what} column among {list(df.columns)}, got "
                             f"'{name}'. Pass one of those names.")


def _numeric(df, col: str, where: str) -> np.ndarray:
    pd = require("pandas", "pip install pandas", where)
    raw = df[col]
    num = pd.to_numeric(raw, errors="coerce")
    bad = num.isna() & raw.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{where}: expected numeric values in column '{col}', got "
                         f"{raw.iloc[row]!r} at row {row}. Clean the column or choose another.")
    return num.to_numpy(dtype=np.float64)


def _detect_time_col(df) -> str | None:
    pd = require("pandas", "pip install pandas", "load_series_csv")
    for col in df.columns:
        if str(col).lower() in _TIME_NAMES:
            return col
    for col in df.columns:  # first non-numeric column that parses as dates
        if not pd.api.types.is_numeric_dtype(df[col]):
            parsed = pd.to_datetime(df[col], errors="coerce", format="mixed")
            if parsed.notna().mean() > 0.95:
                return col
    return None


def load_series_csv(path: str | Path, target: str | Sequence[str] | None = None, *,
                    time_col: str | None = "auto", covariates: Sequence[str] | None = None,
                    future_covariates: Sequence[str] = (), fillna: str | None = None,
                    season: int | None = None, freq: str | None = None) -> SeriesData:
    """Load a forecasting CSV: one row per time step, in time order.

    Args:
        path: the CSV file (with a header row).
        target: the column(s) to forecast; ``None`` works only when exactly one numeric column
            remains after removing the time column.
        time_col: the time column; ``"auto"`` picks a column named like time/date/ds/month/year
            or the first column that parses as dates; ``None`` means there is none.
        covariates: past covariate columns; ``None`` → every other numeric column not listed in
            ``future_covariates``.
        future_covariates: covariates known in advance for the horizon (calendar, plans).
        fillna: how to fill missing values ('ffill', 'interpolate', 'zero', 'drop'); ``None``
            raises naming the column and row.
        season: seasonal period hint in steps (``None``: unknown; see ``detect_season``).
        freq: frequency hint; inferred from the time column when possible.

    Returns:
        :class:`SeriesData` with columns ``targets + covariates + future_covariates``.
    """
    where = f"load_series_csv({Path(path).name})"
    df = _read_csv(path, where)
    pd = require("pandas", "pip install pandas", where)
    if time_col == "auto":
        time_col = _detect_time_col(df)
    elif time_col is not None:
        _check_columns(df, [time_col], "time", where)
    others = [c for c in df.columns if c != time_col and not str(c).startswith("Unnamed:")]
    if target is None:
        numeric = [c for c in others if pd.api.types.is_numeric_dtype(df[c])]
        if len(numeric) != 1:
            raise ValueError(f"{where}: expected target=<column>, got none and {len(numeric)} "
                             f"numeric columns {numeric}. Pass target='name'.")
        target = numeric
    targets = [target] if isinstance(target, str) else list(target)
    future = list(future_covariates)
    _check_columns(df, targets, "target", where)
    _check_columns(df, future, "future covariate", where)
    if covariates is None:
        covariates = [c for c in others if c not in targets and c not in future
                      and pd.api.types.is_numeric_dtype(df[c]) and str(c) != "rownames"]
    _check_columns(df, covariates, "covariate", where)
    cols = targets + list(covariates) + future
    values = np.stack([_numeric(df, c, where) for c in cols], axis=1)
    time_index = None
    if time_col is not None:
        time_index = df[time_col].to_numpy()
        if not pd.api.types.is_numeric_dtype(df[time_col]):
            parsed = pd.to_datetime(df[time_col], errors="coerce", format="mixed")
            time_index = parsed.to_numpy() if parsed.notna().all() else time_index
        if freq is None and time_index.dtype.kind == "M" and len(time_index) >= 3:
            with warnings.catch_warnings():  # pandas 3 changes the return type; take a str
                warnings.simplefilter("ignore")
                inferred = pd.infer_freq(pd.DatetimeIndex(time_index))
            freq = getattr(inferred, "freqstr", inferred)
    if fillna == "drop":
        keep = np.isfinite(values).all(axis=1)
        values, time_index = values[keep], (time_index[keep] if time_index is not None else None)
    elif fillna is not None:
        values = fill_missing(values, fillna, where)
    check_finite(values, cols, where)
    return SeriesData(values=values, columns=tuple(map(str, cols)),
                      target_cols=tuple(map(str, targets)),
                      covariate_cols=tuple(map(str, covariates)),
                      future_cols=tuple(map(str, future)),
                      time_index=time_index, freq=freq, season=season, name=Path(path).stem)


def _split_indices(n: int, test_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0 < test_frac < 1:
        raise ValueError(f"load_classification_csv: expected 0 < test_frac < 1, got {test_frac}.")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_frac))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def load_classification_csv(path: str | Path, label_col: str = "label", *,
                            text_col: str | None = None,
                            feature_cols: Sequence[str] | None = None,
                            test_path: str | Path | None = None, test_frac: float = 0.2,
                            seed: int = 0) -> TextClassData | SequenceClassData:
    """Load a classification CSV: either a text column or numeric feature columns, plus labels.

    Text mode (``text_col`` given, or exactly one non-numeric column besides the label) returns
    :class:`TextClassData`. Feature mode returns :class:`SequenceClassData` where each row's
    numeric features form one univariate sequence ``[F, 1]`` (the UCR CSV convention).

    Args:
        path: the (training) CSV file.
        label_col: the label column (any type; classes are its sorted unique values as strings).
        text_col: the text column for text mode.
        feature_cols: the numeric feature columns, in time order (default: all numeric ones).
        test_path: a separate test CSV; otherwise a seeded random ``test_frac`` split.
        test_frac: fraction of rows held out when ``test_path`` is ``None``.
        seed: seed of that split.
    """
    where = f"load_classification_csv({Path(path).name})"
    df = _read_csv(path, where)
    pd = require("pandas", "pip install pandas", where)
    _check_columns(df, [label_col], "label", where)
    if text_col is None and feature_cols is None:
        rest = [c for c in df.columns if c != label_col]
        texts = [c for c in rest if not pd.api.types.is_numeric_dtype(df[c])]
        if len(texts) > 1:
            raise ValueError(f"{where}: expected one text column, got {texts}. "
                             "Pass text_col='name' or feature_cols=[...].")
        text_col = texts[0] if texts else None
    if text_col is not None:
        _check_columns(df, [text_col], "text", where)
    else:
        feature_cols = list(feature_cols or [c for c in df.columns if c != label_col and
                                              str(c) != "rownames"])
        _check_columns(df, feature_cols, "feature", where)
    if test_path is not None:
        test_df = _read_csv(test_path, where)
        needed = [label_col, *([text_col] if text_col is not None else feature_cols)]
        missing = [str(c) for c in needed if c not in test_df.columns]
        if missing:
            raise ValueError(f"{where}: expected the test file '{Path(test_path).name}' to have "
                             f"the training columns, got no {missing} among "
                             f"{list(map(str, test_df.columns))}. Use a test file with the "
                             f"same columns as the training file.")
    frames = ([df, test_df] if test_path is not None
              else [df.iloc[idx].reset_index(drop=True) for idx in
                    _split_indices(len(df), test_frac, seed)])
    labels = [f[label_col].astype(str).to_numpy() for f in frames]
    classes = tuple(sorted(set(labels[0]) | set(labels[1])))
    index = {c: i for i, c in enumerate(classes)}
    ys = [np.array([index[v] for v in lab], dtype=np.int64) for lab in labels]
    name = Path(path).stem
    if text_col is not None:
        texts = [_texts(f, text_col, where) for f in frames]
        return TextClassData(texts[0], ys[0], texts[1], ys[1], classes, name=name)
    Xs = []
    for f in frames:
        x = np.stack([_numeric(f, c, where) for c in feature_cols], axis=1)
        check_finite(x, feature_cols, where)
        Xs.append(x[:, :, None])
    return SequenceClassData(Xs[0], ys[0], Xs[1], ys[1], classes, name=name)


def _texts(df, col: str, where: str) -> tuple[str, ...]:
    col_values = df[col]
    empty = col_values.isna() | (col_values.astype(str).str.strip() == "")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise ValueError(f"{where}: expected non-empty text in column '{col}', got an empty "
                         f"value at row {row}. Drop or fill those rows.")
    return tuple(col_values.astype(str))


def load_text(path: str | Path, encoding: str = "utf-8") -> TextCorpus:
    """Load a UTF-8 text file as a :class:`TextCorpus` for language modelling.

    Raises:
        FileNotFoundError: missing file.
        ValueError: empty file, or bytes that are not valid in ``encoding``.
    """
    path = Path(path)
    where = f"load_text({path.name})"
    if not path.is_file():
        raise FileNotFoundError(f"{where}: expected a text file, got missing path '{path}'. "
                                "Check the path.")
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: expected {encoding} text, got an undecodable byte at offset "
                         f"{exc.start}. Convert the file to UTF-8 or pass encoding=...") from None
    if not text.strip():
        raise ValueError(f"{where}: expected some text, got an empty file. Check the path.")
    return TextCorpus(text=text, name=path.stem)

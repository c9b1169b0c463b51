"""Missing values: find them and report where, or fill them by a named method.

Loaders call :func:`check_finite` and raise a one-line error that names the first bad column and
row, unless the user passed ``fillna=`` with one of :data:`FILL_METHODS`:

* ``"ffill"`` — carry the last valid value forward (leading gaps take the first valid value);
* ``"interpolate"`` — linear interpolation in time (ends held constant);
* ``"zero"`` — replace by 0;
* ``"drop"`` — drop the rows (time steps) that hold any missing value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["FILL_METHODS", "check_finite", "fill_missing"]

FILL_METHODS = ("ffill", "interpolate", "zero", "drop")


def check_finite(values: np.ndarray, columns: Sequence[str], where: str,
                 row_offset: int = 0) -> None:
    """Raise ``ValueError`` naming the first column and row with a NaN/inf in ``values [T, C]``.

    Args:
        values: ``[T, C]`` float array.
        columns: the ``C`` column names used in the message.
        where: message prefix (the loader's name).
        row_offset: added to the reported row (e.g. 2 to report 1-based CSV lines with header).
    """
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    order = np.lexsort((rows, cols))  # first bad row of the first bad column
    r, c = int(rows[order[0]]), int(cols[order[0]])
    more = int(bad.sum()) - 1
    extra = f" (and {more} more)" if more else ""
    raise ValueError(
        f"{where}: expected no missing values, got NaN in column '{columns[c]}' at row "
        f"{r + row_offset}{extra}. Pass fillna='ffill', 'interpolate', 'zero' or 'drop'."
    )


def fill_missing(values: np.ndarray, method: str, where: str = "fill_missing") -> np.ndarray:
    """Fill the NaNs of ``values [T, C]`` (or ``[T]``) along time with ``method``.

    Args:
        values: float array, time on axis 0.
        method: one of :data:`FILL_METHODS`.
        where: message prefix for errors.

    Returns:
        A new float64 array; with ``"drop"`` it has fewer rows.
    """
    if method not in FILL_METHODS:
        raise ValueError(f"{where}: expected fillna in {FILL_METHODS}, got {method!r}.")
    x = np.array(values, dtype=np.float64)
    squeeze = x.ndim == 1
    if squeeze:
        x = x[:, None]
    bad = ~np.isfinite(x)
    if method == "drop":
        x = x[~bad.any(axis=1)]
    elif method == "zero":
        x[bad] = 0.0
    else:
        for c in range(x.shape[1]):
            x[:, c] = _fill_column(x[:, c], bad[:, c], method)
    if x.shape[0] == 0 or not np.isfinite(x).all():
        raise ValueError(f"{where}: expected at least one valid value per column, got none. "
                         "Check the data or drop the empty column.")
    return x[:, 0] if squeeze else x


def _fill_column(col: np.ndarray, bad: np.ndarray, method: str) -> np.ndarray:
    if not bad.any() or bad.all():
        return col
    t = np.arange(len(col))
    good = ~bad
    if method == "interpolate":
        return np.interp(t, t[good], col[good])
    # ffill: index of the last valid value at or before each step; leading gaps back-filled
    last = np.where(good, t, -1)
    np.maximum.accumulate(last, out=last)
    last[last < 0] = t[good][0]
    return col[last]

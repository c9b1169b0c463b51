"""Classification data side: load the sources, split them, prepare tokenizer or scaler.

What :mod:`rnnkit.tasks.classify` (the pipeline) feeds on (``.ts`` files: trailing ``?`` steps
shorten a case and are masked by its length, interior ones are interpolated —
:func:`rnnkit.data.trim_missing`):

* :func:`load_source` — a built-in dataset, a UCR/UEA ``.ts`` pair or a CSV (numeric feature
  columns or a text column, plus labels); files without a test file get a seeded stratified
  split (:func:`stratified_split`, :func:`subset`); :func:`check_data` rejects one-class or
  empty-text data;
* :func:`fit_tokenizer` (texts) or :func:`scaler` (per-channel mean/std over valid steps),
  fitted on the training split only, then :func:`encode` turns inputs into :class:`Items`
  with the run's tokenizer or scaler;
* :func:`load_inputs` — what ``evaluate`` / ``predict`` score: the run's test split, another
  built-in dataset, or a ``.csv`` / ``.ts`` file read with the run's columns and classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data import SequenceClassData, TextClassData
from rnnkit.data.files import read_csv
from rnnkit.tasks.common import CLIError
from rnnkit.tasks.sources import is_path as _is_path

__all__ = ["Items", "check_data", "encode", "fit_tokenizer", "load_inputs", "load_source",
           "scaler", "stratified_split", "subset"]


# ---- sources and splits ----------------------------------------------------------------------

def stratified_split(y: np.ndarray, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(keep, held)`` index arrays; each class gives ``round(n_c·frac)`` items (>= 1 if it
    has two) to ``held``."""
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n = min(len(idx) - 1, max(1, round(len(idx) * frac))) if len(idx) > 1 else 0
        held.append(idx[:n])
        keep.append(idx[n:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def subset(data: SequenceClassData | TextClassData, train: np.ndarray, test: np.ndarray):
    """A container whose train/test are rows ``train``/``test`` of ``data``'s training split."""
    if isinstance(data, TextClassData):
        t = data.texts_train
        return TextClassData(tuple(t[i] for i in train), data.y_train[train],
                             tuple(t[i] for i in test), data.y_train[test], data.classes,
                             name=data.name)
    X, L, y = data.X_train, data.lengths_train, data.y_train
    return SequenceClassData(X[train], y[train], X[test], y[test], data.classes, L[train],
                             L[test], data.channels, name=data.name)


def _csv_columns(path: str, where: str) -> list[str]:
    if not Path(path).is_file():
        raise CLIError(f"{where}: expected a CSV file, got missing path '{path}'. Check the path.")
    return [str(c) for c in read_csv(path, where, nrows=0).columns]


def _check_col(cols: list[str], name: str | None, flag: str, path: str) -> None:
    if name is not None and name not in cols:
        raise CLIError(f"{flag}: expected a column of {Path(path).name} among {cols}, got "
                       f"'{name}'. Pass {flag} NAME.")


def load_source(src: dict[str, Any]) -> SequenceClassData | TextClassData:
    """Load the data a run describes: ``{"data", "test_data", "label_col", "text_col",
    "test_frac", "seed"}``; files without a test file get a seeded stratified split."""
    from rnnkit.data import load_classification_csv, load_dataset, load_ts_classification

    data, test = str(src["data"]), src.get("test_data")
    if not _is_path(data):
        ds = load_dataset(data)
        if not isinstance(ds, SequenceClassData | TextClassData):
            raise CLIError(f"--data: expected a classification dataset, got '{data}' (a "
                           f"{type(ds).__name__}). Run 'rnnkit datasets --task classification'.")
        return ds
    for flag, p in (("--data", data), ("--test-data", test)):
        if p is not None and not Path(p).is_file():
            raise CLIError(f"{flag}: expected a file, got missing path '{p}'. Check the path.")
    suffix = Path(data).suffix.lower()
    if suffix == ".ts":
        ds = load_ts_classification(data, test or data, fillna="mask")
        if ds.X_test.shape[2] != ds.X_train.shape[2]:
            raise CLIError(f"--test-data: expected {ds.X_train.shape[2]} channels like "
                           f"{Path(data).name}, got {ds.X_test.shape[2]} in {Path(test).name}. "
                           f"Pass the matching _TEST.ts file.")
    elif suffix in (".csv", ".tsv", ".txt"):
        cols = _csv_columns(data, "--data")
        _check_col(cols, src["label_col"], "--label-col", data)
        _check_col(cols, src.get("text_col"), "--text-col", data)
        if test is not None:
            tcols = _csv_columns(test, "--test-data")
            _check_col(tcols, src["label_col"], "--label-col", test)
            _check_col(tcols, src.get("text_col"), "--text-col", test)
        ds = load_classification_csv(data, src["label_col"], text_col=src.get("text_col"),
                                     test_path=test or data)
    else:
        raise CLIError(f"--data: expected a dataset name, a .csv or a .ts file, got '{data}'. "
                       f"Run 'rnnkit datasets' for the names.")
    if test is None:
        keep, held = stratified_split(ds.y_train, float(src["test_frac"]), int(src["seed"]))
        ds = subset(ds, keep, held)
    return ds


def check_data(ds: SequenceClassData | TextClassData) -> None:
    present = np.unique(ds.y_train)
    if present.size < 2:
        raise CLIError(f"--data: expected at least two classes in the training labels, got only "
                       f"'{ds.classes[present[0]] if present.size else '-'}'. A classifier needs "
                       f"examples of every class; check --label-col.")
    if isinstance(ds, TextClassData):
        for split in ("train", "test"):
            texts = getattr(ds, f"texts_{split}")
            empty = [i for i, t in enumerate(texts) if not t.strip()]
            if empty:
                raise CLIError(f"--data: expected non-empty texts, got an empty one at "
                               f"{split} row {empty[0]}. Drop or fill those rows.")


# ---- tokenizer, scaler, items ----------------------------------------------------------------

def fit_tokenizer(cfg: dict[str, Any], texts: tuple[str, ...]):
    """The word/char tokenizer fitted on the training texts; sets ``cfg["max_len"]`` when unset
    (95th percentile of training lengths, capped)."""
    from rnnkit.data import CharTokenizer, WordTokenizer

    cls = WordTokenizer if cfg["tokenizer"] == "word" else CharTokenizer
    tok = cls(max_vocab=cfg["vocab_size"], min_freq=cfg["min_freq"]).fit(texts)
    if cfg.get("max_len") is None:
        lengths = [len(tok.tokenize(t)) for t in texts]
        cap = 400 if cfg["tokenizer"] == "word" else 1000
        cfg["max_len"] = int(min(cap, max(8, np.percentile(lengths, 95))))
    return tok


class Items(torch.utils.data.Dataset):
    """``(x [T_i, ...], label)`` items cut to each valid length; ``lengths`` for bucketing."""

    def __init__(self, x: np.ndarray, lengths: np.ndarray, y: np.ndarray | None) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(x))
        self.lengths = np.maximum(np.asarray(lengths, dtype=np.int64), 1)
        self.y = torch.from_numpy(np.zeros(len(x), np.int64) if y is None else y.astype(np.int64))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i, : self.lengths[i]], self.y[i]

    def subset(self, index: np.ndarray) -> Items:
        """The items at ``index`` (a new ``Items`` sharing nothing with this one)."""
        index = np.asarray(index, dtype=np.int64)
        return Items(self.x[index].numpy(), self.lengths[index], self.y[index].numpy())


def encode(run: dict[str, Any], inputs, y: np.ndarray | None = None,
           lengths: np.ndarray | None = None) -> Items:
    """Items of ``inputs`` (texts, or ``X [N, T, C]`` with ``lengths``) with the run's
    tokenizer or scaler."""
    d = run["data"]
    if run["kind"] == "text":
        from rnnkit.data import tokenizer_from_dict

        ids, lens = tokenizer_from_dict(d["tokenizer"]).encode_batch(list(inputs), d["max_len"])
        return Items(ids, lens, y)
    X = (np.asarray(inputs, np.float32) - np.float32(d["mean"])) / np.float32(d["std"])
    if lengths is not None:  # keep padding at zero
        X[np.arange(X.shape[1])[None, :] >= np.asarray(lengths)[:, None]] = 0.0
    return Items(X.astype(np.float32), lengths if lengths is not None else
                 np.full(len(X), X.shape[1]), y)


def scaler(ds: SequenceClassData) -> dict[str, list[float]]:
    """Per-channel ``{"mean", "std"}`` over the valid (unpadded) training steps."""
    valid = np.arange(ds.X_train.shape[1])[None, :] < ds.lengths_train[:, None]
    v = ds.X_train[valid].astype(np.float64)  # [steps, C]
    std = v.std(axis=0)
    return {"mean": v.mean(axis=0).tolist(), "std": np.where(std > 1e-8, std, 1.0).tolist()}


# ---- evaluate / predict inputs ---------------------------------------------------------------

def _label_ids(labels, run: dict[str, Any], where: str) -> np.ndarray:
    classes = [str(c) for c in run["data"]["classes"]]
    index = {c: i for i, c in enumerate(classes)}
    names = [str(v) for v in labels]
    unknown = sorted(set(names) - set(index))
    if unknown:
        raise CLIError(f"{where}: expected labels among the trained classes {classes}, got "
                       f"{unknown[:5]}. Evaluate on data with the same classes.")
    return np.array([index[n] for n in names], dtype=np.int64)


def _read_file(path: str, run: dict[str, Any], need_labels: bool):
    """``(inputs, lengths or None, labels or None)`` of every row/case of a .csv or .ts file."""
    if not Path(path).is_file():
        raise CLIError(f"--data: expected a file, got missing path '{path}'. Check the path.")
    src, text = run["source"], run["kind"] == "text"
    if Path(path).suffix.lower() == ".ts":
        from rnnkit.data import read_ts, stack_padded, trim_missing

        if text:
            raise CLIError(f"--data: expected a CSV with a text column for this text run, got "
                           f"the .ts file '{path}'.")
        f = read_ts(path)
        X, lengths = stack_padded([trim_missing(s) for s in f.series])  # '?': masked
        if need_labels and f.labels is None:
            raise CLIError(f"--data: expected labels ('@classLabel true') in '{path}', got none.")
        return X, lengths, (None if f.labels is None else _label_ids(f.labels, run, "--data"))
    import pandas as pd

    df = read_csv(path, "--data")
    cols = [str(c) for c in df.columns]
    label_col = src.get("label_col")
    has_labels = label_col in cols
    if need_labels and not has_labels:
        _check_col(cols, label_col, "--label-col", path)
    labels = _label_ids(df[label_col], run, "--data") if has_labels else None
    if text:
        text_col = src.get("text_col") or next(
            (c for c in cols if c != label_col and not pd.api.types.is_numeric_dtype(df[c])), None)
        if text_col is None or text_col not in cols:
            _check_col(cols, text_col or "<text>", "--text-col", path)
        texts = df[text_col].fillna("").astype(str).tolist()
        empty = [i for i, t in enumerate(texts) if not t.strip()]
        if empty:
            raise CLIError(f"--data: expected non-empty text in column '{text_col}', got an empty "
                           f"value at row {empty[0]}. Drop or fill those rows.")
        return texts, None, labels
    feats = [c for c in df.columns if str(c) not in (label_col, "rownames")]
    X = df[feats].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)
    if not np.isfinite(X).all():
        raise CLIError(f"--data: expected numeric feature columns in '{path}', got missing or "
                       f"non-numeric values. Clean the file.")
    return X[:, :, None], None, labels


def load_inputs(run_dir: str, run: dict[str, Any], args: dict[str, Any], need_labels: bool):
    """``(name, items, y or None, raw inputs)`` for evaluate/predict."""
    path = args.get("test_data") or args.get("data")
    if path is None or not _is_path(str(path)):  # the run's test split, or a built-in one
        src = dict(run["source"], **({"data": path, "test_data": None} if path else {}))
        ds = load_source(src)
        if isinstance(ds, TextClassData):
            raw, y = ds.texts_test, _label_ids([ds.classes[i] for i in ds.y_test], run, "--data")
            return ds.name, encode(run, raw, y), y, raw
        X, lengths = ds.X_test, ds.lengths_test
        y = _label_ids([ds.classes[i] for i in ds.y_test], run, "--data")
        name = ds.name
    else:
        X, lengths, y = _read_file(str(path), run, need_labels)
        name = Path(path).stem
        if run["kind"] == "text":
            return name, encode(run, X, y), y, X
    X = np.asarray(X, dtype=np.float32)
    if X.shape[2] != run["model"]["input_size"]:
        raise CLIError(f"--data: expected {run['model']['input_size']} channels as in training, "
                       f"got {X.shape[2]}. Use data with the same channels.")
    return name, encode(run, X, y, lengths), y, None

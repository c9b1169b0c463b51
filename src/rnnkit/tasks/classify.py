"""Classification pipeline: ``rnnkit train classify`` and ``evaluate`` / ``predict``.

Two kinds of data, one command:

* numeric sequences (:class:`~rnnkit.data.SequenceClassData`: UCR/UEA ``.ts`` pairs, built-in
  ItalyPowerDemand/GunPoint/BasicMotions/PLAID/ACSF1, or a CSV of numeric feature columns plus
  a label column) → :class:`~rnnkit.models.sequence_classifier.SequenceClassifier`
  (per-channel standard scaling fitted on train, optional per-series z-norm, FCN + RNN);
* texts (:class:`~rnnkit.data.TextClassData`: built-in finefoods, or a CSV with a text and a
  label column) → word/char tokenizer → :class:`~rnnkit.models.text_classifier.TextClassifier`.

Unset settings come from a small table chosen by the data's shape (text or numeric, number of
training sequences, channels), not by its name. A stratified validation split is carved from
the training data for early stopping (the best epoch's weights are kept) when there are at
least 200 training sequences; smaller sets train on everything for a fixed cosine schedule.
The model is scored beside the baselines of :func:`rnnkit.baselines.run_classification_baselines`
on the same test split (accuracy, macro-F1).

Run directory: ``config.json`` (settings, model config, classes, scaler/tokenizer),
``model.safetensors``, ``metrics.json``, ``confusion.png``, ``history.{csv,json,png}``,
``checkpoints/``; ``evaluate`` adds ``evaluation.json``, ``predict`` ``predictions.csv``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data import SequenceClassData, TextClassData, pad_collate
from rnnkit.models.pooling import POOLINGS
from rnnkit.tasks.common import (
    CLIError,
    format_table,
    load_weights,
    make_out_dir,
    read_run,
    save_weights,
    trainer_config,
    write_json,
    write_metrics,
)

__all__ = ["DEFAULTS", "add_arguments", "evaluate", "predict", "train"]

DEFAULTS: dict[str, Any] = {
    "label_col": "label", "text_col": None, "pooling": None, "conv": None, "conv_layout": None,
    "znorm": None, "tokenizer": "word", "max_len": None, "vocab_size": 20000, "min_freq": 2,
    "embed_dim": None, "word_dropout": None, "bow_buckets": None, "label_smoothing": None,
    "weight_decay": None, "val_frac": None, "test_frac": 0.2, "patience": None, "threads": 1,
}

# Values of unset settings, by the kind of data (see _auto_settings for the shape rules).
_SEQUENCE_TABLE = {"batch_size": 16, "lr": 3e-3, "hidden_size": 64, "num_layers": 1,
                   "dropout": 0.3, "bidirectional": False, "layer_norm": False,
                   "pooling": "mean", "conv": True, "conv_layout": "parallel",
                   "label_smoothing": 0.1, "weight_decay": 1e-2, "patience": 15}
_TEXT_TABLE = {"epochs": 6, "batch_size": 32, "lr": 3e-3, "hidden_size": 64, "num_layers": 1,
               "dropout": 0.4, "bidirectional": True, "layer_norm": False, "pooling": "max",
               "embed_dim": 64, "word_dropout": 0.1, "bow_buckets": 2**18,
               "label_smoothing": 0.0,
               "weight_decay": 1e-2, "val_frac": 0.1, "patience": 3}
_SMALL = 200  # fewer training sequences than this: no validation split, fixed schedule


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """The classification flags (defaults None: unset values come from the shape table)."""
    a = group.add_argument
    a("--label-col", metavar="COL", help="label column of a CSV (default 'label')")
    a("--text-col", metavar="COL", help="text column of a CSV (default: the only text column)")
    a("--pooling", choices=POOLINGS, help="how RNN outputs become one vector (default mean "
      "for numeric data, max for text)")
    a("--conv", action=argparse.BooleanOptionalAction, default=None,
      help="convolutional (FCN) part for numeric sequences (default on)")
    a("--conv-layout", choices=("parallel", "serial"),
      help="FCN branch beside the RNN (LSTM-FCN, default) or conv layers feeding the RNN")
    a("--znorm", action=argparse.BooleanOptionalAction, default=None,
      help="per-series z-normalisation (default: on for univariate sequences)")
    a("--tokenizer", choices=("word", "char"), help="text tokenizer (default word)")
    a("--max-len", type=int, metavar="N", help="pad/truncate texts to N tokens (default: the "
      "95th percentile of training lengths, at most 400 words / 1000 chars)")
    a("--vocab-size", type=int, metavar="N", help="vocabulary cap incl. <pad>/<unk> (20000)")
    a("--min-freq", type=int, metavar="N", help="min training count for a token's own id (2)")
    a("--embed-dim", type=int, help="token embedding size (default 64)")
    a("--word-dropout", type=float, help="share of tokens replaced by <unk> in training")
    a("--bow-buckets", type=int, metavar="N", help="text: add a linear bag of unigrams and N "
      "hashed bigrams to the RNN's logits (default 262144; 0: the RNN alone)")
    a("--label-smoothing", type=float, help="cross-entropy label smoothing")
    a("--weight-decay", type=float, help="AdamW weight decay (default 0.01)")
    a("--val-frac", type=float, help="stratified validation share of the training data for "
      "early stopping (default 0.1 with >= 200 training sequences, else 0)")
    a("--test-frac", type=float, help="test share when a CSV/.ts has no --test-data (0.2)")
    a("--patience", type=int, help="early-stopping patience in epochs")
    a("--threads", type=int, help="CPU threads for torch (default 1: these models are small, "
      "and intra-op threads slow them down on a busy machine)")


def _set_threads(n: int | None) -> None:
    if n is not None:
        if n < 1:
            raise CLIError(f"--threads: expected a positive number, got {n}.")
        torch.set_num_threads(int(n))


# ---- data ---------------------------------------------------------------------------------

def _is_path(s: str) -> bool:
    return Path(s).exists() or "/" in s or "\\" in s or Path(s).suffix.lower() in (
        ".csv", ".ts", ".tsv", ".txt")


def _stratified_split(y: np.ndarray, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
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


def _subset(data: SequenceClassData | TextClassData, train: np.ndarray, test: np.ndarray):
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
    import pandas as pd

    if not Path(path).is_file():
        raise CLIError(f"{where}: expected a CSV file, got missing path '{path}'. Check the path.")
    return [str(c) for c in pd.read_csv(path, nrows=0).columns]


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
        ds = load_ts_classification(data, test or data)
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
        keep, held = _stratified_split(ds.y_train, float(src["test_frac"]), int(src["seed"]))
        ds = _subset(ds, keep, held)
    return ds


def _check_data(ds: SequenceClassData | TextClassData) -> None:
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


def _auto_settings(cfg: dict[str, Any], ds: SequenceClassData | TextClassData) -> dict[str, Any]:
    """Fill unset (None) settings from the table for the data's kind and shape."""
    text = isinstance(ds, TextClassData)
    table = dict(_TEXT_TABLE if text else _SEQUENCE_TABLE)
    n = len(ds.y_train)
    if not text:
        table["znorm"] = ds.n_channels == 1  # univariate: shape matters, not the level
        table["val_frac"] = 0.0 if n < _SMALL else 0.1
        bs = cfg.get("batch_size") or table["batch_size"]
        steps_per_epoch = math.ceil(n * (1 - (cfg.get("val_frac") or table["val_frac"])) / bs)
        # ~300 optimiser steps: enough for the small UCR sets, bounded for large ones.
        table["epochs"] = int(min(100, max(10, math.ceil(300 / steps_per_epoch))))
    out = dict(cfg)
    for k, v in table.items():
        if out.get(k) is None:
            out[k] = v
    return out


def _fit_tokenizer(cfg: dict[str, Any], texts: tuple[str, ...]):
    from rnnkit.data import CharTokenizer, WordTokenizer

    cls = WordTokenizer if cfg["tokenizer"] == "word" else CharTokenizer
    tok = cls(max_vocab=cfg["vocab_size"], min_freq=cfg["min_freq"]).fit(texts)
    if cfg.get("max_len") is None:
        lengths = [len(tok.tokenize(t)) for t in texts]
        cap = 400 if cfg["tokenizer"] == "word" else 1000
        cfg["max_len"] = int(min(cap, max(8, np.percentile(lengths, 95))))
    return tok


class _Items(torch.utils.data.Dataset):
    """``(x [T_i, ...], label)`` items cut to each valid length; ``lengths`` for bucketing."""

    def __init__(self, x: np.ndarray, lengths: np.ndarray, y: np.ndarray | None) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(x))
        self.lengths = np.maximum(np.asarray(lengths, dtype=np.int64), 1)
        self.y = torch.from_numpy(np.zeros(len(x), np.int64) if y is None else y.astype(np.int64))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i, : self.lengths[i]], self.y[i]


def _encode(run: dict[str, Any], inputs, y: np.ndarray | None = None,
            lengths: np.ndarray | None = None) -> _Items:
    """Items of ``inputs`` (texts, or ``X [N, T, C]`` with ``lengths``) with the run's
    tokenizer or scaler."""
    d = run["data"]
    if run["kind"] == "text":
        from rnnkit.data import tokenizer_from_dict

        ids, lens = tokenizer_from_dict(d["tokenizer"]).encode_batch(list(inputs), d["max_len"])
        return _Items(ids, lens, y)
    X = (np.asarray(inputs, np.float32) - np.float32(d["mean"])) / np.float32(d["std"])
    if lengths is not None:  # keep padding at zero
        X[np.arange(X.shape[1])[None, :] >= np.asarray(lengths)[:, None]] = 0.0
    return _Items(X.astype(np.float32), lengths if lengths is not None else
                  np.full(len(X), X.shape[1]), y)


def _scaler(ds: SequenceClassData) -> dict[str, list[float]]:
    valid = np.arange(ds.X_train.shape[1])[None, :] < ds.lengths_train[:, None]
    v = ds.X_train[valid].astype(np.float64)  # [steps, C]
    std = v.std(axis=0)
    return {"mean": v.mean(axis=0).tolist(), "std": np.where(std > 1e-8, std, 1.0).tolist()}


def build_model(run: dict[str, Any]) -> torch.nn.Module:
    """The (untrained) model a run's ``config.json`` describes."""
    if run["kind"] == "text":
        from rnnkit.models.text_classifier import TextClassifier, TextClassifierConfig

        return TextClassifier(TextClassifierConfig.from_dict(run["model"]))
    from rnnkit.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig

    return SequenceClassifier(SequenceClassifierConfig.from_dict(run["model"]))


def _model_config(cfg: dict[str, Any], ds, vocab_size: int | None) -> dict[str, Any]:
    common = dict(num_classes=ds.n_classes, model=cfg["model"], hidden_size=cfg["hidden_size"],
                  num_layers=cfg["num_layers"], dropout=cfg["dropout"],
                  bidirectional=cfg["bidirectional"], layer_norm=cfg["layer_norm"],
                  pooling=cfg["pooling"], label_smoothing=cfg["label_smoothing"])
    if isinstance(ds, TextClassData):
        from rnnkit.models.text_classifier import TextClassifierConfig

        return TextClassifierConfig(vocab_size=vocab_size, embed_dim=cfg["embed_dim"],
                                    word_dropout=cfg["word_dropout"],
                                    bow_buckets=cfg["bow_buckets"], **common).to_dict()
    from rnnkit.models.sequence_classifier import SequenceClassifierConfig

    return SequenceClassifierConfig(input_size=ds.n_channels, conv=cfg["conv"],
                                    conv_layout=cfg["conv_layout"], znorm=cfg["znorm"],
                                    **common).to_dict()


def _predict_proba(model: torch.nn.Module, items: _Items, cfg: dict[str, Any]) -> np.ndarray:
    from rnnkit.training import Trainer, TrainerConfig

    tc = TrainerConfig(batch_size=max(64, int(cfg.get("batch_size") or 64)), progress="none",
                       device=cfg.get("device") or "auto")
    return Trainer(tc, collate_fn=pad_collate).predict(model, items).numpy()


# ---- train ----------------------------------------------------------------------------------

def _prepare(cfg: dict[str, Any]) -> tuple[dict[str, Any], Any, dict[str, Any], _Items,
                                           _Items | None, _Items]:
    """Validate and load everything before anything is written: ``(cfg, data, run, train,
    val, test)``."""
    if not cfg.get("data"):
        raise CLIError("--data: expected a dataset name or a file, got nothing. Pass --data "
                       "ItalyPowerDemand (see 'rnnkit datasets') or --data FILE.csv.")
    src = {k: cfg.get(k) for k in ("data", "test_data", "label_col", "text_col", "test_frac",
                                   "seed")}
    ds = load_source(src)
    _check_data(ds)
    cfg = _auto_settings(cfg, ds)
    if not 0 <= cfg["val_frac"] < 1:
        raise CLIError(f"--val-frac: expected 0 <= value < 1, got {cfg['val_frac']}.")
    text = isinstance(ds, TextClassData)
    run: dict[str, Any] = {"task": "classify", "dataset": ds.name, "kind":
                           "text" if text else "sequence", "source": src}
    if text:
        tok = _fit_tokenizer(cfg, ds.texts_train)
        run["data"] = {"classes": list(ds.classes), "tokenizer": tok.to_dict(),
                       "max_len": cfg["max_len"]}
        vocab = tok.vocab_size
    else:
        run["data"] = {"classes": list(ds.classes), "channels": list(ds.channels), **_scaler(ds)}
        vocab = None
    run["model"] = _model_config(cfg, ds, vocab)
    keep, held = _stratified_split(ds.y_train, cfg["val_frac"], cfg["seed"] + 1)
    fit_ds = _subset(ds, keep, held) if cfg["val_frac"] > 0 else None

    def items(part, split: str) -> _Items:
        if text:
            return _encode(run, getattr(part, f"texts_{split}"), getattr(part, f"y_{split}"))
        return _encode(run, getattr(part, f"X_{split}"), getattr(part, f"y_{split}"),
                       getattr(part, f"lengths_{split}"))

    train_items = items(fit_ds or ds, "train")
    val_items = items(fit_ds, "test") if fit_ds is not None else None
    return cfg, ds, run, train_items, val_items, items(ds, "test")


def train(cfg: dict[str, Any]) -> int:
    """``rnnkit train classify``: fit, score beside the baselines, write the run directory."""
    from rnnkit.baselines import run_classification_baselines
    from rnnkit.training import Trainer, seed_everything
    from rnnkit.training import load_weights as load_checkpoint

    _set_threads(cfg.get("threads"))
    cfg, ds, run, train_items, val_items, test_items = _prepare(cfg)
    out = Path(cfg.get("out") or cfg.get("resume") or Path("runs") / f"classify-{ds.name}")
    extra = dict(weight_decay=cfg["weight_decay"], schedule="cosine", clip_grad_norm=1.0,
                 bucket_by_length=run["kind"] == "text", progress="none" if cfg["quiet"]
                 else "bar", early_stopping_patience=cfg["patience"] if val_items else None)
    tcfg = trainer_config(cfg, out, **extra)  # validated before the directory exists
    seed_everything(cfg["seed"])
    model = build_model(run)
    out = make_out_dir(cfg, "classify", ds.name)
    run["settings"] = {k: v for k, v in cfg.items() if k not in ("quiet", "resume", "out")}
    run["trainer"] = tcfg.to_dict()
    write_json(out / "config.json", run)
    trainer = Trainer(tcfg, collate_fn=pad_collate)
    t0 = time.perf_counter()
    resume = Path(cfg["resume"]) / "checkpoints" if cfg.get("resume") else None
    trainer.fit(model, train_items, val_items, resume=resume)
    seconds = time.perf_counter() - t0
    best = (out / "checkpoints" / "best")
    if val_items is not None and best.is_file():  # keep the best epoch by validation loss
        load_checkpoint(model, out / "checkpoints" / best.read_text().strip())
    save_weights(model, out)
    pred = _predict_proba(model, test_items, cfg).argmax(1)
    from rnnkit.baselines.classification import classification_metrics

    test = classification_metrics(ds.y_test, pred)
    base = {b["baseline"]: {"accuracy": b["accuracy"], "macro_f1": b["macro_f1"]}
            for b in run_classification_baselines(ds)}
    write_metrics(out, "classify", ds.name, test, base, seconds, seed=cfg["seed"],
                  epochs_run=len(trainer.history))
    plots = _plot_confusion(ds.y_test, pred, ds.classes, out / "confusion.png")
    print(f"\n{ds.name}: {len(train_items)} train / {len(val_items or [])} validation / "
          f"{len(test_items)} test, {ds.n_classes} classes, {seconds:.1f} s\n")
    print(format_table(test, base, model_name=f"{cfg['model']} ({run['kind']})"))
    print(f"\nmetrics: {out / 'metrics.json'}")
    for p in [*plots, out / "history.png"]:
        if Path(p).is_file():
            print(f"plot:    {p}")
    return 0


def _plot_confusion(y_true, y_pred, classes, path: Path) -> list[Path]:
    try:
        from rnnkit.plots.confusion import plot_confusion

        return [plot_confusion(y_true, y_pred, classes, path)]
    except ImportError:  # plots are optional (matplotlib)
        return []


# ---- evaluate / predict ---------------------------------------------------------------------

def _load_run(run_dir: str) -> tuple[dict[str, Any], torch.nn.Module]:
    run = read_run(run_dir)
    _set_threads(run.get("settings", {}).get("threads"))
    for key in ("kind", "model", "data"):
        if key not in run:
            raise CLIError(f"{run_dir}/config.json: expected a classify run with '{key}', got "
                           f"none. Train again with 'rnnkit train classify'.")
    model = load_weights(build_model(run), run_dir)
    return run, model.eval()


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
        from rnnkit.data import read_ts, stack_padded

        if text:
            raise CLIError(f"--data: expected a CSV with a text column for this text run, got "
                           f"the .ts file '{path}'.")
        f = read_ts(path)
        X, lengths = stack_padded(f.series)
        if need_labels and f.labels is None:
            raise CLIError(f"--data: expected labels ('@classLabel true') in '{path}', got none.")
        return X, lengths, (None if f.labels is None else _label_ids(f.labels, run, "--data"))
    import pandas as pd

    df = pd.read_csv(path)
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


def _inputs(run_dir: str, run: dict[str, Any], args: dict[str, Any], need_labels: bool):
    """``(name, items, y or None, raw inputs)`` for evaluate/predict."""
    path = args.get("test_data") or args.get("data")
    if path is None or not _is_path(str(path)):  # the run's test split, or a built-in one
        src = dict(run["source"], **({"data": path, "test_data": None} if path else {}))
        ds = load_source(src)
        if isinstance(ds, TextClassData):
            raw, y = ds.texts_test, _label_ids([ds.classes[i] for i in ds.y_test], run, "--data")
            return ds.name, _encode(run, raw, y), y, raw
        X, lengths = ds.X_test, ds.lengths_test
        y = _label_ids([ds.classes[i] for i in ds.y_test], run, "--data")
        name = ds.name
    else:
        X, lengths, y = _read_file(str(path), run, need_labels)
        name = Path(path).stem
        if run["kind"] == "text":
            return name, _encode(run, X, y), y, X
    X = np.asarray(X, dtype=np.float32)
    if X.shape[2] != run["model"]["input_size"]:
        raise CLIError(f"--data: expected {run['model']['input_size']} channels as in training, "
                       f"got {X.shape[2]}. Use data with the same channels.")
    return name, _encode(run, X, y, lengths), y, None


def evaluate(run_dir: str, args: dict[str, Any]) -> int:
    """``rnnkit evaluate DIR [--data ...]``: accuracy and macro-F1 (default: the run's test
    split); written to ``DIR/evaluation.json``."""
    from rnnkit.baselines.classification import classification_metrics

    run, model = _load_run(run_dir)
    name, items, y, _ = _inputs(run_dir, run, args, need_labels=True)
    pred = _predict_proba(model, items, run.get("settings", {})).argmax(1)
    metrics = classification_metrics(y, pred)
    write_json(Path(run_dir) / "evaluation.json", {"task": "classify", "dataset": name,
                                                   "n": len(y), "test": metrics})
    print(format_table(metrics, {}, model_name=f"{run['model']['model']} on {name}"))
    print(f"\nwritten: {Path(run_dir) / 'evaluation.json'}")
    return 0


def predict(run_dir: str, args: dict[str, Any]) -> int:
    """``rnnkit predict DIR [--data ...|--input TEXT] [-o FILE]``: labels and per-class
    probabilities as CSV (default ``DIR/predictions.csv``; ``--input``: printed)."""
    import pandas as pd

    run, model = _load_run(run_dir)
    classes = [str(c) for c in run["data"]["classes"]]
    single = args.get("input")
    if single is not None:
        if run["kind"] != "text":
            raise CLIError("--input: expected a text classification run, got a numeric one. "
                           "Pass --data FILE instead.")
        if not single.strip():
            raise CLIError("--input: expected a non-empty text, got an empty one.")
        items, y, raw = _encode(run, [single]), None, [single]
    else:
        _, items, y, raw = _inputs(run_dir, run, args, need_labels=False)
    proba = _predict_proba(model, items, run.get("settings", {}))
    df = pd.DataFrame({"label": [classes[i] for i in proba.argmax(1)]})
    for k, c in enumerate(classes):
        df[f"prob_{c}"] = proba[:, k].round(6)
    if y is not None:
        df["true_label"] = [classes[i] for i in y]
    if raw is not None and run["kind"] == "text":
        df["text"] = [t[:80] for t in raw]
    out = args.get("output")
    if single is not None and out is None:
        print(df.to_csv(index=False).strip())
        return 0
    out = Path(out or Path(run_dir) / "predictions.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    df.to_csv(tmp, index_label="index")
    tmp.replace(out)
    print(f"{len(df)} predictions written to {out}")
    return 0

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

Text options: ``--pretrain-epochs N`` first trains the embedding and encoder as a
bidirectional language model on all the training texts (labels unused, never the test texts;
:class:`~rnnkit.models.text_classifier.TextEncoderLM`), then fine-tunes the classifier from
those weights (ULMFiT style; one pretraining shared by all ensemble members).

``--nb-weight W`` (text) adds an NB-weighted logistic regression on the texts' unigrams and
hashed bigrams (NBSVM, :class:`~rnnkit.models.nb_classifier.NBLogisticClassifier`, fitted to
convergence on all the training texts in seconds) to the probability average with weight W,
the recurrent models sharing ``1 - W``: its errors differ from theirs (finefoods 5-fold CV:
+0.9 points with W = 0.5 on 3 members).

``--ensemble N`` (any data) trains N models with seeds ``seed + 1000·i`` and averages their
class probabilities (:class:`~rnnkit.models.ensemble.ProbabilityEnsemble`); each member holds
out its own stratified validation split (so together they learn from all the training data);
checkpoints go to ``checkpoints/member{i}/``, and ``--resume`` continues the member that was
interrupted and trains the ones not yet started.

Run directory: ``config.json`` (settings, model config, classes, scaler/tokenizer),
``model.safetensors``, ``metrics.json``, ``confusion.png``, ``history.{csv,json,png}``,
``checkpoints/``; ``evaluate`` adds ``evaluation.json``, ``predict`` ``predictions.csv``.

The data side (sources, splits, tokenizer/scaler, encoded items, evaluate/predict inputs) lives
in :mod:`rnnkit.tasks.classify_data`; this module picks settings, trains, scores and writes.
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
from rnnkit.tasks.classify_data import (
    Items,
    check_data,
    encode,
    fit_tokenizer,
    load_inputs,
    load_source,
    scaler,
    stratified_split,
)
from rnnkit.tasks.classify_nb import build_nb, fit_nb_member, nb_settings
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

__all__ = ["DEFAULTS", "add_arguments", "evaluate", "explain", "predict", "train"]

DEFAULTS: dict[str, Any] = {
    "label_col": "label", "text_col": None, "pooling": None, "conv": None, "conv_layout": None,
    "znorm": None, "tokenizer": "word", "max_len": None, "vocab_size": 20000, "min_freq": 2,
    "embed_dim": None, "word_dropout": None, "bow_buckets": None, "bow_dropout": None,
    "label_smoothing": None,
    "weight_decay": None, "val_frac": None, "test_frac": 0.2, "patience": None, "threads": 1,
    "pretrain_epochs": None, "pretrain_lr": None, "pretrain_share": None, "pretrain_vocab": None,
    "ensemble": None, "nb_weight": None, "nb_c": None,
}

# Values of unset settings, by the kind of data (see _auto_settings for the shape rules).
_SEQUENCE_TABLE = {"batch_size": 16, "lr": 3e-3, "hidden_size": 64, "num_layers": 1,
                   "dropout": 0.3, "bidirectional": False, "layer_norm": False,
                   "pooling": "mean", "conv": True, "conv_layout": "parallel",
                   "label_smoothing": 0.1, "weight_decay": 1e-2, "patience": 15,
                   "ensemble": 1}
_TEXT_TABLE = {"epochs": 12, "batch_size": 32, "lr": 3e-3, "hidden_size": 64, "num_layers": 1,
               "dropout": 0.4, "bidirectional": True, "layer_norm": False, "pooling": "max",
               "embed_dim": 64, "word_dropout": 0.1, "bow_buckets": 2**18, "bow_dropout": 0.5,
               "label_smoothing": 0.0,
               "weight_decay": 1e-2, "val_frac": 0.1, "patience": 3,
               "pretrain_lr": 3e-3, "pretrain_share": 0.25, "pretrain_vocab": 2048,
               "nb_c": 0.1}
_SMALL = 200  # fewer training sequences than this: no validation split, fixed schedule
_PRETRAIN_TEXTS = 40_000  # text: language-model pretraining reads about this many texts …
_MAX_PRETRAIN_EPOCHS = 10  # … in at most this many epochs
_ENSEMBLE_BELOW = 10_000  # text: average 3 models (+ NB-LR) when there are fewer texts
_NB_WEIGHT = 0.5  # … the NB-weighted logistic regression's share of the average


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
    a("--bow-dropout", type=float, help="text: share of training texts whose bag logits are "
      "dropped, so the RNN learns to classify alone too (default 0.5)")
    a("--label-smoothing", type=float, help="cross-entropy label smoothing")
    a("--weight-decay", type=float, help="AdamW weight decay (default 0.01)")
    a("--val-frac", type=float, help="stratified validation share of the training data for "
      "early stopping (default 0.1 with >= 200 training sequences, else 0)")
    a("--test-frac", type=float, help="test share when a CSV/.ts has no --test-data (0.2)")
    a("--patience", type=int, help="early-stopping patience in epochs")
    a("--pretrain-epochs", type=int, metavar="N", help="text: first train the embedding and "
      "encoder as a language model on the training texts for N epochs (ULMFiT style; default "
      "40000 / number of texts, 1 to 10; 0: off)")
    a("--pretrain-lr", type=float, help="learning rate of the language-model pretraining")
    a("--pretrain-share", type=float, help="share of positions whose neighbour the language "
      "model predicts per batch (default 0.25; the softmax over the vocabulary dominates)")
    a("--pretrain-vocab", type=int, metavar="N", help="the language model predicts the N most "
      "frequent tokens, the rest as <unk> (default 2048; 0: the whole vocabulary)")
    a("--ensemble", type=int, metavar="N", help="train N models (seeds seed + 1000·i, each "
      "with its own validation split) and average their class probabilities (default 3 for "
      "text with < 10000 training texts, else 1)")
    a("--nb-weight", type=float, metavar="W", help="text: weight of an NB-weighted logistic "
      "regression on unigrams and hashed bigrams (NBSVM) in the probability average; the "
      "RNNs share 1 - W (default 0.5 with < 10000 training texts, else 0: off)")
    a("--nb-c", type=float, metavar="C", help="inverse L2 strength of that logistic regression "
      "(default 0.1; larger: less regularisation)")
    a("--threads", type=int, help="CPU threads for torch (default 1: these models are small, "
      "and intra-op threads slow them down on a busy machine)")


def _set_threads(n: int | None) -> None:
    if n is not None:
        if n < 1:
            raise CLIError(f"--threads: expected a positive number, got {n}.")
        torch.set_num_threads(int(n))


# ---- settings --------------------------------------------------------------------------------

def _auto_settings(cfg: dict[str, Any], ds: SequenceClassData | TextClassData) -> dict[str, Any]:
    """Fill unset (None) settings from the table for the data's kind and shape."""
    text = isinstance(ds, TextClassData)
    table = dict(_TEXT_TABLE if text else _SEQUENCE_TABLE)
    n = len(ds.y_train)
    if text:
        # Small text sets gain from LM pretraining (10 epochs on finefoods' reviews: +1.7
        # points in 5-fold CV) and from averaging 3 models; large sets: fewer epochs, 1 model.
        deep_bi = ((cfg.get("num_layers") or table["num_layers"]) > 1
                   and (table["bidirectional"] if cfg.get("bidirectional") is None
                        else cfg["bidirectional"]))
        table["pretrain_epochs"] = 0 if deep_bi else int(
            min(_MAX_PRETRAIN_EPOCHS, max(1, round(_PRETRAIN_TEXTS / n))))
        table["ensemble"] = 3 if n < _ENSEMBLE_BELOW else 1
        table["nb_weight"] = _NB_WEIGHT if n < _ENSEMBLE_BELOW else 0.0
    else:
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


# ---- model -----------------------------------------------------------------------------------

def build_model(run: dict[str, Any]) -> torch.nn.Module:
    """The (untrained) model a run's ``config.json`` describes: one classifier, or an
    ensemble of ``run["ensemble"]`` of them averaging their probabilities, plus the
    NB-weighted logistic regression ``run["nb"]`` (last, with its weight) if there is one."""
    n = int(run.get("ensemble") or 1)
    members = [_build_member(run) for _ in range(n)]
    if run.get("nb"):
        return _ensemble([*members, build_nb(run)], run)
    return _ensemble(members, run) if n > 1 else members[0]


def _ensemble(members: list[torch.nn.Module], run: dict[str, Any]) -> torch.nn.Module:
    """Equal weights for the recurrent members; the NB member (last) gets ``run["nb"]``'s."""
    from rnnkit.models.ensemble import ProbabilityEnsemble

    if not run.get("nb"):
        return ProbabilityEnsemble(members)
    w, n = float(run["nb"]["weight"]), len(members) - 1
    return ProbabilityEnsemble(members, [(1 - w) / n] * n + [w])


def _build_member(run: dict[str, Any]) -> torch.nn.Module:
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
                                    bow_buckets=cfg["bow_buckets"],
                                    bow_dropout=cfg["bow_dropout"], **common).to_dict()
    from rnnkit.models.sequence_classifier import SequenceClassifierConfig

    return SequenceClassifierConfig(input_size=ds.n_channels, conv=cfg["conv"],
                                    conv_layout=cfg["conv_layout"], znorm=cfg["znorm"],
                                    **common).to_dict()


def _predict_proba(model: torch.nn.Module, items: Items, cfg: dict[str, Any]) -> np.ndarray:
    from rnnkit.training import Trainer, TrainerConfig

    tc = TrainerConfig(batch_size=max(64, int(cfg.get("batch_size") or 64)), progress="none",
                       device=cfg.get("device") or "auto")
    return Trainer(tc, collate_fn=pad_collate).predict(model, items).numpy()


# ---- train ----------------------------------------------------------------------------------

def _prepare(cfg: dict[str, Any]) -> tuple[dict[str, Any], Any, dict[str, Any], Items, Items]:
    """Validate and load everything before anything is written: ``(cfg, data, run, train,
    test)`` (validation splits are carved from ``train`` per model, :func:`_member_split`)."""
    if not cfg.get("data"):
        raise CLIError("--data: expected a dataset name or a file, got nothing. Pass --data "
                       "ItalyPowerDemand (see 'rnnkit datasets') or --data FILE.csv.")
    src = {k: cfg.get(k) for k in ("data", "test_data", "label_col", "text_col", "test_frac",
                                   "seed")}
    ds = load_source(src)
    check_data(ds)
    cfg = _auto_settings(cfg, ds)
    if not 0 <= cfg["val_frac"] < 1:
        raise CLIError(f"--val-frac: expected 0 <= value < 1, got {cfg['val_frac']}.")
    text = isinstance(ds, TextClassData)
    _check_options(cfg, text)
    run: dict[str, Any] = {"task": "classify", "dataset": ds.name, "kind":
                           "text" if text else "sequence", "source": src}
    if text:
        tok = fit_tokenizer(cfg, ds.texts_train)
        run["data"] = {"classes": list(ds.classes), "tokenizer": tok.to_dict(),
                       "max_len": cfg["max_len"]}
        vocab = tok.vocab_size
    else:
        run["data"] = {"classes": list(ds.classes), "channels": list(ds.channels), **scaler(ds)}
        vocab = None
    run["model"] = _model_config(cfg, ds, vocab)

    def items(part, split: str) -> Items:
        if text:
            return encode(run, getattr(part, f"texts_{split}"), getattr(part, f"y_{split}"))
        return encode(run, getattr(part, f"X_{split}"), getattr(part, f"y_{split}"),
                       getattr(part, f"lengths_{split}"))

    return cfg, ds, run, items(ds, "train"), items(ds, "test")


def _member_split(cfg: dict[str, Any], ds: Any, train: Items, i: int,
                  ) -> tuple[Items, Items | None]:
    """``(fit, validation)`` items of ensemble member ``i``: its own stratified validation
    split (seed ``seed + 1 + 1000·i``), so the members together learn from all the training
    data; no validation split when ``val_frac`` is 0."""
    if cfg["val_frac"] <= 0:
        return train, None
    keep, held = stratified_split(ds.y_train, cfg["val_frac"], cfg["seed"] + 1 + 1000 * i)
    return train.subset(keep), train.subset(held)


def _check_options(cfg: dict[str, Any], text: bool) -> None:
    n = cfg["ensemble"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise CLIError(f"--ensemble: expected a positive number of models, got {n!r}. Pass "
                       f"--ensemble 1 for a single model.")
    if not text and cfg.get("pretrain_epochs"):
        raise CLIError(f"--pretrain-epochs: expected text data (language-model pretraining "
                       f"reads tokens), got numeric sequences and {cfg['pretrain_epochs']}. "
                       f"Drop --pretrain-epochs.")
    if not text:
        if cfg.get("nb_weight"):
            raise CLIError(f"--nb-weight: expected text data (the NB model reads n-grams), got "
                           f"numeric sequences and {cfg['nb_weight']}. Drop --nb-weight.")
        return
    w, c = cfg["nb_weight"], cfg["nb_c"]
    if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1:
        raise CLIError(f"--nb-weight: expected 0 <= W <= 1, got {w!r}. Pass 0 for the "
                       f"recurrent models alone, e.g. 0.5 to average them with NB-LR.")
    if isinstance(c, bool) or not isinstance(c, int | float) or not c > 0:
        raise CLIError(f"--nb-c: expected a value > 0, got {c!r}. Pass e.g. --nb-c "
                       f"{_TEXT_TABLE['nb_c']}.")
    e = cfg["pretrain_epochs"]
    if isinstance(e, bool) or not isinstance(e, int) or e < 0:
        raise CLIError(f"--pretrain-epochs: expected a number of epochs >= 0, got {e!r}. Pass "
                       f"0 to train the classifier from scratch.")
    if e and cfg["bidirectional"] and cfg["num_layers"] > 1:
        raise CLIError(f"--pretrain-epochs: expected a one-layer encoder when bidirectional, got "
                       f"--num-layers {cfg['num_layers']} (upper layers would see the tokens to "
                       f"predict). Pass --num-layers 1, --no-bidirectional or "
                       f"--pretrain-epochs 0.")
    v = cfg["pretrain_vocab"]
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or 0 < v < 3:
        raise CLIError(f"--pretrain-vocab: expected 0 (every token) or at least 3, got {v!r}. "
                       f"Pass e.g. --pretrain-vocab 2048.")
    for key in ("pretrain_lr", "pretrain_share"):
        v = cfg[key]
        if not (isinstance(v, int | float) and v > 0 and (key == "pretrain_lr" or v <= 1)):
            flag = "--" + key.replace("_", "-")
            bound = "a value > 0" if key == "pretrain_lr" else "0 < value <= 1"
            raise CLIError(f"{flag}: expected {bound}, got {v!r}. Pass e.g. "
                           f"{flag} {_TEXT_TABLE[key]}.")


def train(cfg: dict[str, Any]) -> int:
    """``rnnkit train classify``: fit, score beside the baselines, write the run directory."""
    from rnnkit.baselines import run_classification_baselines
    from rnnkit.training import seed_everything

    _set_threads(cfg.get("threads"))
    cfg, ds, run, all_train, test_items = _prepare(cfg)
    out = Path(cfg.get("out") or cfg.get("resume") or Path("runs") / f"classify-{ds.name}")
    train_items, val_items = _member_split(cfg, ds, all_train, 0)
    extra = dict(weight_decay=cfg["weight_decay"], schedule="cosine", clip_grad_norm=1.0,
                 bucket_by_length=run["kind"] == "text", progress="none" if cfg["quiet"]
                 else "bar", early_stopping_patience=cfg["patience"] if val_items else None)
    tcfg = trainer_config(cfg, out, **extra)  # validated before the directory exists
    n = int(cfg["ensemble"])
    seed_everything(cfg["seed"])
    build_model(run)
    out = make_out_dir(cfg, "classify", ds.name)
    run["settings"] = {k: v for k, v in cfg.items() if k not in ("quiet", "resume", "out")}
    run["trainer"] = tcfg.to_dict()
    if n > 1:
        run["ensemble"] = n
    if run["kind"] == "text" and cfg["nb_weight"] > 0:
        run["nb"] = nb_settings(run, ds.n_classes, cfg["nb_weight"], cfg["nb_c"])
    write_json(out / "config.json", run)
    t0 = time.perf_counter()
    encoder, pretrain = None, {}
    if run["kind"] == "text" and cfg["pretrain_epochs"] and _needs_pretraining(cfg, n):
        encoder, pretrain = _pretrain_encoder(cfg, run, tcfg, all_train)
    fitted = [_fit_member(i, n, cfg, run, tcfg, out, *_member_split(cfg, ds, all_train, i),
                          encoder=encoder) for i in range(n)]
    models, nb = [m for m, _ in fitted], {}
    if run.get("nb"):
        nb_model, nb = fit_nb_member(run, all_train)
        models.append(nb_model)
    seconds = time.perf_counter() - t0
    model = models[0] if len(models) == 1 else _ensemble(models, run)
    save_weights(model, out)
    pred = _predict_proba(model, test_items, cfg).argmax(1)
    from rnnkit.baselines.classification import classification_metrics

    test = classification_metrics(ds.y_test, pred)
    base = {b["baseline"]: {"accuracy": b["accuracy"], "macro_f1": b["macro_f1"]}
            for b in run_classification_baselines(ds)}
    report = [r for _, r in fitted]
    extra_metrics = report[0] if n == 1 else {"ensemble": n, "members": report}
    write_metrics(out, "classify", ds.name, test, base, seconds, seed=cfg["seed"],
                  **extra_metrics, **pretrain, **nb)
    plots = _plot_confusion(ds.y_test, pred, ds.classes, out / "confusion.png")
    what = f" (ensemble of {n})" if n > 1 else ""
    if nb:
        what += f" + NB-LR (weight {run['nb']['weight']:g})"
    print(f"\n{ds.name}: {len(train_items)} train / {len(val_items or [])} validation / "
          f"{len(test_items)} test, {ds.n_classes} classes, {seconds:.1f} s{what}\n")
    print(format_table(test, base, model_name=f"{cfg['model']} ({run['kind']}){what}"))
    print(f"\nmetrics: {out / 'metrics.json'}")
    for p in [*plots, out / "history.png"]:
        if Path(p).is_file():
            print(f"plot:    {p}")
    return 0


def _member_dir(n: int, i: int) -> Path:
    return Path("checkpoints") if n == 1 else Path("checkpoints") / f"member{i}"


def _needs_pretraining(cfg: dict[str, Any], n: int) -> bool:
    """Whether some member starts from scratch (a resumed member has its own weights)."""
    if not cfg.get("resume"):
        return True
    return any(i > 0 and not (Path(cfg["resume"]) / _member_dir(n, i)).is_dir()
               for i in range(n))


def _fit_member(i: int, n: int, cfg: dict[str, Any], run: dict[str, Any], tcfg: Any, out: Path,
                train_items: Items, val_items: Items | None,
                encoder: dict[str, torch.Tensor] | None = None,
                ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train ensemble member ``i`` of ``n`` (the only model when ``n == 1``) with seed
    ``seed + 1000·i``, its checkpoints in ``checkpoints/`` (``checkpoints/member{i}/`` in an
    ensemble) and the history plots of member 0, starting from the pretrained ``encoder``
    weights if given; returns the model (best validation epoch) and what to report."""
    import dataclasses

    from rnnkit.training import Trainer, seed_everything
    from rnnkit.training import load_weights as load_checkpoint

    sub = _member_dir(n, i)
    seed = int(cfg["seed"]) + 1000 * i
    mcfg = dataclasses.replace(tcfg, seed=seed, checkpoint_dir=str(out / sub),
                               log_dir=tcfg.log_dir if i == 0 else None)
    seed_everything(seed)
    model = _build_member(run)
    resume = Path(cfg["resume"]) / sub if cfg.get("resume") else None
    if resume is not None and i > 0 and not resume.is_dir():
        resume = None  # the interrupted run had not reached this member yet
    report: dict[str, Any] = {"seed": seed} if n > 1 else {}
    if encoder is not None and resume is None:
        model.load_state_dict(encoder, strict=False)
    trainer = Trainer(mcfg, collate_fn=pad_collate)
    trainer.fit(model, train_items, val_items, resume=resume)
    best = out / sub / "best"
    if val_items is not None and best.is_file():  # keep the best epoch by validation loss
        load_checkpoint(model, out / sub / best.read_text().strip())
    report["epochs_run"] = len(trainer.history)
    return model, report


def _pretrain_encoder(cfg: dict[str, Any], run: dict[str, Any], tcfg: Any, texts: Items,
                      ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train a fresh model's embedding and encoder as a bidirectional language model on all
    the training texts (labels unused, never the test texts) with seed ``seed``; returns
    those weights, shared by every ensemble member, and what to report."""
    import dataclasses

    from rnnkit.models.text_classifier import TextEncoderLM
    from rnnkit.training import Trainer, seed_everything

    seed_everything(cfg["seed"])
    model = _build_member(run)
    lm = TextEncoderLM(model, target_share=float(cfg["pretrain_share"]),
                       target_vocab=int(cfg["pretrain_vocab"]) or None)
    pcfg = dataclasses.replace(tcfg, epochs=int(cfg["pretrain_epochs"]),
                               lr=float(cfg["pretrain_lr"]), checkpoint_dir=None, log_dir=None,
                               early_stopping_patience=None, monitor="val_loss")
    history = Trainer(pcfg, collate_fn=pad_collate).fit(lm, texts)
    last = history[-1] if history else {}
    state = {k: v.detach().clone() for k, v in model.state_dict().items()
             if k.startswith(("embedding.", "rnn."))}
    return state, {"pretrain": {"epochs": len(history), "train_ppl": last.get("ppl")}}


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


def evaluate(run_dir: str, args: dict[str, Any]) -> int:
    """``rnnkit evaluate DIR [--data ...]``: accuracy and macro-F1 (default: the run's test
    split); written to ``DIR/evaluation.json``."""
    from rnnkit.baselines.classification import classification_metrics

    run, model = _load_run(run_dir)
    name, items, y, _ = load_inputs(run_dir, run, args, need_labels=True)
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
        items, y, raw = encode(run, [single]), None, [single]
    else:
        _, items, y, raw = load_inputs(run_dir, run, args, need_labels=False)
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


def explain(run_dir: str, args: dict[str, Any]) -> int:
    """``rnnkit explain DIR [--data …] [--index N] [--method M] [-o DIR]``: per-step saliency
    of example N for its predicted class (integrated gradients by default; for text, w.r.t. the
    token embeddings) and, with attention pooling, the attention weights — PNG + JSON."""
    from rnnkit.data import tokenizer_from_dict
    from rnnkit.interpret import explain_sequence, explain_tokens

    run, model = _load_run(run_dir)
    if hasattr(model, "members"):  # saliency needs one embedding: explain the first member
        print(f"ensemble of {len(model.members)}: explaining its first member")
        model = model.members[0]
    _, items, labels, _ = load_inputs(run_dir, run, args, need_labels=False)
    i = int(args.get("index") or 0)
    if not 0 <= i < len(items):
        raise CLIError(f"--index: expected 0 <= index < {len(items)} (the number of examples), "
                       f"got {i}.")
    x, _ = items[i]
    with torch.no_grad():
        logits, alpha = model.forward_with_attention(x[None], torch.tensor([x.shape[0]]))
    target, attention = int(logits.argmax(1)), None if alpha is None else alpha[0]
    out = Path(args.get("output") or Path(run_dir) / "explain")
    method = args.get("method") or "integrated_gradients"
    classes = run["data"]["classes"]
    caption = ("" if labels is None else f"true: {classes[int(labels[i])]}, ") + \
        f"predicted: {classes[target]}"
    if run["kind"] == "text":
        tok = tokenizer_from_dict(run["data"]["tokenizer"])
        tokens = [tok.itos[int(t)] if int(t) < len(tok.itos) else "?" for t in x]
        files = explain_tokens(model, model.embedding, x.tolist(), tokens, out, i, method,
                               target, attention, caption=caption)
    else:
        files = explain_sequence(model, x, out, i, method, target, attention=attention,
                                 caption=caption)
    print(f"example {i}: predicted {run['data']['classes'][target]}")
    for f in files:
        print(f"{'plot' if f.suffix == '.png' else 'scores'}: {f}")
    return 0

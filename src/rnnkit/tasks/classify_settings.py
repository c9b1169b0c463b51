"""Classification settings: the typed settings, the unset values chosen by the data's shape,
and their checks.

:class:`ClassifySettings` is the task's frozen settings dataclass (protocol in
:mod:`rnnkit.tasks.task`): ``classify.train`` builds it first, so a wrong type, a value out of
range or an unknown choice is a one-line error naming the flag before any data is read.
:func:`auto_settings` fills every unset (None) setting from a small table for the kind of data
(text or numeric sequences) and its shape (number of training sequences, channels), never its
name; :func:`check_options` rejects impossible combinations with one-line errors in the CLI's
words. The selection of the sequence model by cross-validation has its own typed settings
(:class:`~rnnkit.tasks.classify_select.SelectionSettings`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from rnnkit.data import SequenceClassData, TextClassData
from rnnkit.models.pooling import POOLINGS
from rnnkit.tasks.common import CLIError
from rnnkit.tasks.task import CommonSettings

__all__ = ["SEQUENCE_TABLE", "TEXT_TABLE", "ClassifySettings", "auto_settings",
           "check_options"]


@dataclass(frozen=True)
class ClassifySettings(CommonSettings):
    """Every setting of a classify run; ``None``: chosen from the data's kind and shape by
    :func:`auto_settings` (combinations are checked after that by :func:`check_options`)."""

    label_col: str = "label"
    text_col: str | None = None
    pooling: str | None = None
    conv: bool | None = None
    conv_layout: str | None = None
    znorm: bool | None = None
    tokenizer: str = "word"
    max_len: int | None = None
    vocab_size: int = 20000
    min_freq: int = 2
    embed_dim: int | None = None
    word_dropout: float | None = None
    bow_buckets: int | None = None
    bow_dropout: float | None = None
    label_smoothing: float | None = None
    weight_decay: float | None = None
    val_frac: float | None = None
    test_frac: float = 0.2
    patience: int | None = None
    threads: int = 1
    pretrain_epochs: int | None = None
    pretrain_lr: float | None = None
    pretrain_share: float | None = None
    pretrain_vocab: int | None = None
    ensemble: int | None = None
    nb_weight: float | None = None
    nb_c: float | None = None
    cv_folds: int | None = None
    rocket_weight: float | None = None

    # Ranges of the settings that check_options does not check (it checks the others, with
    # their fix, once the data's kind is known; their types are checked here).
    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        **CommonSettings.BOUNDS, "max_len": (1, None), "vocab_size": (3, None),
        "min_freq": (1, None), "embed_dim": (1, None), "word_dropout": (0, 0.999),
        "bow_buckets": (0, None), "bow_dropout": (0, 1), "label_smoothing": (0, 0.999),
        "weight_decay": (0, None), "test_frac": (0.001, 0.999), "patience": (1, None),
        "threads": (1, None)}
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        **CommonSettings.CHOICES, "pooling": POOLINGS, "conv_layout": ("parallel", "serial"),
        "tokenizer": ("word", "char")}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ensemble is not None or self.cv_folds is not None:  # the messages with a fix
            check_options({"ensemble": 1 if self.ensemble is None else self.ensemble,
                           "cv_folds": self.cv_folds or 0, "val_frac": 0}, text=False)

# Values of unset settings, by the kind of data (see auto_settings for the shape rules).
SEQUENCE_TABLE = {"batch_size": 16, "lr": 3e-3, "hidden_size": 64, "num_layers": 1,
                  "dropout": 0.3, "bidirectional": False, "layer_norm": False,
                  "pooling": "mean", "conv": True, "conv_layout": "parallel",
                  "label_smoothing": 0.1, "weight_decay": 1e-2, "patience": 15,
                  "ensemble": 1, "cv_folds": 3}
TEXT_TABLE = {"epochs": 12, "batch_size": 32, "lr": 3e-3, "hidden_size": 64, "num_layers": 1,
              "dropout": 0.4, "bidirectional": True, "layer_norm": False, "pooling": "max",
              "embed_dim": 64, "word_dropout": 0.1, "bow_buckets": 2**18, "bow_dropout": 0.5,
              "label_smoothing": 0.0,
              "weight_decay": 1e-2, "val_frac": 0.1, "patience": 3,
              "pretrain_lr": 3e-3, "pretrain_share": 0.25, "pretrain_vocab": 2048,
              "nb_c": 0.1, "cv_folds": 0}
_SMALL = 200  # fewer training sequences than this: no validation split, fixed schedule
_PRETRAIN_TEXTS = 40_000  # text: language-model pretraining reads about this many texts …
_MAX_PRETRAIN_EPOCHS = 10  # … in at most this many epochs
_ENSEMBLE_BELOW = 10_000  # text: average 3 models (+ NB-LR) when there are fewer texts
_NB_WEIGHT = 0.5  # … the NB-weighted logistic regression's share of the average


def auto_settings(cfg: dict[str, Any], ds: SequenceClassData | TextClassData) -> dict[str, Any]:
    """Fill unset (None) settings from the table for the data's kind and shape."""
    text = isinstance(ds, TextClassData)
    table = dict(TEXT_TABLE if text else SEQUENCE_TABLE)
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
        # Without cross-validation (--cv-folds 0): ~300 optimiser steps, the old fixed rule.
        table["epochs"] = int(min(100, max(10, math.ceil(300 / steps_per_epoch))))
    out = dict(cfg)
    for k, v in table.items():
        if out.get(k) is None:
            out[k] = v
    return out


def check_options(cfg: dict[str, Any], text: bool) -> None:
    """One-line errors for settings that cannot work together (before anything is written)."""
    n = cfg["ensemble"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise CLIError(f"--ensemble: expected a positive number of models, got {n!r}. Pass "
                       f"--ensemble 1 for a single model.")
    k = cfg.get("cv_folds")
    if isinstance(k, bool) or not isinstance(k, int) or k < 0 or k == 1:
        raise CLIError(f"--cv-folds: expected 0 (off) or at least 2 folds, got {k!r}. Pass "
                       f"e.g. --cv-folds 3.")
    if not 0 <= cfg["val_frac"] < 1:
        raise CLIError(f"--val-frac: expected 0 <= value < 1, got {cfg['val_frac']}.")
    if text:
        if k:
            raise CLIError(f"--cv-folds: expected numeric sequences (model selection by "
                           f"cross-validation), got text data and {k}. Drop --cv-folds.")
        _check_text_options(cfg)
        return
    if cfg.get("pretrain_epochs"):
        raise CLIError(f"--pretrain-epochs: expected text data (language-model pretraining "
                       f"reads tokens), got numeric sequences and {cfg['pretrain_epochs']}. "
                       f"Drop --pretrain-epochs.")
    if cfg.get("nb_weight"):
        raise CLIError(f"--nb-weight: expected text data (the NB model reads n-grams), got "
                       f"numeric sequences and {cfg['nb_weight']}. Drop --nb-weight.")
    w = cfg.get("rocket_weight")
    if w is not None and (isinstance(w, bool) or not isinstance(w, int | float)
                          or not 0 <= w < 1):
        raise CLIError(f"--rocket-weight: expected 0 <= W < 1, got {w!r}. Pass 0 for the "
                       f"recurrent model alone.")


def _check_text_options(cfg: dict[str, Any]) -> None:
    w, c = cfg["nb_weight"], cfg["nb_c"]
    if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1:
        raise CLIError(f"--nb-weight: expected 0 <= W <= 1, got {w!r}. Pass 0 for the "
                       f"recurrent models alone, e.g. 0.5 to average them with NB-LR.")
    if isinstance(c, bool) or not isinstance(c, int | float) or not c > 0:
        raise CLIError(f"--nb-c: expected a value > 0, got {c!r}. Pass e.g. --nb-c "
                       f"{TEXT_TABLE['nb_c']}.")
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
                           f"{flag} {TEXT_TABLE[key]}.")

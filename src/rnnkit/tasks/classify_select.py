"""Model selection for numeric sequences by stratified k-fold cross-validation on the
training split only, and the ensemble over the folds that it leaves.

For each candidate architecture (:data:`CANDIDATES`) the training split is cut into ``k``
stratified folds; one model per fold is trained on the other folds and predicts the held-out
one (out-of-fold probabilities ``P_c [N, K]``). MiniRocket (:class:`MiniRocketMember`) is
fitted on the same folds (``R [N, K]``). Every pair (candidate ``c``, MiniRocket weight ``w``)
is scored by the out-of-fold accuracy of ``argmax((1 − w)·P_c + w·R)`` (ties: the lower
out-of-fold log-loss, then the earlier candidate, then the smaller ``w``). The winner's ``k``
fold models become the final ensemble (each saw ``(k−1)/k`` of the data), with the MiniRocket
member refitted on the whole training split when ``w > 0``. No test sequence is read here.

Training budget (:func:`budget`): a number of optimiser steps that grows with the data
(``epochs_budget`` epochs, clamped to ``[min_steps, max_steps]``) under a cosine schedule,
stopped early once the training loss has converged (no improvement by ``converge_delta`` for
about ``converge_steps`` steps). Batch size grows with the data too (16 to 64).

Long series are averaged down so that the recurrence sees at most about ``rnn_steps`` steps
(``SequenceClassifierConfig.downsample``); tiny training sets add a candidate with
augmentation (random scaling and jitter).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rnnkit.data import SequenceClassData, pad_collate
from rnnkit.tasks.classify_data import Items
from rnnkit.tasks.classify_models import predict_proba
from rnnkit.tasks.common import CLIError

__all__ = ["CANDIDATES", "Selection", "SelectionSettings", "budget", "select_and_fit",
           "stratified_folds"]

#: Candidate architectures (overrides of the sequence model's config). "cnn-lstm": conv
#: front end feeding the recurrence, attention pooling (the CNN+RNN hybrid); "lstm-fcn": an
#: FCN branch beside the recurrence (Karim et al. 2017), mean pooling; "+aug": augmentation.
CANDIDATES: dict[str, dict[str, Any]] = {
    "cnn-lstm": dict(conv=True, conv_layout="serial", pooling="attention",
                     conv_channels=(64, 64, 64), conv_kernels=(7, 5, 3)),
    "lstm-fcn": dict(conv=True, conv_layout="parallel", pooling="mean",
                     conv_channels=(64, 128, 64), conv_kernels=(8, 5, 3)),
    "cnn-lstm+aug": dict(conv=True, conv_layout="serial", pooling="attention",
                         conv_channels=(64, 64, 64), conv_kernels=(7, 5, 3), augment=True),
}


@dataclass(frozen=True)
class SelectionSettings:
    """How the sequence model is chosen and trained (saved in ``config.json``).

    Args:
        folds: k of the stratified k-fold (lowered to the smallest class's count; < 2: no
            selection, the first candidate trains on everything).
        candidates: names in :data:`CANDIDATES` (``"custom"``: the user's own flags).
        augment_below: add ``"cnn-lstm+aug"`` when there are fewer training sequences.
        rocket_weights: MiniRocket weights tried in the probability average (0: the RNN
            alone).
        rnn_steps: average long series down to about this many steps.
        epochs_budget, min_steps, max_steps: the step budget (see :func:`budget`).
        epochs: a fixed number of epochs instead (the user's ``--epochs``), or None.
        converge_steps, converge_delta: stop once the training loss has not improved by
            ``converge_delta`` for about ``converge_steps`` steps.
        batch_size: None: 16 to 64 by the data's size.
        lr, weight_decay: AdamW.
        seed: fold ``i`` trains with ``seed + i``; the folds are cut with ``seed``.
    """

    folds: int = 3
    candidates: tuple[str, ...] = ("cnn-lstm", "lstm-fcn")
    augment_below: int = 60
    rocket_weights: tuple[float, ...] = (0.0, 0.5)
    rnn_steps: int = 64
    epochs_budget: int = 40
    min_steps: int = 200
    max_steps: int = 1000
    epochs: int | None = None
    converge_steps: int = 80
    converge_delta: float = 1e-3
    batch_size: int | None = None
    lr: float = 3e-3
    weight_decay: float = 1e-2
    seed: int = 0
    custom: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "candidates", tuple(self.candidates))
        object.__setattr__(self, "rocket_weights", tuple(float(w) for w in self.rocket_weights))
        unknown = [c for c in self.candidates if c not in CANDIDATES and c != "custom"]
        if unknown or not self.candidates:
            raise ValueError(f"SelectionSettings: expected candidates among "
                             f"{[*CANDIDATES, 'custom']}, got {list(self.candidates)}.")
        if not self.rocket_weights or not all(0 <= w < 1 for w in self.rocket_weights):
            raise ValueError(f"SelectionSettings: expected rocket weights in [0, 1), got "
                             f"{self.rocket_weights}.")
        for name in ("rnn_steps", "epochs_budget", "min_steps", "max_steps", "converge_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"SelectionSettings: expected {name} >= 1, got "
                                 f"{getattr(self, name)}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Selection:
    """What the selection leaves: the winner, its fold models, MiniRocket, the CV table."""

    winner: str
    rocket_weight: float
    models: list[torch.nn.Module]
    model_config: dict[str, Any]
    rocket: torch.nn.Module | None
    table: list[dict[str, Any]]
    folds: int
    fold_reports: list[dict[str, Any]]


def stratified_folds(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """``k`` disjoint held-out index arrays covering ``y``, class shares kept in each."""
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [held for _, held in skf.split(np.zeros(len(y)), y)]


def budget(n_fit: int, s: SelectionSettings) -> dict[str, int]:
    """``{"batch_size", "epochs", "max_steps", "patience"}`` for ``n_fit`` training
    sequences: ``epochs_budget`` epochs' worth of steps clamped to ``[min_steps,
    max_steps]``; early-stopping patience (training loss) of about ``converge_steps`` steps."""
    bs = s.batch_size or int(min(64, max(16, 2 ** round(math.log2(max(1, n_fit / 10))))))
    spe = math.ceil(n_fit / bs)
    if s.epochs is not None:
        return {"batch_size": bs, "epochs": int(s.epochs), "max_steps": int(s.epochs) * spe,
                "patience": int(s.epochs)}
    steps = int(min(s.max_steps, max(s.min_steps, s.epochs_budget * spe)))
    return {"batch_size": bs, "epochs": math.ceil(steps / spe), "max_steps": steps,
            "patience": max(3, math.ceil(s.converge_steps / spe))}


def _candidate_config(name: str, base: dict[str, Any], s: SelectionSettings,
                      length: int) -> dict[str, Any]:
    from rnnkit.models.sequence_classifier import SequenceClassifierConfig

    over = dict(s.custom) if name == "custom" else dict(CANDIDATES[name])
    over["downsample"] = max(1, math.ceil(length / s.rnn_steps))
    return SequenceClassifierConfig.from_dict({**base, **over}).to_dict()


def _train_fold(mcfg: dict[str, Any], items: Items, seed: int, b: dict[str, int],
                s: SelectionSettings, device: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    from rnnkit.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig
    from rnnkit.training import Trainer, TrainerConfig, seed_everything

    seed_everything(seed)
    model = SequenceClassifier(SequenceClassifierConfig.from_dict(mcfg))
    tc = TrainerConfig(epochs=b["epochs"], max_steps=b["max_steps"], batch_size=b["batch_size"],
                       lr=s.lr, weight_decay=s.weight_decay, schedule="cosine",
                       clip_grad_norm=1.0, seed=seed, progress="none", device=device,
                       checkpoint_dir=None, log_dir=None, monitor="loss",
                       early_stopping_patience=b["patience"],
                       early_stopping_min_delta=s.converge_delta)
    trainer = Trainer(tc, collate_fn=pad_collate)
    history = trainer.fit(model, items)
    last = history[-1] if history else {}
    return model.eval(), {"epochs": len(history), "steps": int(trainer.global_step),
                          "train_loss": round(float(last.get("loss", float("nan"))), 4),
                          "train_acc": round(float(last.get("acc", float("nan"))), 4)}


def _rocket_member(X: np.ndarray, lengths: np.ndarray, y: np.ndarray, k: int, seed: int,
                   length: int):
    from rnnkit.models.rocket import MiniRocketMember

    return MiniRocketMember.fit(X, lengths, y, num_classes=k, seed=seed, length=length)


def _score(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    acc = float((p.argmax(1) == y).mean())
    nll = float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0)).mean())
    return acc, nll


def select_and_fit(s: SelectionSettings, base: dict[str, Any], ds: SequenceClassData,
                   items: Items, device: str = "auto", log=print) -> Selection:
    """Choose the candidate and MiniRocket weight by out-of-fold accuracy on the training
    split (``ds``'s training part and its encoded ``items`` only) and return the winner's
    fold ensemble; see the module docstring."""
    y = np.asarray(ds.y_train)
    K, length = ds.n_classes, int(ds.lengths_train.max())
    counts = np.bincount(y, minlength=K)
    k = int(min(s.folds, counts.min()))
    names = list(s.candidates)
    if len(y) < s.augment_below and "custom" not in names and "cnn-lstm+aug" not in names:
        names.append("cnn-lstm+aug")
    weights = [w for w in s.rocket_weights if w == 0 or _rocket_available()] or [0.0]
    if k < 2:  # a class with one sequence: no folds; the first candidate on everything
        mcfg = _candidate_config(names[0], base, s, length)
        b = budget(len(y), s)
        model, rep = _train_fold(mcfg, items, s.seed, b, s, device)
        return Selection(names[0], 0.0, [model], mcfg, None, [], 1, [rep])
    folds = stratified_folds(y, k, s.seed)
    rocket_oof = np.zeros((len(y), K))
    # MiniRocket sees what the recurrent members see: the run's scaled inputs (its biases are
    # quantiles of the data it is fitted on, so raw-scale fitting would not fit scaled input).
    X, lengths = items.x.numpy(), np.asarray(items.lengths)
    if any(w > 0 for w in weights):
        for f, held in enumerate(folds):
            fit = np.setdiff1d(np.arange(len(y)), held)
            member = _rocket_member(X[fit], lengths[fit], y[fit], K, s.seed + f, length)
            rocket_oof[held] = predict_proba(member, items.subset(held), {})
    table, fitted = [], {}
    for name in names:
        mcfg = _candidate_config(name, base, s, length)
        oof, models, reps = np.zeros((len(y), K)), [], []
        for f, held in enumerate(folds):
            fit = np.setdiff1d(np.arange(len(y)), held)
            b = budget(len(fit), s)
            model, rep = _train_fold(mcfg, items.subset(fit), s.seed + f, b, s, device)
            oof[held] = predict_proba(model, items.subset(held), {})
            models.append(model)
            reps.append({"candidate": name, "fold": f, **b, **rep})
        fitted[name] = (mcfg, models, reps)
        for w in weights:
            acc, nll = _score((1 - w) * oof + w * rocket_oof, y)
            table.append({"candidate": name, "rocket_weight": w, "cv_accuracy": round(acc, 4),
                          "cv_log_loss": round(nll, 4)})
            log(f"  cv {name:<13} rocket {w:.2f}: accuracy {acc:.4f}, log-loss {nll:.4f}")
    best = max(table, key=lambda r: (r["cv_accuracy"], -r["cv_log_loss"],
                                     -names.index(r["candidate"]), -r["rocket_weight"]))
    name, w = best["candidate"], float(best["rocket_weight"])
    mcfg, models, reps = fitted[name]
    rocket = (_rocket_member(X, lengths, y, K, s.seed, length)
              if w > 0 else None)
    all_reps = [r for _, (_, _, rs) in fitted.items() for r in rs]
    return Selection(name, w, models, mcfg, rocket, table, k, all_reps)


def _rocket_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("aeon") is not None


def selection_settings(cfg: dict[str, Any], user: dict[str, Any]) -> SelectionSettings:
    """The :class:`SelectionSettings` of a run from its resolved settings ``cfg``; ``user``
    holds what the user set (``--pooling`` / ``--conv`` / ``--conv-layout`` make a single
    ``custom`` candidate, ``--epochs`` a fixed number of epochs)."""
    custom = {k: cfg[k] for k in ("pooling", "conv", "conv_layout") if user.get(k) is not None}
    if custom:
        custom = {k: cfg[k] for k in ("pooling", "conv", "conv_layout")}
    weights = ((float(cfg["rocket_weight"]),) if cfg.get("rocket_weight") is not None
               else SelectionSettings.rocket_weights)
    try:
        return SelectionSettings(folds=int(cfg["cv_folds"]),
                                 candidates=("custom",) if custom else
                                 SelectionSettings.candidates,
                                 rocket_weights=weights, epochs=user.get("epochs"),
                                 batch_size=user.get("batch_size"),
                                 lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]),
                                 seed=int(cfg["seed"]), custom=custom)
    except ValueError as e:
        raise CLIError(str(e)) from None

"""Classification models of a run: build them from ``config.json``, and predict.

A run's model is one classifier, or a :class:`~rnnkit.models.ensemble.ProbabilityEnsemble`
of ``run["ensemble"]`` of them (text: seeds; sequences: one per cross-validation fold),
plus optionally a last member with its own weight: the NB-weighted logistic regression
(``run["nb"]``, text) or the fitted MiniRocket (``run["rocket"]``, sequences).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rnnkit.data import TextClassData, pad_collate
from rnnkit.tasks.classify_data import Items
from rnnkit.tasks.classify_nb import build_nb

__all__ = ["build_member", "build_model", "ensemble", "model_config", "predict_proba"]


def build_model(run: dict[str, Any]) -> torch.nn.Module:
    """The (untrained) model a run's ``config.json`` describes: one classifier, or an
    ensemble of ``run["ensemble"]`` of them averaging their probabilities, plus the
    NB-weighted logistic regression ``run["nb"]`` or MiniRocket ``run["rocket"]`` (last, with
    its weight) if there is one."""
    n = int(run.get("ensemble") or 1)
    members = [build_member(run) for _ in range(n)]
    if run.get("nb"):
        return ensemble([*members, build_nb(run)], run)
    if run.get("rocket"):
        from rnnkit.models.rocket import MiniRocketConfig, MiniRocketMember

        rocket = MiniRocketMember(MiniRocketConfig.from_dict(run["rocket"]["model"]))
        return ensemble([*members, rocket], run)
    return ensemble(members, run) if n > 1 else members[0]


def ensemble(members: list[torch.nn.Module], run: dict[str, Any]) -> torch.nn.Module:
    """Equal weights for the recurrent members; an NB or MiniRocket member (last) gets the
    weight its settings hold."""
    from rnnkit.models.ensemble import ProbabilityEnsemble

    extra = run.get("nb") or run.get("rocket")
    if not extra:
        return ProbabilityEnsemble(members)
    w, n = float(extra["weight"]), len(members) - 1
    return ProbabilityEnsemble(members, [(1 - w) / n] * n + [w])


def build_member(run: dict[str, Any]) -> torch.nn.Module:
    """One untrained recurrent classifier from ``run["model"]``."""
    if run["kind"] == "text":
        from rnnkit.models.text_classifier import TextClassifier, TextClassifierConfig

        return TextClassifier(TextClassifierConfig.from_dict(run["model"]))
    from rnnkit.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig

    return SequenceClassifier(SequenceClassifierConfig.from_dict(run["model"]))


def model_config(cfg: dict[str, Any], ds, vocab_size: int | None) -> dict[str, Any]:
    """The model's config dict from the resolved settings."""
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


def predict_proba(model: torch.nn.Module, items: Items, cfg: dict[str, Any]) -> np.ndarray:
    """Class probabilities ``[N, K]`` of ``items``."""
    from rnnkit.training import Trainer, TrainerConfig

    tc = TrainerConfig(batch_size=max(64, int(cfg.get("batch_size") or 64)), progress="none",
                       device=cfg.get("device") or "auto")
    return Trainer(tc, collate_fn=pad_collate).predict(model, items).numpy()

"""The text side of classification: ULMFiT-style language-model pretraining of the encoder.

``--pretrain-epochs N`` first trains the embedding and encoder as a bidirectional language
model on all the training texts (labels unused, never the test texts;
:class:`~rnnkit.models.text_classifier.TextEncoderLM`), then every ensemble member is
fine-tuned from those weights. The NB-weighted logistic regression member lives in
:mod:`rnnkit.tasks.classify_nb`, the tokenizer in :mod:`rnnkit.tasks.classify_data`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from rnnkit.data import pad_collate
from rnnkit.tasks.classify_data import Items
from rnnkit.tasks.classify_models import build_member

__all__ = ["pretrain_encoder"]


def pretrain_encoder(cfg: dict[str, Any], run: dict[str, Any], tcfg: Any, texts: Items,
                     ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train a fresh model's embedding and encoder as a bidirectional language model on all
    the training texts (labels unused, never the test texts) with seed ``seed``; returns
    those weights, shared by every ensemble member, and what to report."""
    from rnnkit.models.text_classifier import TextEncoderLM
    from rnnkit.training import Trainer, seed_everything

    seed_everything(cfg["seed"])
    model = build_member(run)
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

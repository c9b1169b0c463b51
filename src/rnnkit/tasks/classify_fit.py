"""Training the members of a classification run with a validation split (texts, and
sequences with ``--cv-folds 0``).

Each ensemble member ``i`` holds out its own stratified validation split (seed
``seed + 1 + 1000·i``; none when ``val_frac`` is 0), trains with seed ``seed + 1000·i``, keeps
its best validation epoch, and checkpoints to ``checkpoints/`` (``checkpoints/member{i}/`` in
an ensemble) so that ``--resume`` continues the member that was interrupted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from rnnkit.data import pad_collate
from rnnkit.tasks.classify_data import Items, stratified_split
from rnnkit.tasks.classify_models import build_member

__all__ = ["fit_member", "member_dir", "member_split", "needs_pretraining"]


def member_split(cfg: dict[str, Any], ds: Any, train: Items, i: int,
                 ) -> tuple[Items, Items | None]:
    """``(fit, validation)`` items of ensemble member ``i``: its own stratified validation
    split (seed ``seed + 1 + 1000·i``), so the members together learn from all the training
    data; no validation split when ``val_frac`` is 0."""
    if cfg["val_frac"] <= 0:
        return train, None
    keep, held = stratified_split(ds.y_train, cfg["val_frac"], cfg["seed"] + 1 + 1000 * i)
    return train.subset(keep), train.subset(held)


def member_dir(n: int, i: int) -> Path:
    """Checkpoint folder of member ``i`` of ``n``, relative to the run directory."""
    return Path("checkpoints") if n == 1 else Path("checkpoints") / f"member{i}"


def needs_pretraining(cfg: dict[str, Any], n: int) -> bool:
    """Whether some member starts from scratch (a resumed member has its own weights)."""
    if not cfg.get("resume"):
        return True
    return any(i > 0 and not (Path(cfg["resume"]) / member_dir(n, i)).is_dir()
               for i in range(n))


def fit_member(i: int, n: int, cfg: dict[str, Any], run: dict[str, Any], tcfg: Any, out: Path,
               train_items: Items, val_items: Items | None,
               encoder: dict[str, torch.Tensor] | None = None,
               ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train ensemble member ``i`` of ``n`` (the only model when ``n == 1``) with seed
    ``seed + 1000·i``, its checkpoints in ``checkpoints/`` (``checkpoints/member{i}/`` in an
    ensemble) and the history plots of member 0, starting from the pretrained ``encoder``
    weights if given; returns the model (best validation epoch) and what to report."""
    from rnnkit.training import Trainer, seed_everything
    from rnnkit.training import load_weights as load_checkpoint

    sub = member_dir(n, i)
    seed = int(cfg["seed"]) + 1000 * i
    mcfg = dataclasses.replace(tcfg, seed=seed, checkpoint_dir=str(out / sub),
                               log_dir=tcfg.log_dir if i == 0 else None)
    seed_everything(seed)
    model = build_member(run)
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

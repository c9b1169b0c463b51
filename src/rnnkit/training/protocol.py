"""The model protocol: how the trainer talks to any ``nn.Module``, and batch helpers.

A model may define (all optional):

* ``training_step(batch) -> loss | (loss, logs) | {"loss": loss, **logs}``, or, when
  ``TrainerConfig.tbptt_steps`` or ``stateful`` is set, ``training_step(batch, state) ->
  (loss, logs, new_state)`` called on consecutive time chunks; ``state`` is None at the start
  of a sequence (and of every batch unless ``stateful``) and is detached between calls.
* ``validation_step(batch)`` (same return forms) used by ``evaluate``; without it,
  ``training_step`` runs under ``torch.no_grad()``.
* ``predict_step(batch) -> Tensor [B, ...]`` used by ``predict``; without it ``model(x)``.
* ``chunk(batch, start, stop) -> batch``: the time slice ``[start, stop)`` for TBPTT; without
  it :func:`default_chunk` slices the documented batch layout.

Without ``training_step`` the trainer needs ``loss_fn``: batch ``(x, y, ...)``, loss =
``loss_fn(model(x), y)`` (if ``model(x)`` returns a tuple, e.g. ``(output, state)``, the first
element is the prediction). ``logs`` values are floats or 0-d tensors, averaged over batches
weighted by batch size.

Batch layout (for the defaults): a :class:`~rnnkit.data.collate.PaddedBatch`, a tuple/list,
a dict or a tensor; batch-first tensors ``[B, T, ...]``. The batch size is dim 0 of the first
tensor; the time length T is dim 1 of the first tensor with at least 2 dims.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from rnnkit.data.collate import PaddedBatch

__all__ = [
    "StepModule",
    "batch_size_of",
    "default_chunk",
    "detach_state",
    "move_to_device",
    "normalize_step_output",
    "seq_len_of",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _tensors(batch: Any) -> list[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        return [batch]
    if isinstance(batch, dict):
        return [v for v in batch.values() if isinstance(v, torch.Tensor)]
    if isinstance(batch, list | tuple):
        return [v for v in batch if isinstance(v, torch.Tensor)]
    return []


def batch_size_of(batch: Any) -> int:
    """B: dim 0 of the first tensor of ``batch`` (1 if it holds no tensor)."""
    ts = _tensors(batch)
    return int(ts[0].shape[0]) if ts and ts[0].dim() > 0 else 1


def seq_len_of(batch: Any) -> int:
    """T: dim 1 of the first tensor with at least 2 dims."""
    for t in _tensors(batch):
        if t.dim() >= 2:
            return int(t.shape[1])
    raise ValueError(
        "Trainer: truncated BPTT needs a time dimension, but the batch has no tensor with "
        "shape [B, T, ...]. Use batch-first tensors or define model.chunk(batch, start, stop)."
    )


def default_chunk(batch: Any, start: int, stop: int) -> Any:
    """Time slice ``[start, stop)`` of a batch.

    Every tensor of shape ``[B, T, ...]`` (dim 1 equal to the batch's T) is sliced along dim 1;
    other values pass unchanged. Lengths (``PaddedBatch.lengths`` or a dict's ``"lengths"``)
    become chunk-local: ``clamp(lengths - start, 0, stop - start)``, so a sequence that ended
    earlier has length 0 in later chunks and (by rnnkit's masking rule) keeps its state.
    """
    T = seq_len_of(batch)

    def cut(v: Any) -> Any:
        if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[1] == T:
            return v[:, start:stop]
        return v

    def local(lengths: torch.Tensor) -> torch.Tensor:
        return (lengths - start).clamp(0, stop - start)

    if isinstance(batch, PaddedBatch):
        return PaddedBatch(cut(batch.inputs), cut(batch.targets), local(batch.lengths))
    if isinstance(batch, dict):
        return {k: local(v) if k == "lengths" else cut(v) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(cut(v) for v in batch)
    return cut(batch)


def detach_state(state: Any) -> Any:
    """Detach every tensor in a nested state (tensor, tuple, list, dict or object with
    ``detach()``) so the next chunk's backward stops here."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    if isinstance(state, list | tuple):
        vals = [detach_state(v) for v in state]
        return type(state)(*vals) if hasattr(state, "_fields") else type(state)(vals)
    if state is not None and hasattr(state, "detach"):
        return state.detach()
    return state


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Copy a nested batch to ``device``; lengths (``PaddedBatch.lengths``, ``"lengths"``) stay
    on CPU as ``pack_padded_sequence`` wants."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, PaddedBatch):
        return PaddedBatch(move_to_device(batch.inputs, device),
                           move_to_device(batch.targets, device), batch.lengths)
    if isinstance(batch, dict):
        return {k: v if k == "lengths" else move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        vals = [move_to_device(v, device) for v in batch]
        return type(batch)(*vals) if hasattr(batch, "_fields") else type(batch)(vals)
    return batch


def normalize_step_output(out: Any, where: str) -> tuple[torch.Tensor, dict[str, Any], Any]:
    """``loss`` | ``(loss, logs)`` | ``(loss, logs, state)`` | ``{"loss": ..}`` →
    ``(loss, logs, state)``."""
    if isinstance(out, torch.Tensor):
        return out, {}, None
    if isinstance(out, dict) and "loss" in out:
        return out["loss"], {k: v for k, v in out.items() if k != "loss"}, None
    if isinstance(out, tuple) and len(out) in (2, 3) and isinstance(out[0], torch.Tensor):
        logs = dict(out[1] or {})
        return out[0], logs, out[2] if len(out) == 3 else None
    raise TypeError(
        f"{where}: expected a loss tensor, (loss, logs), (loss, logs, state) or a dict with "
        f"'loss', got {type(out).__name__}. See docs/training.md for the model protocol."
    )


def _xy(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, dict):
        return batch["inputs"], batch.get("targets")
    if isinstance(batch, list | tuple) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TypeError(
        "Trainer: without model.training_step the batch must be (x, y, ...) or a dict with "
        f"'inputs' and 'targets', got {type(batch).__name__}. Define training_step or change "
        "the collate function."
    )


class StepModule(nn.Module):
    """Wraps a model so that a whole training/validation step is one ``forward`` call; this is
    what ``DistributedDataParallel`` wraps, so its gradient hooks see every step.

    Args:
        model: the user's module.
        loss_fn: ``loss_fn(prediction, target)``, used when the model has no ``training_step``.
        metrics: ``{name: fn(prediction, target) -> number}`` for the ``loss_fn`` path.
    """

    def __init__(
        self, model: nn.Module, loss_fn: LossFn | None = None,
        metrics: dict[str, Callable[[Any, Any], Any]] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn
        self.metrics = dict(metrics or {})

    def forward(self, kind: str, batch: Any, state: Any = None, stateful: bool = False) -> Any:
        m = self.model
        if kind == "val" and hasattr(m, "validation_step"):
            return normalize_step_output(m.validation_step(batch), "validation_step")
        if hasattr(m, "training_step"):
            out = m.training_step(batch, state) if stateful else m.training_step(batch)
            loss, logs, new_state = normalize_step_output(out, "training_step")
            if stateful and not (isinstance(out, tuple) and len(out) == 3):
                raise TypeError(
                    "training_step(batch, state): with tbptt_steps or stateful set, expected "
                    "(loss, logs, new_state), got a value without a state."
                )
            return loss, logs, new_state
        if stateful:
            raise TypeError(
                f"Trainer: tbptt_steps/stateful need {type(m).__name__}.training_step(batch, "
                "state) -> (loss, logs, new_state); a loss_fn cannot carry state."
            )
        if self.loss_fn is None:
            raise TypeError(
                f"Trainer: {type(m).__name__} has no training_step, so pass "
                "loss_fn=... (e.g. torch.nn.functional.cross_entropy) to fit/evaluate."
            )
        x, y = _xy(batch)
        pred = m(x)
        if isinstance(pred, tuple):
            pred = pred[0]
        logs = {name: fn(pred.detach(), y) for name, fn in self.metrics.items()}
        return self.loss_fn(pred, y), logs, None

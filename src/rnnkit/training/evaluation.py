"""The loops behind ``Trainer.evaluate``/``predict`` and the truncated-BPTT chunk loop.

Truncated BPTT (``run_tbptt``): a batch of length T is cut into chunks ``[0,k), [k,2k), ...``
(``model.chunk`` or :func:`~rnnkit.training.protocol.default_chunk`); each chunk runs
``training_step(chunk, state)``, is back-propagated (and, per the accumulation setting,
followed by an optimiser step), and its new state is detached before the next chunk, so
gradients flow through at most k steps while the state flows through the whole sequence.
With k >= T it is exactly full BPTT.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .distributed import DistContext
from .loaders import build_eval_loader
from .protocol import (
    StepModule,
    batch_size_of,
    default_chunk,
    detach_state,
    move_to_device,
    seq_len_of,
)

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["evaluate_model", "predict_model", "run_tbptt"]

MicroStep = Callable[[Any, Any], tuple[float, dict[str, float], Any]]


def run_tbptt(model: nn.Module, batch: Any, state: Any, k: int | None,
              micro_step: MicroStep) -> tuple[float, dict[str, float], Any]:
    """Run ``micro_step(chunk, state)`` over the k-step chunks of ``batch``.

    Args:
        model: supplies ``chunk(batch, start, stop)`` if it defines it.
        batch: batch-first batch of time length T.
        state: initial state (None: the model's zero state).
        k: chunk length (None: one chunk of length T).
        micro_step: the per-chunk step returning ``(loss, logs, new_state)``.

    Returns:
        ``(mean chunk loss, mean chunk logs, final detached state)``.
    """
    chunk_fn = getattr(model, "chunk", None) or default_chunk
    T = seq_len_of(batch)
    k = k or T
    losses, sums = [], {}
    for start in range(0, T, k):
        loss, logs, state = micro_step(chunk_fn(batch, start, min(start + k, T)), state)
        state = detach_state(state)
        losses.append(loss)
        for key, v in logs.items():
            sums[key] = sums.get(key, 0.0) + v
    n = max(len(losses), 1)
    return sum(losses) / n, {key: v / n for key, v in sums.items()}, state


def evaluate_model(step: StepModule, data: Any, trainer: Trainer) -> dict[str, float]:
    """Batch-size-weighted means of the loss and logs over ``data`` (see ``Trainer.evaluate``)."""
    cfg, model = trainer.config, step.model
    chunked = (cfg.tbptt_steps is not None or cfg.stateful) and not hasattr(
        model, "validation_step")
    was_training = model.training
    step.eval()
    sums: dict[str, float] = {}
    count = 0
    state: Any = None
    try:
        with torch.no_grad():
            for batch in build_eval_loader(data, cfg, trainer.dist, trainer.collate_fn):
                batch = move_to_device(batch, trainer.device)
                n = batch_size_of(batch)
                if chunked:
                    def micro(b: Any, s: Any) -> tuple[float, dict[str, float], Any]:
                        loss, logs, ns = step("val", b, s, stateful=True)
                        return float(loss), {k: float(v) for k, v in logs.items()}, ns

                    carry = state if cfg.stateful and n == cfg.batch_size else None
                    loss, logs, state = run_tbptt(model, batch, carry, cfg.tbptt_steps, micro)
                else:
                    loss_t, logs_t, _ = step("val", batch)
                    loss, logs = float(loss_t), {k: float(v) for k, v in logs_t.items()}
                for key, v in {"loss": loss, **logs}.items():
                    sums[key] = sums.get(key, 0.0) + v * n
                count += n
    finally:
        model.train(was_training)
    return _combine(sums, count, trainer.dist)


def _combine(sums: dict[str, float], count: int, dist: DistContext) -> dict[str, float]:
    if dist.enabled:
        import torch.distributed as tdist

        parts: list[Any] = [None] * dist.world_size
        tdist.all_gather_object(parts, (sums, count))
        sums, count = {}, 0
        for s, c in parts:
            for key, v in s.items():
                sums[key] = sums.get(key, 0.0) + v
            count += c
    if count == 0:
        raise ValueError("Trainer.evaluate: the data yielded no batches.")
    return {key: v / count for key, v in sums.items()}


def _inputs(batch: Any) -> Any:
    if isinstance(batch, dict):
        return batch["inputs"]
    if isinstance(batch, list | tuple):
        return batch[0]
    return batch


def _cat(outs: list[torch.Tensor]) -> torch.Tensor:
    if not outs:
        raise ValueError("Trainer.predict: the data yielded no batches.")
    shape = [max(o.shape[d] for o in outs) for d in range(1, outs[0].dim())]
    padded = []
    for o in outs:
        pad: list[int] = []
        for d in reversed(range(1, o.dim())):
            pad += [0, shape[d - 1] - o.shape[d]]
        padded.append(torch.nn.functional.pad(o, pad) if any(pad) else o)
    return torch.cat(padded, dim=0)


def predict_model(model: nn.Module, data: Any, trainer: Trainer) -> torch.Tensor:
    """Concatenated ``predict_step``/``model(x)`` outputs over ``data`` (``Trainer.predict``)."""
    was_training = model.training
    model.eval()
    outs = []
    try:
        with torch.no_grad():
            for batch in build_eval_loader(data, trainer.config, DistContext(),
                                           trainer.collate_fn):
                batch = move_to_device(batch, trainer.device)
                if hasattr(model, "predict_step"):
                    out = model.predict_step(batch)
                else:
                    out = model(_inputs(batch))
                if isinstance(out, tuple):
                    out = out[0]
                outs.append(out.detach().to("cpu"))
    finally:
        model.train(was_training)
    return _cat(outs)

"""Masking helpers for right-padded batches.

Conventions (decided once, used everywhere): sequences are right-padded; a step ``t`` of
sequence ``b`` is valid when ``t < lengths[b]``; padded steps do not update the state and
produce zero outputs; the reverse direction of sequence ``b`` starts at step ``lengths[b]-1``.
This is exactly what ``torch.nn.utils.rnn.pack_padded_sequence`` gives.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["lengths_to_mask", "reverse_padded"]


def lengths_to_mask(lengths: Tensor, max_len: int, device: torch.device | None = None) -> Tensor:
    """Boolean validity mask.

    Args:
        lengths: (B,) integer lengths.
        max_len: T, the padded length.

    Returns:
        (B, T) bool, ``mask[b, t] = t < lengths[b]``.
    """
    device = device if device is not None else lengths.device
    steps = torch.arange(max_len, device=device)
    return steps.unsqueeze(0) < lengths.to(device).unsqueeze(1)


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence's valid part in time, leaving the padding where it is.

    ``y[b, t] = x[b, lengths[b] - 1 - t]`` for ``t < lengths[b]`` and ``y[b, t] = x[b, t]``
    otherwise. The operation is its own inverse.

    Args:
        x: (B, T, *) batch-first tensor.
        lengths: (B,) lengths, or None for equal lengths (a plain flip).
    """
    if lengths is None:
        return x.flip(1)
    B, T = x.shape[0], x.shape[1]
    steps = torch.arange(T, device=x.device).unsqueeze(0).expand(B, T)
    lens = lengths.to(x.device).unsqueeze(1)
    idx = torch.where(steps < lens, lens - 1 - steps, steps)
    idx = idx.view(B, T, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, idx)

"""Recurrent regularisers, sampled once per call so every kernel sees the same randomness.

* Variational (recurrent) dropout, Gal & Ghahramani 2016: one mask per sequence on
  ``h_{t-1}`` where it enters the recurrent product, ``m ~ Bernoulli(1-p) / (1-p)``.
* Zoneout, Krueger et al. 2017: each state unit keeps its previous value with probability p,
  ``s_t = d_t ⊙ s_{t-1} + (1 - d_t) ⊙ s̃_t`` with ``d_t ~ Bernoulli(p)`` in training and
  ``d_t = p`` (the expectation) in evaluation. The training masks are bool tensors (one byte
  per element, a quarter of a float32 mask: they are (T, B, S), as large as the output).

Masks are drawn from torch's global generator in a fixed order (recurrent dropout, then
zoneout per state tensor), so a seed fixes them whichever kernel runs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["bernoulli_mask", "check_probability", "recurrent_dropout_mask", "zoneout_weights"]


def check_probability(where: str, name: str, p: float) -> float:
    """Validate a drop/zone probability in [0, 1)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{where}: expected {name} in [0, 1), got {p!r}. "
                         f"Use a probability such as {name}=0.1 (0 disables it).")
    return float(p)


def recurrent_dropout_mask(p: float, batch: int, size: int, ref: Tensor,
                           training: bool) -> Tensor | None:
    """(B, size) scaled Bernoulli keep-mask, or None when inactive."""
    if not training or p == 0.0:
        return None
    keep = torch.empty(batch, size, device=ref.device, dtype=ref.dtype).bernoulli_(1.0 - p)
    return keep / (1.0 - p)


def zoneout_weights(p: float, steps: int, batch: int, sizes: tuple[int, ...], ref: Tensor,
                    training: bool) -> tuple | None:
    """Keep-old weights per state tensor: (T, B, S_k) bool Bernoulli(p) masks (on ``ref``'s
    device), or p in evaluation."""
    if p == 0.0:
        return None
    if not training:
        return tuple(p for _ in sizes)
    return tuple(bernoulli_mask((steps, batch, s), p, ref, torch.bool) for s in sizes)


def bernoulli_mask(shape: tuple[int, ...], p: float, ref: Tensor,
                   dtype: torch.dtype | None = None) -> Tensor:
    """A 0/1 mask of ``shape`` (``dtype``, default ``ref``'s; ``ref``'s device), each entry 1
    with probability p.

    T·B·S draws per state tensor per call make the generator's cost visible. On CPU the mask
    compares 15-bit integers, four per 64-bit draw of torch's generator, with round(p · 2^15):
    2.4× faster than ``rand() < p`` (B=64 T=100 H=256: 1.55 vs 3.7 ms; ``bernoulli_`` 8 ms),
    with p resolved to 2^-15 (|p̃ - p| <= 1.5e-5). Elsewhere ``rand() < p``. Both follow
    ``torch.manual_seed``."""
    if ref.device.type != "cpu":
        return (torch.rand(shape, device=ref.device) < p).to(dtype or ref.dtype)
    n = math.prod(shape)
    # random_() on int64 draws 63 uniform bits: masking each 16-bit quarter to 15 bits leaves
    # four uniform 15-bit integers per draw
    bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_().view(torch.int16)[:n]
    out = torch.empty(shape, dtype=dtype or ref.dtype)
    return torch.lt(bits.bitwise_and_(0x7FFF).view(shape), round(p * 32768), out=out)

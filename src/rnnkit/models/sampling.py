"""Choosing the next token from logits: temperature, top-k and nucleus (top-p) sampling.

Given logits ``z`` of shape ``(B, V)`` the sampling distribution is

    p_i ∝ exp(z_i / τ)                       (temperature τ > 0; τ = 0 means greedy argmax)

restricted first to the ``k`` largest logits (top-k), then to the smallest set of tokens, taken
in decreasing probability, whose total probability reaches ``p`` (the nucleus, top-p; the most
likely token is always kept), and renormalised.

Example:
    >>> g = torch.Generator().manual_seed(0)
    >>> next_ids = sample_next(logits, temperature=0.8, top_k=40, top_p=0.95, generator=g)  # (B,)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["check_sampling", "filter_logits", "sample_next"]


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Validate sampling settings (``ValueError`` with the fix)."""
    if not (isinstance(temperature, int | float) and math.isfinite(temperature)
            and temperature >= 0):
        raise ValueError(f"generate: expected temperature >= 0 (0 = greedy), got {temperature!r}. "
                         "Pass e.g. --temperature 0.8.")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"generate: expected top_k >= 1 or None, got {top_k!r}. "
                         "Pass e.g. --top-k 40, or leave it out.")
    if top_p is not None and not (isinstance(top_p, int | float) and 0 < top_p <= 1):
        raise ValueError(f"generate: expected 0 < top_p <= 1 or None, got {top_p!r}. "
                         "Pass e.g. --top-p 0.9, or leave it out.")


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Set every logit outside the top-k and the top-p nucleus to ``-inf``.

    Args:
        logits: ``(B, V)`` (already divided by the temperature).
        top_k: keep the ``k`` largest logits per row (ties at the k-th value are kept).
        top_p: keep the smallest prefix of tokens sorted by probability whose mass is ``>= p``.

    Returns:
        ``(B, V)`` logits with the excluded entries at ``-inf``; at least one entry survives.
    """
    out = logits.clone()
    if top_k is not None and top_k < out.shape[-1]:
        kth = torch.topk(out, top_k, dim=-1).values[..., -1:]
        out = out.masked_fill(out < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(out, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = torch.cumsum(probs, dim=-1) - probs
        drop_sorted = mass_before >= top_p  # the token that crosses p is kept; index 0 always
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        out = out.masked_fill(drop, float("-inf"))
    return out


def sample_next(logits: Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None,
                banned: list[int] | None = None) -> Tensor:
    """Draw one token id per row of ``logits`` ``(B, V)``; returns ``(B,)`` int64.

    ``temperature=0`` (or ``top_k=1``) is greedy: the argmax, no randomness used.
    ``banned`` ids (e.g. ``<pad>``) are never drawn.
    """
    check_sampling(temperature, top_k, top_p)
    logits = logits.detach().float()
    if banned:
        logits = logits.clone()
        logits[:, banned] = float("-inf")
    if temperature == 0 or top_k == 1:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits / temperature, top_k, top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)

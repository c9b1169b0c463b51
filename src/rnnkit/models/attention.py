"""Attention of a decoder query over encoder states, with a padding mask on the source.

Score functions (``ATTENTION_KINDS``), for a query ``q`` (decoder state, size Q) and keys
``k_s`` (encoder outputs, size K):

* ``dot``      (Luong):    ``e_s = qᵀ k_s``                       (needs Q == K)
* ``general``  (Luong):    ``e_s = qᵀ W k_s``                     (W: Q × K)
* ``additive`` (Bahdanau): ``e_s = vᵀ tanh(W_q q + W_k k_s)``     (attention size A)

Weights ``α_s = softmax_s(e_s)`` over the valid source positions only: ``α_s = 0`` where
``mask[b, s]`` is False and ``Σ_s α_s = 1`` over the rest. The context is ``c = Σ_s α_s k_s``.

The key-side projections do not depend on the query, so :meth:`Attention.prepare` computes
them once per source sentence and every decoding step reuses them.

Shapes: B batch, S source steps, T query steps, Q query size, K key size.

Example:
    >>> att = Attention("general", query_size=32, key_size=64)
    >>> mem = att.prepare(keys, mask)                       # keys [B, S, 64], mask [B, S]
    >>> context, alpha = att(q, mem)                        # q [B, 32] → [B, 64], [B, S]
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

__all__ = ["ATTENTION_KINDS", "Attention", "AttentionMemory", "masked_softmax"]

ATTENTION_KINDS = ("dot", "general", "additive")


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the last dim where ``mask`` is True; exactly 0 elsewhere.

    Args: scores [..., S]; mask [..., S] bool (broadcastable). Rows with no valid entry give 0.
    """
    scores = scores.masked_fill(~mask, float("-inf"))
    alpha = torch.softmax(scores, dim=-1)
    return alpha.masked_fill(~mask, 0.0)


class AttentionMemory(NamedTuple):
    """What a decoder attends over: ``keys`` [B, S, K], ``proj`` (the key-side projection,
    [B, S, Q] for ``general``, [B, S, A] for ``additive``, ``keys`` for ``dot``), ``mask``
    [B, S] bool (True on valid source steps)."""

    keys: Tensor
    proj: Tensor
    mask: Tensor

    def index_select(self, index: Tensor) -> AttentionMemory:
        """Rows ``index`` of the batch (beam search expands and reorders with this)."""
        return AttentionMemory(*(t.index_select(0, index) for t in self))


class Attention(nn.Module):
    """Masked attention ``(q, memory) -> (context, α)``; see the module docstring.

    Args:
        kind: ``dot``, ``general`` or ``additive``.
        query_size: Q. key_size: K. attention_size: A for ``additive`` (default Q).
    """

    def __init__(self, kind: str, query_size: int, key_size: int,
                 attention_size: int | None = None) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"Attention: expected kind in {list(ATTENTION_KINDS)}, got "
                             f"{kind!r}. Pass --attention dot, general or additive.")
        if kind == "dot" and query_size != key_size:
            raise ValueError(f"Attention: expected query_size == key_size for 'dot', got "
                             f"{query_size} and {key_size}. Use 'general' (a learned W) or make "
                             f"the decoder as wide as the encoder output.")
        self.kind, self.query_size, self.key_size = kind, query_size, key_size
        if kind == "general":
            self.W = nn.Linear(key_size, query_size, bias=False)
        elif kind == "additive":
            size = attention_size or query_size
            self.W_k = nn.Linear(key_size, size, bias=True)
            self.W_q = nn.Linear(query_size, size, bias=False)
            self.v = nn.Linear(size, 1, bias=False)

    def prepare(self, keys: Tensor, mask: Tensor) -> AttentionMemory:
        """Project the keys once. keys [B, S, K]; mask [B, S] bool."""
        if keys.dim() != 3 or keys.shape[2] != self.key_size:
            raise ValueError(f"Attention: expected keys of shape (B, S, {self.key_size}), got "
                             f"{tuple(keys.shape)}.")
        if mask.shape != keys.shape[:2]:
            raise ValueError(f"Attention: expected mask of shape {tuple(keys.shape[:2])}, got "
                             f"{tuple(mask.shape)}.")
        if self.kind == "general":
            proj = self.W(keys)
        elif self.kind == "additive":
            proj = self.W_k(keys)
        else:
            proj = keys
        return AttentionMemory(keys, proj, mask.bool())

    def scores(self, query: Tensor, memory: AttentionMemory) -> Tensor:
        """Raw scores ``e``: query [B, T, Q] → [B, T, S]."""
        if self.kind == "additive":
            hidden = torch.tanh(self.W_q(query).unsqueeze(2) + memory.proj.unsqueeze(1))
            return self.v(hidden).squeeze(-1)
        return torch.bmm(query, memory.proj.transpose(1, 2))

    def forward(self, query: Tensor, memory: AttentionMemory) -> tuple[Tensor, Tensor]:
        """query [B, Q] (one step) or [B, T, Q] (all steps) → context [B, (T,) K], α [B, (T,) S]."""
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query
        if q.dim() != 3 or q.shape[2] != self.query_size:
            raise ValueError(f"Attention: expected query of shape (B, {self.query_size}) or "
                             f"(B, T, {self.query_size}), got {tuple(query.shape)}.")
        alpha = masked_softmax(self.scores(q, memory), memory.mask.unsqueeze(1))
        context = torch.bmm(alpha, memory.keys)
        if single:
            return context.squeeze(1), alpha.squeeze(1)
        return context, alpha

    def extra_repr(self) -> str:
        return f"{self.kind}, query_size={self.query_size}, key_size={self.key_size}"

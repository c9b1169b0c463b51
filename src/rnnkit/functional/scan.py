"""First-order linear-recurrence scans: ``h_t = a_t ⊙ h_{t-1} + b_t`` over all T at once.

Two forms of the same recurrence, both with ragged lengths, an initial state and either
direction:

* ``linear_scan`` (linear space, any sign of ``a`` and ``b``): the sequence is cut into chunks
  of C steps; all chunks are scanned at once (C vectorised steps, each over B·(T/C)·F values),
  then the chunk-end states are carried by the same scan one level up (recursively) and added
  back, ``h_t = A_t ⊙ carry + local_t`` with ``A_t`` the within-chunk product of ``a``. Work is
  O(T), depth O(C + T/C). Its backward is an ``autograd.Function``: the backward of a linear
  scan is a reverse linear scan (below), itself differentiable (gradgradcheck passes).
* ``log_scan`` (log space, Heinsen 2023), for ``a > 0``, ``b > 0`` given as logs::

      a*_t = Σ_{s≤t} log a_s,     log h_t = a*_t + logcumsumexp_{s≤t}(log b_s − a*_s)

  chunked over T (default C = 64) so that ``a*`` stays small and fp32 keeps its precision
  (the error of ``log h_t`` grows like ``|a*_t|·eps``), with the chunk carry and the initial
  state (any sign) added in linear space. Gradients by autograd.

Backward of the linear scan, with ``g_t = ∂L/∂h_t`` (total)::

    ∂L/∂b_t = g_t + a_{t+1} ⊙ ∂L/∂b_{t+1}      (a reverse linear scan)
    ∂L/∂a_t = ∂L/∂b_t ⊙ h_{t-1},   ∂L/∂h_0 = a_1 ⊙ ∂L/∂b_1

Masking (right padding, the package convention): padded steps use ``a = 1, b = 0`` so the state
is carried unchanged, outputs there are zero, the final state is each sequence's last valid
step, and ``reverse=True`` starts at each sequence's last valid step.

Shapes: B batch, T time, F any trailing feature shape (``(H,)`` usually).

On a CPU the scan is memory-bound; measured speeds are in ``rnnkit.bench.parallel``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rnnkit.functional.masking import lengths_to_mask, reverse_padded

__all__ = ["linear_scan", "log_scan", "scan_reference"]


def scan_reference(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """The plain loop ``h_t = a_t ⊙ h_{t-1} + b_t`` (h_{-1} = h0 or 0): the slow twin.

    Args: a, b (B, T, *F); h0 (B, *F) or None. Returns h (B, T, *F).
    """
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    out = []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def _chunk_size(T: int) -> int:
    return max(8, int(math.sqrt(T)))


def _scan_core(a: Tensor, b: Tensor) -> Tensor:
    """No-grad chunked scan with zero initial state; ``a``, ``b`` (B, T, F) -> h (B, T, F)."""
    B, T, F = b.shape
    if T <= 32:
        h, out = torch.zeros_like(b[:, 0]), torch.empty_like(b)
        for t in range(T):
            h = torch.addcmul(b[:, t], a[:, t], h)
            out[:, t] = h
        return out
    C = _chunk_size(T)
    n = -(-T // C)
    pad = n * C - T
    if pad:
        a = torch.cat([a, a.new_ones(B, pad, F)], 1)
        b = torch.cat([b, b.new_zeros(B, pad, F)], 1)
    A = a.reshape(B, n, C, F).clone()
    h = b.reshape(B, n, C, F).clone()
    for t in range(1, C):  # all chunks at once: within-chunk state and product of a
        h[:, :, t].addcmul_(A[:, :, t], h[:, :, t - 1])
        A[:, :, t].mul_(A[:, :, t - 1])
    if n > 1:  # chunk-end states carried one level up, by the same scan
        carry = _scan_core(A[:, :, -1], h[:, :, -1])
        h[:, 1:].addcmul_(A[:, 1:], carry[:, :-1].unsqueeze(2))
    return h.reshape(B, n * C, F)[:, :T]


class _LinearScan(torch.autograd.Function):
    """``h = scan(a, b, h0)`` with the reverse-scan backward (a, b (B, T, F); h0 (B, F))."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor | None) -> Tensor:
        with torch.no_grad():
            if h0 is not None:
                b = torch.cat([(b[:, 0] + a[:, 0] * h0).unsqueeze(1), b[:, 1:]], 1)
            h = _scan_core(a.contiguous(), b.contiguous())
        ctx.has_h0 = h0 is not None
        ctx.save_for_backward(a, h, h0 if h0 is not None else h.new_zeros(()))
        return h

    @staticmethod
    def backward(ctx, gh: Tensor):
        a, h, h0 = ctx.saved_tensors
        a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], 1)
        gb = _LinearScan.apply(a_next.flip(1), gh.flip(1), None).flip(1)
        h_prev0 = h0.expand_as(h[:, 0]) if ctx.has_h0 else torch.zeros_like(h[:, 0])
        h_prev = torch.cat([h_prev0.unsqueeze(1), h[:, :-1]], 1)
        ga = gb * h_prev
        gh0 = a[:, 0] * gb[:, 0] if ctx.has_h0 else None
        return ga, gb, gh0


def _prepare(name: str, a: Tensor, b: Tensor, h0: Tensor | None, lengths: Tensor | None):
    if a.shape != b.shape or a.dim() < 2:
        raise ValueError(f"{name}: expected a and b of the same shape (B, T, *F), got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}.")
    if h0 is not None and (h0.shape[0] != b.shape[0] or h0.shape[1:] != b.shape[2:]):
        raise ValueError(f"{name}: expected h0 of shape {(b.shape[0], *b.shape[2:])}, got "
                         f"{tuple(h0.shape)}.")
    mask = None
    if lengths is not None:
        mask = lengths_to_mask(lengths, b.shape[1], b.device)
        mask = mask.view(*mask.shape, *([1] * (b.dim() - 2)))
    return mask


def linear_scan(a: Tensor, b: Tensor, h0: Tensor | None = None, lengths: Tensor | None = None,
                reverse: bool = False) -> tuple[Tensor, Tensor]:
    """Parallel (chunked) scan of ``h_t = a_t ⊙ h_{t-1} + b_t`` in linear space.

    Args:
        a: (B, T, *F) decay, any sign. b: (B, T, *F) input. h0: (B, *F) initial state or None
            (zeros). lengths: (B,) valid lengths (right padding) or None. reverse: run each
            sequence from its last valid step to its first.

    Returns:
        (h (B, T, *F) with zeros at padded steps, h_last (B, *F): each sequence's final state).

    Example:
        >>> a, b = torch.rand(2, 100, 8), torch.randn(2, 100, 8)
        >>> h, h_T = linear_scan(a, b, lengths=torch.tensor([100, 37]))
    """
    mask = _prepare("linear_scan", a, b, h0, lengths)
    if reverse:
        a, b = reverse_padded(a, lengths), reverse_padded(b, lengths)
    if mask is not None:
        a = torch.where(mask, a, torch.ones_like(a))
        b = torch.where(mask, b, torch.zeros_like(b))
    shape = b.shape
    flat = (shape[0], shape[1], -1)
    h0f = None if h0 is None else h0.reshape(shape[0], -1)
    h = _LinearScan.apply(a.reshape(flat), b.reshape(flat), h0f).reshape(shape)
    return _finish(h, mask, lengths, reverse)


def _finish(h: Tensor, mask: Tensor | None, lengths: Tensor | None, reverse: bool):
    h_last = h[:, -1]
    if mask is not None:
        h = h * mask.to(h.dtype)
    if reverse:
        h = reverse_padded(h, lengths)
    return h, h_last


def log_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None,
             lengths: Tensor | None = None, reverse: bool = False,
             chunk: int = 64) -> tuple[Tensor, Tensor]:
    """Log-space scan (Heinsen 2023) of ``h_t = a_t ⊙ h_{t-1} + b_t`` for ``a, b > 0``.

    Args:
        log_a: (B, T, *F) log of the decay (≤ 0 keeps it well conditioned). log_b: (B, T, *F)
            log of the (positive) input. h0: (B, *F) initial state of any sign, or None.
            lengths, reverse: as ``linear_scan``. chunk: steps per log-space block; the carry
            between blocks is linear.

    Returns:
        (h (B, T, *F) zero at padded steps, h_last (B, *F)).

    Example:
        >>> z = torch.randn(2, 50, 4)
        >>> h, _ = log_scan(-torch.nn.functional.softplus(z), -torch.nn.functional.softplus(-z))
    """
    mask = _prepare("log_scan", log_a, log_b, h0, lengths)
    if reverse:
        log_a, log_b = reverse_padded(log_a, lengths), reverse_padded(log_b, lengths)
    neg = torch.finfo(log_b.dtype).min / 8
    if mask is not None:
        log_a = torch.where(mask, log_a, torch.zeros_like(log_a))
        log_b = torch.where(mask, log_b, torch.full_like(log_b, neg))
    shape = log_b.shape
    B, T = shape[0], shape[1]
    la, lb = log_a.reshape(B, T, -1), log_b.reshape(B, T, -1)
    F = la.shape[-1]
    C = max(1, min(chunk, T))
    n = -(-T // C)
    if n * C > T:
        la = torch.cat([la, la.new_zeros(B, n * C - T, F)], 1)
        lb = torch.cat([lb, lb.new_full((B, n * C - T, F), neg)], 1)
    la, lb = la.reshape(B, n, C, F), lb.reshape(B, n, C, F)
    a_star = la.cumsum(2)
    local = torch.exp(a_star + torch.logcumsumexp(lb - a_star, 2))
    A = torch.exp(a_star)
    # Chunk carries (and h0) in linear space: carry_k = A_end,k ⊙ carry_{k-1} + local_end,k.
    h0f = None if h0 is None else h0.reshape(B, F)
    if n > 1 or h0f is not None:
        ends = _LinearScan.apply(A[:, :, -1], local[:, :, -1], h0f)
        prev = ends[:, :-1]
        if h0f is not None:
            prev = torch.cat([h0f.unsqueeze(1), prev], 1)
        elif n > 1:
            prev = torch.cat([torch.zeros_like(prev[:, :1]), prev], 1)
        local = local + A * prev.unsqueeze(2)
    h = local.reshape(B, n * C, F)[:, :T].reshape(shape)
    return _finish(h, mask, lengths, reverse)

"""Helpers shared by the engine's cell families."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.kernels.torch_fused import cpu_bf16_native, graph_kept, mm_tn

__all__ = ["centred_rows", "final_rows", "graph_kept", "mask_at", "mm_tn_in", "needs_grad",
           "projected_dh", "recurrent_weight_grad", "sig_bwd", "split_zoneout", "step_buffer",
           "tanh_bwd", "zone"]

_aten = torch.ops.aten


def sig_bwd(grad: Tensor, out: Tensor, dest: Tensor) -> Tensor:
    """``dest = grad * out * (1 - out)`` (derivative through a sigmoid), one kernel."""
    return _aten.sigmoid_backward.grad_input(grad, out, grad_input=dest)


def tanh_bwd(grad: Tensor, out: Tensor, dest: Tensor) -> Tensor:
    """``dest = grad * (1 - out²)`` (derivative through a tanh), one kernel."""
    return _aten.tanh_backward.grad_input(grad, out, grad_input=dest)


def centred_rows(w: Tensor) -> Tensor:
    """``w - mean_rows(w)``: a weight (N, K) whose products ``w a`` have mean 0 over their N
    outputs, since ``mean_j (w a)_j = mean_rows(w) · a``.

    A layer norm over a product needs no mean pass then: ``LN(w a) = LN((w - mean_rows(w)) a)``
    exactly, and the native LSTM step (flag ``LNX``) computes only the rstd. Gradients are
    unchanged as well: the gradient LN hands back to ``w a`` has mean 0 over the N outputs, so
    it is orthogonal to what the centring removes. Differentiable (the centring is in the
    graph); costs one pass over ``w``."""
    return w - w.mean(0, keepdim=True)


def step_buffer(full: bool, ref: Tensor, *shape) -> Tensor:
    """A buffer a native / Triton step fills where rows run: uninitialised when every row runs
    throughout (no fill pass over it), zeros for ragged batches (padded rows must read as
    zero)."""
    return ref.new_empty(shape) if full else ref.new_zeros(shape)


def projected_dh(t: int, n: int, a_rows: int, A: Tensor, acc: Tensor, dY: Tensor, m, zh,
                 w_hr: Tensor, DHP: Tensor, DHH: Tensor) -> None:
    """One backward step of an LSTM with a projection (``proj_size``), before its pointwise
    step: ``dh = acc + dY_t + A ⊙ m`` (A: d h_in from the step after, its first a_rows rows)
    is d of the projected h_t; zoneout on h moves its share to ``acc`` (for h_{t-1}); dh goes
    to ``DHP[t]`` (for d W_hr) and ``dh W_hr`` (d of o ⊙ tanh c) to ``DHH``."""
    dh = acc[:n] + dY[t, :n]
    if a_rows:
        dh[:a_rows] += A[:a_rows] if m is None else A[:a_rows] * m[:a_rows]
    if zh is not None:
        torch.mul(dh, mask_at(zh, t, n), out=acc[:n])
        dh -= acc[:n]
    else:
        acc[:n] = 0
    DHP[t, :n] = dh
    torch.mm(dh, w_hr, out=DHH[:n])


def mask_at(z, t: int, n: int):
    """Zoneout keep-weights of step t for the running prefix: a (n, S) tensor or a float."""
    return z[t, :n] if isinstance(z, Tensor) else z


def zone(new: Tensor, old: Tensor, d, out: Tensor) -> Tensor:
    """Zoneout ``out = d ⊙ old + (1 - d) ⊙ new`` for one step: d a bool mask (a select, no
    float copy of the mask), or p / 0-1 floats (a lerp). ``out`` may be ``new``. The native C
    steps read the bool masks as they are."""
    if isinstance(d, Tensor) and d.dtype == torch.bool:
        return torch.where(d, old, new, out=out)
    return torch.lerp(new, old, d, out=out)


def split_zoneout(zoneout, k: int):
    """The zoneout weights of state tensor k, or None."""
    return None if zoneout is None else zoneout[k]


def final_rows(seq: Tensor, lengths: Tensor | None) -> Tensor:
    """(T, B, S) time-major sequence -> (B, S) value at each sequence's last valid step."""
    if lengths is None:
        return seq[-1].clone()
    B = seq.shape[1]
    return seq[lengths.to(seq.device) - 1, torch.arange(B, device=seq.device)]


def needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(
        isinstance(t, Tensor) and t.requires_grad for t in tensors)


def mm_tn_in(lowp: torch.dtype | None):
    """The weight-gradient GEMM ``(a, b) -> aᵀ b``, in ``lowp`` (bf16 autocast) when given,
    fp32 out."""
    if lowp is None:
        return mm_tn
    return lambda a, b: mm_tn(a.to(lowp), b.to(lowp)).float()


def autocast_lowp(t: Tensor) -> torch.dtype | None:
    """The GEMM dtype under autocast for a float32 ``t``: bf16 when CPU autocast to bf16 is on
    (CPU tensor), fp16 / bf16 when CUDA autocast is on (CUDA tensor), else None.

    The engine then runs its GEMMs in that dtype (fp32 accumulation inside oneDNN / cuBLAS)
    and keeps the state, the pointwise math and the gradient sums in fp32."""
    if t.dtype != torch.float32 or t.device.type not in ("cpu", "cuda"):
        return None
    dev = t.device.type
    if not torch.is_autocast_enabled(dev):
        return None
    dtype = torch.get_autocast_dtype(dev)
    if dev == "cpu":
        # without native bf16 GEMMs (an AVX2-only CPU) bf16 is emulated: B=64 T=100 H=256
        # peephole LSTM training 950 ms with bf16 GEMMs vs 155 ms with fp32 ones (144 ms without
        # autocast), so such CPUs keep fp32 GEMMs under autocast
        return dtype if dtype == torch.bfloat16 and cpu_bf16_native() else None
    return dtype if dtype in (torch.float16, torch.bfloat16) else None


# Y chunk size of the weight-gradient GEMMs: each chunk's GEMM writes a fresh (G, P) product
# that is added into dW, so small chunks (a short reduction) cost time: B=32 T=500 H=512 LSTM
# 216 ms at 1 MB, 180 at 4 MB, 184 at 16 MB, 194 unchunked (ideal 164); B=64 T=100 H=256 is
# flat (20.5 -> 20.1 ms). 4 MB of transient copy stays well below the training peak.
WGRAD_CHUNK_BYTES = 1 << 22


def recurrent_weight_grad(src: Tensor, h0: Tensor, Y: Tensor, m: Tensor | None,
                          mm_tn, rows: Tensor | None = None) -> Tensor:
    """``dW = Σ_t src_tᵀ h_in,t`` with ``h_in,t = h_{t-1} ⊙ m`` (h_{-1} = h0):
    src (T, B, G), h0 (B, P), Y (T, B, P) the outputs, m (B, P) or None; ``mm_tn(a, b) = aᵀ b``.
    ``rows``: Y is in another batch order, and ``Y[:, rows]`` is src's (gathered per chunk).

    The (T, B, P) ``h_in`` is never built: step 0 uses ``h0``, and steps 1..T-1 read ``Y`` in
    time chunks of ~4 MB (masked per chunk). mm_tn copies its narrower operand into transposed
    layout, and a chunk's copy stays small, so the backward's memory peak gains nothing here."""
    T, B, G, P = src.shape[0], src.shape[1], src.shape[2], h0.shape[1]
    d_w = mm_tn(src[0], h0 if m is None else h0 * m)
    step = max(1, WGRAD_CHUNK_BYTES // max(1, B * P * Y.element_size()))
    for t0 in range(1, T, step):
        t1 = min(T, t0 + step)
        h = Y[t0 - 1 : t1 - 1]
        if rows is not None:
            h = h.index_select(1, rows)
        if m is not None:
            h = h * m
        d_w.add_(mm_tn(src[t0:t1].reshape(-1, G), h.reshape(-1, P)))
    return d_w

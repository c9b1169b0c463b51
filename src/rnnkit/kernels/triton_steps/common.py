"""Shared Triton device functions of the engine's steps: activations and layer-norm pieces.

All math runs in the compute dtype of the caller (float32, or float64 for float64 tensors):
inputs are widened on load, so bf16 / fp16 GEMM outputs meet fp32 pointwise math and state.
"""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = ["add", "ld", "ln_bwd", "sigmoid", "tanh"]


@triton.jit
def ld(ptr, off, mask, ACC: tl.constexpr):
    """A masked load (0 on padded lanes), widened to the compute dtype ACC."""
    return tl.load(ptr + off, mask=mask, other=0.0).to(ACC)


@triton.jit
def add(ptr, off, v, mask, ACC: tl.constexpr):
    """``ptr[off] += v``: a per-row gradient-sum buffer (each program owns its row)."""
    tl.store(ptr + off, ld(ptr, off, mask, ACC) + v, mask=mask)


@triton.jit
def sigmoid(x):
    """σ(x) = 1 / (1 + e^-x); saturates to 0 / 1 without overflow trouble (1 / inf = 0)."""
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def tanh(x):
    """tanh(x) = sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}): no overflow, error ~1 ulp."""
    e = tl.exp(-2.0 * tl.abs(x))
    t = (1.0 - e) / (1.0 + e)
    return tl.where(x < 0, -t, t)


@triton.jit
def ln_bwd(dxh, xh, rs, n):
    """Layer-norm backward to its input for one row: given d of the x-hat (after the gain)
    ``dxh`` and the x-hat ``xh`` (zero on padded lanes), returns
    ``rs (dxh - mean(dxh) - xh mean(dxh xh))`` over the n valid lanes."""
    m1 = tl.sum(dxh, axis=0) / n
    m2 = tl.sum(dxh * xh, axis=0) / n
    return rs * (dxh - m1 - xh * m2)

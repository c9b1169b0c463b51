"""Triton pointwise steps for the fused engine on CUDA (optional; imported lazily).

The engine runs a recurrence as one GEMM per step plus everything between two GEMMs (gate
activations, layer norms, peepholes, the cell update, zoneout, and in backward the matching
derivatives). On CPU that pointwise step is C (``kernels/csrc``); on a CUDA device it is one
Triton kernel per step here (one program per running batch row), instead of the dozen small
torch ops per step of the pure-PyTorch loop. The modules under this package import ``triton``
at the top, so only ``available()`` may be called before checking it; ``import rnnkit`` never
imports triton. With ``TRITON_INTERPRET=1`` the same kernels run on CPU tensors through
Triton's interpreter: that is how the CPU-only test suite checks them against the reference.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

__all__ = ["MAX_H", "available", "block", "compute_dtype", "interpreting", "launch_flags",
           "pointer_args", "reason", "step_usable", "warps", "why_not", "zoneout_arg"]

# one program holds a whole row: the four LSTM gate blocks of next_power_of_2(H) lanes each
MAX_H = 2048
_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_state: dict = {}


def available() -> str | None:
    """None when a usable ``triton`` (>= 3.0) imports, else why not (cached)."""
    if "why" not in _state:
        try:
            import triton
        except Exception as e:  # ImportError, or a broken install
            _state["why"] = (f"triton is not importable ({type(e).__name__}: {e}); "
                             f"`pip install triton` (it comes with CUDA builds of torch)")
        else:
            major = int(triton.__version__.split(".")[0])
            _state["why"] = None if major >= 3 else (
                f"triton {triton.__version__} is older than 3.0; upgrade triton")
    return _state["why"]


def interpreting() -> bool:
    """True when Triton runs its kernels in the CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def why_not(t: Tensor, H: int) -> str | None:
    """None when the Triton step can run on ``t`` (a CUDA tensor) with hidden size H."""
    return reason(t.device.type, t.dtype, H)


def reason(device: str, dtype: torch.dtype, H: int) -> str | None:
    """``why_not`` for a device type, dtype and hidden size."""
    if device != "cuda":
        return f"the Triton step runs on CUDA tensors, got {device}"
    if dtype not in _DTYPES:
        return f"dtype {dtype} has no Triton step"
    if H > MAX_H:
        return f"hidden size {H} > {MAX_H} (one program holds a whole row)"
    return available()


def step_usable(t: Tensor, H: int) -> bool:
    """Whether the engine's families run their pointwise step in Triton for ``t``."""
    return why_not(t, H) is None


def block(H: int) -> int:
    """The lanes of one gate block: the power of two >= H (Triton's ``tl.arange`` needs one)."""
    return 1 << max(0, (H - 1).bit_length())


def warps(H: int) -> int:
    """Warps per program: a row holds a few gate blocks of ``block(H)`` lanes each in
    registers, so wide rows get more threads (4 up to H = 512, 16 at H = 2048)."""
    return min(16, max(4, block(H) // 128))


def launch_flags(H: int, dtype: torch.dtype, **flags) -> dict:
    """The keyword arguments of a step launch: the row geometry (H, BLOCK, num_warps), the
    compute dtype ACC for tensors of ``dtype``, and the kernel's own constexpr ``flags``."""
    return dict(H=H, BLOCK=block(H), ACC=compute_dtype(dtype), num_warps=warps(H), **flags)


def compute_dtype(dtype: torch.dtype):
    """The Triton dtype a step computes in for tensors of ``dtype``: fp64 for fp64, else fp32
    (fp16 / bf16 inputs are widened on load). Imports triton."""
    import triton.language as tl

    return tl.float64 if dtype == torch.float64 else tl.float32


def pointer_args(args: list, ref: Tensor) -> list:
    """A kernel's pointer arguments with each None (an option that is off, whose constexpr
    flag keeps the kernel from reading it) replaced by a one-element view of ``ref``."""
    dummy = ref.reshape(-1)[:1]
    return [dummy if a is None else a for a in args]


def zoneout_arg(z, ref: Tensor) -> tuple[int, Tensor]:
    """``(mode, tensor)`` for a zoneout argument of a step kernel: 0 none (``ref`` as a dummy
    pointer), 1 a (T, B, S) mask (bool masks viewed as bytes, no copy), 2 a constant (as a
    one-element tensor of ``ref``'s dtype, so float64 runs see the exact value)."""
    if z is None:
        return 0, ref
    if isinstance(z, Tensor):
        z = z.contiguous()
        return 1, z.view(torch.uint8) if z.dtype == torch.bool else z
    return 2, torch.full((1,), float(z), dtype=ref.dtype, device=ref.device)

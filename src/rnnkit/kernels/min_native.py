"""The ``scan`` kernel's native CPU path for min-cells: ``kernels/csrc/min_rnn.c``.

One C call per direction does the gates and the recurrence ``h_t = a_t ⊙ h_{t-1} + b_t``
(forward), and one the reverse recurrence and the gate gradients (backward), as a
sequential-in-time loop per batch row vectorised over H: memory-optimal on a CPU, where the
chunked parallel scan of ``functional.scan`` only adds passes over memory. The GEMM stays in
torch. Built on first use like the engine's native step (``rnnkit.kernels.engine.native``:
system C compiler, ``$RNNKIT_CACHE``, loaded with ctypes); ``RNNKIT_NATIVE=0``, no compiler or
a failed build mean the pure-PyTorch scan runs instead (same results), and ``explain`` says
which.

Eligible runs: CPU, float32/float64, linear ``scan_space``, no zoneout, MinGRUCell or
MinLSTMCell. A double backward (``create_graph=True``) recomputes through the pure-PyTorch
path, so higher-order gradients still work.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from rnnkit.kernels.engine.native import _cache_dir, _compiler, _cpu_tag

__all__ = ["KINDS", "available", "min_scan_native", "status"]

_SRC = Path(__file__).resolve().parent / "csrc" / "min_rnn.c"
_FLAGS = ["-O3", "-ffast-math", "-march=native", "-fPIC", "-shared", "-std=c99"]
KINDS = {"mingru": 0, "minlstm": 1}
_SFX = {torch.float32: "f32", torch.float64: "f64"}
_state: dict = {}


def _build(cc: str) -> Path:
    src = _SRC.read_bytes()
    key = hashlib.sha256(src + " ".join([*_FLAGS, cc, _cpu_tag()]).encode()).hexdigest()
    out = _cache_dir() / f"rnnkit_min_rnn_{key[:16]}.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lf:
        try:
            import fcntl

            fcntl.flock(lf, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - non-POSIX
            pass
        if out.exists():
            return out
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
        os.close(fd)
        res = subprocess.run([cc, *_FLAGS, str(_SRC), "-o", tmp, "-lm"], capture_output=True,
                             text=True, timeout=120)
        if res.returncode != 0:
            os.unlink(tmp)
            raise RuntimeError(res.stderr.strip().splitlines()[-1] if res.stderr else "failed")
        os.replace(tmp, out)
    return out


def _load():
    if os.environ.get("RNNKIT_NATIVE", "1") == "0":
        return None, "disabled by RNNKIT_NATIVE=0"
    cc = _compiler()
    if cc is None:
        return None, "no C compiler found (set CC)"
    try:
        lib = ctypes.CDLL(str(_build(cc)))
    except Exception as e:  # any failure means: use the fallback
        warnings.warn(f"rnnkit: building the scan kernel's native loop failed ({e}); using "
                      f"the pure-PyTorch scan.", RuntimeWarning, stacklevel=2)
        return None, f"build failed: {e}"
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    for sfx in _SFX.values():
        fwd, bwd = getattr(lib, f"minrnn_fwd_{sfx}"), getattr(lib, f"minrnn_bwd_{sfx}")
        fwd.argtypes = [i64, i64, i64, i64, ptr, ptr, ptr, i64, ptr, ptr]
        bwd.argtypes = [i64, i64, i64, i64, ptr, ptr, ptr, i64, ptr, ptr, ptr, ptr, ptr]
        fwd.restype = bwd.restype = None
    return lib, None


def _lib():
    if "lib" not in _state:
        _state["lib"], _state["why"] = _load()
    return _state["lib"]


def available(xp: Tensor) -> bool:
    """Whether the native loop can run on this projected input (builds it on first use)."""
    return xp.device.type == "cpu" and xp.dtype in _SFX and _lib() is not None


def status() -> str:
    """One line for ``explain``: where the min-cell scan runs."""
    native = ("native C loop on CPU (gates + sequential-in-time recurrence per batch row, "
              "vectorised over H; float32/float64, linear scan_space, no zoneout)")
    if "lib" not in _state:
        if os.environ.get("RNNKIT_NATIVE", "1") == "0":
            return "pure-PyTorch chunked scan (native loop disabled by RNNKIT_NATIVE=0)"
        if _compiler() is None:
            return "pure-PyTorch chunked scan (no C compiler found; set CC to enable native)"
        return native + " (built on first use), else the pure-PyTorch chunked scan"
    if _state["lib"] is None:
        return f"pure-PyTorch chunked scan ({_state['why']})"
    return native + ", else the pure-PyTorch chunked scan"


def _p(t: Tensor | None):
    return None if t is None else t.data_ptr()


class _MinScan(torch.autograd.Function):
    """(xp (B, T, G·H), h0 (B, H)) -> (y (B, T, H), h_last (B, H)) through the C loop."""

    @staticmethod
    def forward(ctx, xp: Tensor, h0: Tensor, lengths: Tensor | None, reverse: bool,
                kind: str, fallback: Callable):
        xp_in, h0_in = xp, h0
        xp, h0 = xp.contiguous(), h0.contiguous()
        B, T = xp.shape[:2]
        H = h0.shape[1]
        lens = None if lengths is None else lengths.to("cpu", torch.int64).contiguous()
        y, hl = xp.new_empty(B, T, H), xp.new_empty(B, H)
        getattr(_lib(), f"minrnn_fwd_{_SFX[xp.dtype]}")(
            KINDS[kind], B, T, H, _p(xp), _p(h0), _p(lens), int(reverse), _p(y), _p(hl))
        ctx.save_for_backward(xp_in, h0_in, y)
        ctx.lens, ctx.reverse, ctx.kind, ctx.fallback = lens, reverse, kind, fallback
        ctx.lengths = lengths
        return y, hl

    @staticmethod
    def backward(ctx, gy: Tensor, ghl: Tensor):
        xp, h0, y = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: differentiate the PyTorch twin
            need = ctx.needs_input_grad[:2]
            with torch.enable_grad():
                y2, hl2 = ctx.fallback(xp, h0, ctx.lengths, ctx.reverse)
                got = iter(torch.autograd.grad(
                    (y2, hl2), [t for t, n in zip((xp, h0), need) if n], (gy, ghl),
                    create_graph=True, allow_unused=True))
            gx, gh = (next(got) if n else None for n in need)
            return gx, gh, None, None, None, None
        B, T = xp.shape[:2]
        H = h0.shape[1]
        xp, h0, gy = xp.contiguous(), h0.contiguous(), gy.contiguous()
        ghl = None if ghl is None else ghl.contiguous()
        dxp, dh0 = torch.empty_like(xp), torch.empty_like(h0)
        getattr(_lib(), f"minrnn_bwd_{_SFX[xp.dtype]}")(
            KINDS[ctx.kind], B, T, H, _p(xp), _p(h0), _p(ctx.lens), int(ctx.reverse), _p(y),
            _p(gy), _p(ghl), _p(dxp), _p(dh0))
        return dxp, dh0, None, None, None, None


def min_scan_native(kind: str, xp: Tensor, h0: Tensor, lengths: Tensor | None, reverse: bool,
                    fallback: Callable) -> tuple[Tensor, Tensor]:
    """Run a min-cell over time in the C loop; ``fallback(xp, h0, lengths, reverse)`` is the
    pure-PyTorch twin used for double backward. Returns (y (B, T, H), h_last (B, H))."""
    return _MinScan.apply(xp, h0, lengths, reverse, kind, fallback)

"""Keep freed large blocks in the process (glibc malloc), instead of page-faulting fresh ones.

A training step allocates and frees the same large buffers every call: the engine's per-step
stores (gates, cell states: (T, B, 4H) floats), torch's activations and gradients. glibc serves
blocks above its mmap threshold (at most 32 MB by default) with fresh ``mmap`` pages and returns
freed heap tops to the OS, so every call page-faults its buffers in again. Where page faults
are expensive (virtual machines, sandboxes) that dominates: on this project's 2-core VM an LSTM
layer-norm training step (B=64, T=100, H=256) took 130-180 ms with the defaults and 103 ms with
freed memory retained, and torch.nn gains likewise.

``retain_freed_memory()`` raises the mmap threshold and the trim threshold so that the heap keeps
what it has. It is process-wide, so rnnkit calls it only in processes it owns (the ``rnnkit``
command: train, bench, …); a library user opts in by calling it. The cost: the process keeps
its peak heap size until it exits. ``RNNKIT_RETAIN_MEMORY=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["retain_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_state: dict = {}


def retain_freed_memory() -> bool:
    """Tell glibc malloc to keep freed large blocks for reuse; True when applied.

    No-op (False) off Linux/glibc or with ``RNNKIT_RETAIN_MEMORY=0``. Idempotent."""
    if "applied" in _state:
        return _state["applied"]
    ok = False
    if sys.platform.startswith("linux") and os.environ.get("RNNKIT_RETAIN_MEMORY", "1") != "0":
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # musl and others: no mallopt
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            ok = (mallopt(_M_MMAP_THRESHOLD, 1 << 30) == 1
                  and mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1) == 1)
    _state["applied"] = ok
    return ok

"""The engine's optional native code: ``kernels/csrc/{lstm,gru,elman}_pointwise.c``.

Built on first use and loaded with ctypes by ``rnnkit.kernels.native_build`` (system C
compiler, cached in ``$RNNKIT_CACHE_DIR``). When no compiler is present, the build fails, or
``RNNKIT_NATIVE=0`` is set, the engine runs its pure-PyTorch pointwise ops instead (same
results) and ``explain`` says so. This module declares the C structs and function signatures.
"""

from __future__ import annotations

import ctypes

import torch

from rnnkit.kernels.native_build import CSRC, compiler, disabled, load_library

__all__ = ["Arr", "ElmanCtx", "GRUCtx", "LSTMCtx", "lstm_lib", "status", "threaded"]

_SOURCES = (CSRC / "lstm_pointwise.c", CSRC / "gru_pointwise.c", CSRC / "elman_pointwise.c")
_state: dict = {}


class Arr(ctypes.Structure):
    _fields_ = [("p", ctypes.c_void_p), ("ts", ctypes.c_int64), ("rs", ctypes.c_int64)]


_ARRS = ["g", "c", "cn", "tc", "out", "y", "h0", "c0", "zc", "zh", "m", "mu", "rs", "x"]
_BWD = ["acc", "dy", "dg", "gc", "dhh"]


class _Threaded(ctypes.Structure):
    """A step context whose C calls split their rows over ``torch.get_num_threads()`` threads,
    read when the context is made (once per forward call; ``csrc/rnnkit_par.h``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.nthreads = torch.get_num_threads()


class LSTMCtx(_Threaded):
    _fields_ = ([("H", ctypes.c_int64), ("flags", ctypes.c_int64), ("zcv", ctypes.c_double),
                 ("zhv", ctypes.c_double), ("eps", ctypes.c_double)]
                + [(a, Arr) for a in _ARRS]
                + [("peep", ctypes.c_void_p), ("lnw", ctypes.c_void_p), ("lnb", ctypes.c_void_p),
                   ("xb", ctypes.c_void_p)]
                + [(a, Arr) for a in _BWD]
                + [("dlnw", ctypes.c_void_p), ("dlnb", ctypes.c_void_p)]
                + [(a, Arr) for a in ("r", "rs4", "dr")]
                + [(a, ctypes.c_void_p) for a in ("lnhw", "dlnhw", "dpeep", "dbias", "lnxw")]
                + [("xt0", ctypes.c_int64), ("mx", Arr), ("sx", Arr), ("dlnxw", ctypes.c_void_p)]
                + [("xa", Arr), ("anext", ctypes.c_void_p), ("I", ctypes.c_int64),
                   ("nsteps", ctypes.c_int64), ("nthreads", ctypes.c_int64)])


class GRUCtx(_Threaded):
    _fields_ = ([("H", ctypes.c_int64), ("flags", ctypes.c_int64), ("zhv", ctypes.c_double)]
                + [(a, Arr) for a in ("x", "rz", "nn", "an", "y", "h0", "zh", "m",
                                      "acc", "dy", "dx", "da", "r", "rs3", "ds")]
                + [(a, ctypes.c_void_p) for a in ("lnw", "lnb", "dlnw", "dlnb")]
                + [("eps", ctypes.c_double), ("mx", Arr), ("sx", Arr)]
                + [(a, ctypes.c_void_p) for a in ("lnxw", "lnxb", "dlnxw", "dlnxb")]
                + [("nthreads", ctypes.c_int64)])


class ElmanCtx(_Threaded):
    _fields_ = ([("H", ctypes.c_int64), ("flags", ctypes.c_int64), ("zhv", ctypes.c_double)]
                + [(a, Arr) for a in ("x", "a", "y", "h0", "zh", "m", "acc", "dy", "da")]
                + [("nthreads", ctypes.c_int64)])


def _load():
    lib, why = load_library("pointwise", _SOURCES, "the engine's native step",
                            (("-lmvec", "-lm"), ("-lm",)), openmp=True)
    if lib is None:
        return None, why
    ctx_p, i64, ptr = ctypes.POINTER(LSTMCtx), ctypes.c_int64, ctypes.c_void_p
    for sfx in ("f32", "f64"):
        getattr(lib, f"lstm_fwd_{sfx}").argtypes = [ctx_p, i64, i64, ptr]
        getattr(lib, f"lstm_bwd_{sfx}").argtypes = [ctx_p, i64, i64, ptr, i64]
        getattr(lib, f"lstm_fwd_{sfx}").restype = getattr(lib, f"lstm_bwd_{sfx}").restype = None
        getattr(lib, f"lstm_seq_fwd_{sfx}").argtypes = [ctx_p, i64, ptr, ptr, ptr]
        getattr(lib, f"lstm_seq_fwd_{sfx}").restype = None
        getattr(lib, f"lstm_seq_bwd_{sfx}").argtypes = [ctx_p, i64, ptr, ptr, ptr]
        getattr(lib, f"lstm_seq_bwd_{sfx}").restype = i64
        gctx = ctypes.POINTER(GRUCtx)
        getattr(lib, f"gru_fwd_{sfx}").argtypes = [gctx, i64, i64, ptr]
        getattr(lib, f"gru_bwd_{sfx}").argtypes = [gctx, i64, i64, ptr, i64]
        getattr(lib, f"gru_fwd_{sfx}").restype = getattr(lib, f"gru_bwd_{sfx}").restype = None
        getattr(lib, f"gru_seq_fwd_{sfx}").argtypes = [gctx, i64, ptr, ptr, ptr, ptr]
        getattr(lib, f"gru_seq_fwd_{sfx}").restype = None
        getattr(lib, f"gru_seq_bwd_{sfx}").argtypes = [gctx, i64, ptr, ptr, ptr]
        getattr(lib, f"gru_seq_bwd_{sfx}").restype = i64
        getattr(lib, f"grurb_seq_fwd_{sfx}").argtypes = [gctx, i64, ptr, ptr, ptr, ptr]
        getattr(lib, f"grurb_seq_bwd_{sfx}").argtypes = [gctx, i64, ptr, ptr, ptr]
        getattr(lib, f"grurb_seq_fwd_{sfx}").restype = None
        ectx = ctypes.POINTER(ElmanCtx)
        getattr(lib, f"elman_seq_fwd_{sfx}").argtypes = [ectx, i64, ptr, ptr, ptr]
        getattr(lib, f"elman_seq_bwd_{sfx}").argtypes = [ectx, i64, ptr, ptr, ptr]
        getattr(lib, f"elman_seq_fwd_{sfx}").restype = None
        getattr(lib, f"elman_seq_bwd_{sfx}").restype = None
        getattr(lib, f"elman_fwd_{sfx}").argtypes = [ectx, i64, i64, ptr, ptr]
        getattr(lib, f"elman_bwd_{sfx}").argtypes = [ectx, i64, i64, ptr, i64]
        getattr(lib, f"elman_fwd_{sfx}").restype = getattr(lib, f"elman_bwd_{sfx}").restype = None
        getattr(lib, f"grurb_seq_bwd_{sfx}").restype = None
    return lib, None


def lstm_lib():
    """The loaded library, or None (then ``status()`` says why)."""
    if "lib" not in _state:
        _state["lib"], _state["why"] = _load()
    return _state["lib"]


def status() -> str:
    """One line for ``explain``: where the engine's pointwise step runs."""
    if "lib" not in _state:
        if disabled():
            return "pure-PyTorch pointwise step (native step disabled by RNNKIT_NATIVE=0)"
        if compiler() is None:
            return "pure-PyTorch pointwise step (no C compiler found; set CC to enable native)"
        return ("native C pointwise step for LSTM, reset-after GRU and Elman, whole-sequence C "
                "loops for small problems (reset-before GRU too; built on first use)")
    if _state["lib"] is None:
        return f"pure-PyTorch pointwise step ({_state['why']})"
    threads = (f"rows split over torch.get_num_threads() threads (now {torch.get_num_threads()})"
               if threaded() else "one thread (built without OpenMP)")
    return ("native C pointwise step for LSTM, reset-after GRU and Elman, whole-sequence C loops "
            f"for small problems (reset-before GRU too); {threads}")


def threaded() -> bool:
    """Whether the loaded library splits its steps' rows over threads (the OpenMP build)."""
    lib = lstm_lib()
    return lib is not None and "_omp_" in str(lib._name)

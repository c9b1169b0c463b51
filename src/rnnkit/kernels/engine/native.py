"""The engine's optional native pointwise step: ``kernels/csrc/*.c`` built on first use.

The C file has no torch headers, so it compiles in about a second with the system C compiler
(``$CC``, else ``cc`` / ``gcc``) into ``$RNNKIT_CACHE_DIR`` (default ``~/.cache/rnnkit``), keyed by
the source, the flags and the CPU; a file lock makes concurrent first uses safe. It is loaded
with ctypes. When no compiler is present, the build fails, or ``RNNKIT_NATIVE=0`` is set, the
engine runs its pure-PyTorch pointwise ops instead (same results) and ``explain`` says so.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

__all__ = ["Arr", "GRUCtx", "LSTMCtx", "lstm_lib", "status"]

_CSRC = Path(__file__).resolve().parent.parent / "csrc"
_SOURCES = (_CSRC / "lstm_pointwise.c", _CSRC / "gru_pointwise.c")
_FLAGS = ["-O3", "-ffast-math", "-march=native", "-fPIC", "-shared", "-std=c99"]
_LIBS = ["-lmvec", "-lm"]
_state: dict = {}


class Arr(ctypes.Structure):
    _fields_ = [("p", ctypes.c_void_p), ("ts", ctypes.c_int64), ("rs", ctypes.c_int64)]


_ARRS = ["g", "c", "cn", "tc", "out", "y", "h0", "c0", "zc", "zh", "m", "mu", "rs", "x"]
_BWD = ["acc", "dy", "dg", "gc", "dhh"]


class LSTMCtx(ctypes.Structure):
    _fields_ = ([("H", ctypes.c_int64), ("flags", ctypes.c_int64), ("zcv", ctypes.c_double),
                 ("zhv", ctypes.c_double), ("eps", ctypes.c_double)]
                + [(a, Arr) for a in _ARRS]
                + [("peep", ctypes.c_void_p), ("lnw", ctypes.c_void_p), ("lnb", ctypes.c_void_p),
                   ("xb", ctypes.c_void_p)]
                + [(a, Arr) for a in _BWD]
                + [("dlnw", ctypes.c_void_p), ("dlnb", ctypes.c_void_p)]
                + [(a, Arr) for a in ("r", "rs4", "dr")]
                + [(a, ctypes.c_void_p) for a in ("lnhw", "dlnhw", "dpeep", "dbias")])


class GRUCtx(ctypes.Structure):
    _fields_ = ([("H", ctypes.c_int64), ("flags", ctypes.c_int64), ("zhv", ctypes.c_double)]
                + [(a, Arr) for a in ("x", "rz", "nn", "an", "y", "h0", "zh", "m",
                                      "acc", "dy", "dx", "da")])


def _compiler() -> str | None:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


def _cache_dir() -> Path:
    root = os.environ.get("RNNKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rnnkit")
    return Path(root)


def _cpu_tag() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln for ln in f if ln.startswith("flags")), "")
    except OSError:
        flags = ""
    return platform.machine() + flags


def _build(cc: str) -> Path:
    src = b"".join(p.read_bytes() for p in _SOURCES)
    key = hashlib.sha256(src + " ".join(_FLAGS + _LIBS + [cc, _cpu_tag()]).encode()).hexdigest()
    out = _cache_dir() / f"rnnkit_pointwise_{key[:16]}.so"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.with_suffix(".lock")
    with open(lock, "w") as lf:
        try:
            import fcntl

            fcntl.flock(lf, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - non-POSIX
            pass
        if out.exists():
            return out
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
        os.close(fd)
        cmd = [cc, *_FLAGS, *(str(p) for p in _SOURCES), "-o", tmp]
        res = subprocess.run(cmd + _LIBS, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:  # some libcs have no libmvec: retry without it
            res = subprocess.run([*cmd, "-lm"], capture_output=True, text=True, timeout=120)
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
        warnings.warn(f"rnnkit: building the engine's native step failed ({e}); using the "
                      f"pure-PyTorch fallback.", RuntimeWarning, stacklevel=2)
        return None, f"build failed: {e}"
    ctx_p, i64, ptr = ctypes.POINTER(LSTMCtx), ctypes.c_int64, ctypes.c_void_p
    for sfx in ("f32", "f64"):
        getattr(lib, f"lstm_fwd_{sfx}").argtypes = [ctx_p, i64, i64, ptr]
        getattr(lib, f"lstm_bwd_{sfx}").argtypes = [ctx_p, i64, i64, ptr, i64]
        getattr(lib, f"lstm_fwd_{sfx}").restype = getattr(lib, f"lstm_bwd_{sfx}").restype = None
        gctx = ctypes.POINTER(GRUCtx)
        getattr(lib, f"gru_fwd_{sfx}").argtypes = [gctx, i64, i64, ptr]
        getattr(lib, f"gru_bwd_{sfx}").argtypes = [gctx, i64, i64, ptr, i64]
        getattr(lib, f"gru_fwd_{sfx}").restype = getattr(lib, f"gru_bwd_{sfx}").restype = None
    return lib, None


def lstm_lib():
    """The loaded library, or None (then ``status()`` says why)."""
    if "lib" not in _state:
        _state["lib"], _state["why"] = _load()
    return _state["lib"]


def status() -> str:
    """One line for ``explain``: where the engine's pointwise step runs."""
    if "lib" not in _state:
        if os.environ.get("RNNKIT_NATIVE", "1") == "0":
            return "pure-PyTorch pointwise step (native step disabled by RNNKIT_NATIVE=0)"
        if _compiler() is None:
            return "pure-PyTorch pointwise step (no C compiler found; set CC to enable native)"
        return "native C pointwise step for LSTM and reset-after GRU (built on first use)"
    if _state["lib"] is None:
        return f"pure-PyTorch pointwise step ({_state['why']})"
    return "native C pointwise step for LSTM and reset-after GRU"

"""Build and load the kernels' plain-C helpers (``kernels/csrc/*.c``) on first use.

The C files have no torch headers, so they compile in about a second with the system C
compiler (``$CC``, else ``cc`` / ``gcc`` / ``clang``) into ``$RNNKIT_CACHE_DIR`` (default
``~/.cache/rnnkit``), keyed by the sources, the flags and the CPU, and load with ctypes. A file
lock makes concurrent first uses (pytest-xdist, DDP ranks) safe; the library is written to a
temp file and renamed into place. ``RNNKIT_NATIVE=0``, no compiler, or a failed build mean
"no library": every caller then runs its pure-PyTorch fallback, with the same results.

Threads: with ``openmp=True`` the library is compiled with ``-fopenmp`` and linked against the
OpenMP runtime that torch itself loaded (found in this process's memory map), so the C steps'
parallel regions run on torch's own intra-op threads -- never a second OpenMP runtime (two
runtimes oversubscribe the cores and break after fork). If torch has no OpenMP runtime, the
compiler lacks ``-fopenmp``, ``RNNKIT_OPENMP=0`` is set, or loading would map a second runtime,
the single-threaded build is used (same results: ``csrc/rnnkit_par.h``).
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
from collections.abc import Sequence
from pathlib import Path

__all__ = ["CSRC", "cache_dir", "compiler", "disabled", "load_library", "openmp_runtimes"]

CSRC = Path(__file__).resolve().parent / "csrc"
FLAGS = ["-O3", "-ffast-math", "-march=native", "-fPIC", "-shared", "-std=c99"]


def disabled() -> bool:
    """True when the user switched native code off with ``RNNKIT_NATIVE=0``."""
    return os.environ.get("RNNKIT_NATIVE", "1") == "0"


def compiler() -> str | None:
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


def cache_dir() -> Path:
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


_OMP_NAMES = ("libgomp", "libiomp", "libomp")


def openmp_runtimes() -> list[str]:
    """The OpenMP runtime files mapped into this process (one, torch's, when all is well)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {ln.split()[-1] for ln in f if "/" in ln}
    except OSError:
        return []
    return sorted(p for p in paths if os.path.basename(p).startswith(_OMP_NAMES))


def _openmp_link() -> list[str] | None:
    """Flags that build with OpenMP on torch's own runtime, or None (build without)."""
    if os.environ.get("RNNKIT_OPENMP", "1") == "0":
        return None
    import torch  # maps torch's OpenMP runtime into the process

    # torch's own copy: other packages (scikit-learn, numba) may have mapped theirs too
    home = os.path.realpath(os.path.dirname(torch.__file__)) + os.sep
    gomp = [p for p in openmp_runtimes() if os.path.basename(p).startswith("libgomp")
            and os.path.realpath(p).startswith(home)]
    if len(gomp) != 1:
        return None
    # --as-needed drops the compiler's own -lgomp: torch's runtime (listed first, recorded by
    # its soname, which the loader matches to the copy already loaded) defines every symbol
    return ["-fopenmp", "-Wl,--as-needed", gomp[0]]


def _build(name: str, sources: Sequence[Path], cc: str,
           link_options: Sequence[Sequence[str]]) -> Path:
    """Compile ``sources`` into a cached shared library (link options tried in order)."""
    # the shared headers (csrc/*.h) are part of every library's source
    src = b"".join(p.read_bytes() for p in [*sources, *sorted(CSRC.glob("*.h"))])
    tag = " ".join([*FLAGS, *(" ".join(o) for o in link_options), cc, _cpu_tag()])
    key = hashlib.sha256(src + tag.encode()).hexdigest()
    out = cache_dir() / f"rnnkit_{name}_{key[:16]}.so"
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
        cmd = [cc, *FLAGS, *(str(p) for p in sources), "-o", tmp]
        for libs in link_options:  # e.g. some libcs have no libmvec: retry without it
            res = subprocess.run([*cmd, *libs], capture_output=True, text=True, timeout=120)
            if res.returncode == 0:
                break
        if res.returncode != 0:
            os.unlink(tmp)
            raise RuntimeError(res.stderr.strip().splitlines()[-1] if res.stderr else "failed")
        os.replace(tmp, out)
    return out


def load_library(name: str, sources: Sequence[Path], what: str,
                 link_options: Sequence[Sequence[str]] = (("-lm",),), openmp: bool = False
                 ) -> tuple[ctypes.CDLL | None, str | None]:
    """``(library, None)``, or ``(None, reason)`` when native code is off or cannot be built.

    Args:
        name: cache file stem. sources: the C files. what: for the warning on a failed build
        ("the engine's native step"). link_options: linker flag sets, tried in order.
        openmp: build with OpenMP on torch's runtime where that is safe (else without).
    """
    if disabled():
        return None, "disabled by RNNKIT_NATIVE=0"
    cc = compiler()
    if cc is None:
        return None, "no C compiler found (set CC)"
    omp = _openmp_link() if openmp else None
    if omp is not None:
        before = openmp_runtimes()
        try:
            lib = ctypes.CDLL(str(_build(name + "_omp", sources, cc,
                                         [[*omp, *o] for o in link_options])))
            if openmp_runtimes() == before:  # still torch's runtime only
                return lib, None
        except Exception:  # e.g. a compiler without -fopenmp: the single-threaded build
            pass
    try:
        return ctypes.CDLL(str(_build(name, sources, cc, link_options))), None
    except Exception as e:  # any failure means: use the fallback
        warnings.warn(f"rnnkit: building {what} failed ({e}); using the pure-PyTorch "
                      f"fallback.", RuntimeWarning, stacklevel=3)
        return None, f"build failed: {e}"

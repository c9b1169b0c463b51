"""The Triton steps compile for real GPUs, checked without one.

``test_triton_steps.py`` runs the kernels in Triton's CPU interpreter, which is more lenient
than the compiler (types, shapes, control flow). Here each kernel goes through Triton's whole
CUDA pipeline to a cubin for sm_80 (A100) and sm_90 (H100 / H200) with ``triton.compile`` and
an explicit target, which needs no GPU and no driver: what a user's first call on a GPU would
compile, with the flag combinations of every variant (training and inference, each dtype).
Each kernel compiles in a fresh process without ``TRITON_INTERPRET``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("triton", reason="triton is not installed (pip install triton)")

_CHILD = r"""
import importlib, json, sys
import triton, triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from rnnkit.kernels.triton_steps import warps
spec = json.loads(sys.argv[1])
fn = getattr(importlib.import_module(spec["module"]), spec["kernel"])
done = set()
for pol in spec["policies"]:
    consts = {}
    for p in fn.params:
        if not p.is_constexpr:
            continue
        name = p.name
        if name == "ACC":
            consts[name] = tl.float64 if pol["dtype"] == "fp64" else tl.float32
        elif name in ("H", "BLOCK"):
            consts[name] = pol[name]
        elif name.endswith("_MODE"):
            consts[name] = pol["mode"]
        else:
            consts[name] = pol["flags"].get(name, pol["flag"])
    sig = {}
    for n in fn.arg_names:
        if n in consts:
            sig[n] = "constexpr"
        elif n in spec["scalars"]:
            sig[n] = spec["scalars"][n]
        elif n in spec["gemm"]:
            sig[n] = "*" + pol["gemm"]
        elif n in ("ZC", "ZH") and pol["mode"] == 1:
            sig[n] = "*u8"
        else:
            sig[n] = "*" + pol["dtype"]
    key = json.dumps([sorted(sig.items()), sorted((k, str(v)) for k, v in consts.items()),
                      pol["arch"]])
    if key in done:
        continue
    done.add(key)
    k = triton.compile(ASTSource(fn, sig, consts), target=GPUTarget("cuda", pol["arch"], 32),
                       options={"num_warps": warps(pol["H"])})
    assert k.asm["cubin"], pol
print("compiled", len(done))
"""

# Flag policies: every bool constexpr on / off (``flags`` overrides some), zoneout modes 1
# (a mask) or 2 (a constant); the GEMM outputs (and the next GEMM's input) in bf16 / fp16 as
# under autocast; H not a power of two (masked lanes) and large H (wide blocks, more warps).
POLICIES = [
    {"flag": True, "flags": {}, "mode": 1, "dtype": "fp32", "gemm": "bf16", "H": 37,
     "BLOCK": 64, "arch": 90},
    {"flag": True, "flags": {"PROJ": False}, "mode": 1, "dtype": "fp32", "gemm": "bf16",
     "H": 37, "BLOCK": 64, "arch": 90},
    {"flag": False, "flags": {}, "mode": 2, "dtype": "fp32", "gemm": "fp16", "H": 512,
     "BLOCK": 512, "arch": 80},
    {"flag": True, "flags": {"PROJ": False}, "mode": 1, "dtype": "fp64", "gemm": "fp64",
     "H": 5, "BLOCK": 8, "arch": 90},
    {"flag": True, "flags": {"PROJ": False}, "mode": 1, "dtype": "fp32", "gemm": "bf16",
     "H": 2048, "BLOCK": 2048, "arch": 90},  # the widest row (MAX_H), 16 warps
]
SCALARS = {"t": "i32", "B": "i32", "a_rows": "i32", "eps": "fp32"}
GEMM = ["HW", "HN", "AH", "QA"]  # GEMM outputs the steps read, GEMM inputs they write
KERNELS = {f"{family}.{k}": (f"rnnkit.kernels.triton_steps.{family}", k) for family, names in (
    ("lstm_step", ["lstm_fwd", "lstm_bwd"]),
    ("gru_step", ["gru_fwd", "gru_bwd", "grurb_fwd1", "grurb_fwd2", "grurb_bwd1",
                  "grurb_bwd2"])) for k in names}


def test_every_kernel_is_listed():
    from rnnkit.kernels.triton_steps import gru_step, lstm_step

    assert set(KERNELS) == {f"{m.__name__.rsplit('.', 1)[1]}.{k}"
                            for m in (lstm_step, gru_step) for k in m.__all__}


@pytest.mark.parametrize("kernel", KERNELS)
def test_triton_step_compiles_for_sm80_and_sm90(kernel):
    module, name = KERNELS[kernel]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    spec = json.dumps({"module": module, "kernel": name, "policies": POLICIES,
                       "scalars": SCALARS, "gemm": GEMM})
    out = subprocess.run([sys.executable, "-c", _CHILD, spec], capture_output=True, text=True,
                         env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "compiled" in out.stdout and int(out.stdout.split()[-1]) >= 2

"""The C steps split their rows over torch's threads: the same bits for 1, 2 and 3 threads.

Shapes are just big enough for the parallel path (csrc/rnnkit_par.h: at least 16384 elements
of row work per step, 8192 per thread): B=48, H=192 gives LSTM 36864, GRU 27648, Elman 18432
elements per step, so 2 and 3 threads really split the rows (ragged runs shrink later steps,
so the small-step path runs too). Every gradient sum that crosses rows (bias, peepholes, LN
gains / biases) goes through the fixed row chunks and must not move by one bit.
"""

from __future__ import annotations

import pytest
import torch
from test_engine import make_run, outputs_and_grads

from cell_specs import CELL_SPECS
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.kernels import min_native, native_build
from rnnkit.kernels.base import DirectionRun
from rnnkit.kernels.engine import elman, gru_native, lstm_native, native
from rnnkit.kernels.engine.driver import run_engine
from rnnkit.kernels.scan_kernel import run_scan

needs_native = pytest.mark.skipif(native.lstm_lib() is None, reason=native.status())

SPECS = ["lstm", "lstm-peephole", "lstm-layernorm", "lstm-proj", "lstm-all", "gru",
         "gru-layernorm", "gru-reset-before", "elman-tanh", "elman-relu"]


def _at_threads(n: int, fn):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(old)


def _flat(out):
    y, state, grads = out
    return [y, *state, *(g for g in grads if g is not None)]


def test_one_openmp_runtime_in_the_process():
    """The threaded build links torch's own OpenMP runtime: never a second one. In a fresh
    process (a test worker may hold scikit-learn's own libgomp, loaded by another test), with
    and without another package's runtime mapped first."""
    import subprocess
    import sys

    code = ("import sys, torch; from rnnkit.kernels import min_native, native_build;"
            " from rnnkit.kernels.engine import native;"
            " extra = sys.argv[1] == 'sklearn';"
            " extra and __import__('sklearn.linear_model');"
            " before = native_build.openmp_runtimes();"
            " native.lstm_lib(); min_native.available(torch.zeros(1));"
            " after = native_build.openmp_runtimes();"
            " assert after == before, (before, after);"
            " assert extra or len(after) == 1, after;"
            " print(native.threaded())")
    for extra in ("none", "sklearn"):
        out = subprocess.run([sys.executable, "-c", code, extra], capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        if native_build.compiler() is not None and not native_build.disabled():
            assert out.stdout.strip() == "True", (extra, out.stdout, out.stderr[-500:])


@needs_native
def test_without_openmp_the_library_builds_single_threaded(tmp_path, monkeypatch):
    """RNNKIT_OPENMP=0 (as with no -fopenmp or no OpenMP runtime in torch): the plain build,
    and explain says the step runs on one thread."""
    monkeypatch.setenv("RNNKIT_OPENMP", "0")
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native, "_state", {})
    assert native.lstm_lib() is not None and not native.threaded()
    assert "one thread" in native.status()


@needs_native
@pytest.mark.parametrize("mode", ["train-ragged-zoneout-dropout", "train-full", "eval-full"])
@pytest.mark.parametrize("spec", SPECS)
def test_native_steps_same_bits_for_1_2_3_threads(spec, mode, monkeypatch):
    torch.manual_seed(0)
    train, ragged, reg = mode.startswith("train"), "ragged" in mode, "zoneout" in mode
    cell = CELL_SPECS[spec](8, 192, dtype=torch.float32)
    run = make_run(cell, 48, 4, ragged, False, 0.3 if reg else 0.0, 0.2 if reg else 0.0, train,
                   dtype=torch.float32)
    for mod in (lstm_native, gru_native, elman):  # the per-step C calls, not the small loops
        monkeypatch.setattr(mod, "SEQ_MACS", 0)
    if train:
        outs = [_flat(_at_threads(n, lambda: outputs_and_grads(run_engine, run)))
                for n in (1, 2, 3)]
    else:
        with torch.no_grad():
            outs = [[_at_threads(n, lambda: run_engine(run))[0]] for n in (1, 2, 3)]
    for other in outs[1:]:
        for a, b in zip(outs[0], other, strict=True):
            assert torch.equal(a, b)
    # and right: the threaded result equals the pure-PyTorch loops (float32 tolerance)
    for mod in (lstm_native, gru_native, elman):
        monkeypatch.setattr(mod, "usable", lambda xp: False)
    if train:
        ref = _flat(outputs_and_grads(run_engine, run))
    else:
        with torch.no_grad():
            ref = [run_engine(run)[0]]
    for a, b in zip(outs[2], ref, strict=True):
        torch.testing.assert_close(a, b, atol=2e-4, rtol=2e-3)


@pytest.mark.skipif(not min_native.available(torch.zeros(1)), reason="no native min-RNN loop")
@pytest.mark.parametrize("cell_type", [MinGRUCell, MinLSTMCell], ids=["mingru", "minlstm"])
def test_min_rnn_loop_same_bits_for_1_2_3_threads(cell_type):
    torch.manual_seed(0)
    cell = cell_type(8, 96)
    x = torch.randn(16, 40, 8, requires_grad=True)
    h0 = torch.randn(16, 96, requires_grad=True)
    lengths = torch.randint(1, 41, (16,))

    def run():
        y, (h,) = run_scan(DirectionRun(cell, x, (h0,), lengths, False))
        return [y, h, *torch.autograd.grad(y.square().sum() + h.sum(),
                                           (x, h0, *cell.parameters()))]

    outs = [_at_threads(n, run) for n in (1, 2, 3)]
    for other in outs[1:]:
        for a, b in zip(outs[0], other, strict=True):
            assert torch.equal(a, b)

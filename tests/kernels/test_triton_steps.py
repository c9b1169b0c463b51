"""The engine's Triton pointwise steps (its CUDA path) against the reference loop.

On a machine without a GPU the kernels run in Triton's CPU interpreter (tests/conftest.py sets
``TRITON_INTERPRET=1``) and the tests force the Triton step onto CPU tensors; with a GPU they
run compiled, on CUDA tensors. Either way every test also counts the kernel launches, so a
silent fallback to another step cannot pass.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_engine import LAYOUTS, MASKS, make_run, outputs_and_grads

from cell_specs import CELL_SPECS
from rnnkit.kernels import triton_steps
from rnnkit.kernels.base import DirectionRun
from rnnkit.kernels.engine import gru_native, lstm_native
from rnnkit.kernels.engine.driver import engine_step, run_engine
from rnnkit.kernels.reference import run_reference

triton = pytest.importorskip("triton", reason="triton is not installed (pip install triton)")

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
SPECS = ["lstm", "lstm-peephole", "lstm-layernorm", "lstm-proj", "lstm-all", "gru",
         "gru-reset-before", "gru-layernorm", "gru-reset-before-layernorm"]
# (layout, masks): every layout and every mask kind, each spec through all four
CASES = {"equal-plain": ("equal", "plain"), "ragged-rev-drop-zone": ("ragged-rev", "drop-zone"),
         "ragged-zone-eval": ("ragged", "zone-eval"), "equal-rev-drop": ("equal-rev", "drop")}


class _Counted:
    """Wraps a Triton kernel: counts launches and remembers the dtype of the first argument."""

    def __init__(self, kernel, log: list):
        self.kernel, self.log = kernel, log

    def __getitem__(self, grid):
        launch = self.kernel[grid]

        def run(*args, **kwargs):
            self.log.append(args[0].dtype)
            return launch(*args, **kwargs)
        return run


@pytest.fixture
def launches(monkeypatch):
    """Route the LSTM / GRU pointwise steps to Triton (CPU tensors under the interpreter when
    there is no GPU) and log every kernel launch."""
    from rnnkit.kernels.triton_steps import gru_step, lstm_step

    if not CUDA:
        if not triton_steps.interpreting():
            pytest.skip("no GPU, and TRITON_INTERPRET is off")
        monkeypatch.setattr(triton_steps, "step_usable", lambda t, H: True)
        monkeypatch.setattr(lstm_native, "usable", lambda xp: False)
        monkeypatch.setattr(gru_native, "usable", lambda xp: False)
        monkeypatch.setattr(gru_native, "rb_usable", lambda xp, ln_w: False)
    log: list = []
    for mod in (lstm_step, gru_step):
        for name in mod.__all__:
            monkeypatch.setattr(mod, name, _Counted(getattr(mod, name), log))
    return log


def _to(run: DirectionRun, device: str) -> DirectionRun:
    """The same run on ``device``: a copy of the cell, leaf copies of x and the state."""
    if device == "cpu":
        return run
    leaf = lambda t: t.detach().to(device).requires_grad_(t.requires_grad)  # noqa: E731
    zone = None if run.zoneout is None else tuple(
        z.to(device) if isinstance(z, torch.Tensor) else z for z in run.zoneout)
    return dataclasses.replace(
        run, cell=run.cell.to(device), x=leaf(run.x), state=tuple(leaf(s) for s in run.state),
        lengths=None if run.lengths is None else run.lengths.to(device),
        rec_mask=None if run.rec_mask is None else run.rec_mask.to(device), zoneout=zone)


def _assert_equal_to_reference(run, launches, atol=1e-10):
    ref = outputs_and_grads(run_reference, run)
    ref_params = [n for n, _ in run.cell.named_parameters()]
    dev = _to(run, DEVICE)
    got = outputs_and_grads(run_engine, dev)
    assert launches, "the Triton step did not run"
    torch.testing.assert_close(got[0].cpu(), ref[0], atol=atol, rtol=atol)
    for a, b in zip(got[1], ref[1], strict=True):
        torch.testing.assert_close(a.cpu(), b, atol=atol, rtol=atol)
    names = ["x"] + [f"state{k}" for k in range(len(run.state))] + ref_params
    for name, a, b in zip(names, got[2], ref[2], strict=True):
        assert (a is None) == (b is None), name
        if a is not None:
            torch.testing.assert_close(a.cpu(), b, atol=atol, rtol=atol, msg=f"grad of {name}")


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("spec", SPECS)
def test_triton_step_matches_reference(spec, case, launches):
    """Forward output, final state and every gradient in float64, for each LSTM / GRU
    variant, with full and ragged batches, both directions, dropout and zoneout masks."""
    cell = CELL_SPECS[spec](4, 5, dtype=torch.float64)
    _assert_equal_to_reference(make_run(cell, 3, 7, *LAYOUTS[case[0]], *MASKS[case[1]]),
                               launches)


SHAPES = {"B1-T1-H5": (1, 1, 5), "B4-T1-H3": (4, 1, 3), "B1-T11-H7": (1, 11, 7),
          "B5-T13-H37": (5, 13, 37)}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("spec", ["lstm-all", "gru-layernorm", "gru-reset-before"])
def test_triton_step_awkward_shapes(spec, shape, launches):
    """T=1, B=1, prime T, H not a power of two (masked lanes) and H=37 (two warps' worth)."""
    B, T, H = shape
    cell = CELL_SPECS[spec](3, H, dtype=torch.float64)
    _assert_equal_to_reference(make_run(cell, B, T, True, False, 0.3, 0.2, True), launches)


# lstm-all's gradcheck in the Triton interpreter takes ~50-90 s: slow-marked to keep the default
# suite near 10 minutes on 2 cores (the two GRU specs stay in it)
GRADCHECK = [pytest.param("lstm-all", marks=pytest.mark.slow), "gru-layernorm",
             "gru-reset-before-layernorm"]


@pytest.mark.parametrize("fast", [True, pytest.param(False, marks=pytest.mark.slow)],
                         ids=["fast", "full"])
@pytest.mark.parametrize("spec", GRADCHECK)
def test_gradcheck_through_the_triton_step(spec, fast, launches):
    """torch.autograd.gradcheck (float64) of FusedLSTM / FusedGRU on the Triton step, every
    optional input on: ragged, reversed, recurrent dropout, zoneout masks."""
    torch.manual_seed(1)
    cell = CELL_SPECS[spec](2, 3, dtype=torch.float64).to(DEVICE)
    B, T = 3, 4
    x = torch.randn(B, T, 2, dtype=torch.float64, device=DEVICE, requires_grad=True)
    state = tuple(torch.randn(B, s, dtype=torch.float64, device=DEVICE, requires_grad=True)
                  for s in cell.state_sizes)
    lengths = torch.tensor([4, 2, 3], device=DEVICE)
    m = (torch.rand(B, cell.output_size, dtype=torch.float64, device=DEVICE) > 0.3) / 0.7
    z = tuple(torch.rand(T, B, s, device=DEVICE) < 0.3 for s in cell.state_sizes)
    params = list(cell.parameters())

    def f(x, *rest):
        st = rest[: len(state)]
        y, s = run_engine(DirectionRun(cell, x, tuple(st), lengths, True, m.to(x.dtype), z,
                                       True))
        return (y, *s)

    # fast mode (default suite): a random projection of the Jacobian (the full check takes
    # ~150 s in Triton's interpreter; make test-slow runs it)
    assert torch.autograd.gradcheck(f, (x, *state, *params), eps=1e-6, atol=1e-5,
                                    fast_mode=fast)
    assert launches


@pytest.mark.parametrize("spec", ["lstm-all", "gru-layernorm", "gru-reset-before"])
def test_triton_step_float32_is_close_to_float64(spec, launches):
    """float32 tensors: the step computes in fp32 (exp-based tanh / sigmoid) and stays close
    to the float64 result, in outputs, states and gradients."""
    cell = CELL_SPECS[spec](4, 9, dtype=torch.float64)
    run = make_run(cell, 3, 6, True, True, 0.2, 0.1, True)
    ref = outputs_and_grads(run_reference, run)
    cell32 = CELL_SPECS[spec](4, 9, dtype=torch.float32)
    cell32.load_state_dict({k: v.float() for k, v in cell.state_dict().items()})
    run32 = dataclasses.replace(
        run, cell=cell32, x=run.x.detach().float().requires_grad_(),
        state=tuple(s.detach().float().requires_grad_() for s in run.state),
        rec_mask=None if run.rec_mask is None else run.rec_mask.float())
    got = outputs_and_grads(run_engine, _to(run32, DEVICE))
    assert launches and launches[0] == torch.float32
    for a, b in zip((got[0], *got[1], *got[2]), (ref[0], *ref[1], *ref[2]), strict=True):
        torch.testing.assert_close(a.double().cpu(), b, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("spec", ["lstm-layernorm", "gru"])
def test_autocast_runs_the_step_gemms_in_low_precision_with_fp32_state(spec, launches,
                                                                       monkeypatch):
    """Under autocast (bf16 on CPU; fp16 on CUDA) the recurrent GEMMs run in the low
    precision (the step's first argument, the GEMM output, is bf16 / fp16), state and
    pointwise math stay fp32, and the result stays close to the fp32 run."""
    from rnnkit.kernels.engine import _common

    # on CPU the loop's low-precision logic is checked even where bf16 GEMMs are emulated
    # (production keeps fp32 GEMMs on such CPUs: see test_engine_native)
    monkeypatch.setattr(_common, "cpu_bf16_native", lambda: True)
    torch.manual_seed(3)
    cell = CELL_SPECS[spec](8, 16).to(DEVICE)
    x = torch.randn(4, 12, 8, device=DEVICE)
    h0 = tuple(torch.zeros(4, s, device=DEVICE) for s in cell.state_sizes)
    run = DirectionRun(cell, x, h0, None, False, None, None, True)
    y32, _ = run_engine(run)
    g32 = torch.autograd.grad(y32.pow(2).sum(), list(cell.parameters()))
    launches.clear()
    low = torch.float16 if CUDA else torch.bfloat16
    with torch.autocast(DEVICE, dtype=low):
        y, s = run_engine(run)
    assert launches and launches[0] == low
    assert y.dtype == torch.float32 and all(v.dtype == torch.float32 for v in s)
    g = torch.autograd.grad(y.pow(2).sum(), list(cell.parameters()))
    torch.testing.assert_close(y, y32, atol=3e-2, rtol=3e-2)
    for a, b in zip(g, g32, strict=True):
        torch.testing.assert_close(a, b, atol=5e-2 * float(b.abs().max()) + 1e-3, rtol=0.1)


def test_explain_says_where_the_pointwise_step_runs(monkeypatch):
    """``explain`` names the step a call would use: native C on CPU, Triton on CUDA (or the
    PyTorch step with the reason Triton cannot run)."""
    import rnnkit

    layer = rnnkit.LSTM(3, 4, layer_norm=True, batch_first=True)
    text = layer.explain(torch.randn(2, 5, 3)).describe()
    assert "this call:" in text and "pointwise step" in text
    cell = CELL_SPECS["lstm-layernorm"](3, 4)
    meta = torch.empty(2, 5, 3, device="meta")  # a non-CPU device without a GPU at hand
    run = DirectionRun(cell, meta, (meta[:, 0, :1], meta[:, 0, :1]))
    assert "runs on CUDA tensors" in engine_step(run)
    monkeypatch.setattr(triton_steps, "why_not", lambda t, H: None)
    assert engine_step(run).startswith("Triton pointwise step")
    elman = DirectionRun(CELL_SPECS["elman-tanh"](3, 4), meta, (meta[:, 0, :1],))
    assert "nothing more to fuse" in engine_step(elman)


def test_why_not_names_the_device_dtype_and_size_limits(monkeypatch):
    assert "CUDA tensors, got cpu" in triton_steps.why_not(torch.zeros(2), 8)
    assert "dtype torch.int64" in triton_steps.reason("cuda", torch.int64, 8)
    assert "hidden size 4096 > 2048" in triton_steps.reason("cuda", torch.float32, 4096)
    assert triton_steps.reason("cuda", torch.bfloat16, 2048) is None  # triton imports here
    monkeypatch.setitem(triton_steps._state, "why", "triton is not importable (…)")
    assert "not importable" in triton_steps.reason("cuda", torch.float32, 8)


@pytest.mark.gpu
@pytest.mark.parametrize("spec", SPECS)
def test_gpu_layers_on_the_triton_step_match_the_reference(spec):
    """Compiled on a real GPU: each variant as a whole layer (2 layers, bidirectional, ragged,
    dropout and zoneout masks from one seed) equals the reference loop on the same device,
    forward and backward, and explain reports the Triton step."""
    import rnnkit

    cls = rnnkit.LSTM if spec.startswith("lstm") else rnnkit.GRU
    kw = {"lstm": {}, "lstm-peephole": {"peephole": True}, "lstm-layernorm": {"layer_norm": True},
          "lstm-proj": {"proj_size": 3}, "lstm-all": {"peephole": True, "layer_norm": True,
                                                     "proj_size": 3},
          "gru": {}, "gru-reset-before": {"reset_after": False},
          "gru-layernorm": {"layer_norm": True},
          "gru-reset-before-layernorm": {"reset_after": False, "layer_norm": True}}[spec]
    layer = cls(6, 7, num_layers=2, bidirectional=True, batch_first=True, zoneout=0.2,
                recurrent_dropout=0.2, **kw).double().cuda().train()
    x = torch.randn(5, 9, 6, dtype=torch.float64, device="cuda")
    lengths = torch.tensor([9, 3, 7, 1, 9], device="cuda")
    out = []
    for impl in ("engine", "reference"):
        layer.impl = impl
        torch.manual_seed(7)
        y, _ = layer(x, lengths=lengths)
        assert layer.last_kernel == impl
        out.append((y, torch.autograd.grad(y.pow(2).sum(), list(layer.parameters()))))
    torch.testing.assert_close(out[0][0], out[1][0])
    for a, b in zip(out[0][1], out[1][1], strict=True):
        torch.testing.assert_close(a, b)
    layer.impl = "auto"
    assert "Triton pointwise step" in layer.explain(x, lengths).describe()

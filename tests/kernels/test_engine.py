"""The fused engine against the reference loop: outputs, final state and every gradient."""

from __future__ import annotations

import pytest
import torch

from cell_specs import CELL_SPECS
from rnnkit.kernels.base import DirectionRun
from rnnkit.kernels.engine import engine_why_not
from rnnkit.kernels.engine.driver import run_engine
from rnnkit.kernels.reference import run_reference
from rnnkit.layers.regularization import recurrent_dropout_mask, zoneout_weights

CLASSIC = [k for k in CELL_SPECS if k.split("-")[0] in ("elman", "lstm", "gru")]
LAYOUTS = {"equal": (False, False), "ragged": (True, False), "equal-rev": (False, True),
           "ragged-rev": (True, True)}
MASKS = {"plain": (0.0, 0.0, True), "drop-zone": (0.3, 0.2, True), "zone-eval": (0.0, 0.2, False),
         "drop": (0.4, 0.0, True)}
SHAPES = {"B3-T7-H5": (3, 7, 5), "B1-T1-H5": (1, 1, 5), "B4-T1-H3": (4, 1, 3),
          "B1-T11-H7": (1, 11, 7)}


def make_run(cell, B, T, ragged, reverse, p_drop, p_zone, training, dtype=torch.float64):
    x = torch.randn(B, T, cell.input_size, dtype=dtype, requires_grad=True)
    state = tuple(torch.randn(B, s, dtype=dtype, requires_grad=True) for s in cell.state_sizes)
    lengths = None
    if ragged:
        lengths = torch.randint(1, T + 1, (B,))
        lengths[0] = T
    m = recurrent_dropout_mask(p_drop, B, cell.output_size, x, training)
    z = zoneout_weights(p_zone, T, B, tuple(cell.state_sizes), x, training)
    return DirectionRun(cell, x, state, lengths, reverse, m, z, training)


def _loss(y, state):
    w = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)
    return (y * w).sum() + sum((s * s).sum() for s in state)


def outputs_and_grads(fn, run):
    y, state = fn(run)
    inputs = [run.x, *run.state, *run.cell.parameters()]
    return y, state, torch.autograd.grad(_loss(y, state), inputs, allow_unused=True)


def assert_same(run, atol=1e-10):
    y1, s1, g1 = outputs_and_grads(run_reference, run)
    y2, s2, g2 = outputs_and_grads(run_engine, run)
    torch.testing.assert_close(y2, y1, atol=atol, rtol=atol)
    for a, b in zip(s2, s1, strict=True):
        torch.testing.assert_close(a, b, atol=atol, rtol=atol)
    names = ["x"] + [f"state{k}" for k in range(len(run.state))]
    names += [n for n, _ in run.cell.named_parameters()]
    for name, a, b in zip(names, g2, g1, strict=True):
        assert (a is None) == (b is None), name
        if a is not None:
            torch.testing.assert_close(a, b, atol=atol, rtol=atol, msg=f"grad of {name}")


@pytest.mark.parametrize("mask", MASKS.values(), ids=MASKS.keys())
@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("spec", CLASSIC)
def test_engine_matches_reference(spec, layout, mask):
    cell = CELL_SPECS[spec](4, 5, dtype=torch.float64)
    assert engine_why_not(make_run(cell, 2, 3, False, False, 0, 0, False)) is None
    assert_same(make_run(cell, 3, 7, *layout, *mask))


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("spec", ["elman-relu", "lstm-all", "gru-reset-before-layernorm", "gru"])
def test_engine_awkward_shapes(spec, shape):
    B, T, H = shape
    cell = CELL_SPECS[spec](3, H, dtype=torch.float64)
    assert_same(make_run(cell, B, T, B > 1, True, 0.3, 0.2, True))


@pytest.mark.parametrize("spec", ["lstm", "lstm-all", "gru-reset-before", "elman-tanh"])
def test_engine_float32_close(spec):
    cell = CELL_SPECS[spec](6, 9)
    run = make_run(cell, 5, 13, True, False, 0.2, 0.1, True, dtype=torch.float32)
    y1, _, g1 = outputs_and_grads(run_reference, run)
    y2, _, g2 = outputs_and_grads(run_engine, run)
    torch.testing.assert_close(y2, y1, atol=1e-5, rtol=1e-4)
    for a, b in zip(g2, g1, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("loop", ["whole-seq", "per-step"])
@pytest.mark.parametrize("spec", CLASSIC)
def test_engine_backward_with_retain_graph_twice(spec, loop, monkeypatch):
    """A one-shot backward writes its gradients over the forward buffers it no longer needs;
    with retain_graph it must not: a second backward gives the same gradients as the first,
    and both the same as the one-shot backward and the reference loop's. Both the
    whole-sequence C loop (small B·H) and the per-step GEMM loop are covered, ragged."""
    from rnnkit.kernels.engine import elman, gru_native, lstm_native

    for mod in (lstm_native, gru_native, elman):
        monkeypatch.setattr(mod, "SEQ_MACS", 0 if loop == "per-step" else 1 << 30)
    cell = CELL_SPECS[spec](4, 5, dtype=torch.float64)
    run = make_run(cell, 5, 6, True, False, 0.3, 0.2, True)
    inputs = [run.x, *run.state, *run.cell.parameters()]
    loss = _loss(*run_engine(run))
    first = torch.autograd.grad(loss, inputs, retain_graph=True, allow_unused=True)
    second = torch.autograd.grad(loss, inputs, allow_unused=True)
    _, _, one_shot = outputs_and_grads(run_engine, run)
    _, _, ref = outputs_and_grads(run_reference, run)
    for a, b, c, r in zip(first, second, one_shot, ref, strict=True):
        if a is not None:
            torch.testing.assert_close(b, a, atol=1e-12, rtol=1e-12)
            torch.testing.assert_close(c, a, atol=1e-12, rtol=1e-12)
            torch.testing.assert_close(c, r, atol=1e-10, rtol=1e-10)
    with pytest.raises(RuntimeError, match="second time"):
        torch.autograd.grad(loss, inputs, allow_unused=True)


@pytest.mark.parametrize("spec", ["lstm-all", "gru-layernorm", "elman-tanh"])
def test_engine_inference_saves_nothing_and_matches(spec):
    cell = CELL_SPECS[spec](4, 5, dtype=torch.float64)
    run = make_run(cell, 3, 6, True, True, 0.0, 0.2, False)
    with torch.no_grad():
        y1, s1 = run_reference(run)
        y2, s2 = run_engine(run)
    torch.testing.assert_close(y2, y1)
    for a, b in zip(s2, s1, strict=True):
        torch.testing.assert_close(a, b)


def test_engine_declines_user_cells_and_subclasses():
    from rnnkit.cells import LSTMCell

    class MyLSTM(LSTMCell):
        def step(self, xp_t, state, rec_mask=None):
            return super().step(xp_t, state, rec_mask)

    run = make_run(MyLSTM(3, 4, dtype=torch.float64), 2, 3, False, False, 0, 0, False)
    assert "overrides step/project_input" in engine_why_not(run)


@pytest.mark.parametrize("T,B,P,masked,chunk", [(1, 3, 4, False, None), (7, 3, 4, False, None),
                                                (7, 3, 4, True, None), (9, 3, 4, True, 2 * 96),
                                                (5, 3, 4, False, 1)],
                         ids=["T1", "one-chunk", "masked", "chunks-of-2", "1-step-chunks"])
def test_recurrent_weight_grad_equals_the_concatenated_formula(T, B, P, masked, chunk,
                                                               monkeypatch):
    from rnnkit.kernels.engine import _common
    from rnnkit.kernels.engine._common import recurrent_weight_grad
    from rnnkit.kernels.torch_fused import mm_tn

    if chunk is not None:  # chunk bytes: a step is B·P·8 = 96 bytes here
        monkeypatch.setattr(_common, "WGRAD_CHUNK_BYTES", chunk)

    torch.manual_seed(0)
    src = torch.randn(T, B, 6, dtype=torch.float64)
    h0, Y = torch.randn(B, P, dtype=torch.float64), torch.randn(T, B, P, dtype=torch.float64)
    m = torch.rand(B, P, dtype=torch.float64) if masked else None
    hin = torch.cat([h0.unsqueeze(0), Y[:-1]])
    if m is not None:
        hin = hin * m
    want = torch.einsum("tbg,tbp->gp", src, hin)
    torch.testing.assert_close(recurrent_weight_grad(src, h0, Y, m, mm_tn), want)

"""The native C pointwise step equals the pure-PyTorch fallback; the oneDNN GEMM helpers."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_engine import make_run, outputs_and_grads

import rnnkit
from cell_specs import CELL_SPECS
from rnnkit.kernels import torch_fused
from rnnkit.kernels.engine import elman, gru_native, lstm_native, native
from rnnkit.kernels.engine.driver import ENGINE, run_engine
from rnnkit.kernels.torch_fused import StepGemm, linear, mm_nt, mm_tn

needs_native = pytest.mark.skipif(native.lstm_lib() is None, reason=native.status())


@needs_native
@pytest.mark.parametrize("loop", ["per-step", "whole-sequence"])
@pytest.mark.parametrize("ragged", [True, False], ids=["ragged", "full"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("spec", ["lstm", "lstm-peephole", "lstm-layernorm", "lstm-proj",
                                  "lstm-all", "gru", "gru-layernorm", "gru-reset-before",
                                  "elman-tanh", "elman-relu"])
def test_native_equals_fallback(spec, dtype, ragged, loop, monkeypatch):
    """Forward, final state and every gradient (LN gains / biases, peepholes, b_ih + b_hh
    folded into the step) of the native step equal the pure-PyTorch loops: both with a GEMM
    call per step and with the whole sequence in one C call (small B·H, LSTM without proj)."""
    cell = CELL_SPECS[spec](5, 7, dtype=dtype)
    run = make_run(cell, 4, 9, ragged, True, 0.3, 0.2, True, dtype=dtype)
    for mod in (lstm_native, gru_native, elman):
        monkeypatch.setattr(mod, "SEQ_MACS", 0 if loop == "per-step" else 1 << 30)
    y1, s1, g1 = outputs_and_grads(run_engine, run)
    for mod in (lstm_native, gru_native, elman):
        monkeypatch.setattr(mod, "usable", lambda xp: False)
    y2, s2, g2 = outputs_and_grads(run_engine, run)
    # float32: summation orders differ (C vs torch) -- exactness is the float64 cases' job
    tol = {"atol": 1e-12, "rtol": 1e-12} if dtype == torch.float64 else {"atol": 1e-5,
                                                                          "rtol": 1e-3}
    torch.testing.assert_close(y1, y2, **tol)
    for a, b in zip((*s1, *g1), (*s2, *g2), strict=True):
        torch.testing.assert_close(a, b, **tol)


@needs_native
@pytest.mark.parametrize("spec", ["lstm-peephole", "lstm-layernorm", "gru", "elman-tanh"])
def test_float32_activations_are_as_accurate_as_torch_in_saturation(spec, monkeypatch):
    """The float32 C steps use rational tanh / sigmoid approximations (csrc/rnnkit_exp.h).
    With weights scaled so that pre-activations run far into both tails and H = 37 (a full
    vector body plus a tail), the outputs, states and every gradient are as close to the
    float64 loop as the float32 pure-PyTorch loop (torch's own tanh / sigmoid) is."""
    torch.manual_seed(0)
    cell = CELL_SPECS[spec](5, 37, dtype=torch.float64)
    with torch.no_grad():
        for name, p in cell.named_parameters():
            if "weight" in name and "ln" not in name:
                p.mul_(10.0)
    run64 = make_run(cell, 6, 11, True, False, 0.0, 0.0, True)
    ref = outputs_and_grads(run_engine, run64)  # float64
    cell32 = CELL_SPECS[spec](5, 37, dtype=torch.float32)
    cell32.load_state_dict({k: v.float() for k, v in cell.state_dict().items()})

    def errors():
        run = dataclasses.replace(
            run64, cell=cell32, x=run64.x.detach().float().requires_grad_(),
            state=tuple(s.detach().float().requires_grad_() for s in run64.state))
        y, st, gr = outputs_and_grads(run_engine, run)
        return [(a.double() - b).abs().max().item() / max(1.0, b.abs().max().item())
                for a, b in zip((y, *st, *gr), (ref[0], *ref[1], *ref[2]), strict=True)]

    native_err = errors()
    for mod in (lstm_native, gru_native, elman):
        monkeypatch.setattr(mod, "usable", lambda xp: False)
    torch_err = errors()
    assert ref[0].abs().max() > 0.9  # saturated somewhere
    for k, (e_n, e_t) in enumerate(zip(native_err, torch_err, strict=True)):
        assert e_n <= 4 * e_t + 2e-6, (k, e_n, e_t)


def test_explain_says_where_the_pointwise_step_runs():
    assert "pointwise step" in ENGINE.summary


@pytest.mark.parametrize("M,K,N", [(1, 3, 5), (64, 256, 96), (70, 33, 512)])
def test_onednn_gemms_match_matmul(M, K, N):
    a, b, c = torch.randn(M, K), torch.randn(N, K), torch.randn(M, N)
    torch.testing.assert_close(mm_nt(a, b), a @ b.t(), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(mm_tn(c, a), c.t() @ a, atol=1e-4, rtol=1e-4)


def test_linear_forward_and_grads_match_f_linear():
    x = torch.randn(6, 100, 40, requires_grad=True)  # large enough for oneDNN's FastLinear
    w = torch.randn(64, 40, requires_grad=True)
    b = torch.randn(64, requires_grad=True)
    y1 = linear(x, w, b)
    if torch_fused._LINEAR is not None:  # (y1 is a view of FastLinear's output)
        assert type(y1.grad_fn.next_functions[0][0]).__name__ == "FastLinearBackward"
    tiny = linear(x[:1, :1], w, b)  # a streaming step: plain F.linear (oneDNN's overhead loses)
    assert "FastLinear" not in type(tiny.grad_fn).__name__
    y2 = torch.nn.functional.linear(x, w, b)
    torch.testing.assert_close(y1, y2, atol=1e-4, rtol=1e-4)
    g1 = torch.autograd.grad(y1.pow(2).sum(), (x, w, b))
    g2 = torch.autograd.grad(y2.pow(2).sum(), (x, w, b))
    for a, c in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, c, atol=1e-3, rtol=1e-4)


def test_gradcheck_fast_linear():
    from rnnkit.kernels.torch_fused import FastLinear

    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(FastLinear.apply, (x, w, b))


@pytest.mark.parametrize("M,N,K", [(3, 5, 4), (6400, 64, 32), (700, 48, 96), (700, 96, 48)])
def test_mm_tn_matches_matmul_for_weight_gradient_shapes(M, N, K):
    a, b = torch.randn(M, N), torch.randn(M, K)
    torch.testing.assert_close(mm_tn(a, b), a.t() @ b, atol=1e-3, rtol=1e-4)


def test_linear_grads_match_f_linear_many_rows():
    x = torch.randn(7, 90, 40, requires_grad=True)
    w = torch.randn(64, 40, requires_grad=True)
    b = torch.randn(64, requires_grad=True)
    y1, y2 = linear(x, w, b), torch.nn.functional.linear(x, w, b)
    torch.testing.assert_close(y1, y2, atol=1e-4, rtol=1e-4)
    g1 = torch.autograd.grad(y1.pow(2).sum(), (x, w, b))
    g2 = torch.autograd.grad(y2.pow(2).sum(), (x, w, b))
    for a, c in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, c, atol=1e-3, rtol=1e-4)


def test_mm_tn_accepts_strided_column_slices():
    """The reset-before GRU passes column slices of its gate gradients."""
    ds, h = torch.randn(6400, 768), torch.randn(6400, 256)
    for a in (ds[:, :512], ds[:, 512:]):
        assert not a.is_contiguous()
        torch.testing.assert_close(mm_tn(a, h), a.t() @ h, atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("rows,K,N,steps", [(64, 256, 1024, 100), (64, 256, 1024, 2),
                                            (1, 128, 512, 100), (16, 64, 48, 10)])
def test_step_gemm_equals_matmul_for_every_row_count(dtype, rows, K, N, steps):
    """Packed (oneDNN) or not, the per-step product is a @ wᵀ (+ bias) for every M <= rows,
    including the shrinking prefixes of a ragged batch and M < 4."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(N, K, generator=g, dtype=torch.float64).to(dtype)
    b = torch.randn(N, generator=g, dtype=torch.float64).to(dtype)
    gemm = StepGemm(w, rows, steps)
    tol = dict(atol=0.5, rtol=2e-2) if dtype == torch.bfloat16 else dict(atol=1e-3, rtol=1e-4)
    for m in sorted({rows, max(rows - 1, 1), 5, 3, 1}):
        a = torch.randn(m, K, generator=g, dtype=torch.float64).to(dtype)
        ref = (a.double() @ w.double().t())
        torch.testing.assert_close(gemm(a).double(), ref, **tol)
        torch.testing.assert_close(gemm(a, b).double(), ref + b.double(), **tol)


def test_step_gemm_packs_only_when_it_pays():
    w = torch.randn(1024, 256)
    assert StepGemm(w, 64, 100).packed is not None or torch_fused_onednn_missing()
    assert StepGemm(w, 64, 2).packed is None          # packing costs about one GEMM
    assert StepGemm(torch.randn(512, 128), 1, 1000).packed is None  # B=1: plain matmul wins


def torch_fused_onednn_missing() -> bool:
    from rnnkit.kernels import torch_fused

    return torch_fused._REORDER is None


@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_layer_norm_lstm_inference_normalises_the_input_in_the_step(ragged, dtype, monkeypatch):
    """The input projection's LN runs inside the native step (LNX), with and without a
    gradient wanted, and outputs, states and every gradient equal the reference loop's."""
    import rnnkit

    seen = []
    real = lstm_native.forward

    def spy(*a, **k):
        seen.append(a[-1] if len(a) > 17 else k.get("lnx_w"))
        return real(*a, **k)

    monkeypatch.setattr(lstm_native, "forward", spy)
    torch.manual_seed(0)
    fast = rnnkit.LSTM(5, 8, num_layers=2, bidirectional=True, layer_norm=True, batch_first=True,
                       impl="engine").to(dtype)
    ref = rnnkit.LSTM(5, 8, num_layers=2, bidirectional=True, layer_norm=True, batch_first=True,
                      impl="reference").to(dtype)
    ref.load_state_dict(fast.state_dict())
    with torch.no_grad():
        for p in fast.parameters():  # non-trivial LN gains and biases
            p.add_(0.1 * torch.randn_like(p))
        ref.load_state_dict(fast.state_dict())
    x = torch.randn(4, 7, 5, dtype=dtype)
    lengths = torch.tensor([7, 3, 5, 1]) if ragged else None
    with torch.no_grad():
        y, (h, c) = fast(x, lengths=lengths)
        y_r, (h_r, c_r) = ref(x, lengths=lengths)
    assert seen and all(w is not None for w in seen)
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == torch.float32 else dict(atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(y, y_r, **tol)
    torch.testing.assert_close(h, h_r, **tol)
    torch.testing.assert_close(c, c_r, **tol)
    seen.clear()
    # training normalises in the step too (no normalised copy of the projection), and its
    # backward takes the gradient through that LN
    fast(x, lengths=lengths)[0].sum().backward()
    ref(x, lengths=lengths)[0].sum().backward()
    assert seen and all(w is not None for w in seen)
    # float32: sums over B·T rows in another order (float64 agrees to 1e-12)
    gtol = dict(atol=1e-4, rtol=1e-4) if dtype == torch.float32 else tol
    for (name, p), q in zip(fast.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, **gtol, msg=name)


def test_centred_rows_leave_layer_norm_and_every_gradient_unchanged():
    """The LN LSTM's GEMMs use row-centred weights (the native step then skips the mean pass):
    their products have mean 0, LN of the product is the same, and so are the gradients of
    the raw weight and of the GEMM input through it (float64, to rounding)."""
    from rnnkit.kernels.engine._common import centred_rows

    torch.manual_seed(0)
    w = (torch.randn(12, 5, dtype=torch.float64) + 3.0).requires_grad_()  # rows share an offset
    a = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    gain, d = torch.randn(12, dtype=torch.float64), torch.randn(7, 12, dtype=torch.float64)
    outs = []
    for f in (lambda v: v, centred_rows):
        p = a @ f(w).t()
        y = torch.nn.functional.layer_norm(p, (12,), gain)
        outs.append((p.mean(1), y, *torch.autograd.grad(y, (w, a), d)))
    (m_raw, *raw), (m_c, *cen) = outs
    assert m_raw.abs().max() > 1.0  # the raw products do have a mean: the test can tell
    torch.testing.assert_close(m_c, torch.zeros_like(m_c), atol=1e-13, rtol=0)
    for x, y in zip(raw, cen, strict=True):
        torch.testing.assert_close(x, y, atol=1e-12, rtol=1e-12)


@needs_native
@pytest.mark.parametrize("chunk_steps", [1, 3, 100])
@pytest.mark.parametrize("loop", ["per-step", "whole-sequence"])
@pytest.mark.parametrize("kw", [{}, {"peephole": True, "zoneout": 0.3}, {"zoneout": 0.3},
                                {"layer_norm": True}, {"layer_norm": True, "zoneout": 0.2},
                                {"proj_size": 4, "peephole": True},
                                {"proj_size": 4, "zoneout": 0.2}],
                         ids=["plain", "peephole-zoneout", "zoneout", "layernorm",
                              "layernorm-zoneout", "proj-peephole", "proj-zoneout"])
def test_lstm_inference_projects_in_chunks_and_matches_the_reference(kw, loop, chunk_steps,
                                                                      monkeypatch):
    """Inference projects the input chunk by chunk, or (per-step GEMMs, no layer norm) joins
    it to each step's GEMM as [x_t | h] [W_ih | W_hh]ᵀ, and updates c in place (zoneout
    included): outputs and final states equal the reference loop, ragged and bidirectional
    included."""
    import rnnkit

    H, B = 6, 5
    monkeypatch.setattr(lstm_native, "SEQ_MACS", 0 if loop == "per-step" else 1 << 30)
    monkeypatch.setattr(lstm_native, "CHUNK_BYTES", chunk_steps * B * 4 * H * 8)
    torch.manual_seed(1)
    fast = rnnkit.LSTM(3, H, num_layers=2, bidirectional=True, batch_first=True, impl="engine",
                       **kw).double()
    ref = rnnkit.LSTM(3, H, num_layers=2, bidirectional=True, batch_first=True,
                      impl="reference", **kw).double()
    with torch.no_grad():
        for p in fast.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ref.load_state_dict(fast.state_dict())
    fast.eval(), ref.eval()
    x = torch.randn(B, 8, 3, dtype=torch.float64)
    h0 = torch.randn(4, B, kw.get("proj_size", H), dtype=torch.float64)
    c0 = torch.randn(4, B, H, dtype=torch.float64)
    for lengths in (None, torch.tensor([8, 2, 5, 1, 8])):
        with torch.no_grad():
            y, (h, c) = fast(x, (h0, c0), lengths=lengths)
            y_r, (h_r, c_r) = ref(x, (h0, c0), lengths=lengths)
        for a, b in ((y, y_r), (h, h_r), (c, c_r)):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


@needs_native
def test_without_native_bf16_autocast_keeps_fp32_gemms(monkeypatch):
    """On a CPU whose oneDNN has no bf16 GEMMs (AVX2 only) bf16 would be emulated, 6x slower
    than fp32: the engine keeps fp32 GEMMs under autocast and gives the fp32 result."""
    import rnnkit
    from rnnkit.kernels.engine import _common

    monkeypatch.setattr(_common, "cpu_bf16_native", lambda: False)
    layer = rnnkit.LSTM(8, 16, batch_first=True, peephole=True)
    x = torch.randn(3, 7, 8)
    assert "GEMMs in bfloat16" not in layer.explain(x).describe()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, _ = layer(x)
        assert layer.last_kernel == "engine"
    torch.testing.assert_close(y.float(), layer(x)[0])
    monkeypatch.setattr(_common, "cpu_bf16_native", lambda: True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert "GEMMs in bfloat16" in layer.explain(x).describe()


@needs_native
@pytest.mark.parametrize("family,kw", [
    ("LSTM", {"peephole": True}), ("LSTM", {"layer_norm": True}), ("LSTM", {"zoneout": 0.2}),
    ("LSTM", {"proj_size": 5, "peephole": True}), ("GRU", {}), ("GRU", {"layer_norm": True}),
    ("GRU", {"zoneout": 0.2, "recurrent_dropout": 0.1})])
def test_bf16_autocast_runs_the_recurrent_gemms_in_bf16_close_to_fp32(family, kw, monkeypatch):
    """Under CPU bf16 autocast the engine's input projection, per-step and weight-gradient
    GEMMs run in bf16 with fp32 state: outputs and every gradient stay within bf16 rounding of
    the fp32 run, and the bf16 GEMMs are really used (spies see bf16 operands)."""
    import rnnkit
    from rnnkit.kernels import torch_fused
    from rnnkit.kernels.engine import _common

    # the bf16 path's logic is checked on every CPU (a CPU without native bf16 runs it through
    # plain matmul, slowly): production picks it only where oneDNN has bf16 GEMMs
    monkeypatch.setattr(_common, "cpu_bf16_native", lambda: True)
    monkeypatch.setattr(lstm_native, "SEQ_MACS", 0)  # the per-step GEMM path
    monkeypatch.setattr(gru_native, "SEQ_MACS", 0)
    seen = []
    real = torch_fused.StepGemm.__call__

    def spy(self, a, bias=None):
        seen.append(a.dtype)
        return real(self, a, bias)

    monkeypatch.setattr(torch_fused.StepGemm, "__call__", spy)
    from rnnkit.kernels.engine import driver

    projected = []  # the input projection's operand dtypes
    real_linear = driver.linear
    monkeypatch.setattr(driver, "linear",
                        lambda x, w, b=None: projected.append(x.dtype) or real_linear(x, w, b))
    torch.manual_seed(0)
    layer = getattr(rnnkit, family)(8, 16, num_layers=2, batch_first=True, impl="engine", **kw)
    x = torch.randn(6, 12, 8)
    lengths = torch.tensor([12, 5, 9, 12, 1, 7])

    def run(amp):
        torch.manual_seed(1)  # the same zoneout masks in both runs
        layer.zero_grad()
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            y, state = layer(xi, lengths=lengths)
        state = state if isinstance(state, tuple) else (state,)
        (y.float().sum() + sum(s.float().pow(2).sum() for s in state)).backward()
        return [y.float(), *(s.float() for s in state), xi.grad] + [
            p.grad.clone() for p in layer.parameters()]

    ref = run(False)
    assert torch.bfloat16 not in seen and torch.bfloat16 not in projected
    got = run(True)
    assert torch.bfloat16 in seen and torch.bfloat16 in projected
    n_state = len(ref) - 2 - len(list(layer.parameters()))
    names = [*["y", "h", "c"][: 1 + n_state], "x.grad"]
    names += [n for n, _ in layer.named_parameters()]
    for name, a, b in zip(names, got, ref, strict=True):
        assert a.dtype == torch.float32
        err = (a - b).abs().max() / b.abs().max().clamp(min=1e-3)
        # layer norm over the recurrent product magnifies bf16 rounding (the reference loop
        # under autocast is off by as much)
        assert err < (0.1 if "layer_norm" in kw else 3e-2), (name, err)


@needs_native
@pytest.mark.parametrize("name", ["gru", "gru-zoneout", "rnn-zoneout", "lstm", "mingru",
                                  "minlstm"])
@pytest.mark.parametrize("seq", [False, True], ids=["per-step", "whole-sequence"])
def test_native_loops_are_right_under_bf16_autocast(name, seq, monkeypatch):
    """Autocast must not change a buffer's dtype under the C loops (an autocast matmul used to
    hand bf16 memory to a float32 step): outputs and input gradients stay near fp32."""
    import rnnkit

    for mod in (lstm_native, gru_native, elman):
        monkeypatch.setattr(mod, "SEQ_MACS", 1 << 30 if seq else 0)
    cls = {"gru": rnnkit.GRU, "rnn": rnnkit.RNN, "lstm": rnnkit.LSTM,
           "mingru": rnnkit.MinGRU, "minlstm": rnnkit.MinLSTM}[name.split("-")[0]]
    kw = {"zoneout": 0.1} if name.endswith("zoneout") else {}
    torch.manual_seed(0)
    layer = cls(4, 6, num_layers=2, batch_first=True, **kw).eval()
    x = torch.randn(3, 9, 4)

    def run(amp):
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            y = layer(xi)[0]
        y.float().sum().backward()
        return y.float().detach(), xi.grad

    for a, b in zip(run(True), run(False), strict=True):
        assert torch.isfinite(a).all()
        assert ((a - b).abs().max() / b.abs().max()) < 3e-2


@needs_native
@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize("kw", [{}, {"zoneout": 0.3}, {"recurrent_dropout": 0.2},
                                {"bias": False}], ids=["plain", "zoneout", "recdrop", "nobias"])
def test_reset_before_gru_whole_sequence_loop_matches_torch_loop(kw, ragged, monkeypatch):
    """Small reset-before GRUs run in one C call (training and inference); large ones and
    layer norm keep the torch loop. Both give the same outputs, states and gradients."""
    import rnnkit

    torch.manual_seed(0)
    layer = rnnkit.GRU(5, 8, batch_first=True, reset_after=False, **kw)
    x = torch.randn(4, 11, 5)
    lengths = torch.tensor([11, 7, 3, 1]) if ragged else None
    assert gru_native.rb_usable(torch.empty(4, 11, 24), None)
    assert not gru_native.rb_usable(torch.empty(4, 11, 24), torch.ones(24))

    def run(native_ok, training):
        monkeypatch.setattr(gru_native, "rb_usable", lambda xp, ln: native_ok)
        layer.train(training)
        torch.manual_seed(1)  # the same dropout / zoneout masks on both sides
        xi = x.clone().requires_grad_()
        y, h = layer(xi, lengths=lengths)
        w = torch.linspace(-1, 1, y.numel()).view_as(y)
        loss = (y * w).sum() + (h * h).sum()
        grads = torch.autograd.grad(loss, [xi, *layer.parameters()])
        return y, h, grads

    for training in (True, False):
        (y1, h1, g1), (y2, h2, g2) = run(True, training), run(False, training)
        torch.testing.assert_close(y1, y2, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(h1, h2, atol=1e-5, rtol=1e-4)
        for a, b in zip(g1, g2, strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@needs_native
@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize("name,kw", [
    ("gru-reset-before", {"reset_after": False, "zoneout": 0.3}),
    ("gru-reset-before", {"reset_after": False, "recurrent_dropout": 0.2}),
    ("elman-tanh", {"zoneout": 0.3}), ("elman-relu", {"nonlinearity": "relu", "zoneout": 0.3}),
    ("elman-tanh", {"recurrent_dropout": 0.2})])
def test_whole_sequence_loops_in_inference_match_the_torch_loop(name, kw, ragged, monkeypatch):
    """Under no_grad (nothing kept for a backward; zoneout as its expectation) the one-call C
    loops of the reset-before GRU and the Elman RNN equal the per-step torch loops."""
    import rnnkit

    torch.manual_seed(0)
    cls = rnnkit.GRU if name.startswith("gru") else rnnkit.RNN
    layer = cls(5, 8, num_layers=2, batch_first=True, **kw).eval()
    x = torch.randn(4, 11, 5)
    lengths = torch.tensor([11, 7, 3, 1]) if ragged else None
    with torch.no_grad():
        y1, h1 = layer(x, lengths=lengths)
        monkeypatch.setattr(gru_native, "rb_usable", lambda xp, ln: False)
        monkeypatch.setattr(elman, "usable", lambda xp: False)
        y2, h2 = layer(x, lengths=lengths)
    torch.testing.assert_close(y1, y2, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(h1, h2, atol=1e-5, rtol=1e-4)


@needs_native
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("spec,kw", [
    ("elman-tanh", {"zoneout": 0.3, "recurrent_dropout": 0.2}),
    ("elman-relu", {"zoneout": 0.3}), ("elman-nobias", {"recurrent_dropout": 0.2}),
    ("elman-tanh", {})], ids=["tanh-zone-drop", "relu-zone", "nobias-drop", "tanh"])
def test_elman_per_step_c_loop_matches_the_torch_loop(spec, kw, train, monkeypatch):
    """Larger Elman RNNs (B·H² above the whole-sequence limit) run one GEMM and one C call per
    step each way: outputs, final state and every gradient equal the torch loop's (float64,
    ragged, reversed, masks from one seed), and the per-step C functions really ran."""
    layer = rnnkit.RNN(3, 300, batch_first=True, bidirectional=True,
                       nonlinearity="relu" if "relu" in spec else "tanh",
                       bias="nobias" not in spec, impl="engine", **kw).double().train(train)
    assert elman.SEQ_MACS < 4 * 300 * 300
    x = torch.randn(4, 9, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([9, 4, 7, 1])
    calls, real = [], elman._fn
    monkeypatch.setattr(elman, "_fn", lambda kind, dtype: calls.append(kind) or real(kind, dtype))
    out = []
    for native_on in (True, False):
        if not native_on:
            monkeypatch.setattr(elman, "usable", lambda xp: False)
        torch.manual_seed(5)
        y, h = layer(x, lengths=lengths)
        grads = torch.autograd.grad((y * y.detach().cos()).sum() + h.pow(2).sum(),
                                    [x, *layer.parameters()])
        out.append((y, h, grads))
        if native_on:
            assert set(calls) == {"fwd", "bwd"}, calls
    torch.testing.assert_close(out[0][0], out[1][0], atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(out[0][1], out[1][1], atol=1e-12, rtol=1e-12)
    for a, b in zip(out[0][2], out[1][2], strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)

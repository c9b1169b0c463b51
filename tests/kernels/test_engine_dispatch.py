"""Eligibility, explain and strict: which kernel runs, and the error text when one cannot."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.cells import LSTMCell
from rnnkit.layers import Recurrent

VARIANTS = {
    "lstm-peephole": (rnnkit.LSTM, {"peephole": True}, "peephole=True is not supported"),
    "lstm-layernorm": (rnnkit.LSTM, {"layer_norm": True}, "layer_norm=True is not supported"),
    "lstm-recdrop": (rnnkit.LSTM, {"recurrent_dropout": 0.2}, "recurrent_dropout > 0"),
    "lstm-zoneout": (rnnkit.LSTM, {"zoneout": 0.1}, "zoneout > 0"),
    "gru-reset-before": (rnnkit.GRU, {"reset_after": False}, "reset_after=False"),
    "gru-layernorm": (rnnkit.GRU, {"layer_norm": True}, "layer_norm=True is not supported"),
    "rnn-zoneout": (rnnkit.RNN, {"zoneout": 0.1}, "zoneout > 0"),
}


@pytest.mark.parametrize("name", ["lstm", "rnn"])
def test_standard_layers_choose_torch(name):
    cls, H = {"lstm": (rnnkit.LSTM, 4),
              "rnn": (rnnkit.RNN, 256)}[name]
    layer = cls(3, H, strict=True)
    x = torch.randn(5, 8 if name == "rnn" else 2, 3)  # B·H·H above the Elman C loop's limit
    assert layer.explain(x).name == "torch"
    layer(x)
    assert layer.last_kernel == "torch"


@pytest.mark.parametrize("cls,reason", [
    (rnnkit.GRU, "GRU on CPU: torch has no oneDNN GRU"),
    (rnnkit.RNN, "small Elman RNN on CPU")], ids=["gru", "small-elman"])
def test_standard_layer_on_cpu_chooses_the_native_engine_and_says_why(cls, reason, monkeypatch):
    """torch's CPU GRU is a generic loop (no oneDNN), and a small Elman RNN (B·H·H <=
    elman.SEQ_MACS) runs in one C call, many times faster than torch's per-step CPU loop: auto
    takes the engine; impl='torch' still forces torch, and without the native step torch is
    chosen."""
    from rnnkit.kernels import torch_fused

    layer = cls(3, 4, strict=True)
    x = torch.randn(5, 2, 3)
    choice = layer.explain(x)
    assert choice.name == "engine"
    assert reason in choice.reasons["torch"]
    layer(x)
    assert layer.last_kernel == "engine"
    forced = cls(3, 4, impl="torch")
    forced(x)
    assert forced.last_kernel == "torch"
    monkeypatch.setattr(torch_fused, "_native_engine", lambda: False)
    assert layer.explain(x).name == "torch"


@pytest.mark.parametrize("name", VARIANTS)
def test_variants_choose_engine_and_explain_why(name):
    cls, kw, reason = VARIANTS[name]
    layer = cls(3, 4, strict=True, **kw)
    x = torch.randn(5, 2, 3)
    choice = layer.explain(x)
    assert choice.name == "engine"
    assert reason in choice.reasons["torch"]
    assert "not torch: " in choice.describe()
    layer(x)  # strict=True: the engine is a fast path
    assert layer.last_kernel == "engine"


def test_explicit_torch_raises_with_reason_and_fix():
    layer = rnnkit.LSTM(3, 4, layer_norm=True, impl="torch")
    with pytest.raises(ValueError) as e:
        layer(torch.randn(5, 2, 3))
    assert str(e.value) == (
        "LSTM: impl='torch' cannot run this call: layer_norm=True is not supported by torch's "
        "fused LSTM. Use impl='auto' to fall back to an eligible kernel.")


class PlainCell(LSTMCell):
    """A user cell: same math, but the engine cannot know that."""

    def step(self, xp_t, state, rec_mask=None):
        return super().step(xp_t, state, rec_mask)


def test_user_cell_runs_reference_and_strict_refuses():
    x = torch.randn(5, 2, 3)
    layer = Recurrent(PlainCell(3, 4))
    choice = layer.explain(x)
    assert choice.name == "reference"
    assert "overrides step/project_input" in choice.reasons["engine"]
    with pytest.raises(RuntimeError, match="strict=True refuses the slow 'reference' path"):
        Recurrent(PlainCell(3, 4), strict=True)(x)


def test_explicit_engine_on_user_cell_raises():
    layer = Recurrent(PlainCell(3, 4), impl="engine")
    with pytest.raises(ValueError, match="impl='engine' cannot run this call: PlainCell overrides"):
        layer(torch.randn(5, 2, 3))


@pytest.mark.parametrize("name", VARIANTS)
def test_seeded_masks_engine_equals_reference(name):
    cls, kw, _ = VARIANTS[name]
    kw = {**kw, "recurrent_dropout": 0.3, "zoneout": 0.2}
    layer = cls(3, 5, num_layers=2, bidirectional=True, batch_first=True, **kw).double().train()
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 5, 1])
    out = []
    for impl in ("engine", "reference"):
        layer.impl = impl
        torch.manual_seed(7)
        y, _ = layer(x, lengths=lengths)
        assert layer.last_kernel == impl
        grads = torch.autograd.grad(y.pow(2).sum(), list(layer.parameters()))
        out.append((y, grads))
    torch.testing.assert_close(out[0][0], out[1][0])
    for a, b in zip(out[0][1], out[1][1], strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["lstm-peephole", "gru-reset-before"])
def test_gpu_engine_and_torch_match_cpu(name):
    cls, kw, _ = VARIANTS[name]
    layer = cls(3, 5, batch_first=True, **kw)
    x = torch.randn(4, 6, 3)
    y_cpu, _ = layer(x)
    y_gpu, _ = layer.cuda()(x.cuda())
    assert layer.last_kernel == "engine"
    torch.testing.assert_close(y_gpu.cpu(), y_cpu, atol=1e-4, rtol=1e-4)


def test_one_step_of_a_small_lstm_on_cpu_runs_in_the_engine():
    """Streaming: torch's fused op has a fixed cost that dominates one step; the engine's
    native call is cheaper for small LSTMs, so auto takes it (impl='torch' still forces)."""
    layer = rnnkit.LSTM(3, 4, batch_first=True, strict=True)
    choice = layer.explain(torch.randn(2, 1, 3))
    assert choice.name == "engine"
    assert "one step of a small LSTM on CPU" in choice.reasons["torch"]
    assert layer.explain(torch.randn(2, 5, 3)).name == "torch"  # whole sequences: torch
    assert rnnkit.LSTM(3, 4, proj_size=2).explain(torch.randn(1, 2, 3)).name == "torch"
    forced = rnnkit.LSTM(3, 4, batch_first=True, impl="torch")
    forced.step(torch.randn(2, 3))
    assert forced.last_kernel == "torch"


def test_step_caches_its_kernel_plan_and_rechooses_when_the_mode_changes(monkeypatch):
    from rnnkit.layers import dispatch

    calls = []
    real = dispatch.choose
    monkeypatch.setattr(dispatch, "choose", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    layer = rnnkit.LSTM(3, 4, num_layers=2, batch_first=True, zoneout=0.2).eval()
    x = torch.randn(2, 3)
    with torch.no_grad():
        _, s = layer.step(x)
        first = len(calls)
        assert first > 0
        for _ in range(3):
            _, s = layer.step(x, s)
        assert len(calls) == first  # cached: no eligibility checks per step
        layer.train()
        layer.step(x, s)
        assert len(calls) > first  # training draws masks: chosen again
    assert layer.last_kernel == "engine"

"""Streaming ``step()`` through the cached native context equals ``forward`` over the sequence."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.kernels.engine import native, stream

needs_native = pytest.mark.skipif(native.lstm_lib() is None, reason=native.status())


def _spy(monkeypatch):
    calls = []
    real = stream.LSTMStream.__call__

    def spy(self, *a):
        calls.append(1)
        return real(self, *a)

    monkeypatch.setattr(stream.LSTMStream, "__call__", spy)
    return calls


def _stream(layer, x, state=None):
    ys = []
    for t in range(x.shape[1]):
        y, state = layer.step(x[:, t], state)
        ys.append(y)
    return torch.stack(ys, 1), state


@needs_native
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kw", [{}, {"peephole": True}, {"num_layers": 2, "bias": False},
                                {"num_layers": 2, "peephole": True, "recurrent_dropout": 0.3}],
                         ids=["plain", "peephole", "2layers-nobias", "2layers-peephole-rdrop"])
@pytest.mark.parametrize("B", [1, 3])
def test_cached_native_step_equals_forward(B, kw, dtype, monkeypatch):
    torch.manual_seed(0)
    layer = rnnkit.LSTM(5, 7, batch_first=True, dtype=dtype, **kw).eval()
    x = torch.randn(B, 6, 5, dtype=dtype)
    h0 = (torch.randn(layer.num_layers, B, 7, dtype=dtype),
          torch.randn(layer.num_layers, B, 7, dtype=dtype))
    calls = _spy(monkeypatch)
    with torch.no_grad():
        y_ref, (h_ref, c_ref) = layer(x, h0)
        y, (h, c) = _stream(layer, x, h0)
    assert len(calls) == 6 and layer.last_kernel == "engine"
    tol = {"atol": 1e-12, "rtol": 1e-12} if dtype == torch.float64 else {"atol": 1e-6,
                                                                          "rtol": 1e-5}
    for a, b in ((y, y_ref), (h, h_ref), (c, c_ref)):
        torch.testing.assert_close(a, b, **tol)
    # outputs are fresh tensors: the caller may keep every step's state
    assert y.data_ptr() != h.data_ptr()


@needs_native
def test_cached_context_follows_parameter_changes(monkeypatch):
    """An in-place update (optimizer step) or replaced parameters rebuild the context."""
    torch.manual_seed(0)
    layer = rnnkit.LSTM(4, 6, batch_first=True, peephole=True).eval()
    x = torch.randn(1, 5, 4)
    calls = _spy(monkeypatch)
    with torch.no_grad():
        _stream(layer, x)
        for p in layer.parameters():
            p.mul_(0.5).add_(0.1)
        y, (_, c) = _stream(layer, x)
        y_ref, (_, c_ref) = layer(x)
        torch.testing.assert_close(y, y_ref, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(c, c_ref, atol=1e-6, rtol=1e-5)
        layer.load_state_dict({k: v * 2 for k, v in layer.state_dict().items()}, assign=True)
        y, _ = _stream(layer, x)
        torch.testing.assert_close(y, layer(x)[0], atol=1e-6, rtol=1e-5)
    assert len(calls) == 15


@needs_native
@pytest.mark.parametrize("kw,train,grad", [({"layer_norm": True}, False, False),
                                           ({"zoneout": 0.2}, False, False),
                                           ({}, True, True), ({"proj_size": 3}, False, False)],
                         ids=["layer-norm", "zoneout", "needs-grad", "proj"])
def test_ineligible_steps_take_the_general_path(kw, train, grad, monkeypatch):
    torch.manual_seed(0)
    layer = rnnkit.LSTM(4, 6, batch_first=True, **kw).train(train)
    x = torch.randn(2, 3, 4)
    calls = _spy(monkeypatch)
    with torch.set_grad_enabled(grad):
        y, _ = _stream(layer, x)
        y_ref, _ = layer(x)
    assert calls == []
    if not train:
        torch.testing.assert_close(y, y_ref, atol=1e-6, rtol=1e-5)

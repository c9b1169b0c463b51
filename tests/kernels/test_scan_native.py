"""The scan kernel's native C loop (kernels.min_native) against its pure-PyTorch fallback."""

import pytest
import torch

from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.kernels import min_native
from rnnkit.kernels.base import DirectionRun
from rnnkit.kernels.scan_kernel import SCAN, run_scan

pytestmark = pytest.mark.skipif(not min_native.available(torch.zeros(1)),
                                reason="native min-RNN loop not built (no C compiler?)")


def _run(cell, x, h0, lengths, reverse, native, monkeypatch):
    with monkeypatch.context() as mp:
        if not native:
            mp.setattr(min_native, "available", lambda *a, **k: False)
        y, (h,) = run_scan(DirectionRun(cell, x, (h0,), lengths, reverse))
    return y, h


@pytest.mark.parametrize("cell_type", [MinGRUCell, MinLSTMCell], ids=["mingru", "minlstm"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
@pytest.mark.parametrize("T", [1, 37, 300])
@pytest.mark.parametrize("chunk", [1 << 20, 3000], ids=["1chunk", "chunks"])
def test_native_equals_fallback_forward_and_grads(cell_type, dtype, reverse, ragged, T, chunk,
                                                  monkeypatch):
    monkeypatch.setattr(min_native, "CHUNK_BYTES", chunk)  # 3000 B: a few steps per chunk
    torch.manual_seed(T)
    cell = cell_type(5, 19).to(dtype)
    x = torch.randn(3, T, 5, dtype=dtype, requires_grad=True)
    h0 = torch.randn(3, 19, dtype=dtype, requires_grad=True)
    lengths = torch.tensor([T, max(1, T // 3), max(1, T - 1)]) if ragged else None
    wy, wh = torch.randn(3, T, 19, dtype=dtype), torch.randn(3, 19, dtype=dtype)
    outs = []
    for native in (True, False):
        y, h = _run(cell, x, h0, lengths, reverse, native, monkeypatch)
        grads = torch.autograd.grad((y * wy).sum() + (h * wh).sum(),
                                    (x, h0, *cell.parameters()))
        outs.append((y, h, grads))
    (y1, h1, g1), (y2, h2, g2) = outs
    tol = {} if dtype == torch.float64 else dict(atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(y1, y2, **tol)
    torch.testing.assert_close(h1, h2, **tol)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, **tol)
    if ragged:
        pad = torch.arange(T)[None, :] >= lengths[:, None]
        assert (y1[pad] == 0).all()


@pytest.mark.parametrize("cell_type", [MinGRUCell, MinLSTMCell], ids=["mingru", "minlstm"])
def test_native_gradcheck_float64(cell_type, monkeypatch):
    cell = cell_type(3, 4).double()
    x = torch.randn(2, 9, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([9, 4])
    monkeypatch.setattr(min_native, "CHUNK_BYTES", 300)  # several chunks
    for rev in (False, True):
        def f(x, h0, w, b, rev=rev):
            cell.weight_ih, cell.bias_ih = w, b
            y, (h,) = run_scan(DirectionRun(cell, x, (h0,), lengths, rev))
            return y, h
        w = cell.weight_ih.detach().clone().requires_grad_()
        b = cell.bias_ih.detach().clone().requires_grad_()
        params = dict(cell.named_parameters())
        try:
            del cell.weight_ih, cell.bias_ih
            assert torch.autograd.gradcheck(f, (x, h0, w, b))
            assert torch.autograd.gradgradcheck(f, (x, h0, w, b))
        finally:
            for k, v in params.items():
                setattr(cell, k, v)


@pytest.mark.parametrize("cell_type", [MinGRUCell, MinLSTMCell], ids=["mingru", "minlstm"])
def test_native_extreme_gates_finite(cell_type):
    cell = cell_type(3, 4)
    with torch.no_grad():
        cell.weight_ih.mul_(1e4)
    x = (torch.randn(2, 300, 3) * 10).requires_grad_()
    y, (h,) = run_scan(DirectionRun(cell, x, (torch.randn(2, 4),), torch.tensor([300, 50])))
    (y.sum() + h.sum()).backward()
    assert torch.isfinite(y).all() and torch.isfinite(h).all()
    assert torch.isfinite(x.grad).all() and torch.isfinite(cell.weight_ih.grad).all()


def test_explain_names_the_native_loop():
    assert "native C loop" in SCAN.summary or "pure-PyTorch" in SCAN.summary
    assert "native C loop" in min_native.status()

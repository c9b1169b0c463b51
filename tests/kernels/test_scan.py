"""functional.scan (linear and log space) against the plain loop, forward and backward."""

import pytest
import torch

from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.functional.masking import reverse_padded
from rnnkit.functional.scan import linear_scan, log_scan, scan_reference
from rnnkit.kernels.base import DirectionRun
from rnnkit.kernels.scan_kernel import SCAN, run_scan

f64 = torch.float64
SHAPES = [(1, 1, 1), (2, 7, 3), (3, 33, 5), (2, 100, 4), (1, 257, 2), (2, 1000, 3)]
ids = [f"B{b}-T{t}-F{f}" for b, t, f in SHAPES]


def _ref(a, b, h0, lengths, reverse):
    """Loop per sequence over its valid part: the definition of the masking semantics."""
    ys, lasts = torch.zeros_like(b), []
    for i in range(b.shape[0]):
        n = int(lengths[i]) if lengths is not None else b.shape[1]
        ai, bi = a[i : i + 1, :n], b[i : i + 1, :n]
        if reverse:
            ai, bi = ai.flip(1), bi.flip(1)
        h = scan_reference(ai, bi, None if h0 is None else h0[i : i + 1])
        lasts.append(h[0, -1])
        ys[i, :n] = h[0].flip(0) if reverse else h[0]
    return ys, torch.stack(lasts)


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_linear_scan_matches_loop(shape, reverse):
    B, T, F = shape
    a, b, h0 = torch.rand(B, T, F, dtype=f64) * 2 - 1, torch.randn(B, T, F, dtype=f64), \
        torch.randn(B, F, dtype=f64)
    lengths = torch.randint(1, T + 1, (B,))
    y, last = linear_scan(a, b, h0, lengths, reverse)
    ry, rlast = _ref(a, b, h0, lengths, reverse)
    torch.testing.assert_close(y, ry)
    torch.testing.assert_close(last, rlast)


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_log_scan_matches_loop(shape):
    B, T, F = shape
    a, b, h0 = torch.rand(B, T, F, dtype=f64) + 1e-3, torch.rand(B, T, F, dtype=f64) + 1e-3, \
        torch.randn(B, F, dtype=f64)
    lengths = torch.randint(1, T + 1, (B,))
    for reverse in (False, True):
        y, last = log_scan(a.log(), b.log(), h0, lengths, reverse, chunk=16)
        ry, rlast = _ref(a, b, h0, lengths, reverse)
        torch.testing.assert_close(y, ry)
        torch.testing.assert_close(last, rlast)


def test_linear_scan_backward_matches_loop_autograd():
    a = (torch.rand(3, 300, 4, dtype=f64) * 2 - 1).requires_grad_()
    b = torch.randn(3, 300, 4, dtype=f64, requires_grad=True)
    h0 = torch.randn(3, 4, dtype=f64, requires_grad=True)
    w = torch.randn(3, 300, 4, dtype=f64)
    grads = []
    for fn in (lambda: linear_scan(a, b, h0)[0], lambda: scan_reference(a, b, h0)):
        grads.append(torch.autograd.grad((fn() * w).sum(), (a, b, h0)))
    for g1, g2 in zip(*grads):
        torch.testing.assert_close(g1, g2)


def test_gradcheck_float64_ragged_reverse_state():
    a = (torch.rand(2, 40, 3, dtype=f64) * 2 - 1).requires_grad_()
    b = torch.randn(2, 40, 3, dtype=f64, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=f64, requires_grad=True)
    L = torch.tensor([40, 17])
    for rev in (False, True):
        assert torch.autograd.gradcheck(lambda a, b, h, r=rev: linear_scan(a, b, h, L, r),
                                        (a, b, h0))
    assert torch.autograd.gradgradcheck(lambda a, b, h: linear_scan(a, b, h)[0], (a, b, h0))
    la = torch.rand(2, 40, 3, dtype=f64).log().requires_grad_()
    lb = torch.randn(2, 40, 3, dtype=f64).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, h: log_scan(a, b, h, L, chunk=8), (la, lb, h0))


def test_trailing_feature_shape_and_errors():
    a, b = torch.rand(2, 9, 3, 4), torch.randn(2, 9, 3, 4)
    y, _last = linear_scan(a, b)
    torch.testing.assert_close(y, scan_reference(a, b))
    with pytest.raises(ValueError, match="same shape"):
        linear_scan(a, b[:, :5])
    with pytest.raises(ValueError, match="h0"):
        linear_scan(a, b, torch.zeros(2, 4))


@pytest.mark.parametrize("cell_type", [MinGRUCell, MinLSTMCell], ids=["mingru", "minlstm"])
@pytest.mark.parametrize("space", ["linear", "log"])
def test_extreme_gate_values_stay_finite(cell_type, space):
    cell = cell_type(3, 4, scan_space=space)
    with torch.no_grad():
        cell.weight_ih.mul_(1e4)
    x = (torch.randn(2, 300, 3) * 10).requires_grad_()
    run = DirectionRun(cell, x, (torch.randn(2, 4),), torch.tensor([300, 50]))
    y, (h,) = run_scan(run)
    (y.sum() + h.sum()).backward()
    assert torch.isfinite(y).all() and torch.isfinite(h).all()
    assert torch.isfinite(x.grad).all() and torch.isfinite(cell.weight_ih.grad).all()


def test_scan_kernel_eligibility():
    from rnnkit.cells import GRUCell
    run = DirectionRun(GRUCell(2, 3), torch.randn(1, 4, 2), (torch.zeros(1, 3),))
    assert "min-cells" in SCAN.why_not(run)
    assert SCAN.why_not(DirectionRun(MinGRUCell(2, 3), run.x, run.state)) is None


def test_reverse_padded_roundtrip_used_by_scan():
    x, L = torch.randn(3, 6, 2), torch.tensor([6, 3, 1])
    torch.testing.assert_close(reverse_padded(reverse_padded(x, L), L), x)

"""impl='parallel' (quasi-DEER/ELK Newton) against the sequential engine."""

import warnings

import pytest
import torch

from rnnkit import GRU, LSTM, RNN
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell
from rnnkit.kernels import newton
from rnnkit.kernels.newton import NEWTON, _step_and_diag

VARIANTS = [
    (GRU, {}), (GRU, {"reset_after": False}), (LSTM, {}), (LSTM, {"peephole": True}),
    (RNN, {}), (RNN, {"nonlinearity": "relu"}),
]
VIDS = ["gru", "gru-reset_before", "lstm", "lstm-peephole", "elman-tanh", "elman-relu"]


def _cell(layer_cls, kw, I, H, dtype=torch.float32):
    m = layer_cls(I, H, **kw).to(dtype)
    return m, m.cells[0][0]


@pytest.mark.parametrize(("cls", "kw"), VARIANTS, ids=VIDS)
def test_step_and_diagonal_jacobian_match_autograd(cls, kw):
    _m, cell = _cell(cls, kw, 3, 5, torch.float64)
    N, S = 4, sum(cell.state_sizes)
    xp = cell.project_input(torch.randn(N, 3, dtype=torch.float64))
    s = torch.randn(N, S, dtype=torch.float64)
    mask = torch.rand(N, cell.output_size, dtype=torch.float64) + 0.5

    def f(s, rows=slice(None)):
        _, new = cell.step(xp[rows], tuple(s.split(list(cell.state_sizes), -1)), mask[rows])
        return torch.cat(new, -1)

    value, diag = _step_and_diag(cell, xp, s, mask)
    torch.testing.assert_close(value, f(s))
    for n in range(N):
        J = torch.autograd.functional.jacobian(lambda v, n=n: f(v[None], slice(n, n + 1))[0], s[n])
        torch.testing.assert_close(diag[n], J.diagonal())


def _compare(m, x, lengths=None, hx=None):
    outs = {}
    for impl in ("parallel", "sequential"):
        m.impl = impl
        y, h = m(x, hx, lengths=lengths)
        outs[impl] = (y, torch.cat(h) if isinstance(h, tuple) else h, m.last_kernel)
    (y1, h1, k1), (y2, h2, _) = outs["parallel"], outs["sequential"]
    assert k1 == "parallel"
    return (y1 - y2).abs().max().item(), (h1 - h2).abs().max().item()


@pytest.mark.parametrize(("cls", "kw"), VARIANTS, ids=VIDS)
def test_newton_matches_sequential_random_fp32(cls, kw):
    m = cls(4, 24, num_layers=2, bidirectional=True, batch_first=True, **kw)
    x, L = torch.randn(3, 157, 4), torch.tensor([157, 40, 1])
    hx = tuple(torch.randn(4, 3, s) * 0.5 for s in m.cells[0][0].state_sizes)
    dy, dh = _compare(m, x, L, hx if len(hx) > 1 else hx[0])
    assert dy <= 1e-4 and dh <= 1e-4
    assert newton.last_stats().converged


def test_newton_matches_sequential_on_trained_gru():
    torch.manual_seed(1)
    m = GRU(2, 32, batch_first=True)
    head = torch.nn.Linear(32, 1)
    opt = torch.optim.Adam([*m.parameters(), *head.parameters()], lr=1e-2)
    for _ in range(40):  # learn a running sum: a long-memory task pushes z toward 1
        x = torch.randn(16, 60, 2)
        y, _ = m(x)
        loss = (head(y).squeeze(-1) - x[..., 0].cumsum(1) / 10).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    newton.configure(m, max_iter=400)  # long memory: quasi-DEER needs many iterations here
    with torch.no_grad():
        dy, dh = _compare(m, torch.randn(4, 300, 2))
    assert dy <= 1e-4 and dh <= 1e-4
    assert newton.last_stats().iterations > 10  # trained cells are harder than random ones


@pytest.mark.parametrize(("cls", "kw"), [*VARIANTS[::2], VARIANTS[1]], ids=[*VIDS[::2], VIDS[1]])
def test_newton_gradients_match_sequential_float64(cls, kw):
    m = cls(3, 8, num_layers=2, bidirectional=True, batch_first=True, **kw).double()
    x = torch.randn(2, 60, 3, dtype=torch.float64, requires_grad=True)
    L, w = torch.tensor([60, 23]), torch.randn(2, 60, 16, dtype=torch.float64)
    grads = []
    for impl in ("parallel", "sequential"):
        m.impl = impl
        y, h = m(x, lengths=L)
        h = torch.cat(h) if isinstance(h, tuple) else h
        grads.append(torch.autograd.grad((y * w).sum() + h.square().sum(), [x, *m.parameters()]))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-8, rtol=1e-7)


def test_newton_with_zoneout_and_recurrent_dropout_in_training():
    m = LSTM(3, 10, batch_first=True, recurrent_dropout=0.2, zoneout=0.1, bidirectional=True)
    x, L = torch.randn(2, 30, 3, requires_grad=True), torch.tensor([30, 9])
    outs = []
    for impl in ("parallel", "reference"):
        m.impl = impl
        torch.manual_seed(3)
        y, (_h, c) = m(x, lengths=L)
        g = torch.autograd.grad(y.sum() + c.sum(), [x, *m.parameters()])
        outs.append((y, c, g))
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-5, rtol=1e-4)
    for a, b in zip(outs[0][2], outs[1][2]):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)


def test_fallback_when_budget_too_small_warns_and_matches():
    m = GRU(3, 16, batch_first=True, impl="parallel")
    x = torch.randn(2, 80, 3)
    with newton.newton_options(max_iter=1), pytest.warns(RuntimeWarning, match="did not converge"):
        y, _h = m(x)
    assert m.last_kernel != "parallel" and not newton.last_stats().converged
    m.impl = "sequential"
    torch.testing.assert_close(y, m(x)[0])
    assert "falls back to the sequential engine" in NEWTON.summary


def test_fallback_strict_raises_and_configure_sets_budget():
    m = GRU(3, 16, batch_first=True, impl="parallel", strict=True)
    newton.configure(m, max_iter=1)
    with pytest.raises(RuntimeError, match="strict=True refuses"):
        m(torch.randn(2, 80, 3))
    newton.configure(m, max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m(torch.randn(2, 80, 3))
    assert m.last_kernel == "parallel"


def test_adjoint_budget_exhausted_uses_exact_sequential_sweep():
    m = GRU(3, 8, batch_first=True, impl="parallel").double()
    x = torch.randn(2, 40, 3, dtype=torch.float64, requires_grad=True)
    grads = []
    for impl, opts in (("parallel", {"adjoint_max_iter": 1}), ("sequential", {})):
        m.impl = impl
        with newton.newton_options(**opts), warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            grads.append(torch.autograd.grad(m(x)[0].sum(), [x, *m.parameters()]))
        if impl == "parallel":
            assert any("sequential reverse sweep" in str(r.message) for r in rec)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_ineligible_cells_say_why():
    with pytest.raises(ValueError, match="layer_norm"):
        GRU(3, 4, layer_norm=True, impl="parallel")(torch.randn(5, 2, 3))
    with pytest.raises(ValueError, match="proj_size"):
        LSTM(3, 4, proj_size=2, impl="parallel")(torch.randn(5, 2, 3))
    from rnnkit.kernels.base import DirectionRun

    class MyCell(GRUCell):
        pass

    run = DirectionRun(MyCell(2, 3), torch.randn(1, 4, 2), (torch.zeros(1, 3),))
    assert "analytic diagonal Jacobian" in NEWTON.why_not(run)
    for cell in (ElmanCell(2, 3), GRUCell(2, 3), LSTMCell(2, 3, peephole=True)):
        assert NEWTON.why_not(DirectionRun(cell, run.x, run.state)) is None


def test_auto_never_picks_newton():
    m = GRU(3, 4)
    m(torch.randn(5, 2, 3))
    assert m.last_kernel != "parallel"

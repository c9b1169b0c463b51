"""The engine as PyTorch operators: exact double backward (float64 gradgradcheck with the
engine running), the custom operators checked by ``torch.library.opcheck``, and
``torch.compile(fullgraph=True)`` of every layer family equal to eager with no graph break."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.kernels import ops

D = torch.float64

# id -> (layer factory (I, H) on the engine, expected kernel, lengths?)
LAYERS = {
    "lstm": (lambda i, h: rnnkit.LSTM(i, h, batch_first=True, impl="engine"), "engine", False),
    "lstm-peephole": (lambda i, h: rnnkit.LSTM(i, h, batch_first=True, peephole=True),
                      "engine", False),
    "lstm-layernorm": (lambda i, h: rnnkit.LSTM(i, h, batch_first=True, layer_norm=True),
                       "engine", False),
    "lstm-proj": (lambda i, h: rnnkit.LSTM(i, h, batch_first=True, proj_size=2, impl="engine"),
                  "engine", False),
    "lstm-recdrop": (lambda i, h: rnnkit.LSTM(i, h, batch_first=True, recurrent_dropout=0.3),
                     "engine", False),
    "lstm-zoneout": (lambda i, h: rnnkit.LSTM(i, h, batch_first=True, zoneout=0.3),
                     "engine", False),
    "lstm-ragged": (lambda i, h: rnnkit.LSTM(i, h, batch_first=True, impl="engine"),
                    "engine", True),
    "gru": (lambda i, h: rnnkit.GRU(i, h, batch_first=True), "engine", False),
    "gru-reset-before": (lambda i, h: rnnkit.GRU(i, h, batch_first=True, reset_after=False),
                         "engine", True),
    "gru-layernorm": (lambda i, h: rnnkit.GRU(i, h, batch_first=True, layer_norm=True),
                      "engine", False),
    "rnn-tanh": (lambda i, h: rnnkit.RNN(i, h, batch_first=True, impl="engine"), "engine", True),
    "rnn-relu": (lambda i, h: rnnkit.RNN(i, h, nonlinearity="relu", batch_first=True,
                                         impl="engine"), "engine", False),
    "lstm-bi-stacked": (lambda i, h: rnnkit.LSTM(i, h, num_layers=2, bidirectional=True,
                                                 batch_first=True, peephole=True),
                        "engine", True),
    "gru-bi": (lambda i, h: rnnkit.GRU(i, h, bidirectional=True, batch_first=True),
               "engine", True),
    "mingru": (lambda i, h: rnnkit.MinGRU(i, h, batch_first=True), "scan", True),
    "minlstm": (lambda i, h: rnnkit.MinLSTM(i, h, batch_first=True), "scan", False),
}


def _setup(key, B=2, T=3, I=2, H=3):
    make, kernel, ragged = LAYERS[key]
    torch.manual_seed(0)
    m = make(I, H).to(D).train()
    x = torch.randn(B, T, I, dtype=D, requires_grad=True)
    lengths = torch.tensor([T, T - 1])[:B] if ragged else None
    return m, x, lengths, kernel


@pytest.mark.parametrize("key", LAYERS, ids=LAYERS.keys())
def test_gradgradcheck_layers(key):
    m, x, lengths, kernel = _setup(key)
    params = [p for p in m.parameters()]

    def f(x, *params):  # gradgradcheck perturbs the parameters in place: the layer sees them
        torch.manual_seed(1)  # the same recurrent-dropout / zoneout masks on every call
        y, state = m(x, lengths=lengths)
        state = state if isinstance(state, tuple) else (state,)
        return (y, *state)

    f(x, *params)
    assert m.last_kernel == kernel
    assert torch.autograd.gradgradcheck(f, (x, *params), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", ["GRU", "RNN", "LSTM"])
def test_double_backward_matches_torch_nn(name):
    """A gradient penalty through the engine equals torch.nn's (it used to differ by 3-7)."""
    torch.manual_seed(0)
    impl = {"LSTM": "engine"}.get(name, "auto")
    m = getattr(rnnkit, name)(3, 4, batch_first=True, impl=impl).to(D)
    ref = getattr(torch.nn, name)(3, 4, batch_first=True).to(D)
    ref.load_state_dict(m.state_dict(), strict=False)
    x = torch.randn(2, 5, 3, dtype=D, requires_grad=True)
    got = []
    for mod in (m, ref):
        y, _ = mod(x)
        g, = torch.autograd.grad(y.pow(2).sum(), x, create_graph=True)
        got.append(torch.autograd.grad(g.pow(2).sum(), [x, mod.weight_hh_l0]))
    assert m.last_kernel == "engine"
    for a, b in zip(*got):
        torch.testing.assert_close(a, b)


def test_exact_engine_first_order_runs_engine_backward(monkeypatch):
    """Without create_graph the backward is the engine's own (not the reference recompute)."""
    m, x, _, _ = _setup("gru")
    called = []
    real = ops.run_reference
    monkeypatch.setattr(ops, "run_reference", lambda run: called.append(1) or real(run))
    y, _ = m(x)
    y.sum().backward()
    assert m.last_kernel == "engine" and not called
    torch.autograd.grad(m(x)[0].sum(), x, create_graph=True)
    assert called


# -- the custom operators ---------------------------------------------------------------------

OP_CELLS = {  # id -> (cell, ragged + reverse, recurrent dropout + zoneout)
    "lstm-all": (lambda: rnnkit.LSTMCell(2, 3, proj_size=2, peephole=True, layer_norm=True),
                 True, True),
    "gru": (lambda: rnnkit.GRUCell(2, 3), False, False),
    "gru-reset-before": (lambda: rnnkit.GRUCell(2, 3, reset_after=False), True, True),
    "elman-relu": (lambda: rnnkit.ElmanCell(2, 3, nonlinearity="relu"), True, False),
    "elman-nobias": (lambda: rnnkit.ElmanCell(2, 3, bias=False), False, False),
    "mingru": (lambda: rnnkit.MinGRUCell(2, 3), True, False),
    "minlstm-nobias": (lambda: rnnkit.MinLSTMCell(2, 3, bias=False), False, False),
}


@pytest.mark.parametrize("key", OP_CELLS, ids=OP_CELLS.keys())
def test_opcheck_direction(key):
    from rnnkit.kernels.base import DirectionRun
    from rnnkit.layers.regularization import recurrent_dropout_mask, zoneout_weights

    make, ragged, masks = OP_CELLS[key]
    torch.manual_seed(0)
    cell = make().to(D)
    B, T = 3, 4
    x = torch.randn(B, T, 2, dtype=D, requires_grad=True)
    state = tuple(torch.randn(B, s, dtype=D, requires_grad=True) for s in cell.state_sizes)
    lengths = torch.tensor([4, 2, 3]) if ragged else None
    m = recurrent_dropout_mask(0.3 if masks else 0.0, B, cell.output_size, x, True)
    z = zoneout_weights(0.3 if masks else 0.0, T, B, tuple(cell.state_sizes), x, True)
    run = DirectionRun(cell, x, state, lengths, ragged, m, z, True)
    kernel = "scan" if key.startswith("min") else "engine"
    torch.library.opcheck(ops.direction, ops.op_args(run, kernel))
    # the op equals the kernel called directly, outputs and gradients
    from rnnkit.kernels.engine.driver import run_engine
    from rnnkit.kernels.scan_kernel import run_scan
    y1, s1 = ops.direction_op(run, kernel)
    y2, s2 = (run_scan if kernel == "scan" else run_engine)(run)
    torch.testing.assert_close(y1, y2)
    ins = (x, *state, *cell.parameters())
    g1 = torch.autograd.grad((y1 * y1).sum() + sum(s.sum() for s in s1), ins)
    g2 = torch.autograd.grad((y2 * y2).sum() + sum(s.sum() for s in s2), ins)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b)
    # and its double backward is exact (the reference twin)
    assert torch.autograd.gradgradcheck(lambda *t: ops.direction_op(run, kernel)[0], (x,),
                                        eps=1e-6, atol=1e-5)


# -- torch.compile ----------------------------------------------------------------------------

COMPILE = {  # id -> (layer factory, kernel, ragged); a few in the default suite, the rest slow
    "lstm-peephole-ragged": (lambda: rnnkit.LSTM(3, 4, batch_first=True, peephole=True),
                             "engine", True),
    "gru": (lambda: rnnkit.GRU(3, 4, batch_first=True), "engine", False),
    "rnn": (lambda: rnnkit.RNN(3, 4, batch_first=True), "engine", False),
    "mingru": (lambda: rnnkit.MinGRU(3, 4, batch_first=True), "scan", True),
}
COMPILE_SLOW = {
    "lstm": (lambda: rnnkit.LSTM(3, 4, batch_first=True), "torch", False),
    "lstm-layernorm-proj": (lambda: rnnkit.LSTM(3, 4, batch_first=True, layer_norm=True,
                                                proj_size=2), "engine", False),
    "lstm-zoneout-recdrop": (lambda: rnnkit.LSTM(3, 4, batch_first=True, zoneout=0.2,
                                                 recurrent_dropout=0.2).eval(), "engine", False),
    "gru-reset-before-bi": (lambda: rnnkit.GRU(3, 4, batch_first=True, reset_after=False,
                                               bidirectional=True), "engine", True),
    "rnn-relu-stacked": (lambda: rnnkit.RNN(3, 4, num_layers=2, nonlinearity="relu",
                                            batch_first=True), "engine", False),
    "minlstm-bi": (lambda: rnnkit.MinLSTM(3, 4, batch_first=True, bidirectional=True),
                   "scan", False),
}


class _Counting:
    """A dynamo backend that counts the graphs it is given (1 == no graph break)."""

    def __init__(self):
        self.graphs = 0

    def __call__(self, gm, example_inputs):
        self.graphs += 1
        from functorch.compile import make_boxed_func
        from torch._dynamo.backends.common import aot_autograd

        def boxed(g, _):
            return make_boxed_func(g.forward)
        return aot_autograd(fw_compiler=boxed, bw_compiler=boxed)(gm, example_inputs)


def _check_compile(make, kernel, ragged, backend):
    torch._dynamo.reset()
    torch.manual_seed(0)
    m = make()
    x = torch.randn(2, 5, 3, requires_grad=True)
    lengths = torch.tensor([5, 3]) if ragged else None
    y0, s0 = m(x, lengths=lengths)
    assert m.last_kernel == kernel  # eager runs the native kernel (the one compile wraps)
    g0 = torch.autograd.grad(y0.square().sum(), [x, *m.parameters()])
    cm = torch.compile(m, fullgraph=True, backend=backend)
    for T in (5, 7):  # a second length re-traces (or runs a dynamic graph) without breaks
        xt = torch.randn(2, T, 3) if T != 5 else x
        y1, s1 = cm(xt, lengths=lengths)
    y1, s1 = cm(x, lengths=lengths)
    g1 = torch.autograd.grad(y1.square().sum(), [x, *m.parameters()])
    torch.testing.assert_close(y1, y0)
    for a, b in zip(s1 if isinstance(s1, tuple) else (s1,), s0 if isinstance(s0, tuple) else (s0,)):
        torch.testing.assert_close(a, b)
    for a, b in zip(g1, g0):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("key", COMPILE, ids=COMPILE.keys())
def test_compile_fullgraph_equals_eager(key):
    backend = _Counting()
    _check_compile(*COMPILE[key], backend)
    assert backend.graphs >= 1
    explain = torch._dynamo.explain(COMPILE[key][0]())(torch.randn(2, 5, 3))
    assert explain.graph_break_count == 0 and explain.graph_count == 1


@pytest.mark.slow
@pytest.mark.parametrize("key", COMPILE_SLOW, ids=COMPILE_SLOW.keys())
def test_compile_fullgraph_equals_eager_slow(key):
    _check_compile(*COMPILE_SLOW[key], "inductor")
    explain = torch._dynamo.explain(COMPILE_SLOW[key][0]())(torch.randn(2, 5, 3))
    assert explain.graph_break_count == 0


def test_compile_inductor_gru():
    """The default backend (inductor) too: the GRU that used to kill the process."""
    _check_compile(*COMPILE["gru"], "inductor")

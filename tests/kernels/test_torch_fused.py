"""The ``torch`` stack kernel: parity with torch.nn (outputs, states, all gradients, ragged)."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.kernels.torch_fused import torch_fused_available

CONFIGS = {
    "lstm": (rnnkit.LSTM, torch.nn.LSTM, {}),
    "lstm-proj": (rnnkit.LSTM, torch.nn.LSTM, {"proj_size": 3}),
    "gru": (rnnkit.GRU, torch.nn.GRU, {}),
    "rnn-tanh": (rnnkit.RNN, torch.nn.RNN, {}),
    "rnn-relu-nobias": (rnnkit.RNN, torch.nn.RNN, {"nonlinearity": "relu", "bias": False}),
}
LAYOUTS = {"L1": (1, False), "L2-bi": (2, True)}


def test_available():
    assert torch_fused_available() is None


@pytest.mark.parametrize("ragged", [False, True], ids=["equal", "ragged"])
@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("name", CONFIGS)
def test_torch_kernel_matches_torch_nn(name, layout, ragged):
    ours_cls, theirs_cls, kw = CONFIGS[name]
    L, bi = layout
    ours = ours_cls(4, 5, num_layers=L, bidirectional=bi, batch_first=True, impl="torch",
                    **kw).double()
    theirs = theirs_cls(4, 5, num_layers=L, bidirectional=bi, batch_first=True, **kw).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(3, 7, 4, dtype=torch.float64)
    lengths = torch.tensor([7, 2, 5]) if ragged else None
    y, h = ours(x, lengths=lengths)
    assert ours.last_kernel == "torch"
    if ragged:
        p = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        yt, ht = theirs(p)
        yt = pad_packed_sequence(yt, batch_first=True, total_length=7)[0]
    else:
        yt, ht = theirs(x)
    h, ht = (h if isinstance(h, tuple) else (h,)), (ht if isinstance(ht, tuple) else (ht,))
    torch.testing.assert_close(y, yt)
    for a, b in zip(h, ht, strict=True):
        torch.testing.assert_close(a, b)
    loss = y.pow(2).sum() + sum(a.sum() for a in h)
    loss_t = yt.pow(2).sum() + sum(b.sum() for b in ht)
    g = torch.autograd.grad(loss, list(ours.parameters()))
    gt = torch.autograd.grad(loss_t, list(theirs.parameters()))
    for a, b in zip(g, gt, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn-tanh"])
def test_torch_kernel_matches_engine_and_reference(name):
    ours_cls, _, kw = CONFIGS[name]
    layer = ours_cls(3, 5, batch_first=True, bidirectional=True, **kw).double()
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 1, 4, 3])
    results = []
    for impl in ("torch", "engine", "reference"):
        layer.impl = impl
        y, _ = layer(x, lengths=lengths)
        assert layer.last_kernel == impl
        results.append(y)
    torch.testing.assert_close(results[1], results[0])
    torch.testing.assert_close(results[2], results[0])


def test_ragged_on_cpu_prefers_the_engine_unless_forced():
    layer = rnnkit.LSTM(3, 4, batch_first=True)
    x, lengths = torch.randn(2, 5, 3), torch.tensor([5, 2])
    choice = layer.explain(x, lengths)
    assert choice.name == "engine"
    assert "ragged lengths on CPU" in choice.reasons["torch"]
    assert layer.explain(x, torch.tensor([5, 5])).name == "torch"


def test_padded_outputs_are_zero():
    layer = rnnkit.LSTM(3, 4, batch_first=True, impl="torch")
    y, _ = layer(torch.randn(2, 5, 3), lengths=torch.tensor([5, 2]))
    assert layer.last_kernel == "torch"
    assert torch.count_nonzero(y[1, 2:]) == 0

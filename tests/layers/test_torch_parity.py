"""Parity with torch.nn.RNN / LSTM / GRU: outputs, final states and every gradient.

float64, tight tolerance. Ragged batches are compared with torch.nn on a PackedSequence.
"""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.kernels.engine import native

I, H, B, T = 4, 5, 3, 6
LENGTHS = torch.tensor([4, 6, 1])  # unsorted on purpose

MODES = {
    "rnn-tanh": (torch.nn.RNN, rnnkit.RNN, {}),
    "rnn-relu": (torch.nn.RNN, rnnkit.RNN, {"nonlinearity": "relu"}),
    "lstm": (torch.nn.LSTM, rnnkit.LSTM, {}),
    "lstm-proj": (torch.nn.LSTM, rnnkit.LSTM, {"proj_size": 3}),
    "gru": (torch.nn.GRU, rnnkit.GRU, {}),
}

IMPLS = ["auto", "reference", "engine", "torch"]
CASES = list(itertools.product(MODES, [1, 2], [False, True], [False, True], [False, True],
                               [False, True], IMPLS))


def case_id(c):
    mode, L, bi, bf, init, ragged, impl = c
    return (f"{mode}-L{L}-{'bi' if bi else 'uni'}-{'bf' if bf else 'tf'}"
            f"-{'h0' if init else 'noh0'}-{'ragged' if ragged else 'equal'}-{impl}")


def make_pair(mode, impl="auto", **kw):
    torch_cls, ours_cls, extra = MODES[mode]
    ref = torch_cls(I, H, **extra, **kw).double()
    ours = ours_cls(I, H, **extra, **kw, impl=impl).double()
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def initial_state(mode, L, D, with_grad=True):
    P = MODES[mode][2].get("proj_size", 0) or H
    h0 = torch.randn(L * D, B, P, dtype=torch.float64)
    if mode.startswith("lstm"):
        return (h0, torch.randn(L * D, B, H, dtype=torch.float64))
    return h0


def grads_of(module, inputs):
    return [p.grad.clone() for p in module.parameters()] + [t.grad.clone() for t in inputs]


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_parity_with_torch_nn(case):
    mode, L, bi, bf, init, ragged, impl = case
    ref, ours = make_pair(mode, impl, num_layers=L, bidirectional=bi, batch_first=bf)
    D = 2 if bi else 1
    x = torch.randn(B, T, I, dtype=torch.float64)
    if not bf:
        x = x.transpose(0, 1).contiguous()
    hx = initial_state(mode, L, D) if init else None
    results = []
    for module, use_packed in ((ref, ragged), (ours, False)):
        xi = x.clone().requires_grad_()
        hi = None
        leaves = [xi]
        if hx is not None:
            hi = tuple(h.clone().requires_grad_() for h in hx) if isinstance(hx, tuple) \
                else hx.clone().requires_grad_()
            leaves += list(hi) if isinstance(hi, tuple) else [hi]
        if use_packed:
            packed = pack_padded_sequence(xi, LENGTHS, batch_first=bf, enforce_sorted=False)
            out, state = module(packed, hi)
            out, _ = pad_packed_sequence(out, batch_first=bf, total_length=T)
        elif module is ref:
            out, state = module(xi, hi)
        else:
            out, state = module(xi, hi, lengths=LENGTHS if ragged else None)
        states = state if isinstance(state, tuple) else (state,)
        loss = (out * torch.linspace(-1, 2, out.numel(), dtype=out.dtype).view_as(out)).sum()
        loss = loss + sum((s ** 2).sum() for s in states)
        module.zero_grad()
        loss.backward()
        results.append((out.detach(), [s.detach() for s in states], grads_of(module, leaves)))
    (o1, s1, g1), (o2, s2, g2) = results
    # auto: torch's fused op for equal lengths; on CPU, ragged batches go to the engine, which
    # skips padded steps (torch's packed op is not oneDNN's there and trains ~2.5x slower).
    # CPU GRU goes to the native engine too (torch has no oneDNN GRU; the engine is faster),
    # and so do these small Elman RNNs (the engine runs them in one C call).
    engine_auto = ragged or (mode in ("gru", "rnn-tanh", "rnn-relu")
                             and native.lstm_lib() is not None)
    expected = ("engine" if engine_auto else "torch") if impl == "auto" else impl
    assert ours.last_kernel == expected
    torch.testing.assert_close(o2, o1, rtol=1e-10, atol=1e-10)
    for a, b in zip(s2, s1, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    assert len(g1) == len(g2)
    for a, b in zip(g2, g1, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mode", list(MODES))
def test_packed_sequence_input_matches_torch(mode):
    ref, ours = make_pair(mode, num_layers=2, bidirectional=True)
    x = torch.randn(T, B, I, dtype=torch.float64)
    packed = pack_padded_sequence(x, LENGTHS, enforce_sorted=False)
    o1, s1 = ref(packed)
    o2, s2 = ours(packed)
    assert isinstance(o2, torch.nn.utils.rnn.PackedSequence)
    torch.testing.assert_close(o2.data, o1.data)
    torch.testing.assert_close(o2.batch_sizes, o1.batch_sizes)
    for a, b in zip(s2 if isinstance(s2, tuple) else (s2,), s1 if isinstance(s1, tuple) else (s1,),
                    strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("mode", list(MODES))
def test_unbatched_input_matches_torch(mode):
    ref, ours = make_pair(mode, num_layers=2)
    x = torch.randn(T, I, dtype=torch.float64)
    o1, s1 = ref(x)
    o2, s2 = ours(x)
    torch.testing.assert_close(o2, o1)
    for a, b in zip(s2 if isinstance(s2, tuple) else (s2,), s1 if isinstance(s1, tuple) else (s1,),
                    strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("mode", list(MODES))
def test_state_dict_swaps_both_ways_and_same_default_init(mode):
    torch_cls, ours_cls, extra = MODES[mode]
    torch.manual_seed(3)
    ref = torch_cls(I, H, num_layers=2, bidirectional=True, **extra)
    torch.manual_seed(3)
    ours = ours_cls(I, H, num_layers=2, bidirectional=True, **extra)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for k, v in ref.state_dict().items():
        assert ours.state_dict()[k].shape == v.shape
        torch.testing.assert_close(ours.state_dict()[k], v)  # same default init, same RNG use
    ref2 = torch_cls(I, H, num_layers=2, bidirectional=True, **extra)
    ref2.load_state_dict(ours.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]


def test_attribute_access_like_torch():
    lstm = rnnkit.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=2)
    assert lstm.weight_ih_l1_reverse.shape == (4 * H, 2 * 2)
    assert lstm.weight_hr_l0.shape == (2, H)


def test_parameter_updates_reach_the_cells():
    """Optimiser steps and load_state_dict(assign=True) must change what forward computes."""
    lstm = rnnkit.LSTM(I, H)
    x = torch.randn(T, B, I)
    y0, _ = lstm(x)
    with torch.no_grad():
        lstm.weight_hh_l0.add_(0.5)
    y1, _ = lstm(x)
    assert not torch.allclose(y0, y1)
    other = rnnkit.LSTM(I, H)
    lstm.load_state_dict(other.state_dict(), assign=True)
    torch.testing.assert_close(lstm(x)[0], other(x)[0])

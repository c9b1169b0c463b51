"""torch.export with a dynamic time axis, torch.func (grad, vmap per-sample gradients, jacrev,
jvp) and forward-mode AD on rnnkit's layers: equal to eager, with the kernel that ran named."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call, grad, jacrev, jvp, vmap

import rnnkit

LAYERS = {  # id -> (factory, ragged?)
    "lstm": (lambda: rnnkit.LSTM(3, 4, batch_first=True), False),
    "lstm-peephole-ragged": (lambda: rnnkit.LSTM(3, 4, batch_first=True, peephole=True), True),
    "lstm-layernorm-proj-2layer": (lambda: rnnkit.LSTM(3, 4, num_layers=2, batch_first=True,
                                                       layer_norm=True, proj_size=2), False),
    "gru-bi-ragged": (lambda: rnnkit.GRU(3, 4, batch_first=True, bidirectional=True), True),
    "gru-reset-before": (lambda: rnnkit.GRU(3, 4, batch_first=True, reset_after=False), False),
    "rnn-relu": (lambda: rnnkit.RNN(3, 4, nonlinearity="relu", batch_first=True), False),
    "mingru-ragged": (lambda: rnnkit.MinGRU(3, 4, batch_first=True), True),
    "minlstm-bi": (lambda: rnnkit.MinLSTM(3, 4, batch_first=True, bidirectional=True), False),
}


def _make(key):
    torch.manual_seed(0)
    make, ragged = LAYERS[key]
    return make().eval(), ragged


def _flat(out):
    y, state = out
    state = state if isinstance(state, tuple) else (state,)
    return (y, *state)


@pytest.mark.parametrize("key", LAYERS, ids=LAYERS.keys())
def test_export_dynamic_time_axis(key):
    m, ragged = _make(key)
    x = torch.randn(2, 6, 3)
    T = torch.export.Dim("T", min=1, max=4096)
    if ragged:
        args, shapes = (x, None, torch.tensor([6, 4])), ({1: T}, None, None)
    else:
        args, shapes = (x,), ({1: T},)
    ep = torch.export.export(m, args, dynamic_shapes=shapes)
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert any("rnnkit.direction" in t for t in targets)  # the kernel, as one op
    for t in (1, 3, 13):  # other lengths than the traced one
        xt = torch.randn(2, t, 3)
        more = (None, torch.tensor([t, max(1, t - 2)])) if ragged else ()
        got, want = _flat(ep.module()(xt, *more)), _flat(m(xt, *more))
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b)


def _loss(m, lengths):
    def f(params, x):
        y, _ = functional_call(m, params, (x,), {"lengths": lengths})
        return y.square().sum()
    return f


@pytest.mark.parametrize("key", LAYERS, ids=LAYERS.keys())
def test_func_grad_vmap_jacrev_jvp(key):
    m, ragged = _make(key)
    x = torch.randn(2, 5, 3)
    lengths = torch.tensor([5, 3]) if ragged else None
    params = {k: v.detach() for k, v in m.named_parameters()}
    loss = _loss(m, lengths)
    ref = torch.autograd.grad(loss(dict(m.named_parameters()), x), list(m.parameters()))
    g = grad(loss)(params, x)
    assert m.last_kernel == "reference"  # a torch.func transform runs the pure-torch loop
    for k, r in zip(params, ref):
        torch.testing.assert_close(g[k], r)
    # per-sample gradients: vmap over the batch of grad of one sequence's loss
    per = vmap(grad(_loss(m, None)), in_dims=(None, 0))(params, x.unsqueeze(1))
    if not ragged:
        for k in params:
            torch.testing.assert_close(per[k].sum(0), g[k])
    else:  # each row alone, eagerly
        for b in range(2):
            gb = grad(_loss(m, None))(params, x[b : b + 1])
            for k in params:
                torch.testing.assert_close(per[k][b], gb[k])

    def fwd(x):
        return functional_call(m, params, (x,), {"lengths": lengths})[0]
    J = jacrev(fwd)(x)
    v = torch.randn_like(x)
    _, tangent = jvp(fwd, (x,), (v,))
    torch.testing.assert_close(tangent, (J * v).sum((3, 4, 5)))
    y = fwd(x)
    torch.testing.assert_close(J.sum((3, 4, 5)), torch.autograd.functional.jvp(
        fwd, x, torch.ones_like(x))[1])
    assert y.shape[:2] == x.shape[:2]


def test_forward_ad_dual_tensor_and_explain():
    m, _ = _make("gru-bi-ragged")
    x, v = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    fa = torch.autograd.forward_ad
    with fa.dual_level():
        y, _ = m(fa.make_dual(x, v))
        tangent = fa.unpack_dual(y).tangent
        why = m.explain(fa.make_dual(x, v)).describe()
    assert m.last_kernel == "reference" and "forward-mode AD" in why
    _, want = torch.autograd.functional.jvp(lambda x: m(x)[0], x, v)
    torch.testing.assert_close(tangent, want)
    m(x)
    assert m.last_kernel == "engine"  # and back to the engine outside the transform


def test_explain_names_the_transform():
    m, _ = _make("gru-reset-before")
    seen = []

    def f(x):
        seen.append(m.explain(x).describe())
        return m(x)[0].sum()
    grad(f)(torch.randn(2, 5, 3))
    assert "torch.func transform" in seen[0]
    assert "torch.func transform" not in m.explain(torch.randn(2, 5, 3)).describe()

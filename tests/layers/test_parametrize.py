"""Parametrizations and pruning: the weights that run are the module's attributes at forward
time (``RNNBase._sync``), so weight norm, orthogonal and pruned weights run on every kernel and
gradients reach the original parameters — compared with torch.nn under the same transform."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch.nn.utils import parametrizations, parametrize, prune

import rnnkit

W = "weight_hh_l0"


def _old_weight_norm(m):
    with warnings.catch_warnings():  # deprecated in favour of parametrizations.weight_norm
        warnings.simplefilter("ignore", FutureWarning)
        torch.nn.utils.weight_norm(m, W)


TRANSFORMS = {
    "weight_norm": lambda m: parametrizations.weight_norm(m, W),
    "orthogonal": lambda m: parametrizations.orthogonal(m, W),
    "old_weight_norm": _old_weight_norm,
    "prune_l1": lambda m: prune.l1_unstructured(m, W, amount=0.4),
    "prune_random_ih": lambda m: prune.random_unstructured(m, "weight_ih_l0", amount=0.5),
}

FAMILIES = {
    "LSTM": (torch.nn.LSTM, rnnkit.LSTM),
    "GRU": (torch.nn.GRU, rnnkit.GRU),
    "RNN": (torch.nn.RNN, rnnkit.RNN),
}


def _pair(family, transform, impl, **kw):
    """A torch.nn module and an rnnkit one with the same transform and the same weights."""
    torch.manual_seed(0)
    tn = FAMILIES[family][0](3, 4, dtype=torch.float64, **kw)
    rk = FAMILIES[family][1](3, 4, impl=impl, dtype=torch.float64, **kw)
    TRANSFORMS[transform](tn)
    TRANSFORMS[transform](rk)
    rk.load_state_dict(tn.state_dict())  # the transformed module's state_dict swaps too
    return tn, rk


def _grads(m):
    return {n: p.grad for n, p in m.named_parameters()}


@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("impl", ["auto", "engine", "reference"])
def test_transform_matches_torch(family, transform, impl):
    tn, rk = _pair(family, transform, impl, num_layers=2)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    y_t, h_t = tn(x)
    y_r, h_r = rk(x)
    if impl != "auto":
        assert rk.last_kernel == impl
    torch.testing.assert_close(y_r, y_t)
    torch.testing.assert_close(h_r, h_t)
    (y_t.square().sum() + sum(h.sum() for h in (h_t if isinstance(h_t, tuple) else (h_t,))))\
        .backward()
    (y_r.square().sum() + sum(h.sum() for h in (h_r if isinstance(h_r, tuple) else (h_r,))))\
        .backward()
    gt, gr = _grads(tn), _grads(rk)
    assert gt.keys() == gr.keys()
    assert any(".original" in n or n.endswith(("_orig", "_g", "_v")) for n in gr)
    for n in gt:
        torch.testing.assert_close(gr[n], gt[n], msg=n)


def test_transform_really_changes_the_output():
    """The transformed weight is what runs: zeroing the parametrized weight changes y."""
    rk = rnnkit.GRU(3, 4)
    x = torch.randn(5, 2, 3)
    y0, _ = rk(x)
    prune.l1_unstructured(rk, W, amount=1.0)  # every recurrent weight pruned
    y1, _ = rk(x)
    assert not torch.allclose(y0, y1)
    ref = rnnkit.GRU(3, 4)
    ref.load_state_dict({k.replace("_orig", ""): v for k, v in rk.state_dict().items()
                         if not k.endswith("_mask")})
    with torch.no_grad():
        ref.weight_hh_l0.zero_()
    torch.testing.assert_close(y1, ref(x)[0])


@pytest.mark.parametrize("transform", ["weight_norm", "orthogonal", "prune_l1"])
@pytest.mark.parametrize("kw", [
    {"peephole": True, "layer_norm": True},
    {"proj_size": 2},
    {"zoneout": 0.2},
], ids=["peephole-ln", "proj", "zoneout"])
def test_lstm_variants_engine_equals_reference(transform, kw):
    """Variants torch.nn cannot express: the engine with a transformed weight equals the
    reference loop with the same transform (outputs and every gradient)."""
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 3])
    out = {}
    for impl in ("engine", "reference"):
        torch.manual_seed(1)
        m = rnnkit.LSTM(3, 4, batch_first=True, impl=impl, dtype=torch.float64, **kw)
        TRANSFORMS[transform](m)
        m.eval()  # zoneout's expectation: deterministic
        y, (h, c) = m(x, lengths=lengths)
        assert m.last_kernel == impl
        (y.square().sum() + c.sum()).backward()
        out[impl] = (y, h, c, _grads(m))
    e, r = out["engine"], out["reference"]
    for a, b in zip(e[:3], r[:3], strict=True):
        torch.testing.assert_close(a, b)
    for n in e[3]:
        torch.testing.assert_close(e[3][n], r[3][n], msg=n)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_forms_engine_equals_reference_under_orthogonal(reset_after):
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    out = {}
    for impl in ("engine", "reference"):
        torch.manual_seed(2)
        m = rnnkit.GRU(3, 4, batch_first=True, reset_after=reset_after, layer_norm=True,
                       impl=impl, dtype=torch.float64)
        parametrizations.orthogonal(m, W)
        y, h = m(x)
        assert m.last_kernel == impl
        y.square().sum().backward()
        out[impl] = (y, h, _grads(m))
    torch.testing.assert_close(out["engine"][0], out["reference"][0])
    for n, g in out["engine"][2].items():
        torch.testing.assert_close(g, out["reference"][2][n], msg=n)


def test_orthogonal_weight_stays_orthogonal_through_training():
    """A step of SGD on the original parameter keeps the running weight orthogonal (the
    gradient reached ``parametrizations.weight_hh_l0.original``)."""
    m = rnnkit.RNN(3, 4, impl="engine")
    parametrizations.orthogonal(m, W)
    before = m.weight_hh_l0.detach().clone()
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    y, _ = m(torch.randn(6, 2, 3))
    y.sum().backward()
    opt.step()
    after = m.weight_hh_l0.detach()
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after @ after.t(), torch.eye(4), atol=1e-5, rtol=0)


def test_remove_parametrization_keeps_running():
    m = rnnkit.LSTM(3, 4)
    parametrizations.weight_norm(m, W)
    x = torch.randn(4, 2, 3)
    y0, _ = m(x)
    parametrize.remove_parametrizations(m, W)
    prune.l1_unstructured(m, "weight_ih_l0", 0.2)
    prune.remove(m, "weight_ih_l0")
    y1, _ = m(x)
    assert isinstance(m.weight_hh_l0, torch.nn.Parameter)
    assert y1.shape == y0.shape


def test_step_streams_with_a_transformed_weight():
    m = rnnkit.LSTM(3, 4, peephole=True)
    parametrizations.weight_norm(m, W)
    x = torch.randn(5, 2, 3)
    y, _ = m(x)
    state, ys = None, []
    for t in range(5):
        y_t, state = m.step(x[t], state)
        ys.append(y_t)
    torch.testing.assert_close(torch.stack(ys), y)

"""gradcheck / gradgradcheck in float64 on tiny shapes for every cell variant, through the
reference loop (ragged lengths, reverse, recurrent dropout and zoneout with masks fixed by a
seed). The fast kernels are gradchecked in tests/kernels."""

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck
from torch.func import functional_call

from cell_specs import CELL_SPECS
from rnnkit import Recurrent

I, H, B, T = 2, 3, 2, 3


def layer_fn(layer, names, lengths, seed=None):
    def f(x, *rest):
        n_state = len(layer.cell.state_sizes)
        state, params = rest[:n_state], rest[n_state:]
        if seed is not None:
            torch.manual_seed(seed)
        y, s = functional_call(layer, dict(zip(names, params, strict=True)), (x, state, lengths))
        return (y, *s)
    return f


def inputs_for(layer):
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    state = tuple((0.5 * torch.randn(B, s, dtype=torch.float64)).requires_grad_()
                  for s in layer.cell.state_sizes)
    names, params = zip(*[(n, p.detach().clone().requires_grad_())
                          for n, p in layer.named_parameters()], strict=True)
    return x, state, list(names), list(params)


@pytest.mark.parametrize("spec", list(CELL_SPECS))
def test_gradcheck_cell(spec):
    cell = CELL_SPECS[spec](I, H, dtype=torch.float64)
    layer = Recurrent(cell, batch_first=True, impl="reference")
    x, state, names, params = inputs_for(layer)
    f = layer_fn(layer, names, None)
    assert gradcheck(f, (x, *state, *params), eps=1e-6, atol=1e-5, fast_mode=True)
    names_hh = [i for i, n in enumerate(names) if "hh" in n or "ph" in n or "hr" in n]
    g = layer_fn(layer, names, None)

    def only_recurrent(x, *rest):  # exact (slow mode) check on x, state and recurrent weights
        n_state = len(state)
        ps = list(params)
        for k, i in enumerate(names_hh):
            ps[i] = rest[n_state + k]
        return g(x, *rest[:n_state], *ps)

    sub = [params[i] for i in names_hh]
    assert gradcheck(only_recurrent, (x, *state, *sub), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("spec", list(CELL_SPECS))
def test_gradgradcheck_cell(spec):
    cell = CELL_SPECS[spec](I, H, dtype=torch.float64)
    layer = Recurrent(cell, batch_first=True, impl="reference")
    x, state, names, params = inputs_for(layer)
    f = layer_fn(layer, names, None)
    assert gradgradcheck(f, (x, *state, *params), eps=1e-6, atol=1e-4)


@pytest.mark.parametrize("spec", ["elman-tanh", "lstm-all", "gru-reset-before-layernorm"])
def test_gradcheck_ragged_reverse_dropout_zoneout(spec):
    layer = Recurrent(CELL_SPECS[spec](I, H, dtype=torch.float64), batch_first=True,
                      reverse=True, recurrent_dropout=0.3, zoneout=0.2, impl="reference").train()
    x, state, names, params = inputs_for(layer)
    f = layer_fn(layer, names, torch.tensor([3, 1]), seed=123)
    assert gradcheck(f, (x, *state, *params), eps=1e-6, atol=1e-5)

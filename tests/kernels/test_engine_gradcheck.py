"""gradcheck (float64, tiny shapes) for each of the engine's custom autograd Functions."""

from __future__ import annotations

import pytest
import torch

from cell_specs import CELL_SPECS
from rnnkit.kernels.base import DirectionRun
from rnnkit.kernels.engine.driver import run_engine
from rnnkit.layers.regularization import recurrent_dropout_mask, zoneout_weights

CASES = {  # spec -> uses FusedLSTM / FusedGRU / FusedElman with every optional input on
    "lstm-all": True, "lstm": False, "gru-reset-before-layernorm": True, "gru-layernorm": True,
    "gru": False, "gru-reset-before": True, "elman-tanh": True, "elman-relu": False,
}


@pytest.mark.parametrize("spec,masks", CASES.items(), ids=CASES.keys())
def test_gradcheck_engine(spec, masks):
    torch.manual_seed(1)
    cell = CELL_SPECS[spec](2, 3, dtype=torch.float64)
    B, T = 3, 4
    x = torch.randn(B, T, 2, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(B, s, dtype=torch.float64, requires_grad=True)
                  for s in cell.state_sizes)
    lengths = torch.tensor([4, 2, 3]) if masks else None
    m = recurrent_dropout_mask(0.3 if masks else 0.0, B, cell.output_size, x, True)
    z = zoneout_weights(0.3 if masks else 0.0, T, B, tuple(cell.state_sizes), x, True)
    params = list(cell.parameters())

    def f(x, *rest):  # gradcheck perturbs the parameters in place, so the cell sees them
        st = rest[: len(state)]
        y, s = run_engine(DirectionRun(cell, x, tuple(st), lengths, masks, m, z, True))
        return (y, *s)

    assert torch.autograd.gradcheck(f, (x, *state, *params), eps=1e-6, atol=1e-5)

"""Contract tests over every registered cell (tests/cell_specs.py)."""

import io

import pytest
import torch

from cell_specs import CELL_SPECS
from rnnkit import Recurrent
from rnnkit.functional import reference_loop

I, H, B, T = 5, 6, 3, 7


def make(spec, dtype=torch.float64):
    return CELL_SPECS[spec](I, H, dtype=dtype)


@pytest.mark.parametrize("spec", list(CELL_SPECS))
def test_sizes_and_state(spec):
    cell = make(spec)
    state = cell.init_state(B)
    assert len(state) == len(cell.state_sizes)
    assert state[0].shape == (B, cell.output_size)
    assert all(s.dtype == torch.float64 and s.abs().sum() == 0 for s in state)
    xp = cell.project_input(torch.randn(B, T, I, dtype=torch.float64))
    assert xp.shape == (B, T, cell.gate_size)


@pytest.mark.parametrize("spec", list(CELL_SPECS))
def test_forward_equals_step_of_projection(spec):
    cell = make(spec)
    x = torch.randn(B, T, I, dtype=torch.float64)
    y, state = Recurrent(cell, batch_first=True)(x)
    s = cell.init_state(B)
    for t in range(T):
        h, s = cell(x[:, t], s)
        torch.testing.assert_close(y[:, t], h)
    for a, b in zip(state, s, strict=True):
        torch.testing.assert_close(a, b)
    # step(x_proj) must depend on x only through project_input
    xp = cell.project_input(x)
    y2, _ = reference_loop(cell.step, xp, cell.init_state(B))
    torch.testing.assert_close(y, y2)


@pytest.mark.parametrize("spec", list(CELL_SPECS))
def test_output_is_state_zero(spec):
    cell = make(spec)
    h, state = cell(torch.randn(B, I, dtype=torch.float64))
    torch.testing.assert_close(h, state[0])


@pytest.mark.parametrize("spec", list(CELL_SPECS))
def test_dtype_kept(spec):
    cell = make(spec, dtype=torch.float32)
    h, state = cell(torch.randn(B, I))
    assert h.dtype == torch.float32 and all(s.dtype == torch.float32 for s in state)


@pytest.mark.parametrize("spec", list(CELL_SPECS))
def test_state_dict_round_trip(spec):
    a, b = make(spec), make(spec)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b.load_state_dict(torch.load(buf, weights_only=True))
    x = torch.randn(B, I, dtype=torch.float64)
    torch.testing.assert_close(a(x)[0], b(x)[0])


@pytest.mark.parametrize("spec", [s for s in CELL_SPECS if not s.startswith("min")])
def test_rec_mask_zero_removes_recurrence(spec):
    """A zero recurrent-dropout mask cuts h_{t-1} out of the recurrent product.

    Elman/LSTM then do not depend on h_{t-1} at all; a GRU still carries it through the update
    gate, h_t = (1 - z) n + z h_{t-1}, with z independent of h_{t-1}: the difference of two
    outputs is z times the difference of the two states.
    """
    cell = make(spec)
    xp = cell.project_input(torch.randn(B, I, dtype=torch.float64))
    s1 = tuple(torch.randn_like(s) for s in cell.init_state(B))
    s2 = (torch.randn_like(s1[0]), *s1[1:])
    s3 = (torch.randn_like(s1[0]), *s1[1:])
    zero = torch.zeros(B, cell.output_size, dtype=torch.float64)
    h1, _ = cell.step(xp, s1, zero)
    h2, _ = cell.step(xp, s2, zero)
    h3, _ = cell.step(xp, s3, zero)
    h2_unmasked, _ = cell.step(xp, s2, None)
    assert not torch.allclose(h2, h2_unmasked)
    if spec.startswith("gru"):
        z12 = (h1 - h2) / (s1[0] - s2[0])
        z13 = (h1 - h3) / (s1[0] - s3[0])
        torch.testing.assert_close(z12, z13)
        assert bool(((z12 > 0) & (z12 < 1)).all())
    else:
        torch.testing.assert_close(h1, h2)

"""Properties every layer must have: padding, streaming and batch invariance, reverse
consistency, peephole reduction, and the regularisers' train/eval semantics."""

import pytest
import torch

import rnnkit
from rnnkit import Bidirectional, Recurrent, Stacked
from rnnkit.cells import GRUCell, LSTMCell  # step-contract cells: cell(x_t, state) -> (h, state)

I, H, B, T = 4, 5, 3, 7

LAYERS = {
    "rnn": lambda **kw: rnnkit.RNN(I, H, **kw),
    "lstm-peephole-ln": lambda **kw: rnnkit.LSTM(I, H, peephole=True, layer_norm=True, **kw),
    "lstm-proj": lambda **kw: rnnkit.LSTM(I, H, proj_size=3, **kw),
    "gru-reset-before": lambda **kw: rnnkit.GRU(I, H, reset_after=False, **kw),
    "gru-ln": lambda **kw: rnnkit.GRU(I, H, layer_norm=True, **kw),
}


def make(name, **kw):
    return LAYERS[name](batch_first=True, **kw).double().eval()


def states(s):
    return s if isinstance(s, tuple) else (s,)


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("bi", [False, True], ids=["uni", "bi"])
def test_padding_invariance(name, bi):
    """Whatever sits in the padding never changes outputs or final states."""
    layer = make(name, num_layers=2, bidirectional=bi)
    x = torch.randn(B, T, I, dtype=torch.float64)
    lengths = torch.tensor([7, 3, 5])
    y1, s1 = layer(x, lengths=lengths)
    x2 = x.clone()
    for b, n in enumerate(lengths.tolist()):
        x2[b, n:] = 1e3 * torch.randn(T - n, I, dtype=torch.float64)
    y2, s2 = layer(x2, lengths=lengths)
    torch.testing.assert_close(y1, y2)
    for a, c in zip(states(s1), states(s2), strict=True):
        torch.testing.assert_close(a, c)
    for b, n in enumerate(lengths.tolist()):
        assert y1[b, n:].abs().sum() == 0
    # each sequence alone, unpadded, gives the same result
    for b, n in enumerate(lengths.tolist()):
        yb, sb = layer(x[b : b + 1, :n])
        torch.testing.assert_close(y1[b : b + 1, :n], yb)
        for a, c in zip(states(s1), states(sb), strict=True):
            torch.testing.assert_close(a[:, b : b + 1], c)


@pytest.mark.parametrize("grad", [True, False], ids=["grad", "no_grad"])
@pytest.mark.parametrize("name", [*LAYERS, "lstm", "lstm-zoneout-recdrop", "gru"])
def test_streaming_invariance(name, grad):
    """Running x[:, :k] then x[:, k:] with the carried state equals one run; so does step()
    (with its cached per-step kernel plan, with and without autograd)."""
    extra = {"lstm": lambda **kw: rnnkit.LSTM(I, H, **kw),
             "lstm-zoneout-recdrop": lambda **kw: rnnkit.LSTM(I, H, zoneout=0.3,
                                                              recurrent_dropout=0.2, **kw),
             "gru": lambda **kw: rnnkit.GRU(I, H, **kw)}
    layer = (extra[name](batch_first=True, num_layers=2).double().eval() if name in extra
             else make(name, num_layers=2))
    torch.set_grad_enabled(grad)
    try:
        _check_streaming(layer)
    finally:
        torch.set_grad_enabled(True)


def _check_streaming(layer):
    x = torch.randn(B, T, I, dtype=torch.float64)
    y, s = layer(x)
    ya, sa = layer(x[:, :3])
    yb, sb = layer(x[:, 3:], sa)
    torch.testing.assert_close(torch.cat([ya, yb], 1), y)
    for a, c in zip(states(s), states(sb), strict=True):
        torch.testing.assert_close(a, c)
    st, outs = None, []
    for t in range(T):
        yt, st = layer.step(x[:, t], st)
        outs.append(yt)
    torch.testing.assert_close(torch.stack(outs, 1), y)


@pytest.mark.parametrize("name", list(LAYERS))
def test_batch_invariance(name):
    layer = make(name, bidirectional=True)
    x = torch.randn(B, T, I, dtype=torch.float64)
    y, _ = layer(x)
    for b in range(B):
        torch.testing.assert_close(layer(x[b : b + 1])[0], y[b : b + 1])
    perm = torch.tensor([2, 0, 1])
    torch.testing.assert_close(layer(x[perm])[0], y[perm])


@pytest.mark.parametrize("name", list(LAYERS))
def test_reverse_consistency(name):
    """The backward direction equals a forward run over each sequence reversed in time."""
    layer = make(name, bidirectional=True)
    x = torch.randn(B, T, I, dtype=torch.float64)
    lengths = torch.tensor([7, 2, 4])
    y, _ = layer(x, lengths=lengths)
    P = y.shape[-1] // 2
    fwd = Recurrent(layer.cells[0][1], batch_first=True).eval()
    for b, n in enumerate(lengths.tolist()):
        yb, _ = fwd(x[b : b + 1, :n].flip(1))
        torch.testing.assert_close(y[b : b + 1, :n, P:], yb.flip(1))


def test_zero_peepholes_give_plain_lstm():
    plain = rnnkit.LSTM(I, H, num_layers=2).double()
    peep = rnnkit.LSTM(I, H, num_layers=2, peephole=True).double()
    sd = dict(plain.state_dict())
    sd.update({k: torch.zeros_like(v) for k, v in peep.state_dict().items() if "weight_ph" in k})
    peep.load_state_dict(sd)
    x = torch.randn(T, B, I, dtype=torch.float64)
    torch.testing.assert_close(peep(x)[0], plain(x)[0])
    with torch.no_grad():
        peep.weight_ph_l0.fill_(0.5)
    assert not torch.allclose(peep(x)[0], plain(x)[0])


def test_forget_bias_init():
    lstm = rnnkit.LSTM(I, H, forget_bias=1.0)
    assert torch.all(lstm.bias_ih_l0[H : 2 * H] == 1.0)
    assert torch.all(lstm.bias_hh_l0[H : 2 * H] == 0.0)


@pytest.mark.parametrize("kw", [{"recurrent_dropout": 0.4}, {"zoneout": 0.3}, {"dropout": 0.5}])
def test_regularisers_train_vs_eval(kw):
    layer = rnnkit.LSTM(I, H, num_layers=2, batch_first=True, **kw).double()
    x = torch.randn(B, T, I, dtype=torch.float64)
    layer.train()
    torch.manual_seed(1)
    a, _ = layer(x)
    torch.manual_seed(1)
    b, _ = layer(x)
    torch.manual_seed(2)
    c, _ = layer(x)
    torch.testing.assert_close(a, b)  # a seed fixes the masks
    assert not torch.allclose(a, c)
    layer.eval()
    torch.testing.assert_close(layer(x)[0], layer(x)[0])


def test_zoneout_eval_is_expectation():
    """In evaluation zoneout mixes old and new state with weight p (Krueger et al. 2017)."""
    p = 0.25
    cell = GRUCell(I, H, dtype=torch.float64)
    layer = Recurrent(cell, batch_first=True, zoneout=p).eval()
    x = torch.randn(B, 1, I, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    y, _ = layer(x, (h0,))
    h_new, _ = cell(x[:, 0], (h0,))
    torch.testing.assert_close(y[:, 0], p * h0 + (1 - p) * h_new)


def test_zoneout_training_keeps_or_updates_each_unit():
    layer = Recurrent(LSTMCell(I, H, dtype=torch.float64), batch_first=True, zoneout=0.5).train()
    x = torch.randn(B, 1, I, dtype=torch.float64)
    h0, c0 = torch.randn(B, H, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)
    _, (h, _) = layer(x, (h0, c0))
    h_new, _ = layer.cell(x[:, 0], (h0, c0))
    kept, updated = torch.isclose(h, h0), torch.isclose(h, h_new)
    assert bool((kept | updated).all()) and kept.any() and updated.any()


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.97])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zoneout_masks_are_bernoulli_p_and_follow_the_seed(p, dtype):
    """The CPU mask (15-bit integer compare, four per 64-bit draw) is Bernoulli(p) to within
    2^-15 of p, 0/1 in the reference dtype, any shape, and fixed by torch.manual_seed."""
    from rnnkit.layers.regularization import bernoulli_mask

    ref = torch.empty(0, dtype=dtype)
    torch.manual_seed(3)
    a = bernoulli_mask((40, 50, 101), p, ref)  # 202,000 draws (not a multiple of 4 per row)
    torch.manual_seed(3)
    b = bernoulli_mask((40, 50, 101), p, ref)
    assert a.dtype == dtype and a.shape == (40, 50, 101) and torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    rate, sd = a.mean().item(), (p * (1 - p) / a.numel()) ** 0.5
    assert abs(rate - p) <= 5 * sd + 2**-15
    if p == 0.0:
        assert a.sum() == 0
    # the rows are independent: neighbouring entries are uncorrelated
    flat = a.flatten()
    if 0 < p < 1:
        cov = ((flat[1:] - p) * (flat[:-1] - p)).mean().item()
        assert abs(cov) < 5 * p * (1 - p) / flat.numel() ** 0.5


def test_zoneout_training_masks_are_bool_with_the_same_draws():
    """Training zoneout masks are bool (a quarter of a float32 mask's memory), drawn exactly as
    the float mask would be: the seed fixes them whatever the dtype."""
    from rnnkit.layers.regularization import bernoulli_mask, zoneout_weights

    ref = torch.empty(0)
    torch.manual_seed(5)
    zh, zc = zoneout_weights(0.3, 7, 4, (6, 5), ref, True)
    torch.manual_seed(5)
    fh = bernoulli_mask((7, 4, 6), 0.3, ref)
    assert zh.dtype == zc.dtype == torch.bool and zh.shape == (7, 4, 6) and zc.shape == (7, 4, 5)
    assert torch.equal(zh.float(), fh)
    assert zoneout_weights(0.3, 7, 4, (6,), ref, False) == (0.3,)


def test_bidirectional_merge_and_stacked_modules():
    f, b = Recurrent(GRUCell(I, H)), Recurrent(GRUCell(I, H))
    x = torch.randn(T, B, I)
    y_cat, (s_f, s_b) = Bidirectional(f, b)(x)
    assert s_f[0].shape == s_b[0].shape == (B, H)
    y_sum, _ = Bidirectional(f, b, merge="sum")(x)
    assert y_cat.shape == (T, B, 2 * H) and y_sum.shape == (T, B, H)
    torch.testing.assert_close(y_sum, y_cat[..., :H] + y_cat[..., H:])
    net = Stacked([Bidirectional(f, b), Recurrent(LSTMCell(2 * H, H))], dropout=0.1)
    y, st = net(x, lengths=torch.tensor([7, 5, 1]))
    assert y.shape == (T, B, H) and len(st) == 2
    assert y[1:, 2].abs().sum() == 0


def test_custom_user_cell_runs_unchanged():
    """A user cell that follows the written contract runs in every layer."""

    class Leaky(rnnkit.RecurrentCell):
        def __init__(self, i, h):
            super().__init__()
            self.input_size, self.hidden_size = i, h
            self.output_size, self.state_sizes, self.gate_size = h, (h,), h
            self.lin = torch.nn.Linear(i, h)
            self.rec = torch.nn.Linear(h, h, bias=False)

        def project_input(self, x):
            return self.lin(x)

        def step(self, xp_t, state, rec_mask=None):
            h = state[0] if rec_mask is None else state[0] * rec_mask
            h_new = 0.5 * state[0] + 0.5 * torch.tanh(xp_t + self.rec(h))
            return h_new, (h_new,)

    net = Stacked([Bidirectional(Recurrent(Leaky(I, H)), Recurrent(Leaky(I, H)))])
    y, _ = net(torch.randn(T, B, I), lengths=torch.tensor([7, 3, 2]))
    assert y.shape == (T, B, 2 * H) and torch.isfinite(y).all()
    y.sum().backward()

"""MinGRU / MinLSTM: parallel scan == sequential loop, the GRU-like surface, step()."""

import pytest
import torch

from rnnkit.layers.min_rnn import MinGRU, MinLSTM

CASES = [
    dict(B=1, T=1, L=1, D=False, ragged=False, h0=False),
    dict(B=2, T=7, L=1, D=False, ragged=True, h0=True),
    dict(B=3, T=97, L=2, D=True, ragged=True, h0=True),
    dict(B=4, T=150, L=1, D=True, ragged=False, h0=False),
]
IDS = [f"B{c['B']}-T{c['T']}-L{c['L']}" + ("-bi" if c["D"] else "") +
       ("-ragged" if c["ragged"] else "") + ("-h0" if c["h0"] else "") for c in CASES]


def _run(m, x, h0, lengths, impl):
    m.impl = impl
    y, h = m(x, h0, lengths=lengths)
    return y, h, m.last_kernel


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM], ids=["mingru", "minlstm"])
@pytest.mark.parametrize("space", ["linear", "log"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_scan_equals_sequential_fp32(cls, space, case):
    B, T, H, D = case["B"], case["T"], 13, 2 if case["D"] else 1
    m = cls(5, H, num_layers=case["L"], bidirectional=case["D"], batch_first=True,
            scan_space=space)
    x = torch.randn(B, T, 5, requires_grad=True)
    lengths = torch.randint(1, T + 1, (B,)) if case["ragged"] else None
    h0 = torch.randn(case["L"] * D, B, H) if case["h0"] else None
    outs = []
    for impl in ("scan", "sequential"):
        y, h, kernel = _run(m, x, h0, lengths, impl)
        g = torch.autograd.grad((y * torch.linspace(-1, 1, y.shape[-1])).sum() + h.sum(),
                                [x, *m.parameters()])
        outs.append((y, h, kernel, g))
    (y1, h1, k1, g1), (y2, h2, k2, g2) = outs
    assert (k1, k2) == ("scan", "reference")
    assert (y1 - y2).abs().max() <= 1e-5 and (h1 - h2).abs().max() <= 1e-5
    for a, b in zip(g1, g2):  # relative to the gradient's scale (sums over B·T terms)
        assert (a - b).abs().max() <= 1e-4 * max(1.0, b.abs().max())
    if lengths is not None:
        pad = torch.arange(T)[None, :] >= lengths[:, None]
        assert (y1[pad] == 0).all()


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM], ids=["mingru", "minlstm"])
def test_step_streams_like_forward(cls):
    m = cls(4, 6, num_layers=2, batch_first=True)
    x, h = torch.randn(3, 12, 4), torch.randn(2, 3, 6)
    y_all, h_all = m(x, h)
    ys = []
    for t in range(12):
        y_t, h = m.step(x[:, t], h)
        ys.append(y_t)
    torch.testing.assert_close(torch.stack(ys, 1), y_all, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(h, h_all, atol=1e-6, rtol=1e-5)
    y1, h1 = m(x[:, :5])
    y2, _h2 = m(x[:, 5:], h1)
    torch.testing.assert_close(torch.cat([y1, y2], 1), m(x)[0], atol=1e-6, rtol=1e-5)


def test_drop_in_for_gru_surface():
    m = MinGRU(8, 16, num_layers=2, batch_first=False, bidirectional=True, dropout=0.1)
    y, h_n = m(torch.randn(10, 4, 8))
    assert y.shape == (10, 4, 32) and h_n.shape == (4, 4, 16)
    assert m.explain(torch.randn(10, 4, 8)).name == "scan"
    names = set(m.state_dict())
    assert {"weight_ih_l0", "bias_ih_l0", "weight_ih_l1_reverse"} <= names
    assert m.weight_ih_l1.shape == (32, 32)
    m2 = MinGRU(8, 16, num_layers=2, bidirectional=True, dropout=0.1)
    m2.load_state_dict(m.state_dict())
    assert MinLSTM(8, 16).weight_ih_l0.shape == (48, 8)
    y, h_n = MinLSTM(8, 16)(torch.randn(5, 8))  # unbatched
    assert y.shape == (5, 16) and h_n.shape == (1, 16)


def test_packed_sequence_matches_lengths():
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    m = MinLSTM(3, 5, batch_first=True, bidirectional=True)
    x, L = torch.randn(3, 9, 3), torch.tensor([4, 9, 2])
    y, h = m(x, lengths=L)
    yp, hp = m(pack_padded_sequence(x, L, batch_first=True, enforce_sorted=False))
    torch.testing.assert_close(pad_packed_sequence(yp, batch_first=True)[0], y)
    torch.testing.assert_close(hp, h)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_zoneout_scan_equals_sequential(training):
    m = MinGRU(3, 7, batch_first=True, bidirectional=True, zoneout=0.3).train(training)
    x, L = torch.randn(2, 20, 3), torch.tensor([20, 11])
    outs = []
    for impl in ("scan", "sequential"):
        m.impl = impl
        torch.manual_seed(5)
        outs.append(m(x, lengths=L))
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-5, rtol=1e-5)


def test_impl_errors_and_strict():
    from rnnkit import GRU
    with pytest.raises(ValueError, match="min-cells"):
        GRU(3, 4, impl="scan")(torch.randn(5, 2, 3))
    with pytest.raises(ValueError, match="impl"):
        MinGRU(3, 4, impl="nope")
    with pytest.raises(ValueError, match="scan_space"):
        MinGRU(3, 4, scan_space="complex")
    y, _ = MinGRU(3, 4, strict=True)(torch.randn(5, 2, 3))  # the scan is a fast path
    assert y.shape == (5, 2, 4)

"""Bad input gets one clear error naming the argument and the fix."""

import pytest
import torch

import rnnkit


@pytest.fixture
def lstm():
    return rnnkit.LSTM(16, 8, num_layers=2, batch_first=True)


def test_wrong_feature_size(lstm):
    with pytest.raises(ValueError, match=r"LSTM: expected input with 16 features \(input_size\), "
                                         r"got 12\."):
        lstm(torch.randn(2, 5, 12))


def test_wrong_rank(lstm):
    with pytest.raises(ValueError, match=r"LSTM: expected input of rank 3 .* got shape "
                                         r"\(2, 3, 5, 16\)"):
        lstm(torch.randn(2, 3, 5, 16))


def test_integer_input(lstm):
    with pytest.raises(TypeError, match=r"LSTM: expected a floating-point input tensor, got "
                                        r"torch.int64\. Convert with x.float\(\)"):
        lstm(torch.ones(2, 5, 16, dtype=torch.long))


def test_not_a_tensor(lstm):
    with pytest.raises(TypeError, match=r"LSTM: expected input to be a torch\.Tensor, got list"):
        lstm([[0.0] * 16])


def test_dtype_mismatch(lstm):
    # torch.nn raises ValueError; rnnkit raised TypeError before: DtypeError is both
    for exc in (ValueError, TypeError):
        with pytest.raises(exc, match=r"LSTM: RNN input dtype \(torch.float64\) does not match "
                                      r"weight dtype \(torch.float32\)\. Convert input: "
                                      r"input\.to\(torch\.float32\)"):
            lstm(torch.randn(2, 5, 16, dtype=torch.float64))


@pytest.mark.parametrize("lengths,match", [
    (torch.tensor([0, 3]), r"LSTM: expected lengths in \[1, T=5\], got 0\."),
    (torch.tensor([6, 3]), r"LSTM: expected lengths in \[1, T=5\], got 6\."),
    (torch.tensor([-1, 3]), r"LSTM: expected lengths in \[1, T=5\], got -1\."),
    (torch.tensor([3, 3, 3]), r"LSTM: expected lengths of shape \(2,\) .* got \(3,\)"),
    (torch.tensor([[3, 3]]), r"LSTM: expected lengths of shape \(2,\)"),
])
def test_bad_lengths_values(lstm, lengths, match):
    with pytest.raises(ValueError, match=match):
        lstm(torch.randn(2, 5, 16), lengths=lengths)


def test_float_lengths(lstm):
    with pytest.raises(TypeError, match=r"LSTM: expected integer lengths, got torch.float32\. "
                                        r"Convert with lengths.long\(\)"):
        lstm(torch.randn(2, 5, 16), lengths=torch.tensor([3.0, 2.0]))


def test_lengths_as_list_is_fine(lstm):
    y, _ = lstm(torch.randn(2, 5, 16), lengths=[5, 2])
    assert y[1, 2:].abs().sum() == 0


def test_lengths_with_packed_sequence(lstm):
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(2, 5, 16), [5, 2],
                                                     batch_first=True)
    with pytest.raises(ValueError, match="LSTM: expected either a PackedSequence or lengths"):
        lstm(packed, lengths=torch.tensor([5, 2]))


def test_wrong_initial_state_shape(lstm):
    h0, c0 = torch.zeros(1, 2, 8), torch.zeros(2, 2, 8)
    with pytest.raises(ValueError, match=r"LSTM: expected h_0 of shape \(2, 2, 8\), got "
                                         r"\(1, 2, 8\)"):
        lstm(torch.randn(2, 5, 16), (h0, c0))


def test_lstm_state_needs_two_tensors(lstm):
    with pytest.raises(ValueError, match=r"LSTM: expected hx as h_0 and c_0 \(2 tensor\(s\)\), "
                                         r"got 1"):
        lstm(torch.randn(2, 5, 16), torch.zeros(2, 2, 8))


def test_state_dtype_mismatch():
    gru = rnnkit.GRU(4, 3)
    with pytest.raises(TypeError, match=r"GRU: expected h_0 with dtype torch.float32"):
        gru(torch.randn(5, 2, 4), torch.zeros(1, 2, 3, dtype=torch.float64))


@pytest.mark.parametrize("arg", ["recurrent_dropout", "zoneout"])
@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_probability_out_of_range(arg, value):
    with pytest.raises(ValueError, match=rf"GRU: expected {arg} in \[0, 1\), got {value}"):
        rnnkit.GRU(4, 3, **{arg: value})


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.1", True])
def test_dropout_out_of_range(value):
    with pytest.raises(ValueError, match=r"GRU: expected dropout in \[0, 1\], got .* \(dropout "
                                         r"should be a number in range \[0, 1\]"):
        rnnkit.GRU(4, 3, num_layers=2, dropout=value)
    with pytest.raises(ValueError):
        torch.nn.GRU(4, 3, num_layers=2, dropout=value)


def test_dropout_one_accepted_as_torch_nn():
    """torch.nn accepts dropout in [0, 1]: 1 zeroes every input of the second layer."""
    torch.manual_seed(0)
    tn = torch.nn.GRU(4, 3, num_layers=2, dropout=1.0)
    rk = rnnkit.GRU(4, 3, num_layers=2, dropout=1.0)
    rk.load_state_dict(tn.state_dict())
    x = torch.randn(5, 2, 4)
    torch.testing.assert_close(rk(x)[0], tn(x)[0])
    assert rk.dropout == 1.0


def test_dropout_with_one_layer_warns_as_torch_nn():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        torch.nn.LSTM(4, 3, dropout=0.5)
    with pytest.warns(UserWarning, match=r"LSTM: dropout option adds dropout after all but "
                                         r"last recurrent layer.*recurrent_dropout"):
        rnnkit.LSTM(4, 3, dropout=0.5)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU", "MinGRU"])
@pytest.mark.parametrize("kw,exc,match", [
    ({"bias": 0}, TypeError, "bias should be of type bool, got: int"),
    ({"bias": "True"}, TypeError, "bias should be of type bool, got: str"),
    ({"batch_first": "False"}, TypeError, "batch_first should be of type bool, got: str"),
    ({"batch_first": 1}, TypeError, "batch_first should be of type bool, got: int"),
    ({"input_size": 3.0}, TypeError, "input_size should be of type int, got: float"),
    ({"input_size": "10"}, TypeError, "input_size should be of type int, got: str"),
    ({"hidden_size": 5.0}, TypeError, "hidden_size should be of type int, got: float"),
    ({"input_size": 0}, ValueError, "input_size must be greater than zero"),
    ({"input_size": -1}, ValueError, "input_size must be greater than zero"),
    ({"hidden_size": 0}, ValueError, "hidden_size must be greater than zero"),
    ({"num_layers": 0}, ValueError, "num_layers must be greater than zero"),
], ids=lambda v: str(v).replace(" ", "")[:24])
def test_constructor_checks_as_torch_nn(cls, kw, exc, match):
    """The same exception type as torch.nn (and its words, so its regexes match)."""
    args = {"input_size": 3, "hidden_size": 5, **kw}
    if cls != "MinGRU":
        with pytest.raises(exc, match=match):
            getattr(torch.nn, cls)(**args)
    with pytest.raises(exc, match=rf"{cls}: {match}"):
        getattr(rnnkit, cls)(**args)


def test_batch_first_string_no_longer_means_true():
    with pytest.raises(TypeError, match="batch_first should be of type bool, got: str"):
        rnnkit.LSTM(4, 3, batch_first="False")


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_forward_shape_errors_as_torch_nn(cls):
    """torch.nn raises RuntimeError for a wrong feature size and a wrong state shape, and
    ValueError for a wrong rank; rnnkit's ShapeError is a RuntimeError (and a ValueError)."""
    tn, rk = getattr(torch.nn, cls)(4, 3), getattr(rnnkit, cls)(4, 3)
    lstm = cls == "LSTM"
    h = torch.zeros(2, 2, 3)
    bad_state = (h, h) if lstm else h
    for m in (tn, rk):
        with pytest.raises(RuntimeError):
            m(torch.randn(5, 2, 6))
        with pytest.raises(RuntimeError):
            m(torch.randn(5, 2, 4), bad_state)
        with pytest.raises(ValueError):
            m(torch.randn(5, 2, 2, 4))
    with pytest.raises(ValueError, match=rf"{cls}: expected input with 4 features"):
        rk(torch.randn(5, 2, 6))  # still a ValueError, as before


@pytest.mark.parametrize("cls,kw", [("RNN", {}), ("LSTM", {"proj_size": 2}), ("GRU", {}),
                                    ("LSTM", {"bias": False})])
def test_all_weights_as_torch_nn(cls, kw):
    tn = getattr(torch.nn, cls)(4, 3, num_layers=2, bidirectional=True, **kw)
    rk = getattr(rnnkit, cls)(4, 3, num_layers=2, bidirectional=True, **kw)
    rk.load_state_dict(tn.state_dict())
    a, b = tn.all_weights, rk.all_weights
    assert [len(g) for g in a] == [len(g) for g in b] == [len(g) for g in b]
    for ga, gb in zip(a, b, strict=True):
        for wa, wb in zip(ga, gb, strict=True):
            torch.testing.assert_close(wa, wb)


def test_all_weights_lists_extras_and_parametrized_weights():
    rk = rnnkit.LSTM(4, 3, peephole=True)
    torch.nn.utils.parametrizations.weight_norm(rk, "weight_hh_l0")
    (group,) = rk.all_weights
    assert len(group) == 5  # w_ih, w_hh, b_ih, b_hh, w_ph
    torch.testing.assert_close(group[1], rk.weight_hh_l0)


@pytest.mark.parametrize("cls,kw", [("RNN", {}), ("RNN", {"nonlinearity": "relu"}),
                                    ("RNN", {"impl": "reference"}), ("GRU", {}),
                                    ("GRU", {"impl": "reference"})])
def test_cpu_bf16_autocast_output_dtypes_as_torch_nn(cls, kw):
    """torch.nn's Elman RNN returns bf16 under CPU bf16 autocast, its GRU float32."""
    torch.manual_seed(0)
    tn = getattr(torch.nn, cls)(4, 3, **{k: v for k, v in kw.items() if k != "impl"})
    rk = getattr(rnnkit, cls)(4, 3, **kw)
    rk.load_state_dict(tn.state_dict())
    x = torch.randn(5, 2, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y_t, h_t = tn(x)
        y_r, h_r = rk(x)
        s_r, hs_r = rk.step(x[0])
    assert (y_r.dtype, h_r.dtype) == (y_t.dtype, h_t.dtype)
    assert (s_r.dtype, hs_r.dtype) == (y_t.dtype, h_t.dtype)
    torch.testing.assert_close(y_r.float(), y_t.float(), atol=2e-2, rtol=0)


@pytest.mark.parametrize("kw,match", [
    ({"proj_size": 8}, r"LSTM: expected 0 <= proj_size < hidden_size \(8\), got 8"),
    ({"proj_size": -1}, r"LSTM: expected 0 <= proj_size < hidden_size \(8\), got -1"),
    ({"impl": "fastest"}, r"LSTM: expected impl in \[.*'auto'.*\], got 'fastest'"),
])
def test_bad_constructor_arguments(kw, match):
    args = {"input_size": 4, "hidden_size": 8, **kw}
    with pytest.raises(ValueError, match=match):
        rnnkit.LSTM(**args)


def test_bad_nonlinearity():
    with pytest.raises(ValueError, match="RNN: expected nonlinearity 'tanh' or 'relu', got 'gelu'"):
        rnnkit.RNN(4, 3, nonlinearity="gelu")


def test_step_on_bidirectional():
    with pytest.raises(ValueError, match=r"GRU: expected a unidirectional layer for step\(\)"):
        rnnkit.GRU(4, 3, bidirectional=True).step(torch.randn(2, 4))


def test_unbatched_with_lengths():
    with pytest.raises(ValueError, match=r"GRU: expected no lengths for an unbatched \(T, I\) "
                                         r"input"):
        rnnkit.GRU(4, 3)(torch.randn(5, 4), lengths=torch.tensor([3]))

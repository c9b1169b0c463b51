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
    with pytest.raises(TypeError, match=r"LSTM: expected input dtype torch.float32 .* got "
                                        r"torch.float64"):
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


@pytest.mark.parametrize("arg", ["dropout", "recurrent_dropout", "zoneout"])
@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_probability_out_of_range(arg, value):
    with pytest.raises(ValueError, match=rf"GRU: expected {arg} in \[0, 1\), got {value}"):
        rnnkit.GRU(4, 3, **{arg: value})


@pytest.mark.parametrize("kw,match", [
    ({"hidden_size": 0}, r"LSTM: expected hidden_size to be a positive int, got 0"),
    ({"num_layers": 0}, r"LSTM: expected num_layers to be a positive int, got 0"),
    ({"proj_size": 8}, r"LSTM: expected 0 <= proj_size < hidden_size \(8\), got 8"),
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

"""Masked pooling: padded steps never matter; attention weights are a distribution over valid
steps."""

import pytest
import torch

from rnnkit.models.pooling import POOLINGS, SequencePooling, length_mask

LENGTHS = torch.tensor([6, 3, 1, 5])


def _with_garbage_padding(y: torch.Tensor, lengths: torch.Tensor, extra: int) -> torch.Tensor:
    """Same valid steps, more steps, and random values on every padded step."""
    B, T, F = y.shape
    z = torch.randn(B, T + extra, F) * 100
    for b, n in enumerate(lengths.tolist()):
        z[b, :n] = y[b, :n]
    return z


@pytest.mark.parametrize("directions", [1, 2], ids=["uni", "bi"])
@pytest.mark.parametrize("kind", POOLINGS)
def test_padding_does_not_change_the_result(kind, directions):
    pool = SequencePooling(kind, 8, directions).eval()
    y = torch.randn(4, 6, 8)
    a, _ = pool(y, LENGTHS)
    b, _ = pool(_with_garbage_padding(y, LENGTHS, extra=4), LENGTHS)
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", POOLINGS)
def test_equals_pooling_each_sequence_alone(kind):
    pool = SequencePooling(kind, 8).eval()
    y = torch.randn(4, 6, 8)
    batched, _ = pool(y, LENGTHS)
    for b, n in enumerate(LENGTHS.tolist()):
        alone, _ = pool(y[b : b + 1, :n], torch.tensor([n]))
        torch.testing.assert_close(batched[b : b + 1], alone)


def test_attention_weights_sum_to_one_on_valid_steps_and_are_zero_on_padding():
    pool = SequencePooling("attention", 8)
    _, alpha = pool(torch.randn(4, 6, 8), LENGTHS)
    mask = length_mask(LENGTHS, 4, 6, torch.device("cpu"))
    torch.testing.assert_close(alpha.sum(1), torch.ones(4))
    assert (alpha[~mask] == 0).all()
    assert (alpha[mask] > 0).all()


def test_simple_kinds_by_hand():
    y = torch.arange(12.0).reshape(1, 6, 2)
    n = torch.tensor([3])
    assert SequencePooling("last", 2)(y, n)[0].tolist() == [[4.0, 5.0]]
    assert SequencePooling("mean", 2)(y, n)[0].tolist() == [[2.0, 3.0]]
    assert SequencePooling("max", 2)(y, n)[0].tolist() == [[4.0, 5.0]]
    # two directions: forward half at the last valid step, reverse half at t = 0
    assert SequencePooling("last", 2, directions=2)(y, n)[0].tolist() == [[4.0, 1.0]]
    assert SequencePooling("mean", 2)(y, None)[1] is None
    both = SequencePooling("maxmean", 2)
    assert both.out_features == 4 and SequencePooling("max", 2).out_features == 2
    assert both(y, n)[0].tolist() == [[4.0, 5.0, 2.0, 3.0]]  # [max | mean]


def test_errors_are_one_line_and_name_the_fix():
    with pytest.raises(ValueError, match="expected kind in"):
        SequencePooling("median", 4)
    with pytest.raises(ValueError, match=r"expected y of shape \(B, T, 4\)"):
        SequencePooling("mean", 4)(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="zero length"):
        SequencePooling("mean", 4)(torch.randn(2, 3, 4), torch.tensor([3, 0]))

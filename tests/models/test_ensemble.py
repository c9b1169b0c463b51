"""ProbabilityEnsemble: the mean of the members' probabilities, attention averaged."""

import pytest
import torch

from rnnkit.models.ensemble import ProbabilityEnsemble
from rnnkit.models.text_classifier import TextClassifier, TextClassifierConfig


def _member(seed: int, pooling: str = "max") -> TextClassifier:
    torch.manual_seed(seed)
    return TextClassifier(TextClassifierConfig(vocab_size=30, num_classes=3, embed_dim=8,
                                               hidden_size=8, pooling=pooling)).eval()


def test_probabilities_are_the_members_mean():
    members = [_member(s) for s in range(3)]
    ens = ProbabilityEnsemble(members).eval()
    ids, lengths = torch.randint(2, 30, (4, 7)), torch.tensor([7, 5, 2, 1])
    mean = torch.stack([torch.softmax(m(ids, lengths), -1) for m in members]).mean(0)
    torch.testing.assert_close(ens.predict_step((ids, None, lengths)), mean)
    torch.testing.assert_close(ens(ids, lengths).exp(), mean)
    assert ens.forward_with_attention(ids, lengths)[1] is None


def test_attention_is_averaged_and_one_member_is_the_member():
    members = [_member(s, "attention") for s in range(2)]
    ids, lengths = torch.randint(2, 30, (2, 5)), torch.tensor([5, 3])
    _, alpha = ProbabilityEnsemble(members).forward_with_attention(ids, lengths)
    torch.testing.assert_close(alpha, (members[0].forward_with_attention(ids, lengths)[1]
                                       + members[1].forward_with_attention(ids, lengths)[1]) / 2)
    torch.testing.assert_close(alpha.sum(1), torch.ones(2))
    one = ProbabilityEnsemble(members[:1])
    torch.testing.assert_close(torch.softmax(one(ids, lengths), -1),
                               torch.softmax(members[0](ids, lengths), -1))
    with pytest.raises(ValueError, match="at least one member"):
        ProbabilityEnsemble([])


def test_weights_give_the_weighted_mean_and_are_checked():
    members = [_member(s) for s in range(3)]
    ids, lengths = torch.randint(2, 30, (4, 6)), torch.tensor([6, 3, 2, 1])
    probs = [torch.softmax(m(ids, lengths), -1) for m in members]
    ens = ProbabilityEnsemble(members, weights=[1.0, 1.0, 2.0])
    torch.testing.assert_close(ens(ids, lengths).exp(), (probs[0] + probs[1] + 2 * probs[2]) / 4)
    assert ens.weights == [0.25, 0.25, 0.5]
    skip = ProbabilityEnsemble(members, weights=[0.0, 1.0, 0.0])  # zero: member not run
    torch.testing.assert_close(skip(ids, lengths).exp(), probs[1])
    for bad in ([1.0, 1.0], [1.0, -1.0, 1.0], [0.0, 0.0, 0.0]):
        with pytest.raises(ValueError, match="weights >= 0 with a positive sum"):
            ProbabilityEnsemble(members, weights=bad)

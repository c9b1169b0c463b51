"""NBLogisticClassifier: binary n-gram features, naive-Bayes log-count ratios (golden values),
padding and batch invariance, the bag hashing shared with TextClassifier, clear errors."""

import math

import pytest
import torch

from rnnkit.models.nb_classifier import NBLogisticClassifier, NBLogisticConfig, ngram_ids
from rnnkit.models.pooling import length_mask


def _model(vocab=6, classes=2, buckets=0, alpha=1.0):
    return NBLogisticClassifier(NBLogisticConfig(vocab_size=vocab, num_classes=classes,
                                                 buckets=buckets, alpha=alpha))


def test_ratios_are_the_smoothed_log_count_ratios():
    # unigrams only; class 1 texts contain {2, 3} and {2}; class 0 text contains {4}
    ids = torch.tensor([[2, 3, 3], [2, 0, 0], [4, 4, 0]])
    y = torch.tensor([1, 1, 0])
    m = _model()
    m.fit_ratios(ids, torch.tensor([3, 1, 2]), y)
    # presence counts over ids 0..5 (3 counts once per text): class 1 [0,0,2,1,0,0], class 0
    # [0,0,0,0,1,0]; + alpha 1 → p = [1,1,3,2,1,1] (sum 9), q = [1,1,1,1,2,1] (sum 7)
    p, q = torch.tensor([1, 1, 3, 2, 1, 1.0]), torch.tensor([1, 1, 1, 1, 2, 1.0])
    r1 = (p / 9).log() - (q / 7).log()
    torch.testing.assert_close(m.ratio[1], r1)
    torch.testing.assert_close(m.ratio[0], -r1)  # two classes: one-vs-rest is antisymmetric
    assert math.isclose(float(m.ratio[1, 2]), math.log(3 / 9) - math.log(1 / 7), rel_tol=1e-6)


def test_features_are_binary_and_padding_is_ignored():
    m = _model(vocab=10, buckets=16)
    torch.manual_seed(0)
    m.weight.data.normal_()
    m.ratio.data.uniform_(0.5, 1.5)
    # both texts hold the n-gram set {2, 3, 4, 2·3, 3·4, 4·2}; counts do not matter
    once = m(torch.tensor([[2, 3, 4, 2, 3]]))
    twice = m(torch.tensor([[2, 3, 4, 2, 3, 4, 0, 0]]), torch.tensor([6]))
    torch.testing.assert_close(once, twice)
    feats, rows = m.features(torch.tensor([[2, 3, 4, 2, 3, 4]]))
    assert len(feats) == 6 and rows.tolist() == [0] * 6
    # steps past the length are not read, whatever they hold
    torch.testing.assert_close(m(torch.tensor([[2, 3, 4, 9, 9]]), torch.tensor([3])),
                               m(torch.tensor([[2, 3, 4]])))
    assert not torch.allclose(once, m(torch.tensor([[2, 3, 4, 5]])))


def test_batch_and_length_invariance():
    m = _model(vocab=12, classes=3, buckets=32)
    torch.manual_seed(1)
    m.weight.data.normal_()
    m.bias.data.normal_()
    m.ratio.data.normal_()
    ids = torch.randint(2, 12, (4, 9))
    lengths = torch.tensor([9, 4, 1, 6])
    batch = m(ids, lengths)
    for i in range(4):
        one = m(ids[i: i + 1, : lengths[i]], lengths[i: i + 1])
        torch.testing.assert_close(batch[i: i + 1], one)
    logits, alpha = m.forward_with_attention(ids, lengths)
    assert alpha is None and logits.shape == (4, 3)


def test_bigram_hashing_matches_the_text_classifier_bag():
    from rnnkit.models.text_classifier import TextClassifier, TextClassifierConfig

    ids, lengths = torch.tensor([[2, 5, 7, 3], [4, 4, 0, 0]]), torch.tensor([4, 2])
    mask = length_mask(lengths, 2, 4, ids.device)
    grams = ngram_ids(ids, mask, 10, 8)
    assert grams.shape == (2, 7) and int(grams[1, 2]) == -1 and int(grams[1, 4]) == (
        4 * 1_000_003 + 4) % 8 + 10
    tc = TextClassifier(TextClassifierConfig(vocab_size=10, num_classes=2, embed_dim=4,
                                             hidden_size=4, bow_buckets=8))
    torch.nn.init.normal_(tc.bow.weight)
    bag = tc._bag(ids, mask, lengths)
    flat = grams.clamp_min(0)
    expect = (tc.bow.weight[flat] * (grams >= 0)[..., None]).sum(1)
    torch.testing.assert_close(bag, 4.0 * expect / torch.tensor([[7.0], [3.0]]).sqrt())


def test_state_dict_round_trip_and_errors():
    m = _model()
    m.fit_ratios(torch.tensor([[2, 3], [4, 5]]), None, torch.tensor([0, 1]))
    m2 = _model()
    m2.load_state_dict(m.state_dict())
    torch.testing.assert_close(m2.ratio, m.ratio)
    assert NBLogisticConfig.from_dict(m.config.to_dict()) == m.config
    with pytest.raises(ValueError, match="expected token ids in"):
        m(torch.tensor([[2, 6]]))
    with pytest.raises(ValueError, match="integer token ids of shape"):
        m(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="expected labels"):
        m.fit_ratios(torch.tensor([[2, 3]]), None, torch.tensor([2]))
    with pytest.raises(ValueError, match="alpha > 0"):
        NBLogisticConfig(vocab_size=5, num_classes=2, alpha=0.0)
    with pytest.raises(ValueError, match="num_classes >= 2"):
        NBLogisticConfig(vocab_size=5, num_classes=1)

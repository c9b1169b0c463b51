"""TextClassifier: padding invariance, bag-of-n-grams path, config round trip, learning."""

import pytest
import torch

from rnnkit.data import WordTokenizer, pad_collate
from rnnkit.models.text_classifier import TextClassifier, TextClassifierConfig
from rnnkit.training import Trainer, TrainerConfig, seed_everything


def _model(**kw) -> TextClassifier:
    cfg = {**dict(vocab_size=30, num_classes=2, embed_dim=8, hidden_size=8), **kw}
    return TextClassifier(TextClassifierConfig(**cfg)).eval()


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bow", [0, 50], ids=["rnn", "rnn+bow"])
def test_padding_tokens_do_not_change_logits(pooling, bow):
    m = _model(pooling=pooling, bow_buckets=bow)
    ids = torch.randint(2, 30, (3, 8))
    lengths = torch.tensor([8, 4, 1])
    ref = m(ids, lengths)
    z = torch.randint(2, 30, (3, 12))
    z[:, :8] = ids
    for b, n in enumerate(lengths.tolist()):
        z[b, n:] = torch.randint(2, 30, (12 - n,))
    torch.testing.assert_close(m(z, lengths), ref, atol=1e-5, rtol=1e-5)


def test_lengths_default_to_non_pad_tokens_and_attention_is_returned():
    m = _model(pooling="attention")
    ids = torch.tensor([[5, 6, 7, 0, 0], [8, 0, 0, 0, 0]])
    logits, alpha = m.forward_with_attention(ids)
    torch.testing.assert_close(logits, m(ids, torch.tensor([3, 1])))
    torch.testing.assert_close(alpha.sum(1), torch.ones(2))
    assert alpha[0, 3:].abs().max() == 0


def test_config_round_trip_and_validation():
    cfg = TextClassifierConfig(vocab_size=100, num_classes=3, model="gru", bow_buckets=64)
    assert TextClassifierConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="num_classes >= 2"):
        TextClassifierConfig(vocab_size=100, num_classes=1)
    with pytest.raises(ValueError, match="integer token ids"):
        _model()(torch.randn(2, 3))


POS = ["good great tasty", "great value love it", "love this great snack", "tasty and good"]
NEG = ["bad stale awful", "awful taste never again", "stale and bad", "never buy this bad"]


@pytest.mark.parametrize("kind,bow", [("lstm", 0), ("gru", 0), ("lstm", 64)],
                         ids=["lstm", "gru", "lstm+bow"])
def test_learns_tiny_sentiment(kind, bow):
    seed_everything(0)
    texts, labels = POS * 4 + NEG * 4, [0] * 16 + [1] * 16
    tok = WordTokenizer(min_freq=1).fit(texts)
    ids, lengths = tok.encode_batch(texts)
    items = [(torch.from_numpy(ids[i, : lengths[i]]), torch.tensor(labels[i]))
             for i in range(len(texts))]
    m = TextClassifier(TextClassifierConfig(vocab_size=tok.vocab_size, num_classes=2,
                                            embed_dim=16, hidden_size=16, model=kind,
                                            bow_buckets=bow, dropout=0.0))
    trainer = Trainer(TrainerConfig(epochs=20, batch_size=8, lr=1e-2, progress="none"),
                      collate_fn=pad_collate)
    trainer.fit(m, items)
    test = ["great snack love it", "awful and stale"]
    tids, tl = tok.encode_batch(test)
    pred = m.eval()(torch.from_numpy(tids), torch.from_numpy(tl)).argmax(1).tolist()
    assert pred == [0, 1]

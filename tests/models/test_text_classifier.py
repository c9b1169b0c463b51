"""TextClassifier: padding invariance, bag-of-n-grams path, config round trip, learning."""

import pytest
import torch

from rnnkit.data import WordTokenizer, pad_collate
from rnnkit.models.text_classifier import TextClassifier, TextClassifierConfig
from rnnkit.training import Trainer, TrainerConfig, seed_everything


def _model(**kw) -> TextClassifier:
    cfg = {**dict(vocab_size=30, num_classes=2, embed_dim=8, hidden_size=8), **kw}
    return TextClassifier(TextClassifierConfig(**cfg)).eval()


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "maxmean", "attention"])
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


def test_maxmean_pooling_doubles_the_head_input():
    m = _model(pooling="maxmean")
    assert m.head.in_features == 2 * 2 * 8  # [max | mean] of both directions
    assert m(torch.randint(2, 30, (3, 5)), torch.tensor([5, 2, 1])).shape == (3, 2)


def test_encoder_lm_pretraining_lowers_the_lm_loss_and_leaves_no_leak():
    from rnnkit.models.text_classifier import TextEncoderLM

    seed_everything(0)
    texts = (POS + NEG) * 4
    tok = WordTokenizer(min_freq=1).fit(texts)
    ids, lengths = tok.encode_batch(texts)
    items = [(torch.from_numpy(ids[i, : lengths[i]]), torch.tensor(0)) for i in range(32)]
    m = TextClassifier(TextClassifierConfig(vocab_size=tok.vocab_size, num_classes=2,
                                            embed_dim=16, hidden_size=16, dropout=0.0))
    lm = TextEncoderLM(m)
    batch = pad_collate(items[:8])
    with torch.no_grad():
        before = float(lm.validation_step(batch)[0])
    Trainer(TrainerConfig(epochs=15, batch_size=8, lr=1e-2, progress="none"),
            collate_fn=pad_collate).fit(lm, items)
    with torch.no_grad():
        assert float(lm.validation_step(batch)[0]) < 0.6 * before
    assert set(lm.state_dict()) - {f"classifier.{k}" for k in m.state_dict()} == {
        "proj.0.weight", "proj.1.weight", "bias"}
    # the forward half at t reads ids[:t + 1] only: changing the last token leaves it alone
    x = torch.from_numpy(ids[:1, : lengths[0]]).clone()
    y1, _ = m.rnn(m.embedding(x))
    x[0, -1] = 2 if int(x[0, -1]) != 2 else 3
    y2, _ = m.rnn(m.embedding(x))
    torch.testing.assert_close(y1[:, :-1, :16], y2[:, :-1, :16])
    with pytest.raises(ValueError, match="one-layer bidirectional"):
        TextEncoderLM(_model(num_layers=2))


def test_encoder_lm_target_vocab_and_share():
    from rnnkit.models.text_classifier import TextEncoderLM

    m = _model(dropout=0.0)
    lm = TextEncoderLM(m, target_share=0.5, target_vocab=6)
    assert lm.bias.shape == (2, 6)
    ids, lengths = torch.randint(2, 30, (4, 9)), torch.tensor([9, 7, 3, 1])
    loss, logs = lm.train().training_step((ids, None, lengths))
    assert loss.requires_grad and torch.isfinite(loss) and logs["ppl"] > 1
    with torch.no_grad():  # the share applies in training only: validation is exact
        lm.eval()
        ref = TextEncoderLM(m, target_vocab=6).eval()
        ref.load_state_dict(lm.state_dict())
        torch.testing.assert_close(lm.validation_step((ids, None, lengths))[0],
                                   ref.validation_step((ids, None, lengths))[0])
    for kw, match in (({"target_share": 0.0}, "0 < target_share <= 1"),
                      ({"target_vocab": 2}, "target_vocab >= 3")):
        with pytest.raises(ValueError, match=match):
            TextEncoderLM(m, **kw)

"""Dynamic evaluation: scores before it adapts (causal), adapts (better on a repetitive text),
leaves the caller's model alone, equals the static score with no step, validates its input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models.dynamic_eval import dynamic_token_nll, gradient_rms
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

TEXT = "the cat sat on the mat. the dog sat on the log. " * 12


def _ids(text: str = TEXT) -> tuple[torch.Tensor, int]:
    chars = sorted(set(text))
    stoi = {c: i + 2 for i, c in enumerate(chars)}
    return torch.tensor([stoi[c] for c in text]), len(chars) + 2


def _lm(vocab: int, model: str = "lstm", **kw) -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(LanguageModelConfig(vocab_size=vocab, model=model, hidden_size=24,
                                             embedding_dim=8, **kw))


def _static(lm: LanguageModel, ids: torch.Tensor) -> torch.Tensor:
    """One plain pass over the whole sequence with fixed weights (B = 1)."""
    with torch.no_grad():
        logits, _ = lm.eval()(ids[None, :-1])
    return F.cross_entropy(logits[0], ids[1:], reduction="none")


@pytest.mark.parametrize("model", ["lstm", "gru", "mingru"])
@pytest.mark.parametrize("seg", [1, 7, 50])
def test_first_segment_is_scored_with_the_trained_weights(model, seg):
    ids, vocab = _ids()
    lm = _lm(vocab, model)
    got = dynamic_token_nll(lm, ids, segment_len=seg, lr=0.5)
    ref = _static(lm, ids)
    assert got.shape == ref.shape == (len(ids) - 1,)
    torch.testing.assert_close(got[:seg], ref[:seg], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(got[seg:], ref[seg:], atol=1e-3)  # later segments did adapt


@pytest.mark.parametrize("cut", [50, 51, 133])
def test_never_scores_a_token_after_training_on_it(cut):
    """Changing the text from position ``cut`` on changes no score before it: the updates
    that precede a token's score only ever saw earlier segments."""
    ids, vocab = _ids()
    lm = _lm(vocab)
    other = ids.clone()
    other[cut:] = other[cut:].flip(0)
    a = dynamic_token_nll(lm, ids, segment_len=10, lr=0.3)
    b = dynamic_token_nll(lm, other, segment_len=10, lr=0.3)
    torch.testing.assert_close(a[:cut - 1], b[:cut - 1], atol=0, rtol=0)
    assert not torch.equal(a[cut - 1:], b[cut - 1:])


def test_without_a_step_it_is_the_static_score():
    ids, vocab = _ids()
    lm = _lm(vocab)
    ref = _static(lm, ids)
    torch.testing.assert_close(dynamic_token_nll(lm, ids, segment_len=9, lr=0.0), ref)
    torch.testing.assert_close(dynamic_token_nll(lm, ids, segment_len=9, lr=0.0, decay=0.5),
                               ref)
    tail = lm.token_nll(ids, first=100, warmup=1000)  # the static scorer is the same function
    torch.testing.assert_close(dynamic_token_nll(lm, ids, 100, lr=0.0), tail, atol=1e-5,
                               rtol=1e-5)


@pytest.mark.parametrize("rule", ["rms", "sgd"])
def test_adapts_to_a_repetitive_text(rule):
    ids, vocab = _ids()
    lm = _lm(vocab)  # untrained: static is about log2(V) bits per char
    rms = gradient_rms(lm, ids, segment_len=20, rows=4) if rule == "rms" else None
    lr = 0.01 if rule == "rms" else 3.0
    static = float(_static(lm, ids).mean()) / math.log(2)
    dyn = dynamic_token_nll(lm, ids, segment_len=20, lr=lr, grad_rms=rms)
    bpc = float(dyn.mean()) / math.log(2)
    late = float(dyn[-100:].mean()) / math.log(2)
    assert bpc < 0.8 * static and late < 0.5 * static, (static, bpc, late)


def test_decay_pulls_back_to_the_trained_weights():
    ids, vocab = _ids()
    lm = _lm(vocab)
    static = float(_static(lm, ids).mean())
    free = float(dynamic_token_nll(lm, ids, segment_len=20, lr=1.0).mean())
    held = float(dynamic_token_nll(lm, ids, segment_len=20, lr=1.0, decay=0.9).mean())
    assert free < held < static


def test_the_callers_model_is_untouched():
    ids, vocab = _ids()
    lm = _lm(vocab, dropout=0.3).train()
    before = {k: v.clone() for k, v in lm.state_dict().items()}
    rms = gradient_rms(lm, ids, segment_len=16, rows=2)
    dynamic_token_nll(lm, ids, segment_len=16, lr=0.1, decay=0.01, grad_rms=rms)
    for k, v in lm.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in lm.parameters())
    assert lm.training  # mode kept (the work happens on an eval-mode copy)


def test_gradient_rms_is_the_root_mean_square_of_batch_gradients():
    ids, vocab = _ids()
    lm = _lm(vocab)
    rms = gradient_rms(lm, ids, segment_len=30, rows=2, max_batches=3)
    assert set(rms) == {k for k, _ in lm.named_parameters()}
    work = _lm(vocab).eval()
    per_row = (len(ids) - 1) // 2
    x, y = ids[: 2 * per_row].view(2, -1), ids[1: 2 * per_row + 1].view(2, -1)
    sq, state = None, None
    for i in range(3):
        logits, state = work(x[:, 30 * i: 30 * (i + 1)], state)
        loss = F.cross_entropy(logits.flatten(0, 1), y[:, 30 * i: 30 * (i + 1)].flatten())
        work.zero_grad()
        loss.backward()
        state = tuple(s.detach() for s in state)
        g = work.rnn.weight_hh_l0.grad ** 2
        sq = g if sq is None else sq + g
    torch.testing.assert_close(rms["rnn.weight_hh_l0"], (sq / 3).sqrt())


@pytest.mark.parametrize("kw, match", [
    ({"segment_len": 0}, "segment_len >= 1"), ({"segment_len": 2.5}, "segment_len >= 1"),
    ({"lr": -1.0}, "lr >= 0"), ({"lr": float("nan")}, "lr >= 0"),
    ({"decay": 1.0}, r"decay in \[0, 1\)"), ({"eps": 0.0}, "eps > 0"),
    ({"first": 0}, "1 <= first"), ({"grad_rms": {}}, "grad_rms for every parameter"),
])
def test_bad_settings(kw, match):
    ids, vocab = _ids(TEXT[:60])
    with pytest.raises(ValueError, match=match):
        dynamic_token_nll(_lm(vocab), ids, **kw)
    with pytest.raises(ValueError, match="at least segment_len"):
        gradient_rms(_lm(vocab), ids[:5], segment_len=10)

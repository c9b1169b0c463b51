"""Seq2Seq: attention masks, fast path == step loop, beam width 1 == greedy, determinism,
state carried during decoding, and a tiny reversal task learned in seconds."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.pairs import pair_collate
from rnnkit.models.attention import Attention, masked_softmax
from rnnkit.models.beam_search import beam_search, greedy_decode
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

V, BOS, EOS = 12, 10, 11


def model(attention="general", feed=True, kind="lstm", layers=1, bi=True, H=24, seed=0):
    torch.manual_seed(seed)
    return Seq2Seq(Seq2SeqConfig(src_vocab_size=V, tgt_vocab_size=V, bos_id=BOS, eos_id=EOS,
                                 model=kind, embed_size=16, hidden_size=H, num_layers=layers,
                                 bidirectional=bi, attention=attention, input_feeding=feed))


def reversal(n, gen, lo=2, hi=8):
    items = []
    for _ in range(n):
        L = int(torch.randint(lo, hi, (1,), generator=gen))
        s = torch.randint(2, 10, (L,), generator=gen)
        items.append((s, s.flip(0)))
    return items


def batch(n=6, seed=1):
    return pair_collate(reversal(n, torch.Generator().manual_seed(seed)), BOS, EOS)


@pytest.mark.parametrize("kind", ["dot", "general", "additive"])
def test_attention_rows_sum_to_one_and_zero_on_padding(kind):
    att = Attention(kind, 8, 8)
    keys = torch.randn(3, 5, 8)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    q = torch.randn(3, 4, 8)
    ctx, alpha = att(q, att.prepare(keys, mask))
    assert ctx.shape == (3, 4, 8) and alpha.shape == (3, 4, 5)
    torch.testing.assert_close(alpha.sum(-1), torch.ones(3, 4))
    assert bool((alpha[~mask[:, None, :].expand_as(alpha)] == 0).all())
    keys2 = keys.clone()
    keys2[~mask] = 1e3  # padded keys change nothing
    ctx2, alpha2 = att(q, att.prepare(keys2, mask))
    torch.testing.assert_close(alpha, alpha2)
    torch.testing.assert_close(ctx, ctx2)


def test_masked_softmax_all_masked_row_is_zero():
    a = masked_softmax(torch.randn(2, 3), torch.tensor([[True, False, True], [False] * 3]))
    assert a[1].abs().sum() == 0 and torch.isclose(a[0].sum(), torch.tensor(1.0))


def test_dot_attention_needs_equal_sizes():
    with pytest.raises(ValueError, match="query_size == key_size"):
        Attention("dot", 8, 16)
    with pytest.raises(ValueError, match="expected kind in"):
        Attention("cosine", 8, 8)


def test_decoder_attention_is_zero_on_source_padding():
    m = model().eval()
    b = batch()
    _, alpha = m(b.src, b.src_lengths, b.tgt_in)
    mask = torch.arange(b.src.shape[1])[None, :] < b.src_lengths[:, None]
    torch.testing.assert_close(alpha.sum(-1), torch.ones(alpha.shape[:2]))
    assert bool((alpha.masked_select(~mask[:, None, :]) == 0).all())


def test_source_padding_does_not_change_outputs():
    m = model().eval()
    b = batch()
    src2 = b.src.clone()
    pad = torch.arange(src2.shape[1])[None, :] >= b.src_lengths[:, None]
    src2[pad] = 5
    torch.testing.assert_close(m(b.src, b.src_lengths, b.tgt_in)[0],
                               m(src2, b.src_lengths, b.tgt_in)[0])


@pytest.mark.parametrize("kind,layers", [("lstm", 1), ("gru", 2), ("mingru", 1)],
                         ids=["lstm-L1", "gru-L2", "mingru-L1"])
def test_parallel_fast_path_equals_step_loop(kind, layers):
    m = model(feed=False, kind=kind, layers=layers).eval()
    b = batch()
    fast, _ = m(b.src, b.src_lengths, b.tgt_in)
    memory, state = m.encode(b.src, b.src_lengths)
    steps = []
    for t in range(b.tgt_in.shape[1]):
        logits, state, _ = m.decode_step(b.tgt_in[:, t], state, memory)
        steps.append(logits)
    torch.testing.assert_close(fast, torch.stack(steps, 1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attention,feed", [("general", True), ("additive", False),
                                            ("none", False)])
def test_beam_width_one_equals_greedy(attention, feed):
    m = model(attention=attention, feed=feed)
    b = batch(8)
    g = greedy_decode(m, b.src, b.src_lengths, max_len=12)
    bs = beam_search(m, b.src, b.src_lengths, beam_width=1, max_len=12)
    assert g.tokens == bs.tokens


def test_decoding_is_deterministic_and_restores_training_mode():
    m = model()
    b = batch(8)
    m.train()
    a = beam_search(m, b.src, b.src_lengths, beam_width=4, return_attention=True)
    c = beam_search(m, b.src, b.src_lengths, beam_width=4, return_attention=True)
    assert m.training and a.tokens == c.tokens
    torch.testing.assert_close(a.scores, c.scores)
    for att, n, toks in zip(a.attention, b.src_lengths, a.tokens, strict=True):
        assert att.shape[1] == int(n) and att.shape[0] >= min(len(toks), 1)


def test_decoder_state_is_carried_not_rerun():
    m = model()
    calls = {"encode": 0, "step": 0}
    enc, step = m.encode, m.decode_step

    def count_encode(*a):
        calls["encode"] += 1
        return enc(*a)

    def count_step(y, state, memory):
        calls["step"] += 1
        assert y.dim() == 1  # one token per hypothesis, never a prefix
        return step(y, state, memory)

    m.encode, m.decode_step = count_encode, count_step
    b = batch(4)
    beam_search(m, b.src, b.src_lengths, beam_width=3, max_len=9)
    assert calls["encode"] == 1 and calls["step"] <= 9


def test_beam_search_rejects_bad_width():
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(model(), *batch()[:2], beam_width=0)


def test_config_validation():
    with pytest.raises(ValueError, match="attention"):
        Seq2SeqConfig(src_vocab_size=5, tgt_vocab_size=5, bos_id=2, eos_id=3, attention="x")
    with pytest.raises(ValueError, match="eos_id"):
        Seq2SeqConfig(src_vocab_size=5, tgt_vocab_size=5, bos_id=2, eos_id=9)
    cfg = Seq2SeqConfig(src_vocab_size=5, tgt_vocab_size=6, bos_id=4, eos_id=5)
    assert Seq2SeqConfig.from_dict(cfg.to_dict()) == cfg


def test_empty_source_is_an_error():
    with pytest.raises(ValueError, match="source length >= 1"):
        model().encode(torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 0]))


def test_learns_reversal_to_near_zero_error():
    torch.manual_seed(0)
    m = model(H=48, feed=False)  # the one-call decoder: a few seconds on one core
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    for _ in range(150):
        loss, _ = m.training_step(pair_collate(reversal(32, gen, 2, 6), BOS, EOS))
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = reversal(100, torch.Generator().manual_seed(99), 2, 6)
    b = pair_collate(test, BOS, EOS)
    hyp = beam_search(m, b.src, b.src_lengths, beam_width=3)
    exact = sum(h == t.tolist() for h, (_, t) in zip(hyp.tokens, test, strict=True)) / 100
    assert exact >= 0.9, exact


def test_scheduled_sampling_runs_and_differs_from_teacher_forcing():
    m = model(feed=False)
    m.sampling_prob = 0.9
    b = batch()
    torch.manual_seed(0)
    sampled, _ = m(b.src, b.src_lengths, b.tgt_in)
    m.sampling_prob = 0.0
    forced, _ = m(b.src, b.src_lengths, b.tgt_in)
    assert sampled.shape == forced.shape and not torch.allclose(sampled, forced)

"""LanguageModel: config, shapes, tied weights, learning, scoring, stateful generation; and the
temperature / top-k / top-p sampling helpers."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.sampling import filter_logits, sample_next

TEXT = "the cat sat on the mat. the dog sat on the log. " * 40


def _ids(text: str = TEXT) -> tuple[torch.Tensor, int]:
    chars = sorted(set(text))
    stoi = {c: i + 2 for i, c in enumerate(chars)}  # 0 pad, 1 unk as in the tokenizers
    return torch.tensor([stoi[c] for c in text]), len(chars) + 2


def _lm(vocab: int = 12, **kw) -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(LanguageModelConfig(vocab_size=vocab, hidden_size=16, embedding_dim=8,
                                             **kw))


# ---- config -----------------------------------------------------------------------------------

def test_config_round_trip():
    cfg = LanguageModelConfig(vocab_size=50, model="gru", tie_weights=True, num_layers=2,
                              dropout=0.1)
    assert LanguageModelConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("bad, match", [
    ({"vocab_size": 1}, "vocab_size >= 2"), ({"vocab_size": 10, "hidden_size": 0}, "hidden_size"),
    ({"vocab_size": 10, "model": "tcn"}, "expected model in"),
    ({"vocab_size": 10, "dropout": 1.0}, "dropout"), ({"vocab_size": 10, "pad_id": 10}, "pad_id"),
])
def test_config_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        LanguageModelConfig(**bad)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown keys"):
        LanguageModelConfig.from_dict({"vocab_size": 5, "colour": "red"})


# ---- forward, tied weights ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["lstm", "gru", "mingru"])
def test_forward_shapes_and_streaming(kind):
    lm = _lm(model=kind).eval()
    x = torch.randint(0, 12, (3, 11))
    logits, _ = lm(x)
    assert logits.shape == (3, 11, 12)
    a, s = lm(x[:, :4])
    b, _ = lm(x[:, 4:], s)  # carried state continues the sequence exactly
    torch.testing.assert_close(torch.cat([a, b], 1), logits, atol=1e-5, rtol=1e-5)


def test_forward_rejects_float_input():
    with pytest.raises(ValueError, match=r"expected token ids of shape \(B, T\)"):
        _lm()(torch.randn(2, 5))


@pytest.mark.parametrize("emb", [16, 8], ids=["E=H", "E!=H-projected"])
def test_tied_weights_share_the_embedding(emb, tmp_path):
    lm = LanguageModel(LanguageModelConfig(vocab_size=12, hidden_size=16, embedding_dim=emb,
                                           tie_weights=True))
    assert lm.decoder is None and (lm.proj is None) == (emb == 16)
    logits, _ = lm(torch.tensor([[3, 4, 5]]))
    logits[0, -1, 7].backward()
    assert lm.embedding.weight.grad[7].abs().sum() > 0  # the output row of token 7 is E[7]
    sd = lm.state_dict()
    assert not any(k.startswith("decoder.") for k in sd)
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "m.safetensors"))
    lm2 = LanguageModel(lm.config)
    lm2.load_state_dict(load_file(str(tmp_path / "m.safetensors")))
    torch.testing.assert_close(lm2(torch.tensor([[3, 4, 5]]))[0], logits.detach())


def test_untied_has_its_own_decoder():
    lm = _lm()
    assert lm.decoder is not None and lm.decoder.weight.data_ptr() != lm.embedding.weight.data_ptr()


def test_bf16_autocast_carries_state():
    lm, x = _lm(), torch.randint(0, 12, (2, 6))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, (h, c) = lm(x)
        logits, _ = lm(x, (h, c))  # a bf16 state into a float32 embedding: cast, not an error
    assert torch.isfinite(logits.float()).all()


# ---- learning and scoring -----------------------------------------------------------------------

def _unigram_bits(ids: torch.Tensor) -> float:
    p = torch.bincount(ids).float()
    p = p[p > 0] / ids.numel()
    return float(-(p * p.log2()).sum())


def test_learns_a_repetitive_corpus_well_below_unigram():
    ids, vocab = _ids()
    torch.manual_seed(0)
    lm = LanguageModel(LanguageModelConfig(vocab_size=vocab, hidden_size=64, embedding_dim=16))
    opt = torch.optim.Adam(lm.parameters(), 1e-2)
    rows = ids[: (len(ids) - 1) // 8 * 8 + 1]
    x, y = rows[:-1].view(8, -1), rows[1:].view(8, -1)
    state = None
    for _epoch in range(8):
        state = None
        for t in range(0, x.shape[1], 50):  # stateful truncated BPTT over contiguous rows
            loss, logs, state = lm.training_step((x[:, t:t + 50], y[:, t:t + 50]), state)
            opt.zero_grad()
            loss.backward()
            opt.step()
            state = tuple(s.detach() for s in state)
    bpc = float(lm.token_nll(ids).mean()) / math.log(2)
    assert bpc < 0.5 * _unigram_bits(ids), (bpc, _unigram_bits(ids))
    assert math.isclose(float(logs["bpc"]), float(loss.detach()) / math.log(2), rel_tol=1e-6)


@pytest.mark.parametrize("rows, chunk", [(1, 1000), (5, 7), (13, 64)])
def test_token_nll_equals_one_full_pass(rows, chunk):
    lm, (ids, _) = _lm(vocab=16), _ids(TEXT[:300])
    full, _ = lm(ids[None, :-1])
    ref = torch.nn.functional.cross_entropy(full[0], ids[1:], reduction="none")
    got = lm.token_nll(ids, first=1, rows=rows, chunk_len=chunk, warmup=400)
    torch.testing.assert_close(got, ref.detach(), atol=1e-5, rtol=1e-5)
    tail = lm.token_nll(ids, first=200, rows=rows, chunk_len=chunk, warmup=400)
    torch.testing.assert_close(tail, ref[199:].detach(), atol=1e-5, rtol=1e-5)


def test_token_nll_errors():
    with pytest.raises(ValueError, match="1 <= first < len"):
        _lm().token_nll(torch.tensor([3]), first=1)


# ---- generation ---------------------------------------------------------------------------------

def _naive_generate(lm, prime, length, temperature, top_k=None, top_p=None, seed=0):
    """Re-runs the whole prefix from the zero state at every step (the slow twin)."""
    g, seq, out = torch.Generator().manual_seed(seed), list(prime), []
    with torch.no_grad():
        for _ in range(length):
            logits, _ = lm(torch.tensor([seq]))
            nxt = int(sample_next(logits[:, -1], temperature, top_k, top_p, g, banned=[0])[0])
            out.append(nxt)
            seq.append(nxt)
    return out


@pytest.mark.parametrize("temperature, top_k, top_p", [(0.0, None, None), (1.0, None, None),
                                                      (0.7, 5, None), (1.3, None, 0.8)])
def test_generate_with_carried_state_equals_rerunning_the_prefix(temperature, top_k, top_p):
    lm = _lm().eval()
    g = torch.Generator().manual_seed(0)
    fast = lm.generate([3, 4, 5, 6], 25, temperature, top_k, top_p, generator=g)
    assert fast == _naive_generate(lm, [3, 4, 5, 6], 25, temperature, top_k, top_p)


def test_generate_feeds_the_prime_once_then_one_step_per_token():
    lm, calls = _lm(), []
    lm.rnn.register_forward_hook(lambda mod, args, out: calls.append(args[0].shape[1]))
    prime = [3, 4, 5, 6, 7, 8, 9]
    out = lm.generate(prime, 20, temperature=1.0, generator=torch.Generator().manual_seed(1))
    assert len(out) == 20
    assert calls == [len(prime)] + [1] * 19  # never a re-run of the prefix
    assert sum(calls) == len(prime) + 20 - 1


def test_generate_is_deterministic_under_a_seed():
    lm = _lm()

    def run(seed):
        return lm.generate([3], 40, 1.0, generator=torch.Generator().manual_seed(seed))

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert 0 not in run(7)  # <pad> is never generated
    assert 1 not in lm.generate([3], 60, 3.0, banned=[1])


def test_top_k_1_equals_greedy():
    lm = _lm()
    greedy = lm.generate([3, 4], 30, temperature=0.0)
    g = torch.Generator().manual_seed(0)
    assert lm.generate([3, 4], 30, temperature=1.5, top_k=1, generator=g) == greedy
    assert greedy == lm.generate([3, 4], 30, temperature=0.0)


def test_generate_restores_training_mode_and_validates():
    lm = _lm().train()
    lm.generate([3], 2, 1.0)
    assert lm.training
    with pytest.raises(ValueError, match="non-empty prime"):
        lm.generate([], 5)
    with pytest.raises(ValueError, match="temperature >= 0"):
        lm.generate([3], 5, temperature=-1)
    with pytest.raises(ValueError, match="length >= 0"):
        lm.generate([3], -2)
    assert lm.generate([3], 0) == []


# ---- sampling helpers ---------------------------------------------------------------------------

PROBS = torch.tensor([[0.5, 0.25, 0.15, 0.06, 0.04]])


def test_top_p_keeps_the_smallest_prefix_reaching_p():
    logits = PROBS.log()
    kept = torch.isfinite(filter_logits(logits, top_p=0.8))[0].tolist()
    assert kept == [True, True, True, False, False]  # 0.5 + 0.25 < 0.8 <= 0.9
    assert torch.isfinite(filter_logits(logits, top_p=0.5))[0].tolist() == [True] + [False] * 4
    assert torch.isfinite(filter_logits(logits, top_p=0.01))[0].sum() == 1  # top-1 always kept


def test_top_p_samples_only_from_the_nucleus():
    logits = PROBS[[0, 0, 0, 0]].log()[:, torch.tensor([3, 0, 4, 2, 1])]  # shuffled vocab
    g = torch.Generator().manual_seed(0)
    seen = {int(i) for _ in range(200) for i in sample_next(logits, 1.0, top_p=0.8, generator=g)}
    assert seen == {1, 4, 3}  # the positions of 0.5, 0.25 and 0.15


def test_top_k_restricts_and_top_k_1_is_greedy():
    logits = torch.randn(6, 30)
    kept = torch.isfinite(filter_logits(logits, top_k=4)).sum(-1)
    assert (kept == 4).all()
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sample_next(logits, 2.0, top_k=1, generator=g), logits.argmax(-1))
    assert torch.equal(sample_next(logits, 0.0), logits.argmax(-1))


def test_temperature_sharpens():
    logits = PROBS.log().repeat(4000, 1)
    g = torch.Generator().manual_seed(0)
    cold = (sample_next(logits, 0.3, generator=g) == 0).float().mean()
    hot = (sample_next(logits, 1.0, generator=g) == 0).float().mean()
    assert cold > 0.85 and abs(hot - 0.5) < 0.05


def test_banned_ids_are_never_drawn():
    logits = torch.tensor([[10.0, 0.0, 0.0]])
    assert int(sample_next(logits, 0.0, banned=[0])) != 0


@pytest.mark.parametrize("kw, match", [({"temperature": -0.1}, "temperature"),
                                       ({"top_k": 0}, "top_k"), ({"top_p": 0.0}, "top_p"),
                                       ({"top_p": 1.5}, "top_p")])
def test_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        sample_next(torch.zeros(1, 3), **{"temperature": 1.0, **kw})


def test_recurrent_dropout_reaches_the_layer_and_is_validated():
    cfg = LanguageModelConfig(vocab_size=12, hidden_size=8, recurrent_dropout=0.3)
    lm = LanguageModel(cfg)
    assert lm.rnn.recurrent_dropout == 0.3
    assert LanguageModelConfig.from_dict(cfg.to_dict()) == cfg
    lm.eval()
    x = torch.randint(1, 12, (2, 7))
    assert torch.equal(lm(x)[0], lm(x)[0])  # no dropout in evaluation
    plain = LanguageModel(LanguageModelConfig(vocab_size=12, hidden_size=8))
    assert plain.rnn.recurrent_dropout == 0
    with pytest.raises(ValueError, match="recurrent_dropout < 1"):
        LanguageModelConfig(vocab_size=12, recurrent_dropout=1.0)
    with pytest.raises(ValueError, match="expected recurrent_dropout 0 for model 'mingru'"):
        LanguageModelConfig(vocab_size=12, model="mingru", recurrent_dropout=0.1)

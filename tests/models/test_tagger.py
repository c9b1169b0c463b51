"""Tagger and CRF: the CRF's partition function and Viterbi path equal brute force, padding
is ignored, and a BiLSTM(-CRF) tagger learns a small task beyond the majority tag."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.data.collate import pad_collate
from rnnkit.models.crf import CRF
from rnnkit.models.tagger import IGNORE_INDEX, Tagger, TaggerConfig


def brute(crf, e):
    """All tag sequences of one unpadded item: (log Z, best path)."""
    T, N = e.shape
    best, scores = None, []
    for path in itertools.product(range(N), repeat=T):
        tags = torch.tensor([path])
        s = crf.score(e[None], tags, torch.ones(1, T, dtype=torch.bool))[0]
        scores.append(s)
        if best is None or s > best[0]:
            best = (s, list(path))
    return torch.logsumexp(torch.stack(scores), 0), best[1]


@pytest.mark.parametrize("T,N", [(1, 3), (3, 2), (4, 3)], ids=["T1-N3", "T3-N2", "T4-N3"])
def test_crf_partition_and_viterbi_equal_brute_force(T, N):
    torch.manual_seed(T * 10 + N)
    crf = CRF(N)
    e = torch.randn(T, N)
    logz, path = brute(crf, e)
    mask = torch.ones(1, T, dtype=torch.bool)
    torch.testing.assert_close(crf.log_partition(e[None], mask)[0], logz)
    assert crf.decode(e[None], mask)[0] == path


def test_crf_ignores_padded_steps():
    torch.manual_seed(0)
    crf = CRF(3)
    e = torch.randn(2, 5, 3)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=torch.bool)
    e2 = e.clone()
    e2[1, 2:] = 100.0
    torch.testing.assert_close(crf.log_partition(e, mask), crf.log_partition(e2, mask))
    assert crf.decode(e, mask) == crf.decode(e2, mask)
    assert len(crf.decode(e, mask)[1]) == 2
    logz, path = brute(crf, e[1, :2])
    torch.testing.assert_close(crf.log_partition(e, mask)[1], logz)
    assert crf.decode(e, mask)[1] == path


def test_crf_errors():
    with pytest.raises(ValueError, match="num_tags"):
        CRF(0)
    with pytest.raises(ValueError, match="at least one step"):
        CRF(2).log_partition(torch.randn(1, 3, 2), torch.zeros(1, 3, dtype=torch.bool))


def synthetic(n, gen):
    """Token 2 starts an entity (B=1) continued by token 3 (I=2); other tokens O=0."""
    items = []
    for _ in range(n):
        L = int(torch.randint(3, 9, (1,), generator=gen))
        x = torch.randint(2, 7, (L,), generator=gen)
        y = torch.zeros(L, dtype=torch.long)
        for t in range(L):
            if x[t] == 2:
                y[t] = 1
            elif x[t] == 3 and t > 0 and y[t - 1] in (1, 2):
                y[t] = 2
        items.append((x, y))
    return items


@pytest.mark.parametrize("crf", [False, True], ids=["softmax", "crf"])
def test_tagger_learns_beyond_majority(crf):
    torch.manual_seed(0)
    m = Tagger(TaggerConfig(vocab_size=8, num_tags=3, embed_size=16, hidden_size=16,
                            dropout=0.0, crf=crf))
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(m.parameters(), 2e-2)
    for _ in range(60):
        loss, _ = m.training_step(pad_collate(synthetic(32, gen),
                                              target_padding_value=IGNORE_INDEX))
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = synthetic(100, torch.Generator().manual_seed(5))
    b = pad_collate(test, target_padding_value=IGNORE_INDEX)
    pred = m.decode(b.inputs, b.lengths)
    gold = [y.tolist() for _, y in test]
    acc = sum(p == g for ps, gs in zip(pred, gold) for p, g in zip(ps, gs)) / sum(map(len, gold))
    majority = sum(g == 0 for gs in gold for g in gs) / sum(map(len, gold))
    assert [len(p) for p in pred] == [len(g) for g in gold]
    assert acc > max(0.97, majority + 0.05), (acc, majority)


def test_tagger_padding_invariance_and_config():
    torch.manual_seed(0)
    m = Tagger(TaggerConfig(vocab_size=8, num_tags=3, embed_size=8, hidden_size=8)).eval()
    x = torch.tensor([[2, 3, 4, 0, 0], [5, 6, 2, 3, 4]])
    lengths = torch.tensor([3, 5])
    x2 = x.clone()
    x2[0, 3:] = 7
    torch.testing.assert_close(m(x, lengths)[0, :3], m(x2, lengths)[0, :3])
    cfg = TaggerConfig(vocab_size=8, num_tags=3, crf=True)
    assert TaggerConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="model"):
        TaggerConfig(vocab_size=8, num_tags=3, model="transformer")

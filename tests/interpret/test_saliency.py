"""Saliency: shapes, exact values for a linear model, completeness of integrated gradients,
zero on padded steps, target selection, and the PNG/JSON writers."""

from __future__ import annotations

import json

import pytest
import torch

from rnnkit.interpret import (
    explain_sequence,
    explain_tagger,
    explain_tokens,
    gradient_x_input,
    integrated_gradients,
    select_target,
)
from rnnkit.models.attention import masked_softmax
from rnnkit.models.tagger import Tagger, TaggerConfig
from rnnkit.plots.attention import plot_attention


class RNNClassifier(torch.nn.Module):
    """A small masked GRU classifier: (x [B, T, C], lengths) -> logits [B, K]."""

    def __init__(self, C=3, K=4):
        super().__init__()
        from rnnkit import GRU

        self.rnn = GRU(C, 8, batch_first=True)
        self.score = torch.nn.Linear(8, 1)
        self.head = torch.nn.Linear(8, K)

    def forward(self, x, lengths):
        y, _ = self.rnn(x, lengths=lengths)
        mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
        self.alpha = masked_softmax(self.score(y).squeeze(-1), mask)  # attention pooling
        return self.head((self.alpha[..., None] * y).sum(1))


def linear_fn(w):
    return lambda x, n: (x * w).sum((1, 2))[:, None].expand(-1, 2) * torch.tensor([1.0, -1.0])


def test_gradient_x_input_is_exact_for_a_linear_model():
    torch.manual_seed(0)
    w = torch.randn(5, 3)
    x = torch.randn(2, 5, 3)
    s = gradient_x_input(linear_fn(w), x, target=0)
    torch.testing.assert_close(s, (x * w).sum(-1))
    torch.testing.assert_close(integrated_gradients(linear_fn(w), x, target=0)[0], s)


def test_shapes_and_zero_on_padded_steps():
    torch.manual_seed(0)
    m = RNNClassifier().eval()
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([6, 4, 1])
    x[1, 4:] = 5.0  # garbage in the padding
    for s in (gradient_x_input(m, x, lengths), integrated_gradients(m, x, lengths)[0]):
        assert s.shape == (3, 6)
        pad = torch.arange(6)[None, :] >= lengths[:, None]
        assert bool((s[pad] == 0).all()) and bool((s[~pad] != 0).any())


def test_integrated_gradients_completeness():
    torch.manual_seed(0)
    m = RNNClassifier().eval()
    x = torch.randn(2, 7, 3)
    lengths = torch.tensor([7, 5])
    scores, delta = integrated_gradients(m, x, lengths, target=2, steps=64)
    with torch.no_grad():
        gap = m(x, lengths)[:, 2] - m(torch.zeros_like(x), lengths)[:, 2]
    assert float(delta.abs().max()) < 0.02 * float(gap.abs().max()) + 1e-3
    torch.testing.assert_close(scores.sum(1), gap.detach(), atol=0.02, rtol=0.05)


def test_select_target_rules_and_errors():
    y = torch.tensor([[0.1, 0.9], [0.8, 0.2]])
    assert select_target(y, None).tolist() == pytest.approx([0.9, 0.8])
    assert select_target(y, 0).tolist() == pytest.approx([0.1, 0.8])
    assert select_target(torch.ones(2, 3, 4), None).tolist() == [12.0, 12.0]
    with pytest.raises(ValueError, match="class target"):
        select_target(torch.ones(2, 3, 4), 1)
    with pytest.raises(ValueError, match="float input"):
        gradient_x_input(lambda x, n: x, torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(linear_fn(torch.ones(2, 1)), torch.ones(1, 2, 1), steps=0)


def test_explain_sequence_writes_png_and_json(tmp_path):
    torch.manual_seed(0)
    m = RNNClassifier().eval()
    x = torch.randn(6, 3)
    with torch.no_grad():
        m(x[None], torch.tensor([6]))
    files = explain_sequence(m, x, tmp_path, index=4, attention=m.alpha[0])
    names = sorted(f.name for f in files)
    assert names == ["attention-4.png", "saliency-4.json", "saliency-4.png"]
    rec = json.loads((tmp_path / "saliency-4.json").read_text())
    assert len(rec["scores"]) == 6 and rec["method"] == "integrated_gradients"
    assert sum(rec["attention"]) == pytest.approx(1.0, abs=1e-5)


def test_explain_tagger_matrix(tmp_path):
    torch.manual_seed(0)
    m = Tagger(TaggerConfig(vocab_size=6, num_tags=3, embed_size=4, hidden_size=4))
    files = explain_tagger(m, [2, 3, 4], ["a", "b", "c"], ["O", "B-X", "I-X"], tmp_path, 0,
                           method="gradient_x_input")
    rec = json.loads(files[-1].read_text())
    assert len(rec["scores"]) == 3 and all(len(r) == 3 for r in rec["scores"])
    assert files[0].suffix == ".png" and files[0].stat().st_size > 0


def test_plot_attention_checks_shape(tmp_path):
    p = plot_attention(torch.full((2, 3), 1 / 3), ["a", "b", "c"], ["x", "y"], tmp_path / "a.png")
    assert p.is_file()
    with pytest.raises(ValueError, match="outputs × sources"):
        plot_attention(torch.ones(2, 3), ["a", "b"], ["x", "y"], tmp_path / "b.png")


class TextModel(torch.nn.Module):
    """ids -> embedding -> masked mean -> logits (the embedding is hooked by explain_tokens)."""

    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(10, 4)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, ids, lengths):
        e = self.embedding(ids)
        mask = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).float()
        return self.head((e * mask[..., None]).sum(1) / mask.sum(1, keepdim=True))


def test_explain_tokens_hooks_the_embedding(tmp_path):
    torch.manual_seed(0)
    m = TextModel()
    files = explain_tokens(m, m.embedding, [3, 4, 5], ["a", "b", "c"], tmp_path, 1,
                           method="gradient_x_input", target=1)
    rec = json.loads((tmp_path / "saliency-1.json").read_text())
    e = m.embedding(torch.tensor([3, 4, 5])).detach()
    expect = (e * m.head.weight[1].detach() / 3).sum(-1)  # linear model: exact
    assert rec["scores"] == pytest.approx(expect.tolist(), abs=1e-5)
    assert len(m.embedding._forward_hooks) == 0 and len(files) == 2

"""Text classifier: token ids → trainable embedding → stacked (bi)RNN → pooling → linear.

::

    e_bt = E[ids_bt]                          E ∈ R^{V×E}, row 0 (<pad>) fixed at zero
    y = RNN(dropout(e), lengths)              y [B, T, D·H]  (padded steps not read)
    p = pool(y, lengths)                      last | mean | max | attention over valid steps
    logits = W dropout(p) + b                 [B, K];  P(k | text) = softmax(logits)_k
    (+ 4 · Σ_n U_n / sqrt(N)                  optional bag of the N unigrams and hashed
                                              bigrams n of the text, bow_buckets > 0)

Training uses the softmax cross-entropy (for two classes this is the sigmoid/logistic loss on
the logit difference). ``word_dropout`` replaces random tokens by ``<unk>`` during training, a
cheap regulariser for small data sets. The optional linear bag-of-n-grams path (wide-and-deep,
fastText) is what a linear model learns well from a few thousand texts; the recurrent path adds
word order and context on top. Token ids and tokenizers live in
:mod:`rnnkit.data.tokenizers`.

Example:
    >>> cfg = TextClassifierConfig(vocab_size=20000, num_classes=2)
    >>> model = TextClassifier(cfg)
    >>> logits = model(ids, lengths)                  # ids [B, T] int64, lengths [B]

Letters: B batch, T tokens, V vocabulary, E embedding size, H hidden, D directions, K classes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.models.backbone import MODEL_KINDS, backbone_output_size, build_recurrent
from rnnkit.models.pooling import POOLINGS, SequencePooling, length_mask
from rnnkit.models.sequence_classifier import ClassifierSteps

__all__ = ["TextClassifier", "TextClassifierConfig"]

PAD_ID, UNK_ID = 0, 1
# The bag's weights are sparse and each sees few examples: a gain of 4 makes Adam's per-step
# change of the bag logits ~4 lr, so the linear path learns as fast as a tuned linear model.
_BOW_GAIN = 4.0


@dataclass(frozen=True)
class TextClassifierConfig:
    """Settings of a :class:`TextClassifier` (saved in ``config.json``).

    Args:
        vocab_size: V, the tokenizer's vocabulary size (ids 0 = ``<pad>``, 1 = ``<unk>``).
        num_classes: K >= 2.
        embed_dim: E.
        model: recurrent kind, one of ``lstm | gru | rnn | mingru | minlstm``.
        hidden_size, num_layers, bidirectional, layer_norm: the recurrent backbone.
        dropout: on the embeddings, between recurrent layers and before the head.
        pooling: ``last | mean | max | attention``.
        word_dropout: probability of replacing a token by ``<unk>`` in training.
        bow_buckets: if > 0, add a linear bag-of-n-grams path (fastText / wide-and-deep
            style) to the logits: one weight vector per unigram and per bigram (hashed into
            this many buckets), summed over the text and divided by sqrt(number of n-grams).
        bow_dropout: in training, the share of texts whose bag logits are dropped, so that
            the recurrent path must classify on its own too (the linear path fits a small
            training set fast and would otherwise leave the RNN little to learn).
        label_smoothing: cross-entropy label smoothing used in training.
    """

    vocab_size: int
    num_classes: int
    embed_dim: int = 128
    model: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.3
    bidirectional: bool = True
    layer_norm: bool = False
    pooling: str = "max"
    word_dropout: float = 0.0
    label_smoothing: float = 0.0
    bow_buckets: int = 0
    bow_dropout: float = 0.5

    def __post_init__(self) -> None:
        def check(cond: bool, msg: str) -> None:
            if not cond:
                raise ValueError(f"TextClassifierConfig: {msg}")

        check(isinstance(self.bow_buckets, int) and self.bow_buckets >= 0,
              f"expected bow_buckets >= 0, got {self.bow_buckets!r}.")
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers"):
            v = getattr(self, name)
            check(isinstance(v, int) and v >= 1, f"expected {name} >= 1, got {v!r}.")
        check(self.vocab_size >= 3, f"expected vocab_size >= 3 (<pad>, <unk> and a token), got "
              f"{self.vocab_size}.")
        check(isinstance(self.num_classes, int) and self.num_classes >= 2,
              f"expected num_classes >= 2, got {self.num_classes!r}. A classifier needs at "
              f"least two classes in the training data.")
        check(self.model in MODEL_KINDS, f"expected model in {list(MODEL_KINDS)}, got "
              f"{self.model!r}.")
        check(self.pooling in POOLINGS, f"expected pooling in {list(POOLINGS)}, got "
              f"{self.pooling!r}.")
        for name in ("dropout", "word_dropout", "label_smoothing", "bow_dropout"):
            v = getattr(self, name)
            check(0 <= v < 1, f"expected 0 <= {name} < 1, got {v}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextClassifierConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class TextClassifier(ClassifierSteps, nn.Module):
    """Embedding → stacked (bi)RNN → pooling → linear: ``(ids [B, T], lengths [B]) -> [B, K]``.

    Args:
        config: a :class:`TextClassifierConfig`.
    """

    def __init__(self, config: TextClassifierConfig) -> None:
        super().__init__()
        self.config = c = config
        self.label_smoothing = c.label_smoothing
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=PAD_ID)
        options = {"layer_norm": True} if c.layer_norm else {}
        self.rnn = build_recurrent(c.model, c.embed_dim, c.hidden_size, c.num_layers,
                                   dropout=c.dropout if c.num_layers > 1 else 0.0,
                                   bidirectional=c.bidirectional, **options)
        feats = backbone_output_size(self.rnn)
        self.pool = SequencePooling(c.pooling, feats, 2 if c.bidirectional else 1)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(feats, c.num_classes)
        if c.bow_buckets:
            self.bow = nn.EmbeddingBag(c.vocab_size + c.bow_buckets, c.num_classes, mode="sum")
            nn.init.zeros_(self.bow.weight)

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.forward_with_attention(ids, lengths)[0]

    def forward_with_attention(self, ids: Tensor, lengths: Tensor | None = None,
                               ) -> tuple[Tensor, Tensor | None]:
        """``(logits [B, K], α [B, T] or None)``; ``α`` are the attention pooling weights."""
        c = self.config
        if ids.dim() != 2 or ids.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"TextClassifier: expected integer token ids of shape (B, T), got "
                             f"{tuple(ids.shape)} {ids.dtype}. Encode texts with the tokenizer.")
        B, T = ids.shape
        if lengths is None:
            lengths = (ids != PAD_ID).sum(1).clamp_min(1)
        lengths = torch.as_tensor(lengths).cpu().clamp(1, T)
        mask = length_mask(lengths, B, T, ids.device)
        ids = ids.masked_fill(~mask, PAD_ID)
        if self.training and c.word_dropout > 0:
            drop = (torch.rand(ids.shape, device=ids.device) < c.word_dropout) & mask
            ids = ids.masked_fill(drop, UNK_ID)
        x = self.drop(self.embedding(ids))
        ragged = bool((lengths < T).any())
        y, _ = self.rnn(x, lengths=lengths if ragged else None)
        pooled, alpha = self.pool(y, lengths)
        logits = self.head(self.drop(pooled))
        if c.bow_buckets:
            bag = self._bag(ids, mask, lengths)
            if self.training and c.bow_dropout > 0:
                bag = bag * (torch.rand(B, 1, device=bag.device) >= c.bow_dropout)
            logits = logits + bag
        return logits, alpha

    def _bag(self, ids: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        """``g · Σ_n w_n / sqrt(#n-grams)`` over unigram ``ids`` and hashed bigrams ``n``."""
        c = self.config
        grams = [ids.masked_fill(~mask, -1)]
        if ids.shape[1] > 1:
            bi = (ids[:, :-1] * 1_000_003 + ids[:, 1:]) % c.bow_buckets + c.vocab_size
            grams.append(bi.masked_fill(~(mask[:, 1:]), -1))
        flat = torch.cat(grams, dim=1)
        keep = flat >= 0
        offsets = torch.cat([keep.new_zeros(1, dtype=torch.int64),
                             keep.sum(1).cumsum(0)[:-1]])
        summed = self.bow(flat[keep], offsets)
        count = keep.sum(1, keepdim=True).clamp_min(1).to(summed.dtype)
        return _BOW_GAIN * summed / count.sqrt()

"""Text classifier: token ids → trainable embedding → stacked (bi)RNN → pooling → linear.

::

    e_bt = E[ids_bt]                          E ∈ R^{V×E}, row 0 (<pad>) fixed at zero
    y = RNN(dropout(e), lengths)              y [B, T, D·H]  (padded steps not read)
    p = pool(y, lengths)                      last | mean | max | maxmean | attention
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

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.backbone import MODEL_KINDS, backbone_output_size, build_recurrent
from rnnkit.models.config_dict import DictConfig
from rnnkit.models.nb_classifier import ngram_ids
from rnnkit.models.pooling import POOLINGS, SequencePooling, length_mask
from rnnkit.models.sequence_classifier import ClassifierSteps

__all__ = ["TextClassifier", "TextClassifierConfig", "TextEncoderLM"]

PAD_ID, UNK_ID = 0, 1
# The bag's weights are sparse and each sees few examples: a gain of 4 makes Adam's per-step
# change of the bag logits ~4 lr, so the linear path learns as fast as a tuned linear model.
_BOW_GAIN = 4.0


@dataclass(frozen=True)
class TextClassifierConfig(DictConfig):
    """Settings of a :class:`TextClassifier` (saved in ``config.json``).

    Args:
        vocab_size: V, the tokenizer's vocabulary size (ids 0 = ``<pad>``, 1 = ``<unk>``).
        num_classes: K >= 2.
        embed_dim: E.
        model: recurrent kind, one of ``lstm | gru | rnn | mingru | minlstm``.
        hidden_size, num_layers, bidirectional, layer_norm: the recurrent backbone.
        dropout: on the embeddings, between recurrent layers and before the head.
        pooling: ``last | mean | max | maxmean | attention``.
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
        check = self._require
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
        self.head = nn.Linear(self.pool.out_features, c.num_classes)
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
        flat = ngram_ids(ids, mask, c.vocab_size, c.bow_buckets)
        keep = flat >= 0
        offsets = torch.cat([keep.new_zeros(1, dtype=torch.int64),
                             keep.sum(1).cumsum(0)[:-1]])
        summed = self.bow(flat[keep], offsets)
        count = keep.sum(1, keepdim=True).clamp_min(1).to(summed.dtype)
        return _BOW_GAIN * summed / count.sqrt()


class TextEncoderLM(nn.Module):
    """Language-model pretraining of a :class:`TextClassifier`'s embedding and recurrent
    encoder on unlabelled texts (ULMFiT / ELMo style), before the classifier is fine-tuned.

    The encoder's outputs at step ``t`` predict the neighbouring tokens::

        y = RNN(dropout(E[ids]))                     y_t = [→h_t | ←h_t]
        p(ids_{t+1} | ids_≤t) = softmax(E · W_f →h_t + b_f)      forward direction
        p(ids_{t-1} | ids_≥t) = softmax(E · W_b ←h_t + b_b)      reverse direction
        (optionally over the ``target_vocab`` most frequent tokens only, the rest as <unk>)

    with the output matrix tied to the embedding ``E`` (Press & Wolf 2017) through a
    projection ``W`` (H → E) per direction. A single-layer bidirectional encoder has no leak:
    ``→h_t`` has read ``ids_≤t`` only and ``←h_t`` ``ids_≥t`` only. Deeper bidirectional
    stacks mix the directions, so they are refused. Only the projections and biases are new;
    they are dropped after pretraining (the classifier's own parameters carry the result).

    Trainer protocol: batches are ``PaddedBatch(ids [B, T], _, lengths [B])``;
    ``training_step`` returns the mean next/previous-token cross-entropy in nats and logs
    ``ppl``.

    Args:
        classifier: the :class:`TextClassifier` whose embedding and encoder are trained.
        target_share: in training, the share of positions (drawn at random per batch) whose
            next/previous token is predicted; the V-way softmax dominates the cost, so 0.25
            makes an epoch several times cheaper at little loss of signal. Validation scores
            every position.
        target_vocab: predict only the ids below this (the tokenizer orders words by training
            frequency, so these are the most frequent ones); rarer targets become ``<unk>``.
            Cuts the softmax from V to this many classes (None: all V).
    """

    def __init__(self, classifier: TextClassifier, target_share: float = 1.0,
                 target_vocab: int | None = None) -> None:
        super().__init__()
        if not 0 < target_share <= 1:
            raise ValueError(f"TextEncoderLM: expected 0 < target_share <= 1, got "
                             f"{target_share}. Pass a share such as 0.25.")
        if target_vocab is not None and target_vocab < 3:
            raise ValueError(f"TextEncoderLM: expected target_vocab >= 3 or None, got "
                             f"{target_vocab}. Pass None to predict every token.")
        self.target_share = float(target_share)
        self.n_targets = min(classifier.config.vocab_size, target_vocab or 1 << 62)
        c = classifier.config
        if c.bidirectional and c.num_layers > 1:
            raise ValueError(f"TextEncoderLM: expected a one-layer bidirectional or a "
                             f"unidirectional encoder, got {c.num_layers} bidirectional layers "
                             f"(their upper layers see both directions, so the language-model "
                             f"targets would leak). Use num_layers=1 or pretrain_epochs=0.")
        self.classifier = classifier
        self.directions = 2 if c.bidirectional else 1
        size = backbone_output_size(classifier.rnn) // self.directions
        self.proj = nn.ModuleList(nn.Linear(size, c.embed_dim, bias=False)
                                  for _ in range(self.directions))
        self.bias = nn.Parameter(torch.zeros(self.directions, self.n_targets))

    def _loss(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        ids, _, lengths = batch
        m = self.classifier
        B, T = ids.shape
        lengths = torch.as_tensor(lengths).cpu().clamp(1, T)
        mask = length_mask(lengths, B, T, ids.device)
        ids = ids.masked_fill(~mask, PAD_ID)
        inputs = ids
        if self.training and m.config.word_dropout > 0:
            drop = (torch.rand(ids.shape, device=ids.device) < m.config.word_dropout) & mask
            inputs = ids.masked_fill(drop, UNK_ID)
        y, _ = m.rnn(m.drop(m.embedding(inputs)),
                     lengths=lengths if bool((lengths < T).any()) else None)
        y = m.drop(y)
        size = y.shape[-1] // self.directions
        # (features, targets): forward half at t → ids[t+1]; reverse half at t → ids[t-1]
        pairs = [(y[:, :-1, :size], ids[:, 1:], mask[:, 1:])]
        if self.directions == 2:
            pairs.append((y[:, 1:, size:], ids[:, :-1], mask[:, 1:]))
        total, count = y.sum() * 0.0, 0  # a graph-connected zero if no target is drawn
        for d, (h, target, valid) in enumerate(pairs):
            if self.training and self.target_share < 1:
                valid = valid & (torch.rand(valid.shape, device=valid.device)
                                 < self.target_share)
            h, target = h[valid], target[valid].clamp_max(self.n_targets)
            if target.numel() == 0:
                continue
            target = target.masked_fill(target == self.n_targets, UNK_ID)
            logits = F.linear(self.proj[d](h), m.embedding.weight[: self.n_targets],
                              self.bias[d])
            total = total + F.cross_entropy(logits.float(), target, reduction="sum")
            count += target.numel()
        loss = total / max(count, 1)
        return loss, {"ppl": loss.detach().exp()}

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        return self._loss(batch)

    def validation_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        return self._loss(batch)

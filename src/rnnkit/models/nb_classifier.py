"""NB-weighted logistic regression on a text's set of unigrams and hashed bigrams (NBSVM).

Wang & Manning (2012), "Baselines and bigrams", with the logistic loss. Each text is the
binary indicator ``x ∈ {0,1}^F`` of the n-grams it contains (F = V unigram ids + ``buckets``
hashed bigrams, the same hashing as the bag path of
:class:`~rnnkit.models.text_classifier.TextClassifier`). Per class ``k`` the naive-Bayes
log-count ratio of each n-gram, counted on the training texts with smoothing ``α``::

    p_k = α + Σ_{i: y_i = k} x_i        q_k = α + Σ_{i: y_i ≠ k} x_i
    r_k = log( (p_k / ‖p_k‖₁) / (q_k / ‖q_k‖₁) )                     r ∈ R^{K×F}
    logits_k = b_k + Σ_f x_f · r_{k,f} · w_{k,f}                     [B, K]

scales the features before a linear model: n-grams that separate the classes start out
large, so a strongly regularised ``w`` suffices. The ratios are statistics of the training
data (:meth:`NBLogisticClassifier.fit_ratios`, saved as a buffer); ``w, b`` are then fitted by
a convex solver (:func:`rnnkit.tasks.classify_nb.fit_nb_logistic`). Beside recurrent models
it is a cheap, well-calibrated member of a probability ensemble whose errors differ from
theirs.

Example:
    >>> model = NBLogisticClassifier(NBLogisticConfig(vocab_size=20000, num_classes=2))
    >>> model.fit_ratios(ids, lengths, y)          # ids [N, T] int64, lengths [N], y [N]
    >>> logits = model(ids, lengths)               # [N, K]; then fit w, b

Letters: B batch, T tokens, V vocabulary, F n-gram features, K classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.config_dict import DictConfig
from rnnkit.models.pooling import length_mask
from rnnkit.models.sequence_classifier import ClassifierSteps

__all__ = ["NBLogisticClassifier", "NBLogisticConfig", "ngram_ids"]

PAD_ID = 0
_BIGRAM_HASH = 1_000_003


def ngram_ids(ids: Tensor, mask: Tensor, vocab_size: int, buckets: int) -> Tensor:
    """Unigram ids and hashed bigram ids ``V + (a·1000003 + b) mod buckets`` of each text,
    ``[B, 2T - 1]`` with ``-1`` where a step is padding (``buckets == 0``: unigrams only)."""
    grams = [ids.masked_fill(~mask, -1)]
    if buckets and ids.shape[1] > 1:
        bi = (ids[:, :-1] * _BIGRAM_HASH + ids[:, 1:]) % buckets + vocab_size
        grams.append(bi.masked_fill(~mask[:, 1:], -1))
    return torch.cat(grams, dim=1)


@dataclass(frozen=True)
class NBLogisticConfig(DictConfig):
    """Settings of an :class:`NBLogisticClassifier` (saved in ``config.json``).

    Args:
        vocab_size: V, the tokenizer's vocabulary size (id 0 = ``<pad>`` is never a feature).
        num_classes: K >= 2.
        buckets: hashed bigram features (0: unigrams only).
        alpha: naive-Bayes count smoothing α > 0.
    """

    vocab_size: int
    num_classes: int
    buckets: int = 2**18
    alpha: float = 1.0

    def __post_init__(self) -> None:
        check = self._require
        check(isinstance(self.vocab_size, int) and self.vocab_size >= 2,
              f"expected vocab_size >= 2, got {self.vocab_size!r}.")
        check(isinstance(self.num_classes, int) and self.num_classes >= 2,
              f"expected num_classes >= 2, got {self.num_classes!r}.")
        check(isinstance(self.buckets, int) and self.buckets >= 0,
              f"expected buckets >= 0, got {self.buckets!r}.")
        check(self.alpha > 0, f"expected alpha > 0, got {self.alpha}. Pass e.g. 1.0.")



class NBLogisticClassifier(ClassifierSteps, nn.Module):
    """NB-scaled linear model on n-gram presence: ``(ids [B, T], lengths [B]) -> [B, K]``.

    Parameters ``weight [K, F]`` (zeros) and ``bias [K]``; buffer ``ratio [K, F]`` (zeros
    until :meth:`fit_ratios`). ``forward_with_attention`` returns ``(logits, None)`` like the
    other classifiers, so it can sit in a
    :class:`~rnnkit.models.ensemble.ProbabilityEnsemble`.

    Args:
        config: an :class:`NBLogisticConfig`.
    """

    def __init__(self, config: NBLogisticConfig) -> None:
        super().__init__()
        self.config = c = config
        n = c.vocab_size + c.buckets
        self.weight = nn.Parameter(torch.zeros(c.num_classes, n))
        self.bias = nn.Parameter(torch.zeros(c.num_classes))
        self.register_buffer("ratio", torch.zeros(c.num_classes, n))

    @property
    def num_features(self) -> int:
        return self.config.vocab_size + self.config.buckets

    def features(self, ids: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The distinct n-gram features of each text: ``(feature ids [M], row of each [M])``,
        sorted by row."""
        if ids.dim() != 2 or ids.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"NBLogisticClassifier: expected integer token ids of shape (B, T), "
                             f"got {tuple(ids.shape)} {ids.dtype}. Encode texts with the "
                             f"tokenizer.")
        c = self.config
        B, T = ids.shape
        ids = ids.long()
        if lengths is None:
            lengths = (ids != PAD_ID).sum(1).clamp_min(1)
        lengths = torch.as_tensor(lengths).cpu().clamp(1, T)
        mask = length_mask(lengths, B, T, ids.device) & (ids != PAD_ID)
        if bool((ids[mask] >= c.vocab_size).any()) or bool((ids < 0).any()):
            raise ValueError(f"NBLogisticClassifier: expected token ids in [0, {c.vocab_size}), "
                             f"got {int(ids.min())}..{int(ids.max())}. Check vocab_size.")
        grams = ngram_ids(ids, mask, c.vocab_size, c.buckets)
        rows = torch.arange(B, device=ids.device)[:, None].expand_as(grams)
        keep = grams >= 0
        keys = torch.unique(rows[keep] * self.num_features + grams[keep])  # binary: a set
        return keys % self.num_features, keys // self.num_features

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.forward_with_attention(ids, lengths)[0]

    def forward_with_attention(self, ids: Tensor, lengths: Tensor | None = None,
                               ) -> tuple[Tensor, None]:
        """``(logits [B, K], None)``."""
        feats, rows = self.features(ids, lengths)
        return self.logits_of(feats, rows, ids.shape[0]), None

    def logits_of(self, feats: Tensor, rows: Tensor, batch: int) -> Tensor:
        """``b + Σ_f r_f ⊙ w_f`` over the features of each row (from :meth:`features`)."""
        table = (self.ratio * self.weight).t()  # [F, K]
        out = self.bias.expand(batch, -1).clone()
        return out.index_add(0, rows, F.embedding(feats, table))

    @torch.no_grad()
    def fit_ratios(self, ids: Tensor, lengths: Tensor | None, y: Tensor) -> None:
        """Set ``ratio`` to the one-vs-rest naive-Bayes log-count ratios of the texts ``ids``
        with labels ``y [N]`` (see the module docstring)."""
        c = self.config
        y = torch.as_tensor(y).long()
        if y.shape != (ids.shape[0],) or bool((y < 0).any()) or bool((y >= c.num_classes).any()):
            raise ValueError(f"NBLogisticClassifier.fit_ratios: expected labels [N] = "
                             f"[{ids.shape[0]}] in [0, {c.num_classes}), got {tuple(y.shape)}.")
        feats, rows = self.features(ids, lengths)
        counts = torch.zeros(c.num_classes, self.num_features, dtype=torch.float64)
        counts.index_put_((y[rows.cpu()], feats.cpu()), torch.ones(len(feats), dtype=torch.float64),
                          accumulate=True)
        p = counts + c.alpha
        q = counts.sum(0, keepdim=True) - counts + c.alpha
        r = (p / p.sum(1, keepdim=True)).log() - (q / q.sum(1, keepdim=True)).log()
        self.ratio.copy_(r.to(self.ratio))

"""Sequence labelling: a (bi)directional recurrent token classifier, optionally with a CRF.

    e_t = E x_t                          (token embedding, E: V × M)
    h_t = BiRNN(e_1..e_T)_t              (any rnnkit kind, stacked, masked by lengths)
    s_t = W h_t + b                      (emission scores over N tags)

Without a CRF, ``p(y_t | x) = softmax(s_t)`` independently per step (cross-entropy loss,
argmax decoding); with ``crf=True`` the tags are decoded jointly by a linear-chain CRF
(:mod:`rnnkit.models.crf`: NLL loss, Viterbi decoding). Padded steps never affect valid ones.

Batches are :class:`rnnkit.data.PaddedBatch` ``(tokens [B, T], tags [B, T] padded with -100,
lengths [B])`` as ``pad_collate(items, target_padding_value=-100)`` makes them.

Shapes: B batch, T steps, V vocabulary, M embedding, H hidden, N tags.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.collate import PaddedBatch
from rnnkit.models.backbone import MODEL_KINDS, backbone_output_size, build_recurrent
from rnnkit.models.config_dict import DictConfig
from rnnkit.models.crf import CRF

__all__ = ["IGNORE_INDEX", "Tagger", "TaggerConfig"]

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TaggerConfig(DictConfig):
    """Settings of a :class:`Tagger` (saved in config.json).

    Args:
        vocab_size: V (with ``<pad>`` = 0 and ``<unk>`` = 1). num_tags: N.
        model: recurrent kind. embed_size: M. hidden_size: H per direction.
        num_layers, bidirectional, dropout, layer_norm: of the recurrent layer.
        crf: decode with a linear-chain CRF.
    """

    vocab_size: int
    num_tags: int
    model: str = "lstm"
    embed_size: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.1
    layer_norm: bool = False
    crf: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "num_tags", "embed_size", "hidden_size", "num_layers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TaggerConfig: expected {name} to be a positive int, got "
                                 f"{v!r}.")
        if self.model not in MODEL_KINDS:
            raise ValueError(f"TaggerConfig: expected model in {list(MODEL_KINDS)}, got "
                             f"{self.model!r}. Pass --model lstm (or gru, rnn, mingru, minlstm).")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"TaggerConfig: expected 0 <= dropout < 1, got {self.dropout!r}.")



class Tagger(nn.Module):
    """BiRNN(-CRF) tagger; see the module docstring.

    Example:
        >>> tagger = Tagger(TaggerConfig(vocab_size=5000, num_tags=9, crf=True))
        >>> scores = tagger(tokens, lengths)                # [B, T, 9]
        >>> tags = tagger.decode(tokens, lengths)           # B lists of tag ids
    """

    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        c = self.config = config
        opts = {"layer_norm": True} if c.layer_norm else {}
        self.embed = nn.Embedding(c.vocab_size, c.embed_size, padding_idx=0)
        self.rnn = build_recurrent(c.model, c.embed_size, c.hidden_size, c.num_layers,
                                   c.dropout, c.bidirectional, **opts)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(backbone_output_size(self.rnn), c.num_tags)
        self.crf = CRF(c.num_tags) if c.crf else None

    @staticmethod
    def mask(lengths: Tensor, steps: int, device: torch.device) -> Tensor:
        """[B, T] bool, True on valid steps."""
        return torch.arange(steps, device=device)[None, :] < lengths.to(device)[:, None]

    def forward_embeddings(self, emb: Tensor, lengths: Tensor) -> Tensor:
        """Emission scores from token embeddings ``emb`` [B, T, M] (used for saliency)."""
        h, _ = self.rnn(self.drop(emb), lengths=torch.as_tensor(lengths).cpu())
        return self.head(self.drop(h))

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Emission scores ``s`` [B, T, N] (zero-input on padded steps; ignore them)."""
        if tokens.dim() != 2:
            raise ValueError(f"Tagger: expected tokens of shape (B, T), got "
                             f"{tuple(tokens.shape)}.")
        return self.forward_embeddings(self.embed(tokens), lengths)

    def loss(self, batch: PaddedBatch) -> tuple[Tensor, dict[str, Tensor]]:
        tokens, tags, lengths = batch
        scores = self(tokens, lengths)
        valid = tags != IGNORE_INDEX
        if self.crf is not None:
            mask = self.mask(lengths, tokens.shape[1], tokens.device)
            loss = self.crf.nll(scores, tags.masked_fill(~valid, 0), mask)
        else:
            loss = F.cross_entropy(scores.reshape(-1, scores.shape[-1]), tags.reshape(-1),
                                   ignore_index=IGNORE_INDEX)
        acc = ((scores.argmax(-1) == tags) & valid).sum() / valid.sum().clamp(min=1)
        return loss, {"token_acc": acc.detach()}

    def training_step(self, batch: PaddedBatch):
        return self.loss(batch)

    def validation_step(self, batch: PaddedBatch):
        return self.loss(batch)

    @torch.no_grad()
    def decode(self, tokens: Tensor, lengths: Tensor) -> list[list[int]]:
        """Best tag ids of each sequence (Viterbi with a CRF, else per-step argmax)."""
        was = self.training
        self.eval()
        try:
            scores = self(tokens, lengths)
            lengths = torch.as_tensor(lengths)
            if self.crf is not None:
                return self.crf.decode(scores, self.mask(lengths, tokens.shape[1],
                                                         tokens.device))
            best = scores.argmax(-1).tolist()
            return [row[: int(n)] for row, n in zip(best, lengths.tolist(), strict=True)]
        finally:
            self.train(was)

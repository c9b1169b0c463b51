"""A recurrent language model: embedding → recurrent backbone → softmax over the vocabulary.

For token ids ``x_1 … x_T`` the model computes

    e_t = E[x_t]                          (E: V × Em embedding)
    h_t, s_t = RNN(e_t, s_{t-1})          (any backbone of ``build_recurrent``; s = state)
    p(x_{t+1} | x_≤t) = softmax(W · drop(h_t) + b)

and is trained with the cross-entropy ``-log p(x_{t+1} | x_≤t)`` in nats; bits per token are
nats / ln 2 and perplexity is ``exp(nats)``. With ``tie_weights`` the output matrix is the
embedding itself, ``W = E`` (Press & Wolf 2017), after a linear projection H → Em when the two
sizes differ. The output layer reads the embedding tensor directly (``F.linear``) so no tensor
is stored twice in a state_dict (safetensors refuses shared storage).

Letters: B batch, T time, V vocabulary, Em embedding size, H hidden size, N corpus length.

Example:
    >>> cfg = LanguageModelConfig(vocab_size=80, hidden_size=256)
    >>> lm = LanguageModel(cfg)
    >>> logits, state = lm(torch.randint(0, 80, (4, 100)))          # (4, 100, 80)
    >>> ids = lm.generate([5, 6, 7], length=50, temperature=0.8)   # list of 50 ids
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.backbone import MODEL_KINDS, backbone_output_size, build_recurrent
from rnnkit.models.sampling import check_sampling, sample_next

__all__ = ["LanguageModel", "LanguageModelConfig"]

LN2 = math.log(2.0)


@dataclass(frozen=True)
class LanguageModelConfig:
    """Architecture of a :class:`LanguageModel` (data and training settings live elsewhere).

    Args:
        vocab_size: V, including the tokenizer's ``<pad>`` (id ``pad_id``) and ``<unk>``.
        model: backbone kind, one of ``lstm | gru | rnn | mingru | minlstm``.
        embedding_dim: Em.
        hidden_size: H.
        num_layers: stacked recurrent layers.
        dropout: dropout between layers and before the output layer.
        recurrent_dropout: variational dropout on ``h_{t-1}`` inside the recurrence (one mask
            per sequence and batch; lstm/gru/rnn only; 0 keeps torch's fused kernel).
        tie_weights: share the embedding matrix with the output layer.
        layer_norm: layer-normalised cells (where the backbone supports it).
        pad_id: the padding id (never generated).
    """

    vocab_size: int
    model: str = "lstm"
    embedding_dim: int = 64
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    tie_weights: bool = False
    layer_norm: bool = False
    pad_id: int = 0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"LanguageModelConfig: expected {name} >= 1 (an int), got "
                                 f"{v!r}. Pass a positive integer.")
        if self.vocab_size < 2:
            raise ValueError(f"LanguageModelConfig: expected vocab_size >= 2, got "
                             f"{self.vocab_size}. The text needs at least two distinct tokens.")
        if self.model not in MODEL_KINDS:
            raise ValueError(f"LanguageModelConfig: expected model in {list(MODEL_KINDS)}, got "
                             f"{self.model!r}. Pass --model lstm (or gru, rnn, mingru, minlstm).")
        if not (isinstance(self.dropout, int | float) and 0 <= self.dropout < 1):
            raise ValueError(f"LanguageModelConfig: expected 0 <= dropout < 1, got "
                             f"{self.dropout!r}.")
        rd = self.recurrent_dropout
        if isinstance(rd, bool) or not (isinstance(rd, int | float) and 0 <= rd < 1):
            raise ValueError(f"LanguageModelConfig: expected 0 <= recurrent_dropout < 1, got "
                             f"{rd!r}.")
        if rd and self.model not in ("lstm", "gru", "rnn"):
            raise ValueError(f"LanguageModelConfig: expected recurrent_dropout 0 for model "
                             f"{self.model!r}, got {rd}. It applies to lstm, gru and rnn; use "
                             f"dropout instead.")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"LanguageModelConfig: expected 0 <= pad_id < vocab_size, got "
                             f"{self.pad_id}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LanguageModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"LanguageModelConfig.from_dict: unknown keys {sorted(unknown)}; "
                             f"expected a subset of {sorted(known)}.")
        return cls(**d)


class LanguageModel(nn.Module):
    """Next-token model over ids ``(B, T)`` → logits ``(B, T, V)``, carrying recurrent state.

    Follows the trainer's protocol: ``training_step(batch, state)`` with ``batch = (x, y)``,
    both ``(B, T)`` int64 (``y`` is ``x`` shifted by one; ``-100`` = ignored), returns
    ``(loss in nats, {"bpc": loss / ln 2}, new_state)``, so truncated BPTT and stateful
    training over contiguous streams work as documented in ``docs/training.md``.
    """

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim)
        options: dict[str, Any] = {"layer_norm": True} if c.layer_norm else {}
        if c.recurrent_dropout:
            options["recurrent_dropout"] = float(c.recurrent_dropout)
        self.rnn = build_recurrent(c.model, c.embedding_dim, c.hidden_size, c.num_layers,
                                   dropout=c.dropout if c.num_layers > 1 else 0.0, **options)
        self.drop = nn.Dropout(c.dropout)
        out = backbone_output_size(self.rnn)
        self.proj = (nn.Linear(out, c.embedding_dim, bias=False)
                     if c.tie_weights and out != c.embedding_dim else None)
        self.decoder = None if c.tie_weights else nn.Linear(out, c.vocab_size)
        self.decoder_bias = nn.Parameter(torch.zeros(c.vocab_size)) if c.tie_weights else None

    def forward(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """``tokens (B, T)`` int64, ``state`` from a previous call (None: zeros) →
        ``(logits (B, T, V), state)``."""
        if tokens.dim() != 2 or tokens.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"LanguageModel: expected token ids of shape (B, T) and an integer "
                             f"dtype, got {tuple(tokens.shape)} {tokens.dtype}.")
        e = self.embedding(tokens)
        h, state = self.rnn(e, _cast_state(state, e.dtype))
        return self.head(h), state

    def head(self, h: Tensor) -> Tensor:
        """Backbone features ``(..., H)`` → logits ``(..., V)``."""
        h = self.drop(h)
        if self.decoder is not None:
            return self.decoder(h)
        if self.proj is not None:
            h = self.proj(h)
        return F.linear(h, self.embedding.weight, self.decoder_bias)

    # -- trainer protocol --------------------------------------------------------------------
    def training_step(self, batch: Sequence[Tensor], state: Any = None
                      ) -> tuple[Tensor, dict[str, Tensor], Any]:
        x, y = batch[0], batch[1]
        logits, state = self(x, state)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                               ignore_index=-100)
        return loss, {"bpc": loss.detach() / LN2}, state

    # -- scoring -----------------------------------------------------------------------------
    @torch.no_grad()
    def token_nll(self, ids: Sequence[int] | Tensor, first: int = 1, rows: int = 32,
                  chunk_len: int = 256, warmup: int = 256) -> Tensor:
        """Negative log-likelihood in nats of ``ids[t]`` given the ids before it, for
        ``t = first … N-1``; returns a float32 tensor of ``N - first`` values in order.

        For speed the scored range is cut into ``rows`` contiguous segments run as one batch;
        each segment is primed with up to ``warmup`` preceding ids (not scored), so every token
        sees at least ``warmup`` tokens of context (or all of them near the start).
        ``ids[:first]`` is context only: pass the text before a held-out tail there.
        """
        ids = torch.as_tensor(ids, dtype=torch.int64).flatten()
        n = ids.numel()
        if not 1 <= first < n:
            raise ValueError(f"LanguageModel.token_nll: expected 1 <= first < len(ids) = {n}, "
                             f"got first={first}. Score at least one token after one of context.")
        bounds = torch.linspace(first, n, min(rows, n - first) + 1).round().long().tolist()
        segs = [(max(0, a - 1 - warmup), a, b) for a, b in itertools.pairwise(bounds)]
        width = max(b - s - 1 for s, _, b in segs)
        x = torch.zeros(len(segs), width, dtype=torch.int64)
        y = torch.full((len(segs), width), -100, dtype=torch.int64)
        for r, (s, a, b) in enumerate(segs):
            x[r, : b - s - 1] = ids[s: b - 1]
            y[r, a - s - 1: b - s - 1] = ids[a:b]
        was_training, device = self.training, self.embedding.weight.device
        self.eval()
        try:
            nll, state = torch.zeros(len(segs), width), None
            for t0 in range(0, width, chunk_len):
                xs, ys = x[:, t0:t0 + chunk_len].to(device), y[:, t0:t0 + chunk_len].to(device)
                logits, state = self(xs, state)
                ce = F.cross_entropy(logits.float().transpose(1, 2), ys, ignore_index=-100,
                                     reduction="none")
                nll[:, t0:t0 + chunk_len] = ce.cpu()
        finally:
            self.train(was_training)
        return torch.cat([nll[r][a - s - 1: b - s - 1] for r, (s, a, b) in enumerate(segs)])

    # -- generation --------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prime: Sequence[int], length: int, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 generator: torch.Generator | None = None,
                 banned: Sequence[int] | None = None) -> list[int]:
        """Sample ``length`` ids continuing ``prime`` (a non-empty id sequence).

        The prime is fed once, in one call; then each sampled id is fed alone with the carried
        recurrent state, so generating costs ``len(prime) + length - 1`` steps in all (never a
        re-run of the prefix). ``temperature=0`` or ``top_k=1`` is greedy; ``generator`` makes
        sampling repeatable. ``<pad>`` and the ``banned`` ids are never produced.
        """
        check_sampling(temperature, top_k, top_p)
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"generate: expected length >= 0 (an int), got {length!r}.")
        if len(prime) == 0:
            raise ValueError("LanguageModel.generate: expected a non-empty prime (at least one "
                             "id), got none. Start from a newline or a frequent token.")
        was_training, device = self.training, self.embedding.weight.device
        self.eval()
        out: list[int] = []
        try:
            logits, state = self(torch.as_tensor([list(prime)], dtype=torch.int64,
                                                 device=device))
            for i in range(length):
                nxt = sample_next(logits[:, -1].cpu(), temperature, top_k, top_p, generator,
                                  banned=[self.config.pad_id, *(banned or ())])
                out.append(int(nxt[0]))
                if i + 1 < length:
                    logits, state = self(nxt.view(1, 1).to(device), state)
        finally:
            self.train(was_training)
        return out


def _cast_state(state: Any, dtype: torch.dtype) -> Any:
    """The carried state in the input's dtype (under bf16 autocast the layer returns bf16
    states, but the next call's input, an embedding, is float32)."""
    if isinstance(state, Tensor):
        return state if state.dtype == dtype else state.to(dtype)
    if isinstance(state, tuple | list):
        return type(state)(_cast_state(s, dtype) for s in state)
    return state

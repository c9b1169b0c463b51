"""Encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015).

Encoder: embedding → stacked, optionally bidirectional rnnkit layer (any kind) → outputs
``k_s`` [B, S, K] (zero on padding) and a summary ``m = mean of valid k_s``.

Decoder (one step, Luong's "global attention" with input feeding), for ``t = 1..T``::

    x_t   = [E y_{t-1} ; h̃_{t-1}]          (h̃_{t-1} only with input feeding; h̃_0 = 0)
    h_t   = RNN_L(x_t, state_{t-1})         (L stacked cells of any rnnkit kind)
    c_t, α_t = Attention(h_t, k_{1..S}, mask)   (dot | general | additive scores)
    h̃_t   = tanh(W_c [c_t ; h_t])
    p(y_t | y_<t, x) = softmax(W_o h̃_t)

The decoder's initial hidden state of layer ``l`` is ``tanh(W_l m)`` (other state parts 0).
With ``attention="none"``, ``h̃_t = h_t`` (a plain encoder-decoder).

Training uses teacher forcing; with ``sampling_prob = p > 0`` (scheduled sampling, Bengio et
al. 2015) each step feeds the model's own previous argmax with probability ``p``. Without
input feeding and sampling, the decoder runs over all target steps in one call (the fast
path); the step loop is its slow twin, and both give the same result.

Decoding (:mod:`rnnkit.models.beam_search`) uses :meth:`Seq2Seq.encode` once and
:meth:`Seq2Seq.decode_step` per token, carrying the decoder state: the prefix is never re-run.

Shapes: B batch, S source steps, T target steps, E embedding, H hidden, K encoder output size
(D·H), V target vocabulary, L layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.pairs import Seq2SeqBatch
from rnnkit.models.attention import ATTENTION_KINDS, Attention, AttentionMemory
from rnnkit.models.backbone import MODEL_KINDS, backbone_output_size, build_recurrent
from rnnkit.models.config_dict import DictConfig

__all__ = ["Seq2Seq", "Seq2SeqBatch", "Seq2SeqConfig"]


@dataclass(frozen=True)
class Seq2SeqConfig(DictConfig):
    """Settings of a :class:`Seq2Seq` model (saved in the run's config.json).

    Args:
        src_vocab_size, tgt_vocab_size: vocabulary sizes (with specials).
        bos_id, eos_id, pad_id: target ids of begin/end of sequence and padding.
        model: recurrent kind for encoder and decoder (lstm, gru, rnn, mingru, minlstm).
        embed_size: E. hidden_size: H (encoder per direction and decoder).
        num_layers: L for encoder and decoder. bidirectional: a bidirectional encoder.
        dropout: on embeddings, between layers and before the output layer.
        layer_norm: layer-normalised cells (lstm/gru/rnn).
        attention: ``dot``, ``general``, ``additive`` or ``none``.
        input_feeding: feed h̃_{t-1} into the decoder input (Luong).
        sampling_prob: scheduled-sampling probability (0 = pure teacher forcing).
        label_smoothing: of the cross-entropy loss.
    """

    src_vocab_size: int
    tgt_vocab_size: int
    bos_id: int
    eos_id: int
    pad_id: int = 0
    model: str = "lstm"
    embed_size: int = 128
    hidden_size: int = 256
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.0
    layer_norm: bool = False
    attention: str = "general"
    input_feeding: bool = True
    sampling_prob: float = 0.0
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "embed_size", "hidden_size",
                     "num_layers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Seq2SeqConfig: expected {name} to be a positive int, got "
                                 f"{v!r}.")
        if self.model not in MODEL_KINDS:
            raise ValueError(f"Seq2SeqConfig: expected model in {list(MODEL_KINDS)}, got "
                             f"{self.model!r}. Pass --model lstm (or gru, rnn, mingru, minlstm).")
        if self.attention not in (*ATTENTION_KINDS, "none"):
            raise ValueError(f"Seq2SeqConfig: expected attention in "
                             f"{[*ATTENTION_KINDS, 'none']}, got {self.attention!r}.")
        for name in ("dropout", "sampling_prob", "label_smoothing"):
            v = getattr(self, name)
            if not 0.0 <= float(v) < 1.0:
                raise ValueError(f"Seq2SeqConfig: expected 0 <= {name} < 1, got {v!r}.")
        for name in ("bos_id", "eos_id", "pad_id"):
            if not 0 <= getattr(self, name) < self.tgt_vocab_size:
                raise ValueError(f"Seq2SeqConfig: expected 0 <= {name} < tgt_vocab_size "
                                 f"({self.tgt_vocab_size}), got {getattr(self, name)}.")



class Seq2Seq(nn.Module):
    """Attention encoder-decoder; see the module docstring for the equations.

    Example:
        >>> cfg = Seq2SeqConfig(src_vocab_size=30, tgt_vocab_size=45, bos_id=2, eos_id=3)
        >>> model = Seq2Seq(cfg)
        >>> logits, alpha = model(src, src_lengths, tgt_in)     # [B, T, V], [B, T, S]
        >>> from rnnkit.models.beam_search import beam_search
        >>> hyps = beam_search(model, src, src_lengths, beam_width=5)
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        c = self.config = config
        self.bos_id, self.eos_id, self.pad_id = c.bos_id, c.eos_id, c.pad_id
        self.sampling_prob = c.sampling_prob  # a schedule may change it during training
        opts = {"layer_norm": True} if c.layer_norm else {}
        self.src_embed = nn.Embedding(c.src_vocab_size, c.embed_size, padding_idx=c.pad_id)
        self.tgt_embed = nn.Embedding(c.tgt_vocab_size, c.embed_size, padding_idx=c.pad_id)
        self.encoder = build_recurrent(c.model, c.embed_size, c.hidden_size, c.num_layers,
                                       c.dropout, c.bidirectional, **opts)
        K = backbone_output_size(self.encoder)
        feed = c.hidden_size if c.input_feeding and c.attention != "none" else 0
        self.decoder = build_recurrent(c.model, c.embed_size + feed, c.hidden_size,
                                       c.num_layers, c.dropout, False, **opts)
        self.bridge = nn.Linear(K, c.hidden_size * c.num_layers)
        if c.attention != "none":
            self.attention = Attention(c.attention, c.hidden_size, K)
            self.combine = nn.Linear(K + c.hidden_size, c.hidden_size, bias=False)
        self.out = nn.Linear(c.hidden_size, c.tgt_vocab_size)
        self.drop = nn.Dropout(c.dropout)
        self._state_sizes = [len(cell.state_sizes) for [cell] in self.decoder.cells]

    # -- encoder ------------------------------------------------------------------------------
    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[AttentionMemory, tuple]:
        """Run the encoder. src [B, S] ids; src_lengths [B] (>= 1).

        Returns ``(memory, state)``: the attention memory (keys [B, S, K], mask [B, S]) and the
        decoder's initial state (a flat tuple of [B, ·] tensors; see :meth:`decode_step`).
        """
        if src.dim() != 2:
            raise ValueError(f"Seq2Seq.encode: expected src of shape (B, S), got "
                             f"{tuple(src.shape)}.")
        lengths = torch.as_tensor(src_lengths).to(torch.int64)
        if bool((lengths < 1).any()):
            raise ValueError("Seq2Seq.encode: expected every source length >= 1, got an empty "
                             "source. Remove empty lines from the data.")
        B, S = src.shape
        keys, _ = self.encoder(self.drop(self.src_embed(src)), lengths=lengths.cpu())
        keys = self.drop(keys)
        mask = torch.arange(S, device=src.device)[None, :] < lengths.to(src.device)[:, None]
        summary = (keys * mask[..., None]).sum(1) / lengths.to(keys)[:, None]
        h0 = torch.tanh(self.bridge(summary)).split(self.config.hidden_size, dim=-1)
        state: list[Tensor] = []
        for h, n in zip(h0, self._state_sizes, strict=True):
            state.extend([h] + [torch.zeros_like(h)] * (n - 1))
        state.append(keys.new_zeros(B, self.config.hidden_size))  # h̃_0 (input feeding)
        if self.config.attention == "none":
            memory = AttentionMemory(keys, keys, mask)
        else:
            memory = self.attention.prepare(keys, mask)
        return memory, tuple(state)

    # -- decoder ------------------------------------------------------------------------------
    def _output(self, h: Tensor, memory: AttentionMemory) -> tuple[Tensor, Tensor | None]:
        """h [B, (T,) H] → (h̃, α)."""
        if self.config.attention == "none":
            return h, None
        context, alpha = self.attention(h, memory)
        return torch.tanh(self.combine(torch.cat([context, h], dim=-1))), alpha

    def decode_step(self, y_prev: Tensor, state: tuple, memory: AttentionMemory,
                    ) -> tuple[Tensor, tuple, Tensor | None]:
        """One decoder step. y_prev [B] ids; state from :meth:`encode` or the previous step.

        Returns ``(logits [B, V], state, α [B, S] or None)``. The state is a flat tuple: each
        decoder layer's cell state, then h̃ (all [B, ·]); rows can be reordered with
        ``index_select`` (beam search).
        """
        x = self.drop(self.tgt_embed(y_prev))
        if self.config.input_feeding and self.config.attention != "none":
            x = torch.cat([x, state[-1]], dim=-1)
        new_state: list[Tensor] = []
        pos, cells = 0, self.decoder.cells
        for k, ([cell], n) in enumerate(zip(cells, self._state_sizes, strict=True)):
            h, s = cell(x, tuple(state[pos: pos + n]))
            new_state.extend(s)
            pos += n
            x = self.drop(h) if k < len(cells) - 1 else h
        h_tilde, alpha = self._output(x, memory)
        new_state.append(h_tilde)
        return self.out(self.drop(h_tilde)), tuple(new_state), alpha

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor,
                ) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced decoding: tgt_in [B, T] → (logits [B, T, V], α [B, T, S] or None)."""
        memory, state = self.encode(src, src_lengths)
        p = self.sampling_prob if self.training else 0.0
        if p == 0.0 and not (self.config.input_feeding and self.config.attention != "none"):
            return self._forward_parallel(tgt_in, state, memory)
        logits, alphas, y_prev = [], [], tgt_in[:, 0]
        for t in range(tgt_in.shape[1]):
            if t > 0:
                y_prev = tgt_in[:, t]
                if p > 0.0:
                    own = logits[-1].detach().argmax(-1)
                    y_prev = torch.where(torch.rand_like(own, dtype=torch.float) < p, own, y_prev)
            step_logits, state, alpha = self.decode_step(y_prev, state, memory)
            logits.append(step_logits)
            alphas.append(alpha)
        alpha = None if alphas[0] is None else torch.stack(alphas, 1)
        return torch.stack(logits, 1), alpha

    def _forward_parallel(self, tgt_in: Tensor, state: tuple, memory: AttentionMemory):
        """All target steps in one recurrent call (no input feeding, no sampling)."""
        pos, per_layer = 0, []
        for n in self._state_sizes:
            per_layer.append(state[pos: pos + n])
            pos += n
        hx = tuple(torch.stack([s[i] for s in per_layer]) for i in range(self._state_sizes[0]))
        h, _ = self.decoder(self.drop(self.tgt_embed(tgt_in)), hx[0] if len(hx) == 1 else hx)
        h_tilde, alpha = self._output(h, memory)
        return self.out(self.drop(h_tilde)), alpha

    # -- trainer protocol ---------------------------------------------------------------------
    def _loss(self, batch: Seq2SeqBatch) -> tuple[Tensor, dict[str, Tensor]]:
        logits, _ = self(batch.src, batch.src_lengths, batch.tgt_in)
        V = logits.shape[-1]
        loss = F.cross_entropy(logits.reshape(-1, V), batch.tgt_out.reshape(-1),
                               ignore_index=self.pad_id,
                               label_smoothing=self.config.label_smoothing)
        valid = batch.tgt_out != self.pad_id
        acc = ((logits.argmax(-1) == batch.tgt_out) & valid).sum() / valid.sum().clamp(min=1)
        return loss, {"token_acc": acc.detach()}

    def training_step(self, batch: Seq2SeqBatch):
        return self._loss(batch)

    def validation_step(self, batch: Seq2SeqBatch):
        return self._loss(batch)

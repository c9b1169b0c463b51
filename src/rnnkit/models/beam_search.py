"""Greedy and beam-search decoding for any model with the encoder-decoder step protocol.

The model provides ``bos_id``, ``eos_id``, ``pad_id``, ``encode(src, src_lengths) ->
(memory, state)`` and ``decode_step(y_prev [B], state, memory) -> (logits [B, V], state,
α [B, S] | None)``; ``memory`` has ``index_select(index)`` and every state entry is a
``[B, ·]`` tensor. The decoder state is carried from step to step (and reordered with the
beams), so the prefix is never re-run: each step costs one decoder step per live hypothesis.

Beam search keeps ``K`` hypotheses per input. A candidate's score is its log-probability
``log p(y_1..y_n | x)`` divided by ``n^α`` (length normalisation; ``α = 0`` ranks by raw
log-probability, ``α = 1`` by the per-token mean). Candidates are ranked by the normalised
score at every step; a hypothesis that emits EOS is finished (it keeps its score and extends
only with padding at no cost). Search stops when every hypothesis of every input is finished
(early stop at end-of-sequence) or after ``max_len`` steps. With ``K = 1`` beam search is
exactly greedy decoding.

Shapes: B batch, K beam width, S source steps, V vocabulary, N output length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Hypotheses", "beam_search", "greedy_decode"]


@dataclass
class Hypotheses:
    """Decoded outputs of a batch.

    Attributes:
        tokens: B lists of token ids (without BOS and EOS).
        scores: [B] log-probabilities (beam search: length-normalised) of the chosen outputs.
        attention: B tensors [N_b, S_b] of attention weights (one row per output token, EOS
            included), or None when not requested or the model has no attention.
    """

    tokens: list[list[int]]
    scores: Tensor
    attention: list[Tensor] | None = None


def _default_max_len(src_lengths: Tensor) -> int:
    return int(src_lengths.max()) * 2 + 10


def _cut(seq: list[int], eos: int, pad: int) -> list[int]:
    out = []
    for t in seq:
        if t == eos:
            break
        if t != pad:
            out.append(t)
    return out


def _attention(steps: list[Tensor], rows: list[int], n_out: list[int],
               src_lengths: Tensor) -> list[Tensor] | None:
    if not steps or steps[0] is None:
        return None
    alpha = torch.stack(steps, 1)  # [rows, N, S]
    return [alpha[r, : max(n, 1), : int(src_lengths[i])].cpu()
            for i, (r, n) in enumerate(zip(rows, n_out, strict=True))]


@torch.no_grad()
def greedy_decode(model, src: Tensor, src_lengths: Tensor, max_len: int | None = None,
                  return_attention: bool = False) -> Hypotheses:
    """Pick the most probable token at every step. src [B, S]; src_lengths [B]."""
    was_training = model.training
    model.eval()
    try:
        memory, state = model.encode(src, src_lengths)
        B = src.shape[0]
        y = torch.full((B,), model.bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        score = torch.zeros(B, device=src.device)
        toks, alphas = [], []
        for _ in range(max_len or _default_max_len(src_lengths)):
            logits, state, alpha = model.decode_step(y, state, memory)
            logp = torch.log_softmax(logits.float(), -1)
            y = logp.argmax(-1)
            score = score + torch.where(done, 0.0, logp.gather(1, y[:, None]).squeeze(1))
            y = torch.where(done, torch.full_like(y, model.pad_id), y)
            toks.append(y)
            alphas.append(alpha if return_attention else None)
            done = done | (y == model.eos_id)
            if bool(done.all()):
                break
        seqs = torch.stack(toks, 1).tolist()
        tokens = [_cut(s, model.eos_id, model.pad_id) for s in seqs]
        n_out = [min(len(t) + 1, len(seqs[0])) for t in tokens]
        att = _attention(alphas, list(range(B)), n_out, src_lengths) if return_attention else None
        return Hypotheses(tokens, score.cpu(), att)
    finally:
        model.train(was_training)


@torch.no_grad()
def beam_search(model, src: Tensor, src_lengths: Tensor, beam_width: int = 5,
                max_len: int | None = None, length_penalty: float = 1.0,
                return_attention: bool = False) -> Hypotheses:
    """Beam search with length normalisation and early stop at EOS (see the module docstring).

    Args:
        model: follows the step protocol. src [B, S]; src_lengths [B].
        beam_width: K >= 1. max_len: output steps cap (default 2·S + 10).
        length_penalty: α in ``score / n^α``.
        return_attention: also return the best hypotheses' attention rows.
    """
    if isinstance(beam_width, bool) or not isinstance(beam_width, int) or beam_width < 1:
        raise ValueError(f"beam_search: expected beam_width to be a positive int, got "
                         f"{beam_width!r}. Pass --beam-width 1 (greedy) or more.")
    was_training = model.training
    model.eval()
    try:
        return _beam(model, src, src_lengths, beam_width, max_len, float(length_penalty),
                     return_attention)
    finally:
        model.train(was_training)


def _beam(model, src, src_lengths, K, max_len, alpha_lp, return_attention) -> Hypotheses:
    B, dev = src.shape[0], src.device
    memory, state = model.encode(src, src_lengths)
    expand = torch.arange(B, device=dev).repeat_interleave(K)
    memory = memory.index_select(expand)
    state = tuple(s.index_select(0, expand) for s in state)
    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    scores = scores.view(-1)
    lengths = torch.zeros(B * K, dtype=torch.long, device=dev)
    finished = torch.zeros(B * K, dtype=torch.bool, device=dev)
    y = torch.full((B * K,), model.bos_id, dtype=torch.long, device=dev)
    history: list[Tensor] = []
    alphas: list[Tensor | None] = []
    base = (torch.arange(B, device=dev) * K)[:, None]
    for _ in range(max_len or _default_max_len(src_lengths)):
        logits, state, alpha = model.decode_step(y, state, memory)
        logp = torch.log_softmax(logits.float(), -1)
        V = logp.shape[-1]
        logp[finished] = float("-inf")
        logp[finished, model.pad_id] = 0.0  # finished: extend with padding, score unchanged
        cand = scores[:, None] + logp  # [BK, V]
        new_len = lengths + (~finished).long()
        norm = cand / new_len.clamp(min=1).float().pow(alpha_lp)[:, None]
        top = norm.view(B, K * V).topk(K, dim=1).indices  # [B, K]
        rows = (base + top // V).view(-1)
        tok = (top % V).view(-1)
        scores = cand.view(B, K * V).gather(1, top).view(-1)
        state = tuple(s.index_select(0, rows) for s in state)
        history = [h.index_select(0, rows) for h in history] + [tok]
        if return_attention and alpha is not None:
            alphas = [a.index_select(0, rows) for a in alphas] + [alpha.index_select(0, rows)]
        lengths = new_len.index_select(0, rows)
        finished = finished.index_select(0, rows) | (tok == model.eos_id)
        y = tok
        if bool(finished.all()):
            break
    final = (scores / lengths.clamp(min=1).float().pow(alpha_lp)).view(B, K)
    best = final.argmax(1)
    best_rows = (base.view(-1) + best).tolist()
    seqs = torch.stack(history, 1).index_select(0, torch.tensor(best_rows, device=dev)).tolist()
    tokens = [_cut(s, model.eos_id, model.pad_id) for s in seqs]
    att = None
    if return_attention and alphas:
        n_out = [min(len(t) + 1, len(history)) for t in tokens]
        att = _attention(alphas, best_rows, n_out, src_lengths)
    return Hypotheses(tokens, final.gather(1, best[:, None]).squeeze(1).cpu(), att)

"""Linear-chain conditional random field over per-step tag scores (Lafferty et al. 2001).

For emissions ``e_t(y)`` (from the tagger, [B, T, N]), transitions ``A[i, j]`` (tag i → j),
start ``s`` and end ``u`` scores, the score of a tag sequence y of length n is::

    score(y) = s[y_1] + e_1(y_1) + Σ_{t=2..n} (A[y_{t-1}, y_t] + e_t(y_t)) + u[y_n]

and ``p(y | x) = exp(score(y)) / Z`` with ``log Z`` from the forward algorithm
(``α_t(j) = logsumexp_i(α_{t-1}(i) + A[i, j]) + e_t(j)``). The loss is the mean negative
log-likelihood; decoding is Viterbi (max instead of logsumexp, with back-pointers). Padded
steps (``mask`` False, right padding, every sequence at least one step) are skipped.

Shapes: B batch, T steps, N tags.

Example:
    >>> crf = CRF(5)
    >>> loss = crf.nll(emissions, tags, mask)       # [B, T, 5], [B, T], [B, T] bool
    >>> best = crf.decode(emissions, mask)          # B lists of tag ids
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CRF"]


class CRF(nn.Module):
    """Linear-chain CRF with learned transition, start and end scores (see module docstring).

    Args:
        num_tags: N.
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"CRF: expected num_tags to be a positive int, got {num_tags!r}.")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))

    def _check(self, emissions: Tensor, mask: Tensor) -> Tensor:
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(f"CRF: expected emissions of shape (B, T, {self.num_tags}), got "
                             f"{tuple(emissions.shape)}.")
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"CRF: expected mask of shape {tuple(emissions.shape[:2])}, got "
                             f"{tuple(mask.shape)}.")
        mask = mask.bool()
        if not bool(mask[:, 0].all()):
            raise ValueError("CRF: expected every sequence to have at least one step (mask[:, 0] "
                             "all True), got an empty sequence.")
        return mask

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """score(y) of the given tags, [B]. Tags on padded steps are ignored."""
        mask = self._check(emissions, mask)
        tags = tags.masked_fill(~mask, 0)
        e = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)  # [B, T]
        trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # [B, T-1]
        total = self.start[tags[:, 0]] + e[:, 0]
        total = total + ((trans + e[:, 1:]) * mask[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        return total + self.end[last]

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z by the forward algorithm, [B]."""
        mask = self._check(emissions, mask)
        alpha = self.start + emissions[:, 0]  # [B, N]
        for t in range(1, emissions.shape[1]):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t, None], nxt, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Mean negative log-likelihood over the batch (a scalar)."""
        return (self.log_partition(emissions, mask) - self.score(emissions, tags, mask)).mean()

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> list[list[int]]:
        """Viterbi: the highest-scoring tag sequence of each item (length = its valid steps)."""
        mask = self._check(emissions, mask)
        B, T, _ = emissions.shape
        best = self.start + emissions[:, 0]
        pointers = []
        for t in range(1, T):
            cand = best.unsqueeze(2) + self.transitions  # [B, N_from, N_to]
            score, arg = cand.max(dim=1)
            pointers.append(arg)
            best = torch.where(mask[:, t, None], score + emissions[:, t], best)
        best = best + self.end
        lengths = mask.sum(1).tolist()
        out = []
        for b in range(B):
            tag = int(best[b].argmax())
            path = [tag]
            for t in range(lengths[b] - 1, 0, -1):
                tag = int(pointers[t - 1][b, tag])
                path.append(tag)
            out.append(path[::-1])
        return out

"""An ensemble of classifiers that averages their class probabilities.

For members ``f_1 … f_N`` that each map ``(inputs, lengths)`` to logits ``[B, K]``, with
weights ``w_i >= 0`` (default all equal)::

    p(k | x) = Σ_i w_i softmax(f_i(x))_k / Σ_i w_i     logits = log p   (softmax(log p) = p)

Members are trained separately (different seeds); averaging probabilities removes much of the
seed-to-seed variance of a small-data model; members of different kinds (recurrent models
beside an NB-weighted linear model, :mod:`rnnkit.models.nb_classifier`) make different errors,
and their weights say how much each kind counts. ``forward`` returns ``log p`` so that everything
that reads logits (argmax, ``softmax`` in ``predict_step``) sees the averaged distribution.

Example:
    >>> ens = ProbabilityEnsemble([TextClassifier(cfg) for _ in range(3)])
    >>> proba = ens.predict_step((ids, None, lengths))               # mean of the members

Letters: B batch, T time, K classes, N members.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnkit.models.sequence_classifier import ClassifierSteps

__all__ = ["ProbabilityEnsemble"]


class ProbabilityEnsemble(ClassifierSteps, nn.Module):
    """Weighted mean of the members' softmax outputs: ``(inputs, lengths) -> log p [B, K]``.

    Args:
        members: at least one classifier with ``forward_with_attention(inputs, lengths) ->
            (logits [B, K], α [B, T] | None)`` (``TextClassifier``, ``SequenceClassifier``,
            ``NBLogisticClassifier``).
        weights: one weight >= 0 per member, not all zero; normalised to sum to 1 (None:
            equal weights). Not a parameter: rebuild the ensemble with the same weights.
    """

    def __init__(self, members: Sequence[nn.Module],
                 weights: Sequence[float] | None = None) -> None:
        super().__init__()
        if len(members) < 1:
            raise ValueError("ProbabilityEnsemble: expected at least one member, got none. "
                             "Pass a list of trained classifiers.")
        w = [1.0] * len(members) if weights is None else [float(v) for v in weights]
        if len(w) != len(members) or min(w) < 0 or sum(w) <= 0:
            raise ValueError(f"ProbabilityEnsemble: expected {len(members)} weights >= 0 with "
                             f"a positive sum (one per member), got {list(weights or [])}.")
        self.members = nn.ModuleList(members)
        self.weights = [v / sum(w) for v in w]

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.forward_with_attention(inputs, lengths)[0]

    def forward_with_attention(self, inputs: Tensor, lengths: Tensor | None = None,
                               ) -> tuple[Tensor, Tensor | None]:
        """``(log of the weighted mean probabilities [B, K], weighted mean attention α [B, T]
        or None when some member has none)``."""
        logps, alphas = [], []
        for m, w in zip(self.members, self.weights, strict=True):
            if w == 0:
                continue
            logits, alpha = m.forward_with_attention(inputs, lengths)
            logps.append(torch.log_softmax(logits.float(), dim=-1) + math.log(w))
            alphas.append(None if alpha is None else w * alpha)
        logp = torch.logsumexp(torch.stack(logps), dim=0)
        alpha = None if any(a is None for a in alphas) else torch.stack(alphas).sum(0)
        return logp, alpha

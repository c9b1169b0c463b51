"""An ensemble of classifiers that averages their class probabilities.

For members ``f_1 … f_N`` that each map ``(inputs, lengths)`` to logits ``[B, K]``::

    p(k | x) = (1/N) Σ_i softmax(f_i(x))_k          logits = log p   (softmax(log p) = p)

Members are trained separately (different seeds); averaging probabilities removes much of the
seed-to-seed variance of a small-data model. ``forward`` returns ``log p`` so that everything
that reads logits (argmax, ``softmax`` in ``predict_step``) sees the averaged distribution.

Example:
    >>> ens = ProbabilityEnsemble([TextClassifier(cfg) for _ in range(3)])
    >>> proba = ens.predict_step((ids, None, lengths))               # mean of the members

Letters: B batch, T time, K classes, N members.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnkit.models.sequence_classifier import ClassifierSteps

__all__ = ["ProbabilityEnsemble"]


class ProbabilityEnsemble(ClassifierSteps, nn.Module):
    """Mean of the members' softmax outputs: ``(inputs, lengths) -> log p [B, K]``.

    Args:
        members: at least one classifier with ``forward_with_attention(inputs, lengths) ->
            (logits [B, K], α [B, T] | None)`` (``TextClassifier``, ``SequenceClassifier``).
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) < 1:
            raise ValueError("ProbabilityEnsemble: expected at least one member, got none. "
                             "Pass a list of trained classifiers.")
        self.members = nn.ModuleList(members)

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.forward_with_attention(inputs, lengths)[0]

    def forward_with_attention(self, inputs: Tensor, lengths: Tensor | None = None,
                               ) -> tuple[Tensor, Tensor | None]:
        """``(log of the mean probabilities [B, K], mean attention α [B, T] or None)``."""
        logps, alphas = [], []
        for m in self.members:
            logits, alpha = m.forward_with_attention(inputs, lengths)
            logps.append(torch.log_softmax(logits.float(), dim=-1))
            alphas.append(alpha)
        n = len(self.members)
        logp = torch.logsumexp(torch.stack(logps), dim=0) - torch.log(torch.tensor(float(n)))
        alpha = None if any(a is None for a in alphas) else torch.stack(alphas).mean(0)
        return logp, alpha

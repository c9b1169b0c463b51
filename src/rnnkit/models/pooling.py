"""Pool a padded sequence of features ``[B, T, F]`` into one vector ``[B, F]`` per sequence,
looking at valid steps only (``t < lengths[b]``).

Kinds (``POOLINGS``):

* ``last``      — the output at the last valid step, ``y[b, lengths[b] - 1]``; with two
  directions, the forward half there and the reverse half at ``t = 0`` (where the reverse
  direction has read the whole sequence).
* ``mean``      — ``Σ_t m_bt y_bt / Σ_t m_bt`` with the mask ``m_bt = [t < lengths[b]]``.
* ``max``       — ``max_t`` over valid steps (padding is set to ``-inf`` first).
* ``maxmean``   — ``[max | mean]``, both of the above concatenated: ``[B, 2F]`` (Howard &
  Ruder's concat pooling without the last step; the max picks out salient phrases, the mean
  summarises the whole text).
* ``attention`` — additive attention (Bahdanau / Yang et al. 2016):
  ``s_bt = vᵀ tanh(W y_bt + b)``, ``α_bt = softmax_t(s_bt)`` over valid steps (``α = 0`` on
  padding, ``Σ_t α_bt = 1``), pooled ``Σ_t α_bt y_bt``. The weights ``α`` are returned.

Padded steps never influence the result, whatever values they hold.

Example:
    >>> pool = SequencePooling("attention", features=64)
    >>> pooled, alpha = pool(torch.randn(4, 10, 64), torch.tensor([10, 7, 3, 1]))
    >>> pooled.shape, alpha.shape                      # (4, 64), (4, 10)

Letters: B batch, T time, F features, D directions.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.functional.masking import lengths_to_mask

__all__ = ["POOLINGS", "SequencePooling", "length_mask"]

POOLINGS = ("last", "mean", "max", "maxmean", "attention")


def length_mask(lengths: Tensor | None, batch: int, steps: int, device: torch.device) -> Tensor:
    """Boolean mask ``[B, T]``, True on valid steps (all True when ``lengths`` is None)."""
    if lengths is None:
        return torch.ones(batch, steps, dtype=torch.bool, device=device)
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.shape != (batch,):
        raise ValueError(f"length_mask: expected lengths of shape ({batch},), got "
                         f"{tuple(lengths.shape)}. Pass one length per sequence.")
    return lengths_to_mask(lengths, steps, device)


class SequencePooling(nn.Module):
    """Masked pooling over time: ``(y [B, T, F], lengths [B]) -> (pooled [B, F], α [B, T] | None)``.

    Args:
        kind: one of ``POOLINGS``.
        features: F, the feature size of ``y`` (needed by ``attention``).
        directions: D, 1 or 2; with 2, ``y``'s features are ``[forward | reverse]`` halves
            (only ``last`` treats them differently).
        attention_size: hidden size of the attention scorer (default ``F``).

    ``α`` (the attention weights) is returned for ``attention``, ``None`` otherwise.
    ``out_features`` is the pooled size: ``2F`` for ``maxmean``, else ``F``.
    """

    def __init__(self, kind: str, features: int, directions: int = 1,
                 attention_size: int | None = None) -> None:
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"SequencePooling: expected kind in {list(POOLINGS)}, got {kind!r}. "
                             f"Pass --pooling last, mean, max, maxmean or attention.")
        if directions not in (1, 2) or features % directions:
            raise ValueError(f"SequencePooling: expected directions 1 or 2 dividing features, "
                             f"got directions={directions}, features={features}.")
        self.kind, self.features, self.directions = kind, features, directions
        self.out_features = 2 * features if kind == "maxmean" else features
        if kind == "attention":
            size = attention_size or features
            self.score = nn.Sequential(nn.Linear(features, size), nn.Tanh(),
                                       nn.Linear(size, 1, bias=False))

    def forward(self, y: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        if y.dim() != 3 or y.shape[2] != self.features:
            raise ValueError(f"SequencePooling: expected y of shape (B, T, {self.features}), got "
                             f"{tuple(y.shape)}.")
        B, T, _ = y.shape
        mask = length_mask(lengths, B, T, y.device)
        if not torch.compiler.is_exporting() and not bool(mask[:, 0].all()):  # data: no graph
            raise ValueError("SequencePooling: expected every length >= 1, got a zero length. "
                             "Drop empty sequences.")
        if self.kind == "last":
            return self._last(y, mask), None
        if self.kind in ("mean", "max", "maxmean"):
            m = mask.unsqueeze(-1)
            mean = (y * m.to(y.dtype)).sum(1) / m.sum(1).to(y.dtype)
            if self.kind == "mean":
                return mean, None
            peak = y.masked_fill(~m, float("-inf")).amax(1)
            return (peak if self.kind == "max" else torch.cat([peak, mean], dim=1)), None
        scores = self.score(y).squeeze(-1).float().masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(scores, dim=1).to(y.dtype)
        return torch.einsum("bt,btf->bf", alpha, y), alpha

    def _last(self, y: Tensor, mask: Tensor) -> Tensor:
        idx = (mask.sum(1) - 1).clamp_min(0)
        last = y[torch.arange(y.shape[0], device=y.device), idx]
        if self.directions == 1:
            return last
        half = self.features // 2
        return torch.cat([last[:, :half], y[:, 0, half:]], dim=1)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, features={self.features}, directions={self.directions}"

"""The reference time loop: short enough to check by eye; every fast kernel is tested against it."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rnnkit.functional.masking import reverse_padded

__all__ = ["StepFn", "reference_loop"]

StepFn = Callable[[Tensor, tuple, "Tensor | None"], tuple[Tensor, tuple]]


def reference_loop(
    step: StepFn,
    xp: Tensor,
    state: tuple[Tensor, ...],
    lengths: Tensor | None = None,
    reverse: bool = False,
    rec_mask: Tensor | None = None,
    zoneout: tuple[Tensor, ...] | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run ``step`` over time, one step at a time.

    For t = 0..T-1 (over each sequence's valid steps, backwards when ``reverse``)::

        h_t, s_new = step(xp_t, s_{t-1}, rec_mask)
        s_new = d_t ⊙ s_{t-1} + (1 - d_t) ⊙ s_new          (zoneout, when given)
        s_t = s_new if t < lengths[b] else s_{t-1}          (padding never updates the state)
        y_t = s_t[0] if t < lengths[b] else 0

    Args:
        step: ``(xp_t (B, G), state, rec_mask) -> (h_t, state)``, the cell contract.
        xp: (B, T, G) input projections for all steps.
        state: tuple of (B, S_k) initial state tensors.
        lengths: (B,) valid lengths (right padding), or None.
        reverse: run each sequence from its last valid step to its first.
        rec_mask: (B, P) variational dropout mask on h_{t-1} (same for every step), or None.
        zoneout: per state tensor, keep-old weights d: a (T, B, S_k) Bernoulli mask in
            training (bool, or 0/1 floats), or the probability itself (a float) in
            evaluation; or None.

    Returns:
        (y (B, T, P) with zeros at padded steps, final state — each sequence's last valid step).
    """
    if reverse:
        xp = reverse_padded(xp, lengths)
    outputs = []
    # unbind once: slicing xp[:, t] per step would make backward allocate a (B, T, G) gradient
    # for every step.
    for t, xp_t in enumerate(xp.unbind(1)):
        h, new_state = step(xp_t, state, rec_mask)
        if zoneout is not None:
            new_state = tuple(_zone(n, o, d[t] if isinstance(d, Tensor) else d)
                              for n, o, d in zip(new_state, state, zoneout, strict=True))
            h = new_state[0]
        if lengths is not None:
            valid = (t < lengths).unsqueeze(1)
            new_state = tuple(torch.where(valid, n, o)
                              for n, o in zip(new_state, state, strict=True))
            h = h * valid.to(h.dtype)
        state = new_state
        outputs.append(h)
    y = torch.stack(outputs, dim=1)
    if reverse:
        y = reverse_padded(y, lengths)
    return y, state


def _zone(new: Tensor, old: Tensor, d: Tensor | float) -> Tensor:
    """``d ⊙ old + (1 - d) ⊙ new``: d a bool mask (select), 0/1 floats or p (lerp)."""
    if isinstance(d, Tensor) and d.dtype == torch.bool:
        return torch.where(d, old, new)
    return torch.lerp(new, old, d)

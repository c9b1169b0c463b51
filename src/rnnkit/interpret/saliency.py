"""Per-time-step saliency of a sequence model: gradient × input and integrated gradients.

Works against any callable ``fn(x [B, T, C], lengths [B]) -> y`` (a classifier's logits
[B, K], a forecaster's outputs [B, H] or [B, H, C], a tagger's scores [B, T, N] …); a
``target`` reduces ``y`` to one number ``f(x)_b`` per sequence:

* ``None``: the predicted class (argmax over the last dim) of 2-D outputs, the sum of all
  outputs otherwise (e.g. the whole forecast);
* an int or a LongTensor [B]: that class (index into the last dim of [B, K] outputs);
* a callable ``target(y) -> [B]``.

Scores (one per step, summed over the C channels; exactly 0 on padded steps ``t >= lengths``):

* gradient × input: ``s_t = Σ_c x_tc · ∂f/∂x_tc`` (Shrikumar et al. 2016).
* integrated gradients (Sundararajan et al. 2017), baseline ``x'`` (default zeros)::

      s_t = Σ_c (x_tc − x'_tc) · (1/m) Σ_{k=1..m} ∂f/∂x_tc (x' + (k − ½)/m · (x − x'))

  (midpoint Riemann sum, m = ``steps``). Completeness: ``Σ_t s_t ≈ f(x) − f(x')``; the
  difference is returned as ``delta`` to check convergence.

Shapes: B batch, T steps, C channels (features or embedding size).

Example:
    >>> scores = gradient_x_input(model, x, lengths)                  # [B, T]
    >>> scores, delta = integrated_gradients(model, x, lengths, target=1, steps=32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from rnnkit.models.pooling import length_mask

__all__ = ["gradient_x_input", "integrated_gradients", "select_target", "step_mask"]

ModelFn = Callable[[Tensor, Tensor], Any]


def step_mask(lengths: Tensor | None, batch: int, steps: int, device=None) -> Tensor:
    """[B, T] bool: True on valid steps (all True without lengths)."""
    return length_mask(lengths, batch, steps, device)


def _output(y: Any) -> Tensor:
    return y[0] if isinstance(y, tuple | list) else y


def select_target(y: Tensor, target: Any) -> Tensor:
    """Reduce model outputs ``y`` [B, ...] to one value per sequence [B] (rules above)."""
    y = _output(y)
    B = y.shape[0]
    if callable(target):
        out = target(y)
    elif target is None:
        out = y.gather(1, y.argmax(1, keepdim=True)).squeeze(1) if y.dim() == 2 \
            else y.reshape(B, -1).sum(1)
    else:
        idx = torch.as_tensor(target, device=y.device).long().reshape(-1).expand(B)
        if y.dim() != 2:
            raise ValueError(f"saliency: expected outputs of shape (B, K) for a class target, "
                             f"got {tuple(y.shape)}. Pass target=callable for other outputs.")
        out = y.gather(1, idx[:, None]).squeeze(1)
    if out.shape != (B,):
        raise ValueError(f"saliency: expected the target to give one value per sequence "
                         f"({B},), got {tuple(out.shape)}.")
    return out


def _check(x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.dim() != 3 or not x.is_floating_point():
        raise ValueError(f"saliency: expected a float input of shape (B, T, C), got "
                         f"{getattr(x, 'shape', type(x).__name__)}. Embed token ids first "
                         "(saliency is taken with respect to the embeddings).")


def _fixed_target(fn: ModelFn, x: Tensor, lengths, target):
    """Resolve ``None`` to the predicted class once, on the real input."""
    if target is not None:
        return target
    with torch.no_grad():
        y = _output(fn(x, lengths))
    return y.argmax(1) if y.dim() == 2 else None


def gradient_x_input(fn: ModelFn, x: Tensor, lengths: Tensor | None = None,
                     target: Any = None) -> Tensor:
    """Gradient × input saliency per step, [B, T] (0 on padded steps)."""
    _check(x)
    target = _fixed_target(fn, x, lengths, target)
    xg = x.detach().clone().requires_grad_(True)
    f = select_target(fn(xg, lengths), target)
    (grad,) = torch.autograd.grad(f.sum(), xg)
    scores = (grad * xg).sum(-1).detach()
    return scores * step_mask(lengths, x.shape[0], x.shape[1], x.device)


def integrated_gradients(fn: ModelFn, x: Tensor, lengths: Tensor | None = None,
                         target: Any = None, baseline: Tensor | None = None,
                         steps: int = 32) -> tuple[Tensor, Tensor]:
    """Integrated-gradients saliency per step [B, T] and the completeness gap ``delta`` [B].

    ``delta = Σ_t s_t − (f(x) − f(x'))`` (small when ``steps`` suffices).
    """
    _check(x)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"integrated_gradients: expected steps >= 1, got {steps!r}.")
    x = x.detach()
    base = torch.zeros_like(x) if baseline is None else baseline.detach().to(x)
    if base.shape != x.shape:
        raise ValueError(f"integrated_gradients: expected a baseline of shape "
                         f"{tuple(x.shape)}, got {tuple(base.shape)}.")
    target = _fixed_target(fn, x, lengths, target)
    total = torch.zeros_like(x)
    for k in range(steps):
        xk = (base + (k + 0.5) / steps * (x - base)).requires_grad_(True)
        f = select_target(fn(xk, lengths), target)
        (grad,) = torch.autograd.grad(f.sum(), xk)
        total += grad
    mask = step_mask(lengths, x.shape[0], x.shape[1], x.device)
    scores = ((x - base) * total / steps).sum(-1) * mask
    with torch.no_grad():
        gap = select_target(fn(x, lengths), target) - select_target(fn(base, lengths), target)
    return scores.detach(), (scores.sum(1) - gap).detach()

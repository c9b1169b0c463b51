"""Dynamic evaluation of a language model (Krause et al. 2018): adapt while scoring, in order.

The held-out ids ``x_1 … x_N`` are cut into consecutive segments ``s_1, s_2, …`` of ``S``
targets. The recurrent state is carried across all of them (detached between segments), and
for each segment in order:

    ℓ_k   = -Σ_{t ∈ s_k} log p_θ(x_{t+1} | x_≤t)        scored with the *current* θ — first
    g_k   = ∇_θ (ℓ_k / |s_k|)                            then one gradient step on that loss
    θ    ← θ - η · g_k / (R + ε) + λ · d ⊙ (θ₀ - θ)       (RMS rule, ``grad_rms`` = R given)
    θ    ← θ - η · g_k + λ · (θ₀ - θ)                     (plain SGD, ``grad_rms=None``)

so every token is predicted before the model has seen it, exactly as an adaptive compressor
reads a text. ``θ₀`` are the trained weights (the decay pulls the adapted weights back to
them); ``R = sqrt(mean_b g_b²)`` is the per-parameter root-mean-square gradient over
training batches (:func:`gradient_rms`); ``d = R / mean(R)`` scales the decay per parameter,
``mean(R)`` being the mean over parameter tensors of each tensor's mean, and is clipped at
``1/λ`` so that no decay step overshoots ``θ₀`` (both as in the authors' code).

It is an evaluation procedure of the language model, beside :meth:`LanguageModel.token_nll`
(the static score), not a trainer: no data loader, schedule or checkpoint. It runs on a copy,
so the caller's weights, gradients and mode are untouched.

Letters: N ids, S segment length, V vocabulary, B rows of the gradient-statistics batches.

Example:
    >>> rms = gradient_rms(lm, train_ids, segment_len=100, rows=32, max_batches=100)
    >>> nll = dynamic_token_nll(lm, ids, first=4000, segment_len=25, lr=2.5e-5, decay=5e-4,
    ...                         grad_rms=rms)
    >>> bpc = float(nll.mean()) / math.log(2)                 # nats → bits per token
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["dynamic_token_nll", "gradient_rms"]


def dynamic_token_nll(model: nn.Module, ids: Sequence[int] | Tensor, first: int = 1, *,
                      segment_len: int = 50, lr: float = 3e-5, decay: float = 0.0,
                      grad_rms: dict[str, Tensor] | None = None, eps: float = 1e-5
                      ) -> Tensor:
    """Nats of ``ids[t]`` given the ids before it, for ``t = first … N-1``, under dynamic
    evaluation (module docstring); returns a float32 tensor of ``N - first`` values in order.

    Args:
        model: a :class:`~rnnkit.models.LanguageModel`, or any module with
            ``forward(tokens (1, S) int64, state) -> (logits (1, S, V), state)``. Not modified.
        ids: the token ids ``(N,)``; ``ids[:first]`` is context: run and adapted on in the same
            way (it is text before the scored part) but not scored.
        first: index of the first scored id, ``1 <= first < N``.
        segment_len: S, targets per segment = tokens between two updates.
        lr: η, the step size (in units of ``R`` with ``grad_rms``, raw with plain SGD).
        decay: λ in ``[0, 1)``, the pull back to the trained weights after every step.
        grad_rms: ``{parameter name: R}`` from :func:`gradient_rms` (RMS rule); None for SGD.
        eps: ε, keeps ``η / (R + ε)`` finite for parameters whose training gradient is ~0.
    """
    _check(segment_len=segment_len, lr=lr, decay=decay, eps=eps)
    ids = torch.as_tensor(ids, dtype=torch.int64).flatten()
    n = ids.numel()
    if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first < n:
        raise ValueError(f"dynamic_token_nll: expected 1 <= first < len(ids) = {n}, got first="
                         f"{first!r}. Score at least one token after one of context.")
    work, params = _working_copy(model)
    step = _Step(params, lr, decay, eps, grad_rms)
    device = next(iter(params.values())).device
    nll, state = [], None
    for a in range(0, n - 1, segment_len):
        b = min(a + segment_len, n - 1)
        x, y = ids[a:b].to(device)[None], ids[a + 1:b + 1].to(device)[None]
        logits, state = work(x, state)
        ce = F.cross_entropy(logits.float()[0], y[0], reduction="none")
        nll.append(ce.detach().cpu())  # scored before the update below
        state = _detach(state)
        if b < n - 1:  # nothing is left to predict after the last segment
            work.zero_grad(set_to_none=True)
            ce.mean().backward()
            step()
    return torch.cat(nll)[first - 1:]


class _Step:
    """One in-place update of the working weights (the rules of the module docstring)."""

    def __init__(self, params: dict[str, nn.Parameter], lr: float, decay: float, eps: float,
                 grad_rms: dict[str, Tensor] | None) -> None:
        self.params, self.lr, self.decay = params, lr, decay
        self.theta0 = {k: p.detach().clone() for k, p in params.items()}
        self.scale: dict[str, Tensor | float] = {k: 1.0 for k in params}  # η / (R + ε)
        self.rate: dict[str, Tensor | float] = {k: decay for k in params}  # λ · d
        if grad_rms is not None:
            missing = sorted(set(params) - set(grad_rms))
            if missing:
                raise ValueError(f"dynamic_token_nll: expected grad_rms for every parameter, "
                                 f"got none for {missing[:3]}. Compute it with gradient_rms "
                                 f"on the same model.")
            rms = {k: grad_rms[k].to(p.device, torch.float32) for k, p in params.items()}
            mean = sum(float(r.mean()) for r in rms.values()) / len(rms)
            for k, r in rms.items():
                if r.shape != params[k].shape:
                    raise ValueError(f"dynamic_token_nll: expected grad_rms[{k!r}] of shape "
                                     f"{tuple(params[k].shape)}, got {tuple(r.shape)}. Compute "
                                     f"it with gradient_rms on the same model.")
                self.scale[k] = 1.0 / (r + eps)
                d = r / mean if mean > 0 else torch.ones_like(r)
                self.rate[k] = decay * (d.clamp(max=1.0 / decay) if decay > 0 else d)

    @torch.no_grad()
    def __call__(self) -> None:
        for k, p in self.params.items():
            if self.decay:
                p.add_((self.theta0[k] - p) * self.rate[k])
            if p.grad is not None:
                p.sub_(p.grad * self.scale[k], alpha=self.lr)


def gradient_rms(model: nn.Module, ids: Sequence[int] | Tensor, *, segment_len: int = 100,
                 rows: int = 32, max_batches: int = 100) -> dict[str, Tensor]:
    """Per-parameter root-mean-square gradient ``R = sqrt(mean_b g_b²)`` of the mean
    cross-entropy over training batches — the ``MS^{1/2}`` of Krause et al.

    The ids are laid out as ``rows`` contiguous rows (B) read ``segment_len`` tokens at a time
    with the state carried, like stateful training; the first ``max_batches`` batches count
    (rows start spread over the whole text). Dropout is off (evaluation mode), as in dynamic
    evaluation. Runs on a copy: the caller's model and its gradients are untouched.

    Returns:
        ``{name: R}`` for every parameter of ``model``, each shaped like the parameter.
    """
    _check(segment_len=segment_len)
    for name, v in (("rows", rows), ("max_batches", max_batches)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"gradient_rms: expected {name} >= 1 (an int), got {v!r}.")
    ids = torch.as_tensor(ids, dtype=torch.int64).flatten()
    rows = max(1, min(rows, (ids.numel() - 1) // segment_len))
    per_row = (ids.numel() - 1) // rows
    batches = min(max_batches, per_row // segment_len)
    if batches < 1:
        raise ValueError(f"gradient_rms: expected at least segment_len + 1 = {segment_len + 1} "
                         f"ids, got {ids.numel()}. Pass more training text or a shorter "
                         f"segment_len.")
    work, params = _working_copy(model)
    device = next(iter(params.values())).device
    x = ids[: rows * per_row].view(rows, per_row)
    y = ids[1: rows * per_row + 1].view(rows, per_row)
    ms = {k: torch.zeros_like(p, dtype=torch.float32) for k, p in params.items()}
    state = None
    for i in range(batches):
        sl = slice(i * segment_len, (i + 1) * segment_len)
        logits, state = work(x[:, sl].to(device), state)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y[:, sl].to(device).flatten())
        work.zero_grad(set_to_none=True)
        loss.backward()
        state = _detach(state)
        for k, p in params.items():
            if p.grad is not None:
                ms[k] += p.grad.float() ** 2
    return {k: (m / batches).sqrt() for k, m in ms.items()}


def _working_copy(model: nn.Module) -> tuple[nn.Module, dict[str, nn.Parameter]]:
    """A deep copy in evaluation mode with every parameter trainable (dropout off: the score
    is the model's, and the caller's module, gradients and mode are never touched)."""
    work = copy.deepcopy(model).eval()
    params = dict(work.named_parameters())
    if not params:
        raise ValueError(f"dynamic evaluation: expected a model with parameters, got "
                         f"{type(model).__name__} with none.")
    for p in params.values():
        p.requires_grad_(True)
        p.grad = None
    return work, params


def _detach(state: Any) -> Any:
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple | list):
        return type(state)(_detach(s) for s in state)
    return state


def _check(segment_len: int = 1, lr: float = 0.0, decay: float = 0.0, eps: float = 1.0) -> None:
    """The user-settable values, one clear error each."""
    if isinstance(segment_len, bool) or not isinstance(segment_len, int) or segment_len < 1:
        raise ValueError(f"dynamic evaluation: expected segment_len >= 1 (an int), got "
                         f"{segment_len!r}. Pass e.g. 50 tokens between updates.")
    for name, v, ok, want in (("lr", lr, lambda v: v >= 0, ">= 0"),
                              ("decay", decay, lambda v: 0 <= v < 1, "in [0, 1)"),
                              ("eps", eps, lambda v: v > 0, "> 0")):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                or not ok(v):
            raise ValueError(f"dynamic evaluation: expected {name} {want}, got {v!r}.")

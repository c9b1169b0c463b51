"""The ``parallel`` direction kernel: a classic nonlinear cell over all T at once by Newton.

quasi-DEER (Lim et al. 2024; Gonzalez et al. 2024) with ELK-style damping. Unknowns: the
stacked states ``s_1..s_T`` (h, or [h, c] for LSTM); residual ``r_t = s_t − f(s_{t-1}, x_t)``.
Each iteration linearises f at the current guess with its DIAGONAL Jacobian
``J_t = diag(∂f/∂s)(s_{t-1})`` (analytic per cell family, ``_step_and_diag``) and solves the
linear recurrence by one parallel scan (``functional.scan``)::

    s_t ← J̃_t ⊙ s_{t-1} + (f(s⁽ᵏ⁾_{t-1}) − J̃_t ⊙ s⁽ᵏ⁾_{t-1}),   J̃ = J / (1 + λ)

The trust-region parameter λ (ELK) starts at 0 (pure quasi-DEER); a step that does not lower
the mean squared residual is rejected and retried with λ ← max(1, 10λ) (towards the always
stable Picard step, λ → ∞), an accepted step divides λ by 10. The first k steps are exact after
k iterations whatever J̃ is, so T iterations always suffice. Stop when
``max|r| ≤ tol · max(1, max|s|)``; past ``max_iter`` the kernel raises ``NotConverged`` and
the dispatcher falls back to the sequential engine with a warning (``strict=True`` raises).

Gradients by implicit differentiation at the fixed point s*, not by unrolling Newton. The
output is ``F(s*) = f(shift(s*), x; θ)`` for all t in one batched step (the only autograd
graph); a hook replaces its incoming gradient g by the adjoint λ, which solves the reverse
linear recurrence with the FULL transposed Jacobian, ``λ_t = g_t + (∂f_{t+1}/∂s_t)ᵀ λ_{t+1}``.
That system is solved by the same device: diagonal part by a reverse scan, off-diagonal part
(one batched vector-Jacobian product over all T) moved to the right-hand side and iterated to
``adjoint_tol``; if that budget runs out the exact sequential reverse sweep finishes the job
(with a warning). Autograd then carries λ through F to x, θ and s_0.

Eligible: ElmanCell (tanh, relu), GRUCell (reset-after and reset-before), LSTMCell (with or
without peepholes), with lengths, either direction, recurrent dropout and zoneout. Not (yet):
layer norm, LSTM projection, user cells (no analytic diagonal Jacobian).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from rnnkit.cells.elman import ElmanCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.functional.masking import lengths_to_mask, reverse_padded
from rnnkit.functional.scan import linear_scan
from rnnkit.kernels.base import DirectionRun, Kernel

__all__ = ["NEWTON", "NewtonOptions", "NewtonStats", "NotConverged", "configure", "last_stats",
           "newton_options"]


class NotConverged(RuntimeError):
    """Raised by the Newton kernel when the iteration budget runs out (dispatch falls back)."""


@dataclass(frozen=True)
class NewtonOptions:
    """Newton settings. ``tol``/``adjoint_tol`` None: 1e-6 (fp32), 1e-11 (fp64), 1e-2 (half).

    Attributes: max_iter (Newton budget), tol (on max|residual|, relative to max(1, max|s|)),
    damping (ELK trust region on/off), adjoint_max_iter, adjoint_tol.
    """

    max_iter: int = 100
    tol: float | None = None
    damping: bool = True
    adjoint_max_iter: int = 100
    adjoint_tol: float | None = None


@dataclass
class NewtonStats:
    """What the last Newton solve did: iterations, converged, residual, adjoint_iterations."""

    iterations: int = 0
    converged: bool = False
    residual: float = math.inf
    adjoint_iterations: int = 0


_OPTIONS = [NewtonOptions()]
_LAST = [NewtonStats()]


@contextlib.contextmanager
def newton_options(**kwargs):
    """Context manager: Newton settings for calls inside it (cells' own settings win).

    Example:
        >>> with newton_options(max_iter=20):
        ...     y, h = gru(x)
    """
    _OPTIONS.append(replace(_OPTIONS[-1], **kwargs))
    try:
        yield _OPTIONS[-1]
    finally:
        _OPTIONS.pop()


def configure(layer, **kwargs) -> None:
    """Attach Newton settings to every cell of ``layer`` (an RNNBase, a Recurrent or a cell)."""
    cells = getattr(layer, "cells", None)
    if cells is not None:
        cells = [c for dirs in cells for c in dirs]
    else:
        cells = [getattr(layer, "cell", layer)]
    for cell in cells:
        cell.newton_options = NewtonOptions(**kwargs)


def last_stats() -> NewtonStats:
    """Statistics of the most recent Newton solve (forward and adjoint)."""
    return _LAST[-1]


def _tol(value: float | None, dtype: torch.dtype) -> float:
    if value is not None:
        return value
    return {torch.float64: 1e-11, torch.float32: 1e-6}.get(dtype, 1e-2)


# -- eligibility ---------------------------------------------------------------------------
def _why_not(run: DirectionRun) -> str | None:
    cell = run.cell
    if type(cell) not in (ElmanCell, GRUCell, LSTMCell):
        return (f"Newton needs an analytic diagonal Jacobian, which rnnkit has for ElmanCell, "
                f"GRUCell and LSTMCell only, got {type(cell).__name__}.")
    if getattr(cell, "layer_norm", False):
        return "layer_norm=True couples all units; its diagonal Jacobian is not implemented."
    if getattr(cell, "proj_size", 0):
        return "proj_size > 0 (LSTM projection) has no diagonal Jacobian in h."
    return None


# -- one step of f with its diagonal Jacobian, per cell family ----------------------------------
def _diag(w: Tensor, k: int, H: int) -> Tensor:
    return w[k * H : (k + 1) * H].diagonal()


def _step_and_diag(cell, xp: Tensor, s: Tensor, m: Tensor | float) -> tuple[Tensor, Tensor]:
    """``(f(s), diag ∂f/∂s)`` for stacked states s (N, S); ``m`` the recurrent-dropout mask."""
    W, b = cell.weight_hh, cell.bias_hh
    if isinstance(cell, ElmanCell):
        pre = xp + (s * m) @ W.t() + (0 if b is None else b)
        if cell.nonlinearity == "tanh":
            h = torch.tanh(pre)
            return h, (1 - h * h) * W.diagonal() * m
        return torch.relu(pre), (pre > 0).to(s.dtype) * W.diagonal() * m
    if isinstance(cell, GRUCell):
        return _gru_step_and_diag(cell, xp, s, m)
    return _lstm_step_and_diag(cell, xp, s, m)



def _gru_step_and_diag(cell: GRUCell, xp: Tensor, h: Tensor, m) -> tuple[Tensor, Tensor]:
    H, W, b = cell.hidden_size, cell.weight_hh, cell.bias_hh
    x_r, x_z, x_n = xp.chunk(3, dim=-1)
    h_in = h * m
    wr, wz, wn = (_diag(W, k, H) for k in range(3))
    if cell.reset_after:
        h_r, h_z, h_n = (h_in @ W.t() + (0 if b is None else b)).chunk(3, dim=-1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        dr = r * (1 - r) * wr * m
        dn = (1 - n * n) * (r * wn * m + h_n * dr)
    else:
        brz = 0 if b is None else b[: 2 * H]
        bn = 0 if b is None else b[2 * H :]
        h_r, h_z = (h_in @ W[: 2 * H].t() + brz).chunk(2, dim=-1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        Wn, Wr = W[2 * H :], W[:H]
        n = torch.tanh(x_n + (r * h_in) @ Wn.t() + bn)
        cross = (r * (1 - r) * h_in) @ (Wn * Wr.t()).t()  # Σ_k Wn[j,k] Wr[k,j] r_k(1−r_k) h_k
        dn = (1 - n * n) * m * (wn * r + cross)
    dz = z * (1 - z) * wz * m
    out = (1 - z) * n + z * h
    return out, (1 - z) * dn + z + (h - n) * dz


def _lstm_step_and_diag(cell: LSTMCell, xp: Tensor, s: Tensor, m) -> tuple[Tensor, Tensor]:
    H, W, b, P = cell.hidden_size, cell.weight_hh, cell.bias_hh, cell.weight_ph
    h, c = s[:, :H], s[:, H:]
    gates = xp + (h * m) @ W.t() + (0 if b is None else b)
    i, f, g, o = gates.chunk(4, dim=-1)
    if P is not None:
        i, f = i + P[0] * c, f + P[1] * c
    i, f, g = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g)
    c2 = f * c + i * g
    if P is not None:
        o = o + P[2] * c2
    o = torch.sigmoid(o)
    tc = torch.tanh(c2)
    wi, wf, wg, wo = (_diag(W, k, H) for k in range(4))
    dc_h = (c * f * (1 - f) * wf + g * i * (1 - i) * wi + i * (1 - g * g) * wg) * m
    do_h = o * (1 - o) * (wo * m + (0 if P is None else P[2] * dc_h))
    dh_h = do_h * tc + o * (1 - tc * tc) * dc_h
    dc_c = f if P is None else f + c * f * (1 - f) * P[1] + g * i * (1 - i) * P[0]
    return torch.cat([o * tc, c2], -1), torch.cat([dh_h, dc_c], -1)


# -- the batched map F(s)_t = f(s_{t-1}, x_t) with masking and zoneout ---------------------------
@dataclass
class _Problem:
    """One direction's system, in loop order (reversed already when ``reverse``)."""

    cell: object
    xp: Tensor  # (B, T, G)
    s0: Tensor  # (B, S)
    valid: Tensor | None  # (B, T, 1) bool
    zo: Tensor | float | None  # (B, T, S) keep-old weights, or p
    m: Tensor | float  # (B, T, P) recurrent dropout mask, or 1.0

    def shift(self, s: Tensor, s0: Tensor | None = None) -> Tensor:
        s0 = self.s0 if s0 is None else s0
        return torch.cat([s0.unsqueeze(1), s[:, :-1]], 1)

    def mix(self, f: Tensor, prev: Tensor, d: Tensor | None = None):
        """Zoneout and padding on top of the cell's step (and on its diagonal Jacobian)."""
        if self.zo is not None:
            f = torch.lerp(f, prev, self.zo)
            d = None if d is None else self.zo + (1 - self.zo) * d
        if self.valid is not None:
            f = torch.where(self.valid, f, prev)
            d = None if d is None else torch.where(self.valid, d, torch.ones_like(d))
        return f, d

    def f_and_diag(self, prev: Tensor) -> tuple[Tensor, Tensor]:
        B, T, S = prev.shape
        m = self.m if isinstance(self.m, float) else self.m.reshape(B * T, -1)
        f, d = _step_and_diag(self.cell, self.xp.reshape(B * T, -1), prev.reshape(B * T, S), m)
        return self.mix(f.view(B, T, S), prev, d.view(B, T, S))

    def f_graph(self, prev: Tensor, xp: Tensor | None = None, t: slice = slice(None)) -> Tensor:
        """F through ``cell.step`` itself (the autograd graph; ``t`` selects time steps)."""
        xp = self.xp[:, t] if xp is None else xp
        B, T, S = prev.shape
        sizes = list(self.cell.state_sizes)
        state = tuple(p.reshape(B * T, -1) for p in prev.split(sizes, -1))
        m = None if isinstance(self.m, float) else self.m[:, t].reshape(B * T, -1)
        _, new = self.cell.step(xp.reshape(B * T, -1), state, m)
        f = torch.cat(new, -1).view(B, T, S)
        sub = _Problem(self.cell, xp, self.s0, None if self.valid is None else self.valid[:, t],
                       self.zo if not isinstance(self.zo, Tensor) else self.zo[:, t], self.m)
        return sub.mix(f, prev)[0]


def _make_problem(run: DirectionRun, xp: Tensor) -> _Problem:
    B, T = xp.shape[:2]
    if run.reverse:
        xp = reverse_padded(xp, run.lengths)
    valid = None
    if run.lengths is not None:
        valid = lengths_to_mask(run.lengths, T, xp.device).unsqueeze(-1)
    zo = run.zoneout
    if zo is not None:
        zo = (torch.cat(zo, -1).permute(1, 0, 2).to(xp.dtype) if isinstance(zo[0], Tensor)
              else torch.cat([torch.full((s,), p, dtype=xp.dtype, device=xp.device)
                              for s, p in zip(run.cell.state_sizes, zo, strict=True)]))
    m = 1.0 if run.rec_mask is None else run.rec_mask.unsqueeze(1).expand(B, T, -1)
    return _Problem(run.cell, xp, torch.cat(run.state, -1), valid, zo, m)


# -- forward solve -------------------------------------------------------------------------
def _solve(pb: _Problem, opts: NewtonOptions, stats: NewtonStats) -> Tensor:
    """Damped quasi-Newton for s = F(s); returns F(s*) (B, T, S), no graph."""
    B, T, S = pb.xp.shape[0], pb.xp.shape[1], pb.s0.shape[-1]
    tol = _tol(opts.tol, pb.xp.dtype)
    s = pb.s0.unsqueeze(1).expand(B, T, S).contiguous()
    f, d = pb.f_and_diag(pb.shift(s))
    res = (s - f).abs().max().item()
    merit = (s - f).square().mean().item()
    lam = 0.0
    for it in range(opts.max_iter + 1):
        stats.iterations, stats.residual = it, res
        if res <= tol * max(1.0, s.abs().max().item()):
            stats.converged = True
            return f
        if it == opts.max_iter:
            break
        J = d if lam == 0.0 else d / (1 + lam)
        prev = pb.shift(s)
        s_new, _ = linear_scan(J, f - J * prev, pb.s0)
        f_new, d_new = pb.f_and_diag(pb.shift(s_new))
        r_new = s_new - f_new
        merit_new = r_new.square().mean().item()
        if (math.isfinite(merit_new) and merit_new < merit) or lam >= 1e8 or not opts.damping:
            s, f, d, merit, res = s_new, f_new, d_new, merit_new, r_new.abs().max().item()
            lam = lam / 10 if lam > 1e-2 else 0.0
        else:
            lam = max(1.0, lam * 10)
    raise NotConverged(f"max|residual| {res:.2e} after {opts.max_iter} Newton iterations, "
                       f"tol {tol:.0e}")


# -- implicit gradient ------------------------------------------------------------------------
def _adjoint_hook(pb: _Problem, z: Tensor, d: Tensor, opts: NewtonOptions, stats: NewtonStats):
    """Gradient hook on F(z): g -> λ solving λ = g + (∂F/∂z)ᵀ λ (a reverse recurrence)."""
    tol = _tol(opts.adjoint_tol, z.dtype)

    def hook(g: Tensor) -> Tensor:
        with torch.enable_grad():
            z_ = z.detach().requires_grad_(True)
            out = pb.f_graph(pb.shift(z_, pb.s0.detach()), pb.xp.detach())

        def vjp(v: Tensor) -> Tensor:  # (∂F/∂z)ᵀ v, all T at once
            return torch.autograd.grad(out, z_, v, retain_graph=True)[0]

        with torch.no_grad():
            a = torch.cat([d[:, 1:], torch.zeros_like(d[:, :1])], 1)  # ∂F_{t+1}/∂z_t, diagonal
            lam_ = linear_scan(a, g, reverse=True)[0]
            for it in range(1, opts.adjoint_max_iter + 1):
                rhs = g + vjp(lam_) - a * torch.cat([lam_[:, 1:], torch.zeros_like(lam_[:, :1])], 1)
                new = linear_scan(a, rhs, reverse=True)[0]
                delta = (new - lam_).abs().max().item()
                lam_ = new
                stats.adjoint_iterations = it
                if delta <= tol * max(1.0, lam_.abs().max().item()):
                    return lam_
        warnings.warn(f"Newton adjoint did not converge in {opts.adjoint_max_iter} iterations; "
                      f"finishing with the exact sequential reverse sweep.", RuntimeWarning,
                      stacklevel=2)
        return _sequential_adjoint(pb, z, g)

    return hook


def _sequential_adjoint(pb: _Problem, z: Tensor, g: Tensor) -> Tensor:
    """Exact λ_t = g_t + (∂F_{t+1}/∂z_t)ᵀ λ_{t+1}, one step at a time (backprop through time)."""
    T = z.shape[1]
    lam = [None] * T
    lam[T - 1] = g[:, T - 1]
    for t in range(T - 2, -1, -1):
        with torch.enable_grad():
            zt = z[:, t : t + 1].detach().requires_grad_(True)
            out = pb.f_graph(zt, pb.xp[:, t + 1 : t + 2].detach(), slice(t + 1, t + 2))
            back = torch.autograd.grad(out, zt, lam[t + 1].unsqueeze(1))[0]
        lam[t] = g[:, t] + back[:, 0]
    return torch.stack(lam, 1)


# -- the kernel -------------------------------------------------------------------------------
def run_newton(run: DirectionRun) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Evaluate the cell over all T by damped quasi-Newton; returns (y (B, T, P), state)."""
    cell = run.cell
    opts = getattr(cell, "newton_options", None) or _OPTIONS[-1]
    stats = NewtonStats()
    _LAST.append(stats)
    del _LAST[:-1]
    xp = cell.project_input(run.x)
    pb = _make_problem(run, xp)
    with torch.no_grad():
        z = _solve(pb, opts, stats)
        _, d = pb.f_and_diag(pb.shift(z))
    out = pb.f_graph(pb.shift(z.detach()))  # = z at the fixed point, with the autograd graph
    if out.requires_grad:
        out.register_hook(_adjoint_hook(pb, z, d, opts, stats))
    sizes = list(cell.state_sizes)
    y = out[..., : sizes[0]]
    if pb.valid is not None:
        y = y * pb.valid.to(y.dtype)
    if run.reverse:
        y = reverse_padded(y, run.lengths)
    return y, tuple(out[:, -1].split(sizes, -1))


NEWTON = Kernel(
    name="parallel",
    summary=("quasi-DEER/ELK: damped Newton over all T with diagonal Jacobians, one parallel "
             "scan per iteration, implicit gradients; if it does not converge within max_iter "
             "it falls back to the sequential engine with a warning (strict=True raises). "
             "Only on request: impl='parallel'"),
    fast=True,
    why_not=_why_not,
    run=run_newton,
    priority=-10,
)

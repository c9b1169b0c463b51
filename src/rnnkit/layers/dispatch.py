"""Kernel choice, in one place.

``impl="auto"`` picks the eligible kernel of highest priority; an explicit ``impl=NAME`` that
is not eligible raises with the reason; ``strict=True`` refuses the slow reference loop when
it would run silently. ``explain`` reports the decision and every candidate's reason.

Two levels exist: *stack* kernels run a whole torch.nn-compatible layer at once (e.g. torch's
own fused oneDNN / cuDNN op), *direction* kernels run one direction of one layer.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from rnnkit.kernels import builtin
from rnnkit.kernels.base import DirectionRun, Kernel
from rnnkit.kernels.newton import NotConverged

__all__ = [
    "DIRECTION_KERNELS",
    "STACK_KERNELS",
    "Choice",
    "choose",
    "known_impls",
    "register_kernel",
]

DIRECTION_KERNELS: list[Kernel] = sorted(builtin.DIRECTION, key=lambda k: -k.priority)
STACK_KERNELS: list[Kernel] = sorted(builtin.STACK, key=lambda k: -k.priority)


def register_kernel(kernel: Kernel, level: str = "direction") -> None:
    """Add a kernel (``level`` 'direction' or 'stack'); a kernel of the same name is replaced."""
    table = DIRECTION_KERNELS if level == "direction" else STACK_KERNELS
    table[:] = [k for k in table if k.name != kernel.name] + [kernel]
    table.sort(key=lambda k: -k.priority)


def known_impls() -> list[str]:
    names = ["auto", "sequential"] + [k.name for k in STACK_KERNELS]
    names += [k.name for k in DIRECTION_KERNELS]
    return list(dict.fromkeys(names))


def check_impl(where: str, impl: str) -> str:
    if impl not in known_impls():
        raise ValueError(f"{where}: expected impl in {known_impls()}, got {impl!r}. "
                         f"Use impl='auto' to let rnnkit choose.")
    return impl


@dataclass
class Choice:
    """The outcome of a kernel choice: the kernel and why each candidate was (not) taken."""

    kernel: Kernel
    reasons: dict[str, str | None] = field(default_factory=dict)
    run: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.kernel.name

    @property
    def detail(self) -> str | None:
        """How the chosen kernel runs this call (``Kernel.detail``), or None."""
        if self.kernel.detail is None or self.run is None:
            return None
        return self.kernel.detail(self.run)

    def describe(self) -> str:
        lines = [f"{self.kernel.name}: {self.kernel.summary}"]
        if self.detail:
            lines.append(f"  this call: {self.detail}")
        for name, why in self.reasons.items():
            if name != self.kernel.name:
                lines.append(f"  not {name}: {why or 'eligible, lower priority'}")
        return "\n".join(lines)


def choose(where: str, level: str, run, impl: str = "auto", strict: bool = False) -> Choice | None:
    """Choose a kernel for ``run`` (a DirectionRun or a stack run).

    Returns None at the stack level when no stack kernel applies (the layer then runs per
    direction). Raises ValueError when an explicit ``impl`` cannot run, RuntimeError when
    ``strict`` and only the slow path remains.
    """
    table = DIRECTION_KERNELS if level == "direction" else STACK_KERNELS
    if impl == "sequential":  # alias: the best eligible kernel that does not run all T at once
        table, impl = [k for k in table if k.name not in builtin.PARALLEL], "auto"
    reasons = {k.name: k.why_not(run) for k in table}
    if impl != "auto":
        kernel = next((k for k in table if k.name == impl), None)
        if kernel is None:
            return None
        if reasons[impl] is not None:
            raise ValueError(f"{where}: impl={impl!r} cannot run this call: {reasons[impl]} "
                             f"Use impl='auto' to fall back to an eligible kernel.")
        return Choice(kernel, reasons, run)
    eligible = [k for k in table if reasons[k.name] is None]
    if not eligible:
        return None
    best = eligible[0]
    if strict and not best.fast:
        others = "; ".join(f"{n}: {r}" for n, r in reasons.items() if n != best.name) or "none"
        raise RuntimeError(f"{where}: strict=True refuses the slow '{best.name}' path "
                           f"(fast kernels not eligible — {others}). Change the configuration "
                           f"or pass strict=False to accept the slow path.")
    return Choice(best, reasons, run)


def run_direction(where: str, run: DirectionRun, impl: str, strict: bool):
    """Choose and run a direction kernel; returns (y, state, choice)."""
    if impl not in ("auto", "sequential") and impl not in {k.name for k in DIRECTION_KERNELS}:
        impl = "auto"  # a stack-level impl that declined: fall back per direction.
    choice = choose(where, "direction", run, impl, strict)
    try:
        y, state = choice.kernel.run(run)
    except NotConverged as e:  # impl='parallel' (Newton): fall back to the sequential engine
        if strict:
            raise RuntimeError(f"{where}: impl={choice.name!r} did not converge ({e}) and "
                               f"strict=True refuses the sequential fallback. Raise the "
                               f"iteration budget (rnnkit.kernels.newton.newton_options) or "
                               f"use impl='sequential'.") from e
        warnings.warn(f"{where}: impl={choice.name!r} did not converge ({e}); falling back to "
                      f"the sequential engine.", RuntimeWarning, stacklevel=3)
        choice = choose(where, "direction", run, "sequential", False)
        y, state = choice.kernel.run(run)
    return y, state, choice

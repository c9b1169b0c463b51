"""The kernel interface: a run description and a kernel record with an eligibility predicate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor

__all__ = ["DirectionRun", "Kernel"]


@dataclass
class DirectionRun:
    """Everything needed to run one direction of one layer over time.

    Attributes:
        cell: the cell (follows the contract in ``rnnkit.cells.base``).
        x: (B, T, I) batch-first input.
        state: tuple of (B, S_k) initial state tensors.
        lengths: (B,) int64 valid lengths on x's device, or None (all T steps valid).
        reverse: run each sequence from its last valid step backwards.
        rec_mask: (B, P) variational dropout mask on h_{t-1}, or None.
        zoneout: keep-old weights per state tensor ((T, B, S_k) masks, or floats), or None.
        training: the layer's training flag.
    """

    cell: Any
    x: Tensor
    state: tuple[Tensor, ...]
    lengths: Tensor | None = None
    reverse: bool = False
    rec_mask: Tensor | None = None
    zoneout: tuple | None = None
    training: bool = False


@dataclass(frozen=True)
class Kernel:
    """A way to run a recurrence.

    Attributes:
        name: what users pass as ``impl=``.
        summary: one line for ``explain``.
        fast: False for the reference loop (``strict=True`` refuses non-fast kernels).
        why_not: the eligibility predicate: returns None when the kernel can run, else the
            reason it cannot (one sentence, with the fix when there is one).
        run: executes the run and returns ``(y (B, T, P), final state)``.
        priority: higher wins under ``impl="auto"`` among eligible kernels.
        detail: optional ``detail(run) -> str``: how this kernel would run ``run`` (e.g. where
            the engine's pointwise step runs: C, Triton or PyTorch), shown by ``explain``.
    """

    name: str
    summary: str
    fast: bool
    why_not: Callable[[Any], str | None]
    run: Callable[[Any], tuple]
    priority: int = 0
    detail: Callable[[Any], str] | None = None

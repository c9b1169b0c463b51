"""The reference kernel: the input projection as one GEMM, then the plain time loop."""

from __future__ import annotations

from rnnkit.functional.recurrence import reference_loop
from rnnkit.kernels.base import DirectionRun, Kernel

__all__ = ["REFERENCE", "run_reference"]


def run_reference(run: DirectionRun):
    """Run ``run.cell`` step by step with autograd through every step."""
    xp = run.cell.project_input(run.x)
    return reference_loop(run.cell.step, xp, run.state, run.lengths, run.reverse,
                          run.rec_mask, run.zoneout)


REFERENCE = Kernel(
    name="reference",
    summary="Python time loop over cell.step with autograd (slow, always eligible)",
    fast=False,
    why_not=lambda run: None,
    run=run_reference,
    priority=0,
)

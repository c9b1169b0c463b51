"""The ``scan`` direction kernel: min-cells (minGRU, minLSTM) over all T at once.

A min-cell's recurrence is linear in h, ``h_t = a_t ⊙ h_{t-1} + b_t`` with (a_t, b_t) from x_t
only, so one GEMM (``project_input``), one elementwise map to (a, b) and one parallel scan
(``functional.scan``) replace the time loop, forward and backward. Zoneout keeps it linear::

    h_t = d_t ⊙ h_{t-1} + (1 − d_t) ⊙ (a_t ⊙ h_{t-1} + b_t)
        = (d_t + (1 − d_t) ⊙ a_t) ⊙ h_{t-1} + (1 − d_t) ⊙ b_t

On CPU (float32/float64, linear space, no zoneout) the gates and the recurrence run instead in
native C loop fused with a per-time-chunk GEMM (``kernels.min_native``: a sequential-in-time
loop vectorised over H, memory-optimal there); the pure-PyTorch path above is its fallback.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.mingru import MinGRUCell, MinRNNCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.functional.masking import reverse_padded
from rnnkit.functional.scan import linear_scan, log_scan
from rnnkit.kernels import min_native
from rnnkit.kernels.base import DirectionRun, Kernel
from rnnkit.kernels.torch_fused import tracing, transform_active

__all__ = ["SCAN", "run_scan", "scan_fast"]


def _why_not(run: DirectionRun) -> str | None:
    if not isinstance(run.cell, MinRNNCell):
        return (f"the scan kernel runs min-cells only (MinGRUCell, MinLSTMCell: recurrence "
                f"linear in h), got {type(run.cell).__name__}; impl='parallel' runs classic "
                f"cells by Newton iterations.")
    return transform_active(run.x, *run.state, *run.cell.parameters())


def _zoneout_weights(zoneout, dtype: torch.dtype) -> Tensor | float | None:
    """(B, T, H) keep-old weights as ``dtype`` (the scan mixes them arithmetically), or p."""
    if zoneout is None:
        return None
    d = zoneout[0]
    return d.permute(1, 0, 2).to(dtype) if isinstance(d, Tensor) else d


_NATIVE_KIND = {MinGRUCell.coefficients: "mingru", MinLSTMCell.coefficients: "minlstm"}


def _scan_fallback(cell):
    def run(x: Tensor, w: Tensor, bias: Tensor | None, h0: Tensor, lengths: Tensor | None,
            reverse: bool):
        a, b = cell.coefficients(torch.nn.functional.linear(x, w, bias))
        return linear_scan(a, b, h0, lengths, reverse)
    return run


def _native_kind(run: DirectionRun, d) -> str | None:
    cell, x = run.cell, run.x
    kind = _NATIVE_KIND.get(type(cell).coefficients)
    if (kind is None or d is not None or cell.scan_space != "linear"
            or type(cell).project_input is not MinRNNCell.project_input
            or any(t is not None and t.dtype != x.dtype
                   for t in (cell.weight_ih, cell.bias_ih, run.state[0]))
            or not min_native.available(x)):
        return None
    return kind


def run_scan(run: DirectionRun) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run a min-cell over time with the parallel scan; returns (y (B, T, H), (h_T,)).

    While torch.compile / torch.export trace, as the custom operator ``rnnkit::direction``
    (``kernels.ops``): one node whatever T, so a dynamic time axis stays dynamic."""
    if tracing():
        from rnnkit.kernels import ops  # (ops imports this module lazily too)
        return ops.direction_op(run, "scan")
    return scan_fast(run)


def scan_fast(run: DirectionRun) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``run_scan`` on real tensors: the native C loop where it applies, else the torch scan."""
    cell = run.cell
    d = _zoneout_weights(run.zoneout, run.x.dtype)
    kind = _native_kind(run, d)
    if kind is not None:
        y, h_last = min_native.min_rnn_native(kind, run.x, cell.weight_ih, cell.bias_ih,
                                              run.state[0], run.lengths, run.reverse,
                                              _scan_fallback(cell))
        return y, (h_last,)
    xp = cell.project_input(run.x)
    if xp.dtype != run.x.dtype and torch.is_autocast_enabled(xp.device.type):
        # autocast made the projection low-precision: gates and scan stay in the input's
        # precision (bf16 log-space / cumulative products lose whole digits over T)
        xp = xp.to(run.x.dtype)
    if cell.scan_space == "log" and d is None:
        log_a, log_b = cell.log_coefficients(xp)
        y, h_last = log_scan(log_a, log_b, run.state[0], run.lengths, run.reverse)
        return y, (h_last,)
    a, b = cell.coefficients(xp)
    if d is not None:
        if run.reverse and isinstance(d, Tensor):
            # Zoneout masks are indexed by loop step; the scan reverses (a, b) itself.
            d = reverse_padded(d, run.lengths)
        a, b = torch.lerp(a, torch.ones_like(a), d), b * (1 - d)
    y, h_last = linear_scan(a, b, run.state[0], run.lengths, run.reverse)
    return y, (h_last,)


SCAN = Kernel(
    name="scan",
    summary=("linear-recurrence scan over T for min-cells (minGRU, minLSTM): "
             + min_native.status()),
    fast=True,
    why_not=_why_not,
    run=run_scan,
    priority=50,
)

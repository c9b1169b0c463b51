"""``Recurrent(cell)``: run any cell over time, one direction."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells.base import RecurrentCell, State
from rnnkit.kernels.base import DirectionRun
from rnnkit.layers import dispatch
from rnnkit.layers.regularization import (
    check_probability,
    recurrent_dropout_mask,
    zoneout_weights,
)
from rnnkit.layers.validation import check_input, check_lengths

__all__ = ["Recurrent"]


class Recurrent(nn.Module):
    """Run a cell over a sequence: one direction of one layer.

    The input projection for all steps is one matrix multiply (``cell.project_input``); the
    recurrence then runs on the kernel chosen by ``layers.dispatch`` (``explain`` tells which).
    Masking: right padding; padded steps leave the state unchanged and output zeros; the final
    state is each sequence's last valid step; ``reverse=True`` starts at each sequence's last
    valid step.

    Args:
        cell: any module that follows the cell contract (``rnnkit.cells.base``).
        batch_first: input (B, T, I) instead of (T, B, I).
        reverse: run backwards in time.
        recurrent_dropout: variational dropout on h_{t-1} (training only).
        zoneout: zoneout probability on every state tensor (Krueger et al. 2017).
        impl: 'auto' or a kernel name. strict: refuse the slow reference loop.

    Shapes:
        input (T, B, I) or (B, T, I); state tuple of (B, S_k); lengths (B,).
        output (T, B, P) or (B, T, P).

    Example:
        >>> layer = Recurrent(LSTMCell(8, 16), batch_first=True)
        >>> y, (h, c) = layer(torch.randn(4, 10, 8), lengths=torch.tensor([10, 7, 3, 1]))
    """

    def __init__(self, cell: RecurrentCell, batch_first: bool = False, reverse: bool = False,
                 recurrent_dropout: float = 0.0, zoneout: float = 0.0, impl: str = "auto",
                 strict: bool = False) -> None:
        super().__init__()
        self.cell = cell
        self.batch_first, self.reverse = batch_first, reverse
        self.recurrent_dropout = check_probability("Recurrent", "recurrent_dropout",
                                                   recurrent_dropout)
        self.zoneout = check_probability("Recurrent", "zoneout", zoneout)
        self.impl, self.strict = dispatch.check_impl("Recurrent", impl), strict

    def make_run(self, x: Tensor, state: State | None, lengths: Tensor | None) -> DirectionRun:
        """Build the DirectionRun for batch-first ``x`` (B, T, I): masks are sampled here."""
        B, T = x.shape[0], x.shape[1]
        cell = self.cell
        if state is None:
            state = cell.init_state(B, x.device, x.dtype)
        rec_mask = recurrent_dropout_mask(self.recurrent_dropout, B, cell.output_size, x,
                                          self.training)
        zo = zoneout_weights(self.zoneout, T, B, tuple(cell.state_sizes), x, self.training)
        return DirectionRun(cell, x, tuple(state), lengths, self.reverse, rec_mask, zo,
                            self.training)

    def forward(self, input: Tensor, state: State | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor, State]:
        x = self._batch_first_input(input)
        if lengths is not None:
            lengths = check_lengths("Recurrent", lengths, x.shape[0], x.shape[1], x.device)
        y, state, _ = dispatch.run_direction("Recurrent", self.make_run(x, state, lengths),
                                             self.impl, self.strict)
        return (y if self.batch_first else y.transpose(0, 1)), state

    def step(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Advance one step (online inference): ``x_t`` (B, I) -> (h_t (B, P), state)."""
        y, state = self.forward(x_t.unsqueeze(1 if self.batch_first else 0), state)
        return y.squeeze(1 if self.batch_first else 0), state

    def explain(self, input: Tensor, lengths: Tensor | None = None) -> dispatch.Choice:
        """Which kernel would run for this input, and why each other one would not."""
        x = self._batch_first_input(input)
        with torch.no_grad():
            return dispatch.choose("Recurrent", "direction", self.make_run(x, None, lengths),
                                   self.impl, False)

    def _batch_first_input(self, input: Tensor) -> Tensor:
        check_input("Recurrent", input, self.cell.input_size, None)
        if input.dim() != 3:
            raise ValueError(f"Recurrent: expected a batched input of rank 3, got shape "
                             f"{tuple(input.shape)}. Add a batch dimension with unsqueeze.")
        return input if self.batch_first else input.transpose(0, 1)

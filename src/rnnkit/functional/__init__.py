"""Pure tensor math: one step of each cell with explicit weights, masking helpers and the
reference time loop. No nn.Module, no state. Everything above imports from here."""

from rnnkit.functional.cells import elman_step, gru_step, layer_norm, lstm_step
from rnnkit.functional.masking import lengths_to_mask, reverse_padded
from rnnkit.functional.recurrence import reference_loop

__all__ = [
    "elman_step",
    "gru_step",
    "layer_norm",
    "lengths_to_mask",
    "lstm_step",
    "reference_loop",
    "reverse_padded",
]

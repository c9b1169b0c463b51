"""Cells: nn.Modules that own parameters and compute one step (see ``cells.base``)."""

from rnnkit.cells.base import RecurrentCell, State
from rnnkit.cells.elman import ElmanCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell

__all__ = ["ElmanCell", "GRUCell", "LSTMCell", "RecurrentCell", "State"]

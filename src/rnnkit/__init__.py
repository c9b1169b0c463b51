"""rnnkit: recurrent neural networks on PyTorch.

``from rnnkit import LSTM`` is a one-line swap for ``torch.nn.LSTM``; see README.md.
"""

from rnnkit.cells import ElmanCell, GRUCell, LSTMCell, MinGRUCell, MinLSTMCell, RecurrentCell
from rnnkit.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    MinGRU,
    MinLSTM,
    Recurrent,
    RNNBase,
    Stacked,
)

__version__ = "0.1.0"


def explain(layer, input, lengths=None):
    """Which kernel ``layer(input, lengths=lengths)`` runs, and why (see ``layer.explain``)."""
    return layer.explain(input, lengths)


__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "ElmanCell",
    "GRUCell",
    "LSTMCell",
    "MinGRU",
    "MinGRUCell",
    "MinLSTM",
    "MinLSTMCell",
    "RNNBase",
    "Recurrent",
    "RecurrentCell",
    "Stacked",
    "__version__",
    "explain",
]

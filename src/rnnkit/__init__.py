"""rnnkit: recurrent neural networks on PyTorch.

``from rnnkit import LSTM`` is a one-line swap for ``torch.nn.LSTM`` (and ``RNNCell``,
``LSTMCell``, ``GRUCell`` for torch.nn's cells); see README.md. ``rnnkit.cells`` holds the
step-contract cells that ``Recurrent`` runs (``rnnkit.LSTMCell`` is one of them too).
"""

from rnnkit.cells import ElmanCell, MinGRUCell, MinLSTMCell, RecurrentCell
from rnnkit.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    MinGRU,
    MinLSTM,
    Recurrent,
    RNNBase,
    RNNCell,
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
    "RNNCell",
    "Recurrent",
    "RecurrentCell",
    "Stacked",
    "__version__",
    "explain",
]

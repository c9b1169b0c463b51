"""Layers: run cells over time (Recurrent, Bidirectional, Stacked), the torch.nn-compatible
RNN / LSTM / GRU that assemble them, and torch.nn's RNNCell / LSTMCell / GRUCell."""

from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.gru import GRU
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.min_rnn import MinGRU, MinLSTM
from rnnkit.layers.nn_cells import GRUCell, LSTMCell, RNNCell
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.rnn import RNN
from rnnkit.layers.rnnbase import RNNBase
from rnnkit.layers.stacked import Stacked

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "GRUCell",
    "LSTMCell",
    "MinGRU",
    "MinLSTM",
    "RNNBase",
    "RNNCell",
    "Recurrent",
    "Stacked",
]

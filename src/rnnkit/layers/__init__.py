"""Layers: run cells over time (Recurrent, Bidirectional, Stacked) and the torch.nn-compatible
RNN / LSTM / GRU that assemble them."""

from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.gru import GRU
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.min_rnn import MinGRU, MinLSTM
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.rnn import RNN
from rnnkit.layers.rnnbase import RNNBase
from rnnkit.layers.stacked import Stacked

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "MinGRU",
    "MinLSTM",
    "RNNBase",
    "Recurrent",
    "Stacked",
]

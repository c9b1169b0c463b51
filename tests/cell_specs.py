"""The cell-spec registry: every cell the contract tests run over.

A new cell gets the whole contract suite (tests/cells/test_contract.py) by adding one line.
Each spec: id -> factory(input_size, hidden_size, dtype) returning a cell.
"""

from rnnkit.cells import ElmanCell, GRUCell, LSTMCell

CELL_SPECS = {
    "elman-tanh": lambda i, h, **f: ElmanCell(i, h, **f),
    "elman-relu": lambda i, h, **f: ElmanCell(i, h, nonlinearity="relu", **f),
    "elman-nobias": lambda i, h, **f: ElmanCell(i, h, bias=False, **f),
    "lstm": lambda i, h, **f: LSTMCell(i, h, **f),
    "lstm-peephole": lambda i, h, **f: LSTMCell(i, h, peephole=True, **f),
    "lstm-layernorm": lambda i, h, **f: LSTMCell(i, h, layer_norm=True, **f),
    "lstm-proj": lambda i, h, **f: LSTMCell(i, h, proj_size=h - 2, **f),
    "lstm-all": lambda i, h, **f: LSTMCell(i, h, proj_size=h - 1, peephole=True, layer_norm=True,
                                           forget_bias=1.0, **f),
    "gru": lambda i, h, **f: GRUCell(i, h, **f),
    "gru-reset-before": lambda i, h, **f: GRUCell(i, h, reset_after=False, **f),
    "gru-layernorm": lambda i, h, **f: GRUCell(i, h, layer_norm=True, **f),
    "gru-reset-before-layernorm": lambda i, h, **f: GRUCell(i, h, reset_after=False,
                                                            layer_norm=True, **f),
}

try:  # cells added by later work register here too
    from rnnkit.cells import MinGRUCell, MinLSTMCell  # type: ignore[attr-defined]

    CELL_SPECS["mingru"] = lambda i, h, **f: MinGRUCell(i, h, **f)
    CELL_SPECS["minlstm"] = lambda i, h, **f: MinLSTMCell(i, h, **f)
except ImportError:
    pass

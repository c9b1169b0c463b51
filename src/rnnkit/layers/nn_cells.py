"""``rnnkit.RNNCell / LSTMCell / GRUCell``: torch.nn's cells, plus rnnkit's cell options.

torch.nn's constructor signatures, parameter names and shapes (``weight_ih`` (G, I),
``weight_hh`` (G, H), ``bias_ih`` / ``bias_hh`` (G,)), default init (the same random numbers
under the same seed, so state dicts swap both ways) and call convention::

    h' = RNNCell(I, H)(x, h=None)           x (B, I) or (I,), h (B, H) or (H,)
    h' = GRUCell(I, H)(x, h=None)
    (h', c') = LSTMCell(I, H)(x, (h, c)=None)

with torch.nn's checks and exception types (a (1, H) state for a batch of B > 1 is refused,
not broadcast). Keyword-only options add rnnkit's variants: ``LSTMCell(peephole=,
layer_norm=, proj_size=, forget_bias=)``, ``GRUCell(reset_after=, layer_norm=)``.

Each class is a subclass of the step-contract cell (``rnnkit.cells.ElmanCell / LSTMCell /
GRUCell``, which ``Recurrent`` and the kernels run), overriding only ``forward``: so
``Recurrent(rnnkit.LSTMCell(8, 16))`` still runs on the fused engine, and the math of one
call is the contract's ``step(project_input(x), state)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells import elman, gru, lstm
from rnnkit.layers.validation import DtypeError, ShapeError, check_type

__all__ = ["GRUCell", "LSTMCell", "RNNCell"]


def _check_sizes(where: str, input_size, hidden_size) -> None:
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
        check_type(where, name, v, int)
        if v <= 0:
            raise ValueError(f"{where}: {name} must be greater than zero, got {v}. "
                             f"Pass a positive int.")


def _check_input(cell, input) -> tuple[Tensor, bool]:
    """(B, I) or (I,) input → ((B, I), batched)."""
    where = type(cell).__name__
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}: expected input to be a torch.Tensor, got "
                        f"{type(input).__name__}. Convert with torch.as_tensor(x).")
    if input.dim() not in (1, 2):
        raise ValueError(f"{where}: Expected input to be 1D or 2D, got {input.dim()}D instead. "
                         f"A cell takes one step (B, I) or (I,); use rnnkit.{_LAYER[where]} "
                         f"for a sequence.")
    if input.shape[-1] != cell.input_size:
        raise ShapeError(f"{where}: input has inconsistent input_size: got {input.shape[-1]} "
                         f"expected {cell.input_size}. Check input_size or the input's last "
                         f"dimension.")
    batched = input.dim() == 2
    return (input if batched else input.unsqueeze(0)), batched


def _check_dtype(cell, x: Tensor) -> None:
    """After the shape checks, as torch.nn's cells order them."""
    w = cell.weight_ih
    if not x.is_floating_point() or (x.dtype != w.dtype
                                     and not torch.is_autocast_enabled(x.device.type)):
        raise DtypeError(f"{type(cell).__name__}: expected input dtype {w.dtype} (the cell's "
                         f"weights), got {x.dtype}. Convert input: input.to({w.dtype}), or "
                         f"convert model: model.to({x.dtype}).")


def _check_state(cell, name: str, t, index: int, size: int, x: Tensor, batched: bool) -> Tensor:
    """One state tensor: (B, size) for a batched input, (size,) for an unbatched one."""
    where = type(cell).__name__
    if not isinstance(t, Tensor):
        raise TypeError(f"{where}: expected {name} to be a tensor, got {type(t).__name__}.")
    if t.dim() not in (1, 2):
        raise ValueError(f"{where}: Expected {name} to be 1D or 2D, got {t.dim()}D instead. "
                         f"Pass a (B, H) state (or (H,) for an unbatched input).")
    if t.dim() != (2 if batched else 1):
        want = "2-D (B, H)" if batched else "1-D (H,)"
        raise ShapeError(f"{where}: expected {name} {want} for a {x.dim() if batched else 1}-D "
                         f"input, got shape {tuple(t.shape)}. Batch the input and the state "
                         f"alike.")
    t = t if batched else t.unsqueeze(0)
    if t.shape[0] != x.shape[0]:
        raise ShapeError(f"{where}: Input batch size {x.shape[0]} doesn't match hidden{index} "
                         f"batch size {t.shape[0]}. Pass one state row per input row (a "
                         f"(1, H) state is not broadcast).")
    if t.shape[1] != size:
        raise ShapeError(f"{where}: hidden{index} has inconsistent hidden_size: got "
                         f"{t.shape[1]}, expected {size}. Check hidden_size (and proj_size).")
    if (t.dtype != x.dtype and x.is_floating_point()) or t.device != x.device:
        raise DtypeError(f"{where}: expected {name} with dtype {x.dtype} on {x.device} (as the "
                         f"input), got {t.dtype} on {t.device}. Use {name}.to(input).")
    return t


def _run(cell, input, hx, names: tuple[str, ...]):
    """The shared forward: checks, one contract step, torch.nn's output layout."""
    x, batched = _check_input(cell, input)
    if hx is None:
        state = cell.init_state(x.shape[0], x.device, x.dtype)
    else:
        if len(names) > 1 and isinstance(hx, Tensor):  # iterating it would split its rows
            raise TypeError(f"{type(cell).__name__}: expected hx as a tuple (h, c), got one "
                            f"tensor of shape {tuple(hx.shape)}. Pass (h, c) or None.")
        parts = (hx,) if len(names) == 1 else tuple(hx)
        if len(parts) != len(names):
            raise ValueError(f"{type(cell).__name__}: expected hx as ({', '.join(names)}), got "
                             f"{len(parts)} tensor(s). Pass (h, c) or None.")
        state = tuple(_check_state(cell, n, t, i, s, x, batched)
                      for i, (n, t, s) in enumerate(zip(names, parts, cell.state_sizes,
                                                        strict=True)))
    _check_dtype(cell, x)
    _, state = cell.step(cell.project_input(x), state)
    cast = _autocast_dtype(cell, x)
    if cast is not None:
        state = tuple(s.to(cast) for s in state)
    if not batched:
        state = tuple(s.squeeze(0) for s in state)
    return state[0] if len(state) == 1 else state


def _autocast_dtype(cell, x: Tensor) -> torch.dtype | None:
    """torch.nn.RNNCell returns the autocast dtype under CPU autocast (LSTMCell / GRUCell
    float32, as here)."""
    if (isinstance(cell, RNNCell) and x.device.type == "cpu" and x.dtype == torch.float32
            and torch.is_autocast_enabled("cpu")):
        return torch.get_autocast_dtype("cpu")
    return None


class RNNCell(elman.ElmanCell):
    """torch.nn.RNNCell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act 'tanh' or 'relu'.

    Args:
        input_size: I. hidden_size: H. bias: add b_ih, b_hh. nonlinearity: 'tanh' or 'relu'.

    Shapes: input (B, I) or (I,); hx (B, H) or (H,), zeros when None; returns h' like hx.

    Example:
        >>> cell = RNNCell(8, 16)
        >>> h = cell(torch.randn(4, 8))
        >>> h = cell(torch.randn(4, 8), h)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        _check_sizes("RNNCell", input_size, hidden_size)
        super().__init__(input_size, hidden_size, bias, nonlinearity, device=device, dtype=dtype)
        self.bias = bias

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return _run(self, input, hx, ("hidden",))

    def extra_repr(self) -> str:
        return _repr(self, nonlinearity=("tanh", self.nonlinearity))


class LSTMCell(lstm.LSTMCell):
    """torch.nn.LSTMCell (gate order i, f, g, o), plus rnnkit's LSTM options.

    Args:
        input_size: I. hidden_size: H. bias: add b_ih, b_hh.
        peephole, layer_norm, proj_size, forget_bias (keyword-only): as ``rnnkit.LSTM``; the
            math is in ``rnnkit.cells.LSTMCell``. Without them this is torch.nn.LSTMCell.

    Shapes: input (B, I) or (I,); hx = (h (B, P), c (B, H)) or unbatched (P,), (H,), zeros
    when None (P = proj_size or H); returns (h', c') like hx.

    Example:
        >>> cell = LSTMCell(8, 16, peephole=True)
        >>> h, c = cell(torch.randn(4, 8))
        >>> h, c = cell(torch.randn(4, 8), (h, c))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, proj_size: int = 0, peephole: bool = False,
                 layer_norm: bool = False, forget_bias: float | None = None) -> None:
        _check_sizes("LSTMCell", input_size, hidden_size)
        super().__init__(input_size, hidden_size, bias, proj_size, peephole, layer_norm,
                         forget_bias, device=device, dtype=dtype)
        self.bias = bias

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        return _run(self, input, hx, ("hx[0]", "hx[1]"))

    def extra_repr(self) -> str:
        return _repr(self, proj_size=(0, self.proj_size), peephole=(False, self.peephole),
                     layer_norm=(False, self.layer_norm), forget_bias=(None, self.forget_bias))


class GRUCell(gru.GRUCell):
    """torch.nn.GRUCell (gate order r, z, n, reset-after), plus rnnkit's GRU options.

    Args:
        input_size: I. hidden_size: H. bias: add b_ih, b_hh.
        reset_after, layer_norm (keyword-only): as ``rnnkit.GRU``; the math is in
            ``rnnkit.cells.GRUCell``.

    Shapes: input (B, I) or (I,); hx (B, H) or (H,), zeros when None; returns h' like hx.

    Example:
        >>> cell = GRUCell(8, 16, reset_after=False)
        >>> h = cell(torch.randn(8))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, reset_after: bool = True, layer_norm: bool = False) -> None:
        _check_sizes("GRUCell", input_size, hidden_size)
        super().__init__(input_size, hidden_size, bias, reset_after, layer_norm, device=device,
                         dtype=dtype)
        self.bias = bias

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return _run(self, input, hx, ("hidden",))

    def extra_repr(self) -> str:
        return _repr(self, reset_after=(True, self.reset_after),
                     layer_norm=(False, self.layer_norm))


_LAYER = {"RNNCell": "RNN", "LSTMCell": "LSTM", "GRUCell": "GRU"}


def _repr(cell, **options) -> str:
    """torch.nn's ``extra_repr`` (``I, H[, bias=False]``) and every non-default option."""
    s = f"{cell.input_size}, {cell.hidden_size}"
    if cell.bias is not True:
        s += f", bias={cell.bias}"
    for name, (default, value) in options.items():
        if value != default:
            s += f", {name}={value}"
    return s

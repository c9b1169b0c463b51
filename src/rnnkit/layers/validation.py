"""Input validation at the layer boundary: one clear error per mistake, naming the fix.

Exception types follow torch.nn's (``torch/nn/modules/rnn.py``) so code written against
torch.nn catches rnnkit's errors; where torch.nn's type differs from the one rnnkit raised
before, the error class derives from both (``ShapeError`` is a ``RuntimeError`` as in torch.nn
and a ``ValueError`` as before; ``DtypeError`` a ``ValueError`` and a ``TypeError``). Where
torch.nn has a message for the same mistake, rnnkit's contains torch.nn's words.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["DtypeError", "ShapeError", "check_input", "check_layer_args", "check_lengths",
           "check_state_tensor", "check_type"]


class ShapeError(ValueError, RuntimeError):
    """A tensor of the wrong shape (torch.nn raises RuntimeError for these)."""


class DtypeError(TypeError, ValueError):
    """An input whose dtype does not match the weights (torch.nn raises ValueError)."""


def check_type(where: str, name: str, value, kind: type) -> None:
    """``value`` must be a ``kind`` (bool or int; a bool is not accepted as an int size)."""
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    if not ok:
        raise TypeError(f"{where}: {name} should be of type {kind.__name__}, got: "
                        f"{type(value).__name__} ({value!r}). Pass {name} as a "
                        f"{'bool (True or False)' if kind is bool else 'positive int'}.")


def check_layer_args(where: str, input_size, hidden_size, num_layers, bias, batch_first,
                     dropout, proj_size=0) -> float:
    """torch.nn.RNNBase's constructor checks, with its exception types and words. Returns
    ``dropout`` as a float (in [0, 1]; warns, as torch.nn does, when it cannot act)."""
    check_type(where, "bias", bias, bool)
    check_type(where, "batch_first", batch_first, bool)
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size),
                    ("num_layers", num_layers)):
        check_type(where, name, v, int)
        if v <= 0:
            raise ValueError(f"{where}: {name} must be greater than zero, got {v}. "
                             f"Pass a positive int.")
    check_type(where, "proj_size", proj_size, int)
    if proj_size < 0 or (proj_size and proj_size >= hidden_size):
        raise ValueError(f"{where}: expected 0 <= proj_size < hidden_size ({hidden_size}), got "
                         f"{proj_size!r} (proj_size has to be smaller than hidden_size). Use "
                         f"proj_size=0 for no projection.")
    if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Real)
            or not 0.0 <= float(dropout) <= 1.0):
        raise ValueError(f"{where}: expected dropout in [0, 1], got {dropout!r} (dropout should "
                         f"be a number in range [0, 1] representing the probability of an "
                         f"element being zeroed). Use e.g. dropout=0.1, or 0 to disable it.")
    if dropout > 0 and num_layers == 1:
        warnings.warn(f"{where}: dropout option adds dropout after all but last recurrent "
                      f"layer, so non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}. Use recurrent_dropout "
                      f"for a one-layer RNN.", UserWarning, stacklevel=4)
    return float(dropout)


def check_input(where: str, x, input_size: int, param_dtype: torch.dtype | None) -> None:
    """Input must be a floating tensor of rank 2 (unbatched) or 3 with ``input_size`` features."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: expected input to be a torch.Tensor, got {type(x).__name__}. "
                        f"Convert with torch.as_tensor(x, dtype=torch.float32).")
    if not x.is_floating_point():
        raise DtypeError(f"{where}: expected a floating-point input tensor, got {x.dtype}. "
                         f"Convert with x.float() (for token ids, use an nn.Embedding first).")
    if x.dim() not in (2, 3):
        raise ValueError(f"{where}: expected input of rank 3 (batch, time, features) or 2 "
                         f"(unbatched), got shape {tuple(x.shape)}. Add or remove a dimension.")
    if x.shape[-1] != input_size:
        raise ShapeError(f"{where}: expected input with {input_size} features (input_size), got "
                         f"{x.shape[-1]}. Check input_size or the input's last dimension.")
    if param_dtype is not None and x.dtype != param_dtype and not torch.is_autocast_enabled():
        raise DtypeError(f"{where}: RNN input dtype ({x.dtype}) does not match weight dtype "
                         f"({param_dtype}). Convert input: input.to({param_dtype}), or convert "
                         f"model: model.to({x.dtype}).")


def check_lengths(where: str, lengths, batch: int, steps: int, device: torch.device) -> Tensor:
    """Lengths: (B,) integers in [1, T], as a Tensor or a sequence. Returns int64 on ``device``."""
    if isinstance(lengths, Sequence) and not isinstance(lengths, (str, bytes)):
        lengths = torch.as_tensor(list(lengths))
    if not isinstance(lengths, Tensor):
        raise TypeError(f"{where}: expected lengths as a 1-D integer tensor or list, got "
                        f"{type(lengths).__name__}. Pass lengths=torch.tensor([...]).")
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"{where}: expected integer lengths, got {lengths.dtype}. "
                        f"Convert with lengths.long().")
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(f"{where}: expected lengths of shape ({batch},) (one per sequence), got "
                         f"{tuple(lengths.shape)}.")
    if torch.compiler.is_compiling():  # values unknown while tracing: asserted at run time
        torch._check(lengths.min().item() >= 1, lambda: f"{where}: lengths must be >= 1.")
        torch._check(lengths.max().item() <= steps, lambda: f"{where}: lengths must be <= T.")
        return lengths.to(device=device, dtype=torch.long)
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1 or hi > steps:
        bad = lo if lo < 1 else hi
        raise ValueError(f"{where}: expected lengths in [1, T={steps}], got {bad}. Lengths count "
                         f"each sequence's valid steps; drop empty sequences and pad to T.")
    return lengths.to(device=device, dtype=torch.long)


def check_state_tensor(where: str, name: str, t, shape: tuple[int, ...], ref: Tensor) -> None:
    """An initial-state tensor must have exactly ``shape`` and the input's dtype and device."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{where}: expected {name} to be a tensor, got {type(t).__name__}.")
    if tuple(t.shape) != tuple(shape):
        raise ShapeError(f"{where}: expected {name} of shape {tuple(shape)}, got "
                         f"{tuple(t.shape)}. The layout is (num_layers * num_directions, batch, "
                         f"hidden) as in torch.nn.")
    if t.dtype != ref.dtype or t.device != ref.device:
        raise TypeError(f"{where}: expected {name} with dtype {ref.dtype} on {ref.device} (as the "
                        f"input), got {t.dtype} on {t.device}. Use {name}.to(input).")

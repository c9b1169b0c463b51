"""Input validation at the layer boundary: one clear error per mistake, naming the fix."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["check_input", "check_lengths", "check_state_tensor"]


def check_input(where: str, x, input_size: int, param_dtype: torch.dtype | None) -> None:
    """Input must be a floating tensor of rank 2 (unbatched) or 3 with ``input_size`` features."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{where}: expected input to be a torch.Tensor, got {type(x).__name__}. "
                        f"Convert with torch.as_tensor(x, dtype=torch.float32).")
    if not x.is_floating_point():
        raise TypeError(f"{where}: expected a floating-point input tensor, got {x.dtype}. "
                        f"Convert with x.float() (for token ids, use an nn.Embedding first).")
    if x.dim() not in (2, 3):
        raise ValueError(f"{where}: expected input of rank 3 (batch, time, features) or 2 "
                         f"(unbatched), got shape {tuple(x.shape)}. Add or remove a dimension.")
    if x.shape[-1] != input_size:
        raise ValueError(f"{where}: expected input with {input_size} features (input_size), got "
                         f"{x.shape[-1]}. Check input_size or the input's last dimension.")
    if param_dtype is not None and x.dtype != param_dtype and not torch.is_autocast_enabled():
        raise TypeError(f"{where}: expected input dtype {param_dtype} (the layer's parameters), "
                        f"got {x.dtype}. Convert the input (x.to({param_dtype})) or the layer "
                        f"(layer.to({x.dtype})).")


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
        raise ValueError(f"{where}: expected {name} of shape {tuple(shape)}, got "
                         f"{tuple(t.shape)}. The layout is (num_layers * num_directions, batch, "
                         f"hidden) as in torch.nn.")
    if t.dtype != ref.dtype or t.device != ref.device:
        raise TypeError(f"{where}: expected {name} with dtype {ref.dtype} on {ref.device} (as the "
                        f"input), got {t.dtype} on {t.device}. Use {name}.to(input).")

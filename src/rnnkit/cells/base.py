"""The cell contract: what any recurrent cell must provide to run in rnnkit's layers.

A cell is an ``nn.Module`` that owns its parameters and computes ONE step::

    cell.init_state(B, device, dtype) -> state          # tuple of (B, S_k) tensors
    cell.project_input(x)             -> xp             # x: (B, T, I) -> (B, T, G)
    cell.step(xp_t, state, rec_mask)  -> (h_t, state)   # xp_t: (B, G); h_t is state[0]

``project_input`` is applied to all time steps at once (one GEMM); ``step`` must depend on
``x`` only through ``xp_t``. ``state[0]`` is the output ``h_t``, of size ``output_size``.
``rec_mask`` is an optional (B, output_size) variational dropout mask that multiplies
``h_{t-1}`` where it enters the recurrent product (Gal & Ghahramani 2016); the carried state
is never masked. A user cell that follows this contract runs in ``Recurrent``,
``Bidirectional`` and ``Stacked`` unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["RecurrentCell", "State"]

State = tuple[Tensor, ...]


class RecurrentCell(nn.Module):
    """Base class for cells. Subclasses set the size attributes and implement the contract.

    Attributes:
        input_size: I. hidden_size: H. output_size: size of ``h_t`` (P for a projected LSTM,
        else H). state_sizes: size of each state tensor, ``state_sizes[0] == output_size``.
        gate_size: G, the width of ``project_input``'s output.
    """

    input_size: int
    hidden_size: int
    output_size: int
    state_sizes: tuple[int, ...]
    gate_size: int

    def init_state(
        self, batch_size: int, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> State:
        """Zero state: a tuple of (B, S_k) tensors."""
        ref = next(self.parameters(), None)
        device = device if device is not None else (ref.device if ref is not None else None)
        dtype = dtype if dtype is not None else (ref.dtype if ref is not None else None)
        return tuple(torch.zeros(batch_size, s, device=device, dtype=dtype)
                     for s in self.state_sizes)

    def project_input(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, xp_t: Tensor, state: State, rec_mask: Tensor | None = None):  # pragma: no cover
        raise NotImplementedError

    def forward(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One step from the raw input: ``x_t`` (B, I) -> (h_t, state)."""
        if state is None:
            state = self.init_state(x_t.shape[0], x_t.device, x_t.dtype)
        return self.step(self.project_input(x_t), state)

    def kernel_signature(self) -> str | None:
        """Name of the fused-kernel family this cell belongs to, or None for a user cell."""
        return None


def uniform_init_(module: nn.Module, hidden_size: int) -> None:
    """torch.nn's default RNN init: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    k = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters(recurse=False):
        nn.init.uniform_(p, -k, k)


def check_positive(where: str, name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{where}: expected {name} to be a positive int, got {value!r}. "
                         f"Pass {name}=<int > 0>.")

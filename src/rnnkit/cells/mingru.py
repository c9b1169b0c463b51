"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?"): a GRU whose gate sees only x_t, so
the recurrence is linear in h and runs as a parallel scan over T."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import RecurrentCell, State, check_positive, uniform_init_

__all__ = ["MinGRUCell", "MinRNNCell", "g", "log_g"]


def g(x: Tensor) -> Tensor:
    """The paper's positive activation: ``g(x) = x + 0.5`` for x ≥ 0, else ``σ(x)``."""
    return torch.where(x >= 0, x.clamp(min=0) + 0.5, torch.sigmoid(x))


def log_g(x: Tensor) -> Tensor:
    """``log g(x)``, computed stably: ``log(x + 0.5)`` for x ≥ 0, else ``−softplus(−x)``."""
    return torch.where(x >= 0, torch.log(x.clamp(min=0) + 0.5), -F.softplus(-x))


class MinRNNCell(RecurrentCell):
    """Base of the minimal cells: ``h_t = a_t ⊙ h_{t-1} + b_t`` with (a_t, b_t) from x_t only.

    Subclasses define ``coefficients(xp) -> (a, b)`` and ``log_coefficients(xp) -> (log a,
    log b)`` for any leading shape. ``step`` applies one step of the same formula (O(1) per
    token); the ``scan`` kernel applies all T at once. ``rec_mask`` is accepted and ignored:
    there is no recurrent product to drop from.
    """

    scan_space: str = "linear"

    def coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover
        raise NotImplementedError

    def log_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover
        raise NotImplementedError

    def project_input(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)

    def step(self, xp_t: Tensor, state: State, rec_mask: Tensor | None = None):
        a, b = self.coefficients(xp_t)
        h = torch.addcmul(b, a, state[0])
        return h, (h,)

    def reset_parameters(self) -> None:
        uniform_init_(self, self.hidden_size)

    def _init_params(self, where: str, input_size: int, hidden_size: int, gates: int,
                     bias: bool, scan_space: str, device, dtype) -> None:
        check_positive(where, "input_size", input_size)
        check_positive(where, "hidden_size", hidden_size)
        if scan_space not in ("linear", "log"):
            raise ValueError(f"{where}: expected scan_space 'linear' or 'log', got "
                             f"{scan_space!r}.")
        f = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.scan_space = input_size, hidden_size, scan_space
        self.output_size, self.state_sizes = hidden_size, (hidden_size,)
        self.gate_size = gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gates * hidden_size, input_size, **f))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates * hidden_size, **f))
        else:
            self.register_parameter("bias_ih", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias_ih is None:
            s += ", bias=False"
        return s + ("" if self.scan_space == "linear" else f", scan_space={self.scan_space!r}")


class MinGRUCell(MinRNNCell):
    """minGRU cell (Feng et al. 2024, log-space variant with the positive ``g``)::

        [k, u] = W_ih x_t + b_ih              (one GEMM for all t; gate order z, h̃)
        z_t = σ(k),   h̃_t = g(u)              g(u) = u + 0.5 if u ≥ 0 else σ(u)
        h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t

    so ``a_t = σ(−k)``, ``b_t = σ(k) ⊙ g(u)`` (and ``log a_t = −softplus(k)``,
    ``log b_t = −softplus(−k) + log g(u)`` for the log-space scan). ``g`` keeps h̃ > 0, which
    the log-space form needs; the same math runs in every path.

    Args:
        input_size: I. hidden_size: H. bias: add b_ih. scan_space: 'linear' (default: exact
            in fp32 and faster on CPU) or 'log' (Heinsen's log-space scan).

    Parameters: ``weight_ih`` (2H, I), ``bias_ih`` (2H,), U(−1/√H, 1/√H) as torch.nn.

    Example:
        >>> cell = MinGRUCell(8, 16)
        >>> h, (h,) = cell(torch.randn(4, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 scan_space: str = "linear", device=None, dtype=None) -> None:
        super().__init__()
        self._init_params("MinGRUCell", input_size, hidden_size, 2, bias, scan_space,
                          device, dtype)

    def coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        k, u = xp.chunk(2, dim=-1)
        return torch.sigmoid(-k), torch.sigmoid(k) * g(u)

    def log_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        k, u = xp.chunk(2, dim=-1)
        return -F.softplus(k), -F.softplus(-k) + log_g(u)

    def kernel_signature(self) -> str | None:
        return "mingru"

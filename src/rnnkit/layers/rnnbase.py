"""``RNNBase``: the torch.nn-compatible multi-layer, optionally bidirectional recurrent layer.

It assembles cells into ``Recurrent`` layers (one per layer and direction) and exposes their
parameters under torch.nn's names and shapes (``weight_ih_l{k}{_reverse}`` …), so state dicts
swap with ``torch.nn.RNN / LSTM / GRU`` both ways. Kernel choice happens in ``layers.dispatch``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells.base import RecurrentCell
from rnnkit.kernels.engine.stream import stream_step
from rnnkit.layers import dispatch
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.regularization import check_probability
from rnnkit.layers.validation import (
    check_input,
    check_layer_args,
    check_lengths,
    check_state_tensor,
)

__all__ = ["RNNBase", "StackRun"]


@dataclass
class StackRun:
    """A whole-layer run, for stack kernels (e.g. torch's fused op).

    Attributes: module (the RNNBase), x (B, T, I) batch-first, hx (torch layout states, tuple),
    lengths (B,) or None.
    """

    module: RNNBase
    x: Tensor
    hx: tuple[Tensor, ...]
    lengths: Tensor | None


class RNNBase(nn.Module):
    """Shared machinery of ``rnnkit.RNN``, ``LSTM`` and ``GRU`` (see those for the math).

    Args:
        input_size: I. hidden_size: H. num_layers: L. bias: use biases.
        batch_first: (B, T, ·) instead of (T, B, ·). dropout: between layers (training).
        bidirectional: D = 2. proj_size: LSTM projection P (0 = none).
        recurrent_dropout: variational dropout on h_{t-1} (training). zoneout: zoneout rate.
        impl: 'auto' or a kernel name (see ``explain``). strict: refuse the slow path.

    Shapes (D = 2 if bidirectional else 1, P = proj_size or H):
        input (T, B, I), (B, T, I) with batch_first, (T, I) unbatched, or a PackedSequence.
        lengths (B,) valid lengths of a right-padded batch (any order).
        h_0 / h_n (L·D, B, P); c_0 / c_n (L·D, B, H) for LSTM. output (T, B, D·P).
    """

    mode: str = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, recurrent_dropout: float = 0.0, zoneout: float = 0.0,
                 impl: str = "auto", strict: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        where = type(self).__name__
        self.dropout = check_layer_args(where, input_size, hidden_size, num_layers, bias,
                                        batch_first, dropout, proj_size)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.proj_size = proj_size
        self.recurrent_dropout = check_probability(where, "recurrent_dropout", recurrent_dropout)
        self.zoneout = check_probability(where, "zoneout", zoneout)
        self.impl, self.strict = dispatch.check_impl(where, impl), strict
        self.last_kernel: str | None = None
        D = 2 if bidirectional else 1
        out = proj_size or hidden_size
        layers, pmap = [], []
        for k in range(num_layers):
            dirs = []
            for d in range(D):
                cell = self._make_cell(input_size if k == 0 else out * D, device, dtype)
                sfx = f"_l{k}" + ("_reverse" if d == 1 else "")
                for attr, p in cell.named_parameters(recurse=False):
                    self.register_parameter(attr + sfx, p)
                    pmap.append((cell, attr, attr + sfx))
                dirs.append(Recurrent(cell, batch_first=True, reverse=d == 1,
                                      recurrent_dropout=recurrent_dropout, zoneout=zoneout,
                                      impl="auto", strict=strict))
            layers.append(dirs)
        # Held outside nn.Module registration so that parameters appear once, under torch names.
        object.__setattr__(self, "_layers", layers)
        object.__setattr__(self, "_param_map", pmap)

    # -- construction hooks ---------------------------------------------------------------
    def _make_cell(self, input_size: int, device, dtype) -> RecurrentCell:  # pragma: no cover
        raise NotImplementedError

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def cells(self) -> list[list[RecurrentCell]]:
        """cells[k][d]: the cell of layer k, direction d (0 forward, 1 reverse)."""
        self._sync()
        return [[r.cell for r in dirs] for dirs in self._layers]

    def _state_shapes(self, batch: int) -> list[tuple[int, ...]]:
        """torch-layout shapes of (h_0[, c_0])."""
        LD = self.num_layers * self.num_directions
        cell = self._layers[0][0].cell
        return [(LD, batch, s) for s in cell.state_sizes]

    def _sync(self) -> None:
        """Point cells at the module's current weights and training flag (after .to(),
        load_state_dict(assign=True), functional_call …).

        A weight is read as ``getattr(self, name)`` whenever it is not a plain registered
        parameter: a parametrization (``parametrizations.weight_norm`` / ``orthogonal``)
        computes it on access, pruning and the old ``nn.utils.weight_norm`` set it in a
        forward pre-hook (which has run by now). The cell then holds that computed tensor, so
        every kernel runs the transformed weight and autograd carries its gradient back to
        the original parameters (``…_orig``, ``parametrizations.….original``, ``…_g / _v``)."""
        params = self._parameters
        for cell, attr, name in self._param_map:
            p = params.get(name)
            cell._parameters[attr] = p if p is not None else getattr(self, name)
        mode = self.training
        for dirs in self._layers:
            for r in dirs:
                if r.training is not mode or r.cell.training is not mode:  # (setattr is slow)
                    r.training = r.cell.training = mode

    def flatten_parameters(self) -> None:
        """No-op, for torch.nn compatibility."""

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """Per layer and direction, its weights as they run (torch.nn's order: w_ih, w_hh,
        b_ih, b_hh, w_hr, then rnnkit's extras), as torch.nn's ``all_weights``."""
        groups: dict[int, list[Tensor]] = {}
        for cell, _, name in self._param_map:
            groups.setdefault(id(cell), []).append(getattr(self, name))
        return list(groups.values())

    def _autocast_dtype(self, x: Tensor) -> torch.dtype | None:
        """The dtype torch.nn's layer of this mode returns under CPU autocast, when rnnkit's
        kernels would return another: torch's Elman RNN ops run in the autocast dtype (their
        GEMMs are autocast ops), its GRU in float32 as rnnkit's kernels do; the LSTM follows
        whichever op ran (oneDNN's bf16 layer where the CPU has one), so it is left alone."""
        if (x.device.type != "cpu" or not self.mode.startswith("RNN_")
                or not torch.is_autocast_enabled("cpu") or x.dtype != torch.float32):
            return None
        return torch.get_autocast_dtype("cpu")

    # -- forward ----------------------------------------------------------------------------
    def forward(self, input, hx=None, lengths: Tensor | None = None):
        self._sync()
        x, lengths, batched, packed = self._prepare_input(input, lengths)
        hx = self._prepare_state(hx, x, batched)
        run = StackRun(self, x, hx, lengths)
        choice = dispatch.choose(type(self).__name__, "stack", run, self.impl, self.strict)
        if choice is not None:
            y, h_n = choice.kernel.run(run)
            self.last_kernel = choice.name
        else:
            y, h_n = self._forward_layers(x, hx, lengths)
        cast = self._autocast_dtype(x)
        if cast is not None:
            y, h_n = y.to(cast), tuple(h.to(cast) for h in h_n)
        return self._format_output(y, h_n, lengths, batched, packed)

    def _prepare_input(self, input, lengths):
        where = type(self).__name__
        packed = input if isinstance(input, PackedSequence) else None
        if packed is not None:
            if lengths is not None:
                raise ValueError(f"{where}: expected either a PackedSequence or lengths, got "
                                 f"both. The PackedSequence already carries the lengths.")
            x, lengths = pad_packed_sequence(packed, batch_first=True)
            check_input(where, x, self.input_size, self._param_dtype())
            return x, lengths.to(x.device), True, packed
        check_input(where, input, self.input_size, self._param_dtype())
        batched = input.dim() == 3
        x = input if not batched else (input if self.batch_first else input.transpose(0, 1))
        if not batched:
            x = x.unsqueeze(0)
            if lengths is not None:
                raise ValueError(f"{where}: expected no lengths for an unbatched (T, I) input, "
                                 f"got lengths. Add a batch dimension to use lengths.")
        if lengths is not None:
            lengths = check_lengths(where, lengths, x.shape[0], x.shape[1], x.device)
        return x, lengths, batched, None

    def _param_dtype(self) -> torch.dtype | None:
        """The dtype of the weights as they run (after ``_sync``: parametrized ones included)."""
        return self._layers[0][0].cell.weight_ih.dtype

    def _prepare_state(self, hx, x: Tensor, batched: bool) -> tuple[Tensor, ...]:
        where, B = type(self).__name__, x.shape[0]
        shapes = self._state_shapes(B)
        names = ["h_0", "c_0"][: len(shapes)]
        if hx is None:
            return tuple(torch.zeros(s, device=x.device, dtype=x.dtype) for s in shapes)
        hx = (hx,) if isinstance(hx, Tensor) else tuple(hx)
        if len(hx) != len(shapes):
            raise ValueError(f"{where}: expected hx as {' and '.join(names)} ({len(shapes)} "
                             f"tensor(s)), got {len(hx)}. Pass (h_0, c_0) for LSTM, h_0 otherwise.")
        out = []
        for name, t, s in zip(names, hx, shapes, strict=True):
            expect = s if batched else (s[0], s[2])
            check_state_tensor(where, name, t, expect, x)
            out.append(t if batched else t.unsqueeze(1))
        return tuple(out)

    def _forward_layers(self, x: Tensor, hx: tuple[Tensor, ...], lengths: Tensor | None):
        """Per layer and direction through the direction kernels."""
        where, D = type(self).__name__, self.num_directions
        finals, out = [], x
        for k, dirs in enumerate(self._layers):
            if k > 0 and self.dropout > 0 and self.training:
                out = nn.functional.dropout(out, self.dropout, True)
            ys = []
            for d, rec in enumerate(dirs):
                state = tuple(h[k * D + d] for h in hx)
                y, state, choice = dispatch.run_direction(where, rec.make_run(out, state, lengths),
                                                          self.impl, self.strict)
                self.last_kernel = choice.name
                ys.append(y)
                finals.append(state)
            out = ys[0] if D == 1 else torch.cat(ys, dim=-1)
        h_n = tuple(torch.stack([s[i] for s in finals]) for i in range(len(hx)))
        return out, h_n

    def _format_output(self, y, h_n, lengths, batched, packed):
        if packed is not None:
            idx = packed.sorted_indices
            ys = y if idx is None else y.index_select(0, idx)
            ls = lengths if idx is None else lengths.index_select(0, idx.to(lengths.device))
            p = pack_padded_sequence(ys, ls.cpu(), batch_first=True, enforce_sorted=True)
            out = PackedSequence(p.data, p.batch_sizes, packed.sorted_indices,
                                 packed.unsorted_indices)
        elif not batched:
            out, h_n = y.squeeze(0), tuple(h.squeeze(1) for h in h_n)
        else:
            out = y if self.batch_first else y.transpose(0, 1)
        return out, (h_n if len(h_n) > 1 else h_n[0])

    # -- streaming and introspection ------------------------------------------------------------
    def step(self, x_t: Tensor, hx=None):
        """Advance one time step (online inference, unidirectional only).

        Args: x_t (B, I); hx as in ``forward`` (None = zeros).
        Returns: (y_t (B, P), new state in torch layout). Feeding the returned state back
        continues the sequence exactly as one long call would.
        """
        if self.bidirectional:
            raise ValueError(f"{type(self).__name__}: expected a unidirectional layer for step(), "
                             f"got bidirectional=True. A backward pass needs the whole sequence.")
        if not isinstance(x_t, Tensor) or x_t.dim() != 2:
            raise ValueError(f"{type(self).__name__}.step: expected x_t of shape (B, I), got "
                             f"{getattr(x_t, 'shape', type(x_t).__name__)}.")
        x = x_t.unsqueeze(1)  # (B, 1, I) batch-first, as forward sees it
        self._sync()
        check_input(type(self).__name__, x, self.input_size, self._param_dtype())
        states = self._prepare_state(hx, x, True)
        plan = self._stream_plan(x, states)
        if plan is None:  # a kernel that may fall back at run time: the general path
            y, state = self.forward(x_t.unsqueeze(1 if self.batch_first else 0), hx)
            return y.squeeze(1 if self.batch_first else 0), state
        if plan[0] == "layers" and all(c.name == "engine" for c in plan[1]):
            # small LSTMs: one cached native context, one addmm + one C call per layer
            fast = stream_step(self, [d[0].cell for d in self._layers], x_t, states,
                               training=self.training, rec_drop=self.recurrent_dropout,
                               zoneout=self.zoneout, dropout=self.dropout)
            if fast is not None:
                self.last_kernel = "engine"
                return fast
        if plan[0] == "stack":
            y, h_n = plan[1].kernel.run(StackRun(self, x, states, None))
            self.last_kernel = plan[1].name
        else:
            finals, y = [], x
            for k, (dirs, choice) in enumerate(zip(self._layers, plan[1], strict=True)):
                if k > 0 and self.dropout > 0 and self.training:
                    y = nn.functional.dropout(y, self.dropout, True)
                y, st = choice.kernel.run(dirs[0].make_run(y, tuple(h[k] for h in states),
                                                           None))
                finals.append(st)
                self.last_kernel = choice.name
            h_n = tuple(finals[0][i].unsqueeze(0) if len(finals) == 1 else
                        torch.stack([f[i] for f in finals]) for i in range(len(states)))
        cast = self._autocast_dtype(x)
        if cast is not None:
            y, h_n = y.to(cast), tuple(h.to(cast) for h in h_n)
        return y.squeeze(1), (h_n if len(h_n) > 1 else h_n[0])

    def _direction_impl(self) -> str:
        """``impl`` as the per-direction choice sees it: a stack-level name that declined
        falls back to "auto"."""
        names = {k.name for k in dispatch.DIRECTION_KERNELS} | {"sequential"}
        return self.impl if self.impl in names else "auto"

    def _stream_plan(self, x: Tensor, states: tuple[Tensor, ...]):
        """The kernels ``forward`` would choose for a one-step input like ``x`` (B, 1, I),
        cached per device, dtype, batch size, mode and settings so that streaming ``step()``
        calls skip the eligibility checks: ``("stack", choice)``, ``("layers", [choice per
        layer])``, or None when a chosen kernel can fall back at run time (Newton)."""
        key = (x.device, x.dtype, x.shape[0], self.training, torch.is_grad_enabled(),
               self.impl, self.strict, self.recurrent_dropout, self.zoneout, self.dropout)
        cache = self.__dict__.setdefault("_stream_plans", {})
        if key in cache:
            return cache[key]
        where = type(self).__name__
        stack = dispatch.choose(where, "stack", StackRun(self, x, states, None), self.impl,
                                self.strict)
        if stack is not None:
            plan = ("stack", stack)
        else:
            impl = self._direction_impl()
            choices, y = [], x
            for k, dirs in enumerate(self._layers):
                run = dirs[0].make_run(y, tuple(h[k] for h in states), None)
                choices.append(dispatch.choose(where, "direction", run, impl, self.strict))
                out = dirs[0].cell.output_size
                y = x.new_zeros(x.shape[0], 1, out)  # the next layer's input shape
            plan = ("layers", choices)
            if any(c.name == "parallel" for c in choices):
                plan = None
        cache[key] = plan
        return plan

    def explain(self, input: Tensor, lengths: Tensor | None = None) -> dispatch.Choice:
        """Which kernel ``forward(input, lengths=lengths)`` would run, and why."""
        self._sync()
        with torch.no_grad():
            x, lengths, batched, _ = self._prepare_input(input, lengths)
            hx = self._prepare_state(None, x, batched)
            where = type(self).__name__
            srun = StackRun(self, x, hx, lengths)
            # the same decisions as forward: a stack kernel first, else per direction
            stack_names = {k.name for k in dispatch.STACK_KERNELS} | {"auto", "sequential"}
            if self.impl in stack_names:
                stack = dispatch.choose(where, "stack", srun, self.impl)
                if stack is not None:
                    return stack
            run = self._layers[0][0].make_run(x, tuple(h[0] for h in hx), lengths)
            impl = self._direction_impl()
            choice = dispatch.choose(where, "direction", run, impl, False)
            reasons = {k.name: k.why_not(srun) for k in dispatch.STACK_KERNELS}
            choice.reasons = {**reasons, **choice.reasons}
            return choice

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False), ("proj_size", 0),
                              ("recurrent_dropout", 0.0), ("zoneout", 0.0), ("impl", "auto")):
            v = getattr(self, name)
            if v != default:
                s += f", {name}={v!r}"
        return s

"""The engine's Kernel record: eligibility, and the batch plumbing around the fused loops.

Ragged batches are sorted by length so that the running sequences at step t are the prefix
``[:n_t]``; reverse runs flip each sequence's valid part first (as the reference loop does).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.elman import ElmanCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.functional.cells import layer_norm
from rnnkit.functional.masking import reverse_padded
from rnnkit.kernels import ops, triton_steps
from rnnkit.kernels.base import DirectionRun, Kernel
from rnnkit.kernels.engine import elman, gru, lstm, lstm_native, native
from rnnkit.kernels.engine._common import autocast_lowp, centred_rows, needs_grad
from rnnkit.kernels.torch_fused import StepGemm, linear, tracing, transform_active

__all__ = ["ENGINE", "engine_fast", "engine_step", "engine_why_not", "run_engine"]

_FAMILIES = {LSTMCell: lstm.run_lstm, GRUCell: gru.run_gru, ElmanCell: elman.run_elman}
_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def _overrides(cell, base) -> bool:
    """True when a subclass replaced the math (then only the reference knows what it does)."""
    return any(getattr(type(cell), name) is not getattr(base, name)
               for name in ("step", "project_input"))


def engine_why_not(run: DirectionRun) -> str | None:
    """None when the engine can run ``run``, else the reason."""
    base = next((b for b in _FAMILIES if isinstance(run.cell, b)), None)
    if base is None:
        return (f"{type(run.cell).__name__} is a user cell; the engine runs rnnkit's LSTMCell, "
                f"GRUCell and ElmanCell (user cells run on the reference loop).")
    if _overrides(run.cell, base):
        return (f"{type(run.cell).__name__} overrides step/project_input of {base.__name__}; "
                f"its math may differ from the engine's.")
    if run.x.dtype not in _DTYPES:
        return f"dtype {run.x.dtype} is not a floating type the engine supports."
    if run.x.shape[0] == 0 or run.x.shape[1] == 0:
        return "empty input."
    return transform_active(run.x, *run.state, *run.cell.parameters())


def engine_step(run: DirectionRun) -> str:
    """Where the engine runs this call's pointwise step, in one line (``explain``)."""
    x, cell = run.x, run.cell
    lowp = autocast_lowp(x) if isinstance(cell, (LSTMCell, GRUCell)) else None
    mixed = f"; GEMMs in {str(lowp).replace('torch.', '')}, state and pointwise math fp32" \
        if lowp is not None else ""
    if x.device.type == "cpu":
        if x.dtype not in (torch.float32, torch.float64):
            return f"pure-PyTorch pointwise step ({x.dtype} has no native step){mixed}"
        return native.status() + mixed
    if isinstance(cell, ElmanCell):
        return (f"one GEMM and one in-place activation per step on {x.device.type} (the Elman "
                f"step has nothing more to fuse){mixed}")
    why = triton_steps.why_not(x, cell.hidden_size)
    if why is None:
        return ("Triton pointwise step: one fused kernel per step forward and one backward, "
                f"beside the step's GEMM{mixed}")
    return f"pure-PyTorch pointwise step ({why}){mixed}"


def _native_lstm_inference(run: DirectionRun) -> bool:
    """An LSTM on the native step with no gradient wanted: the loop projects the input chunk
    by chunk, and a layer-norm cell's input LN runs inside the C step."""
    cell = run.cell
    if not (isinstance(cell, LSTMCell) and lstm_native.usable(run.x)):
        return False
    if not torch.is_grad_enabled():
        return True
    return not any(t is not None and t.requires_grad
                   for t in (run.x, *run.state, *cell.parameters()))


def _input_weight(cell, fuse_ln: bool) -> Tensor:
    """W_ih for the engine's projection: row-centred (``centred_rows``) for an LSTM whose loop
    runs the input LN (the C step then skips the mean pass; ``run_lstm`` centres W_hh too)."""
    if fuse_ln and cell.layer_norm and isinstance(cell, LSTMCell):
        return centred_rows(cell.weight_ih)
    return cell.weight_ih


class _ChunkProjection:
    """``project(t0, t1)`` for the native LSTM inference loop: the raw input projection of
    time-major steps [t0, t1) of ``xt`` (T, B, I), as a contiguous (t1 - t0, B, 4H) tensor.
    The weight (centred for an LN cell) is made once and packed for oneDNN once the chunk
    size is known (the loop asks for equal chunks) and there are several: 3-4 % faster than a
    plain linear."""

    def __init__(self, cell, xt: Tensor, fuse_ln: bool):
        self.xt, self.w, self.gemm = xt, _input_weight(cell, fuse_ln), None

    def __call__(self, t0: int, t1: int) -> Tensor:
        T, B, _ = self.xt.shape
        if self.gemm is None:  # packing pays off over several chunks only (B=1 streaming: no)
            chunks = -(-T // (t1 - t0))
            self.gemm = StepGemm(self.w, (t1 - t0) * B, chunks) if chunks >= 4 else False
        if self.gemm is False:
            return linear(self.xt[t0:t1], self.w)
        xc = self.xt[t0:t1].reshape((t1 - t0) * B, -1)
        return self.gemm(xc).view(t1 - t0, B, -1)


def _project(cell, x: Tensor, fuse_ln: bool = False, lowp: torch.dtype | None = None) -> Tensor:
    """``cell.project_input(x)`` with the GEMM through oneDNN (same math, see the cells).

    For LSTM cells ``bias_ih`` is left out: ``run_lstm`` folds it into the per-step bias, which
    saves a pass (and a fresh allocation) over the whole (B, T, 4H) projection; with
    ``fuse_ln`` the layer norm is left to the loop too. ``lowp`` (LSTM under CPU bf16
    autocast): the GEMM and its backward in bf16, the projection handed on in fp32."""
    plain = isinstance(cell, ElmanCell) or (not isinstance(cell, LSTMCell) and not cell.layer_norm)
    w_ih = _input_weight(cell, fuse_ln)
    if lowp is not None and not isinstance(cell, ElmanCell):
        xp = linear(x.to(lowp), w_ih.to(lowp))
        if plain and cell.bias_ih is not None:
            return xp + cell.bias_ih  # bf16 + fp32 promotes: fp32 out, fp32 bias, one pass
        xp = xp.float()
        if plain:
            return xp
    elif plain:
        return linear(x, cell.weight_ih, cell.bias_ih)  # the bias inside the GEMM: no copy
    else:
        xp = linear(x, w_ih)
    if cell.layer_norm and fuse_ln:
        return xp  # the loop normalises it and adds the LN bias and bias_ih (both families)
    if cell.layer_norm:
        xp = layer_norm(xp, cell.ln_ih_weight, cell.ln_ih_bias)
    if isinstance(cell, LSTMCell):
        return xp
    return xp if cell.bias_ih is None else xp + cell.bias_ih


def _batch_sizes(lengths: Tensor | None, B: int, T: int) -> list[int]:
    if lengths is None:
        return [B] * T
    counts = torch.bincount(lengths.clamp(max=T).cpu(), minlength=T + 1)
    # n_t = #{b : lengths[b] > t}
    return (counts.flip(0).cumsum(0).flip(0)[1:]).tolist()


def run_engine(run: DirectionRun):
    """Run ``run`` on the engine; returns (y (B, T, P), state).

    While torch.compile / torch.export trace, as the custom operator
    ``rnnkit::direction`` (``kernels.ops``); when a gradient is wanted, inside one
    autograd node whose double backward is exact (``ops.exact_engine``); else directly."""
    if tracing():
        return ops.direction_op(run, "engine")
    if needs_grad(run.x, *run.state, *run.cell.parameters()):
        return ops.exact_engine(run, engine_fast)
    return engine_fast(run)


def engine_fast(run: DirectionRun):
    """Project, sort, run the fused family loop, unsort; returns (y (B, T, P), state).

    Autocast is switched off inside: the loops write into preallocated fp32 buffers and hand
    raw pointers to C, so an autocast matmul changing a dtype under them would be wrong. Under
    CPU bf16 autocast the LSTM family runs its recurrent and weight-gradient GEMMs in bf16
    itself (``lowp``), with fp32 state and pointwise math."""
    lowp = autocast_lowp(run.x)
    with torch.autocast(run.x.device.type, enabled=False):
        return _run_engine(run, lowp)


def _run_engine(run: DirectionRun, lowp: torch.dtype | None):
    cell, lengths = run.cell, run.lengths
    B, T = run.x.shape[0], run.x.shape[1]
    if lengths is not None and bool((lengths >= T).all()):
        lengths = None
    lens0 = lengths
    # reversal and the length sort act on the input, before the projection: per token, so the
    # same result, and I <= 4H columns to move instead of the projection's
    x = run.x
    if run.reverse:
        x = reverse_padded(x, lengths)
    state, rec_mask, zoneout = tuple(run.state), run.rec_mask, run.zoneout
    perm = inv = None
    if lengths is not None:
        perm = torch.argsort(lengths, descending=True, stable=True)
        inv = torch.argsort(perm)
        x = x.index_select(0, perm)
        state = tuple(s.index_select(0, perm) for s in state)
        rec_mask = None if rec_mask is None else rec_mask.index_select(0, perm)
        if zoneout is not None:
            zoneout = tuple(z.index_select(1, perm) if isinstance(z, Tensor) else z
                            for z in zoneout)
        lengths = lengths.index_select(0, perm)
    sizes = _batch_sizes(lengths, B, T)
    family = _FAMILIES[next(b for b in _FAMILIES if isinstance(cell, b))]
    extra = {"lowp": lowp} if isinstance(cell, (LSTMCell, GRUCell)) else {}
    if isinstance(cell, ElmanCell) and perm is not None:
        # the Elman loop unsorts its output itself (its backward then owns the sorted output
        # gradient and writes DA over it: one (T, B, H) buffer fewer)
        extra["order"] = (perm, inv)
    if _native_lstm_inference(run):
        xt, ln_x = x.transpose(0, 1), bool(cell.layer_norm)
        if not ln_x and lowp is None and not lstm_native._seq(cell.weight_hr is not None, B,
                                                                cell.hidden_size):
            # per-step GEMMs: the input joins each step's GEMM ([x_t | h] [W_ih | W_hh]ᵀ)
            y, state = family(cell, None, state, sizes, lengths, rec_mask, zoneout,
                              xin=(xt, cell.weight_ih), **extra)
        else:  # projected chunk by chunk inside the loop
            y, state = family(cell, None, state, sizes, lengths, rec_mask, zoneout, ln_x=ln_x,
                              project=_ChunkProjection(cell, xt, ln_x), **extra)
        return _restore(y, state, inv, run.reverse, lens0)
    # projected time-major, handed on as a (B, T, G) view: step t's rows are one contiguous
    # block for the loop, and the gate gradient (T, B, G) flows back into the GEMM uncopied.
    # A layer-norm cell's input LN runs inside the loop: no normalised copy of the projection
    # (the training memory peak is in forward, where that copy met every saved buffer)
    ln_x = not isinstance(cell, ElmanCell) and bool(cell.layer_norm)
    xp = _project(cell, x.transpose(0, 1), fuse_ln=ln_x, lowp=lowp).transpose(0, 1)
    if ln_x:
        extra["ln_x"] = True
    y, state = family(cell, xp, state, sizes, lengths, rec_mask, zoneout, **extra)
    return _restore(y, state, inv, run.reverse, lens0, y_sorted="order" not in extra)


def _restore(y: Tensor, state: tuple, inv: Tensor | None, reverse: bool,
             lengths: Tensor | None, y_sorted: bool = True):
    """Undo the length sort (of y too unless ``y_sorted`` is False) and the reversal."""
    if inv is not None:
        y = y.index_select(0, inv) if y_sorted else y
        state = tuple(s.index_select(0, inv) for s in state)
    if reverse:
        y = reverse_padded(y, lengths)
    return y, state


ENGINE = Kernel(
    name="engine",
    summary=("rnnkit's fused engine: one GEMM per step, hand-written BPTT (every variant); "
             "the pointwise step in C on CPU, in Triton on CUDA"),
    fast=True,
    why_not=engine_why_not,
    run=run_engine,
    priority=50,
    detail=engine_step,
)

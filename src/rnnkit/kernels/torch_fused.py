"""The ``torch`` stack kernel: a whole torch.nn-compatible layer through torch's fused op.

Standard configurations (what ``torch.nn.RNN / LSTM / GRU`` can compute: no peephole, no layer
norm, reset-after GRU, no recurrent dropout or zoneout) run through ``torch._VF.lstm / gru /
rnn_tanh / rnn_relu`` — oneDNN on CPU, cuDNN on GPU — with the module's parameters, which are
already in torch's names and order. Ragged ``lengths`` go through ``pack_padded_sequence``,
which gives exactly rnnkit's masking semantics (padded outputs zero, final state at each
sequence's last valid step).

This is the ONE module that touches private torch APIs (``torch._VF``, oneDNN's linear and
weight reorder, the autograd engine's keep-graph flag), behind version checks;
``tests/kernels/test_torch_fused.py`` pins its parity with ``torch.nn``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.kernels.base import Kernel

__all__ = [
    "TORCH",
    "FastLinear",
    "StepGemm",
    "autograd_inside_op",
    "cpu_bf16_native",
    "graph_kept",
    "linear",
    "mm_nt",
    "mm_tn",
    "torch_fused_available",
    "tracing",
    "transform_active",
]

_OPS = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}
_PER_CELL = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


def torch_fused_available() -> str | None:
    """None when ``torch._VF``'s recurrent ops have the signature this module was written for."""
    major, minor = (int(v) for v in torch.__version__.split(".")[:2])
    if (major, minor) < (2, 0):
        return f"torch {torch.__version__} is older than 2.0 (the tested _VF signatures)."
    vf = getattr(torch, "_VF", None)
    if vf is None or not all(hasattr(vf, op) for op in _OPS.values()):
        return "this torch build has no torch._VF recurrent ops."
    return None


def autograd_inside_op():
    """A context in which autograd records again, inside a custom operator's implementation
    (the dispatcher excludes the autograd keys there): ``rnnkit::direction_backward``
    differentiates the engine's recomputed forward with it. Enables grad mode too."""
    C = torch._C
    exclude = C._dispatch_tls_local_exclude_set().remove(C.DispatchKey.AutogradFunctionality)
    guard = C._ForceDispatchKeyGuard(C._dispatch_tls_local_include_set(), exclude)
    return _Both(guard, torch.enable_grad())


class _Both:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def __enter__(self):
        self.a.__enter__()
        self.b.__enter__()

    def __exit__(self, *exc):
        self.b.__exit__(*exc)
        self.a.__exit__(*exc)


def tracing() -> bool:
    """True while torch.compile (dynamo) or torch.export traces: native kernels must then run
    as custom operators (``kernels.ops``), never on fake tensors."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting()


def transform_active(*tensors) -> str | None:
    """Why native kernels cannot run under the current transform, or None.

    ``torch.onnx.export(..., dynamo=True)``: ONNX has no ``rnnkit::direction``, so the
    exported graph is the reference loop's decomposition (pure torch ops, unrolled over T).

    A ``torch.func`` transform (grad, vjp, jacrev, vmap, jvp, ...) wraps tensors the C loops
    cannot read, and a forward-mode dual tensor (``torch.autograd.forward_ad``) has a tangent
    the engine would drop; the pure-torch reference loop composes with both."""
    if torch.onnx.is_in_onnx_export():
        return ("torch.onnx.export is running: the reference loop's decomposition (pure torch "
                "ops, unrolled over the traced T) is exported.")
    if tracing():
        return None
    if torch._C._are_functorch_transforms_active():
        return ("a torch.func transform (grad / vjp / jacrev / vmap / jvp) is active; the "
                "reference loop (pure torch ops) runs under it.")
    fa = torch.autograd.forward_ad
    if getattr(fa, "_current_level", 0) < 0:  # no dual_level context: no dual tensor exists
        return None
    if any(isinstance(t, Tensor) and fa.unpack_dual(t).tangent is not None for t in tensors):
        return "an input is a forward-mode AD dual tensor; the reference loop runs for it."
    return None


def _why_not(run) -> str | None:
    m = run.module
    why = transform_active(run.x, *run.hx, *m.parameters())
    if why:
        return why
    if tracing():
        return ("torch.compile / torch.export is tracing: each direction runs as the engine's "
                "custom operator instead (rnnkit::direction).")
    if m.mode not in _OPS:
        return f"mode {m.mode!r} has no fused torch op."
    why = torch_fused_available()
    if why:
        return why
    name = {"LSTM": "LSTM", "GRU": "GRU"}.get(m.mode, "RNN")
    for flag, text in (("peephole", "peephole=True"), ("layer_norm", "layer_norm=True")):
        if getattr(m, flag, False):
            return f"{text} is not supported by torch's fused {name}."
    if m.mode == "GRU" and not getattr(m, "reset_after", True):
        return "reset_after=False (reset-before GRU) is not supported by torch's fused GRU."
    if m.recurrent_dropout > 0 and m.training:
        return "recurrent_dropout > 0 in training is not supported by torch's fused ops."
    if m.zoneout > 0:
        return "zoneout > 0 is not supported by torch's fused ops."
    if run.x.device.type not in ("cpu", "cuda"):
        return f"device {run.x.device.type!r} has no fused recurrent op."
    if run.x.shape[1] == 0 or run.x.shape[0] == 0:
        return "empty input."
    if (m.mode == "LSTM" and run.x.device.type == "cpu" and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16 and not cpu_bf16_native()):
        # torch.nn.LSTM itself fails here ("could not create a primitive descriptor for the
        # LSTM forward propagation primitive"): oneDNN's bf16 LSTM needs AVX-512 or AVX-NE.
        return ("bf16 autocast on a CPU without native bf16 (AVX-512 / AVX-NE-CONVERT): torch's "
                "fused LSTM fails there; the engine runs it with fp32 GEMMs.")
    if (run.x.device.type == "cpu" and m.impl != "torch" and m.mode == "GRU"
            and run.x.dtype in (torch.float32, torch.float64) and _native_engine()):
        # Measured (1 thread; B=64 T=100 H=256 / B=32 H=512 / B=1 T=1000 H=128): torch's CPU
        # GRU is a generic loop, not oneDNN; the engine trains 1.6x / 2.1x / 15x faster.
        return ("GRU on CPU: torch has no oneDNN GRU, and the engine with its native step is "
                "faster here. Pass impl='torch' to force it.")
    if (run.x.device.type == "cpu" and m.impl != "torch" and m.mode.startswith("RNN")
            and run.x.dtype in (torch.float32, torch.float64) and _small_elman(run)
            and _native_engine()):
        # Measured (1 thread; B=1 T=1000 H=128 / B=8 T=200 H=64 / B=4 T=500 H=128): the
        # engine's one-call C loop trains 14x / 2.9x / 4.1x and infers 7.7x / 2.2x / 3.1x
        # faster than torch's per-step CPU RNN.
        return ("small Elman RNN on CPU: the engine runs the whole sequence in one native "
                "call, faster than torch's per-step loop here. Pass impl='torch' to force it.")
    if (run.x.device.type == "cpu" and m.impl != "torch" and m.mode == "LSTM"
            and run.x.shape[1] == 1 and run.x.dtype in (torch.float32, torch.float64)
            and _small_lstm(run) and _native_engine()):
        # Measured (1 thread, streaming step() at B=1 I=32 H=128): 67 us in the engine's
        # native call vs 86 us in torch's fused op, whose fixed cost dominates one step.
        return ("one step of a small LSTM on CPU (streaming): the engine's native call costs "
                "less than torch's op here. Pass impl='torch' to force it.")
    lengths = run.lengths
    if (run.x.device.type == "cpu" and m.impl != "torch" and lengths is not None
            and not bool((lengths >= run.x.shape[1]).all())):
        # Measured (B=64, T=100, H=256, LSTM): torch's packed path is not oneDNN's and trains
        # 2.5x slower than the engine, which skips padded steps without packing.
        return ("ragged lengths on CPU: torch's packed-sequence op is slower than the engine "
                "here. Pass impl='torch' to force it.")
    return None


def _small_elman(run) -> bool:
    """Whether the engine's Elman loop runs the whole sequence in C (B·H·H small)."""
    from rnnkit.kernels.engine import elman

    return run.x.shape[0] * run.module.hidden_size ** 2 <= elman.SEQ_MACS


def _small_lstm(run) -> bool:
    """Whether the engine's LSTM runs the sequence in one C call (no projection, B·4H·H
    small)."""
    from rnnkit.kernels.engine import lstm_native

    m = run.module
    return not getattr(m, "proj_size", 0) and run.x.shape[0] * 4 * m.hidden_size ** 2 <= \
        lstm_native.SEQ_MACS


def _native_engine() -> bool:
    """True when the engine's native step library is built and loaded (see engine/native)."""
    from rnnkit.kernels.engine import native

    return native.lstm_lib() is not None


def _flat_weights(m) -> list[Tensor]:
    """Parameters in torch.nn's flat order: per layer and direction w_ih, w_hh, b_ih, b_hh, w_hr."""
    out = []
    for k in range(m.num_layers):
        for d in range(m.num_directions):
            sfx = f"_l{k}" + ("_reverse" if d == 1 else "")
            for attr in _PER_CELL:
                p = m._parameters.get(attr + sfx)
                if p is None:  # a parametrized / pruned weight, or none
                    p = getattr(m, attr + sfx, None)
                if p is not None:
                    out.append(p)
    return out


def _call(m, x_or_data, batch_sizes, hx: tuple[Tensor, ...]):
    op = getattr(torch._VF, _OPS[m.mode])
    flat = _flat_weights(m)
    h = hx if m.mode == "LSTM" else hx[0]
    args = (flat, m.bias, m.num_layers, m.dropout, m.training, m.bidirectional)
    if batch_sizes is None:
        res = op(x_or_data, h, *args, True)
    else:
        res = op(x_or_data, batch_sizes, h, *args)
    return res[0], tuple(res[1:])


def run_torch(run):
    """Run the whole layer through torch's fused op; returns (y (B, T, D·P), h_n tuple)."""
    m, x, hx, lengths = run.module, run.x, run.hx, run.lengths
    T = x.shape[1]
    if lengths is None or bool((lengths == T).all()):
        return _call(m, x, None, hx)
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    idx = packed.sorted_indices
    hx_sorted = tuple(h.index_select(1, idx) for h in hx)
    data, h_n = _call(m, packed.data, packed.batch_sizes, hx_sorted)
    out = PackedSequence(data, packed.batch_sizes, idx, packed.unsorted_indices)
    y, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
    return y, tuple(h.index_select(1, packed.unsorted_indices) for h in h_n)


TORCH = Kernel(
    name="torch",
    summary="torch's fused op for the whole layer (oneDNN on CPU, cuDNN on GPU)",
    fast=True,
    why_not=_why_not,
    run=run_torch,
    priority=100,
)


# -- oneDNN GEMMs for the engine ------------------------------------------------------------
# torch's fp32 CPU matmul goes to MKL, which on some x86 CPUs (AMD EPYC here) runs 2-3x below
# oneDNN; torch.nn.LSTM itself uses oneDNN. The engine's GEMMs go through oneDNN's linear
# (the op torch.compile uses on CPU) when present; elsewhere, plain matmul.
def _onednn_linear():
    if torch_fused_available() is not None or not torch.backends.mkldnn.is_available():
        return None
    mk = getattr(torch.ops, "mkldnn", None)
    return getattr(mk, "_linear_pointwise", None) if mk is not None else None


_LINEAR = _onednn_linear()
_REORDER = (getattr(torch.ops.mkldnn, "_reorder_linear_weight", None)
            if _LINEAR is not None else None)


def cpu_bf16_native() -> bool:
    """Whether this CPU runs oneDNN's bf16 kernels (AVX-512 BW/VL/DQ or AVX-NE-CONVERT).

    Without them (an AVX2-only CPU such as many AMD EPYC VMs) oneDNN's bf16 linear, weight
    reorder and LSTM refuse to run, and bf16 GEMMs would be emulated at below fp32 speed."""
    f = getattr(getattr(torch.ops, "mkldnn", None), "_is_mkldnn_bf16_supported", None)
    try:
        return bool(f()) if f is not None else False
    except RuntimeError:
        return False


# the dtypes oneDNN's linear runs on this CPU
_ONEDNN_DTYPES = (torch.float32, torch.bfloat16) if cpu_bf16_native() else (torch.float32,)


def mm_nt(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b.T`` for a (M, K), b (N, K) — through oneDNN for fp32 / bf16 on CPU."""
    M, K, N = a.shape[0], a.shape[-1], b.shape[0]
    if (_LINEAR is not None and a.device.type == "cpu" and a.dtype in _ONEDNN_DTYPES
            and b.dtype == a.dtype and a.dim() == 2 and M >= 4
            and M * K * N >= 1 << 20):  # tiny GEMMs: oneDNN's call overhead loses
        return _LINEAR(a, b, None, "none", [], "")
    return a @ b.t()


def mm_tn(a: Tensor, b: Tensor) -> Tensor:
    """``a.T @ b`` for a (M, N), b (M, K) with M large: the weight-gradient GEMM (N, K).

    oneDNN takes its weight operand transposed for free, so only the narrower of a, b is copied
    into (·, M) layout: ``(bᵀ a)ᵀ`` when N >= K, else ``aᵀ b``."""
    small = a.shape[0] * a.shape[1] * b.shape[1] < 1 << 20  # oneDNN's call overhead loses
    if (_LINEAR is None or small or a.device.type != "cpu" or b.dtype != a.dtype
            or a.dtype not in _ONEDNN_DTYPES):
        return a.t() @ b
    # a strided operand (e.g. a column slice of the gate gradients) makes oneDNN reorder it
    # very slowly: copy to row-major first (free when it already is)
    a, b = a.contiguous(), b.contiguous()
    if a.shape[1] >= b.shape[1]:
        return _LINEAR(b.t().contiguous(), a.t(), None, "none", [], "").t().contiguous()
    return _LINEAR(a.t().contiguous(), b.t(), None, "none", [], "")


def graph_kept() -> bool:
    """Inside a backward: whether this backward keeps the graph (``retain_graph=True`` or
    ``create_graph=True``), i.e. whether what forward saved may be read again.

    When it is not kept, a backward may write its gradients over the forward buffers that only
    the step being differentiated reads, and free the rest before returning: one (T, B, G)
    buffer fewer at the memory peak. True (the safe answer) where torch cannot tell."""
    f = getattr(torch._C._autograd, "_get_current_graph_task_keep_graph", None)
    return True if f is None else bool(f())


class StepGemm:
    """``a @ wᵀ`` for the many small per-step GEMMs of one sequence, w (N, K) packed once.

    oneDNN's linear reorders a plain weight into its blocked layout on every call. For the
    per-step recurrent product (M = running batch rows) packing it once per sequence makes each
    step 10-25 % faster (fp32, 64x256 · 256x1024: 184 -> 157 µs; bf16 94 -> 85 µs), for a
    one-off cost of about one GEMM, so it is done when ``steps >= 4``. Below oneDNN's break-even
    (B=1 streaming, tiny H) the product is ``a @ wᵀ`` with wᵀ made contiguous once, which is
    fastest there. Results equal ``a @ w.t()`` (to rounding; bit-equal to ``mm_nt``).

    Args:
        w: (N, K) weight. rows: the largest M the sequence will use. steps: how many GEMMs.
    """

    def __init__(self, w: Tensor, rows: int, steps: int):
        N, K = w.shape
        self.w, self.packed, self.wt = w, None, None
        if (_REORDER is not None and steps >= 4 and w.device.type == "cpu"
                and w.dtype in _ONEDNN_DTYPES and rows >= 4
                and rows * K * N >= 1 << 20):
            self.packed = _REORDER(w.detach(), None)

    def __call__(self, a: Tensor, bias: Tensor | None = None) -> Tensor:
        """``a @ wᵀ (+ bias)`` for a (M, K); a fresh (M, N) tensor."""
        if self.packed is not None and a.shape[0] >= 4 and a.dtype == self.w.dtype:
            return _LINEAR(a, self.packed, bias, "none", [], "")
        if self.packed is None and a.shape[0] >= 4:
            out = mm_nt(a, self.w)
        else:
            if self.wt is None:
                self.wt = self.w.t().contiguous()
            out = a @ self.wt
        return out if bias is None else out.add_(bias)


class FastLinear(torch.autograd.Function):
    """``x W_ᵀ + b`` over (M, K) rows with oneDNN GEMMs forward and backward."""

    # fp32 GEMMs even under CPU autocast (its matmul cast would make tiny products bf16 and
    # the backward mix dtypes); the engine picks its own bf16 GEMMs (see engine/_common.py)
    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        y = mm_nt(x, w)
        return y if b is None else y.add_(b)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        dy = dy.contiguous()
        dx = mm_nt(dy, w.t().contiguous()) if ctx.needs_input_grad[0] else None
        dw = mm_tn(dy, x) if ctx.needs_input_grad[1] else None
        db = dy.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return dx, dw, db


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """``F.linear`` for (..., K) inputs, through oneDNN where it is faster (fp32, or bf16 x and
    w: the engine's projection under bf16 autocast, which it switches off inside itself)."""
    if (_LINEAR is None or x.device.type != "cpu" or x.dtype not in _ONEDNN_DTYPES
            or w.dtype != x.dtype):
        return torch.nn.functional.linear(x, w, b)
    if x.numel() * w.shape[0] < 1 << 20:  # tiny (a streaming step): oneDNN's call overhead loses
        return torch.nn.functional.linear(x, w, b)
    lead = x.shape[:-1]
    y = FastLinear.apply(x.reshape(-1, x.shape[-1]).contiguous(), w, b)
    return y.view(*lead, w.shape[0])

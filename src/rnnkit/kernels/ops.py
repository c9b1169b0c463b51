"""The engine as PyTorch operators, and its exact double backward.

Two things live here, both about composing the engine's hand-written BPTT with the rest of
PyTorch:

* ``exact_engine(run, fast)`` (eager): runs the engine inside one autograd node whose backward
  is the engine's backward, except when the backward itself is differentiated
  (``create_graph=True``): then the direction is recomputed on the reference loop (pure torch
  ops, autograd through every step) and *that* is differentiated, so gradient penalties,
  Hessian-vector products and ``gradgradcheck`` get exact numbers.
* ``rnnkit::direction`` (a ``torch.library`` custom operator), used while
  ``torch.compile`` / ``torch.export`` trace: dynamo and export see one opaque op per
  direction with a fake (shape-only) implementation, and never call C with fake tensors. Its
  autograd formula is the op ``rnnkit::direction_backward`` (the engine's forward
  recomputed on real tensors, then its own backward), or the reference loop when
  ``create_graph=True``.

The op's schema is the engine's contract: ``cell`` is a record of the cell class and the
constructor options the engine implements for it (``cell_spec``); the parameters travel as a
list of tensors named in that record. An exported program therefore needs only rnnkit
imported to run.

Example:
    >>> y, (h,) = direction_op(run, "engine")  # = ENGINE.run(run), one node in a graph
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor
from torch.nn.utils import parametrize

from rnnkit.cells.elman import ElmanCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.mingru import MinGRUCell
from rnnkit.cells.minlstm import MinLSTMCell
from rnnkit.kernels.base import DirectionRun
from rnnkit.kernels.reference import run_reference
from rnnkit.kernels.torch_fused import autograd_inside_op, graph_kept

__all__ = ["bind_cell", "cell_spec", "cell_tensors", "direction", "direction_backward",
           "direction_op", "exact_engine", "op_args"]

# The cell classes the engine implements and the constructor options it reads from each
# (anything else about a cell is its parameters). A cell option not listed here is not
# something the engine knows about.
_OPTIONS = {
    LSTMCell: ("input_size", "hidden_size", "proj_size", "peephole", "layer_norm"),
    GRUCell: ("input_size", "hidden_size", "reset_after", "layer_norm"),
    ElmanCell: ("input_size", "hidden_size", "nonlinearity"),
    MinGRUCell: ("input_size", "hidden_size", "scan_space"),
    MinLSTMCell: ("input_size", "hidden_size", "scan_space"),
}
_CLASSES = {cls.__name__: cls for cls in _OPTIONS}


# ---------------------------------------------------------------------------------------------
# cells as (spec, tensors)


def cell_tensors(cell) -> dict[str, Tensor]:
    """The cell's parameters by attribute name, read through the attribute (so a
    parametrization, weight norm or pruning mask is applied, as in ``cell.step``)."""
    names = list(cell._parameters)
    par = getattr(cell, "parametrizations", None)
    if par is not None:
        names += [n for n in par if n not in names]
    out = {}
    for name in names:
        t = getattr(cell, name)
        if isinstance(t, Tensor):
            out[name] = t
    return out


def bind_cell(cell, tensors: dict[str, Tensor]):
    """A shallow copy of ``cell`` (of its class before any parametrization) whose parameters
    are ``tensors``: the engine reads ``proxy.weight_hh`` etc. and gets these tensors."""
    cls = parametrize.type_before_parametrizations(cell)
    proxy = object.__new__(cls)
    proxy.__dict__.update(cell.__dict__)
    for name in tensors:
        proxy.__dict__.pop(name, None)
    params = {k: None for k, v in cell._parameters.items() if v is None}  # bias=False etc.
    params.update(tensors)
    proxy.__dict__["_parameters"] = params
    proxy.__dict__["_modules"] = {k: v for k, v in cell._modules.items()
                                  if k != "parametrizations"}
    return proxy


def cell_spec(cell, names) -> str:
    """The record of ``cell`` the op carries: class, engine options, parameter names, e.g.
    ``"LSTMCell|input_size=8,hidden_size=16,proj_size=0,peephole=True,layer_norm=False|
    weight_ih,weight_hh,bias_ih,bias_hh,weight_ph"`` (plain string formatting, which dynamo
    folds to a constant)."""
    cls = parametrize.type_before_parametrizations(cell)
    base = next(b for b in _OPTIONS if issubclass(cls, b))
    opts = ",".join(f"{k}={getattr(cell, k)}" for k in _OPTIONS[base])
    opts += f",bias={getattr(cell, 'bias_ih', None) is not None}"
    return f"{base.__name__}|{opts}|{','.join(names)}"


def _value(text: str):
    if text in ("True", "False"):
        return text == "True"
    return int(text) if text.lstrip("-").isdigit() else text


@functools.lru_cache(maxsize=256)
def _template(spec: str):
    """A parameterless cell (on the meta device) built from a spec: the op's proxies copy it."""
    cls, opts, names = spec.split("|")
    kwargs = {k: _value(v) for k, v in (kv.split("=") for kv in opts.split(","))}
    return _CLASSES[cls](**kwargs, device="meta"), tuple(names.split(",")) if names else ()


def _cell_from(spec: str, params) -> object:
    template, names = _template(spec)
    return bind_cell(template, dict(zip(names, params)))


# ---------------------------------------------------------------------------------------------
# eager: the engine in one autograd node, exact when its backward is differentiated


def _bound_run(run: DirectionRun, x, state, tensors: dict[str, Tensor]) -> DirectionRun:
    return DirectionRun(bind_cell(run.cell, tensors), x, tuple(state), run.lengths, run.reverse,
                        run.rec_mask, run.zoneout, run.training)


class _Exact(torch.autograd.Function):
    """``(x, *state, *params) -> (y, *state_T)`` through ``fast`` (the engine); backward is the
    engine's, or the reference loop's when the backward builds a graph (create_graph=True)."""

    @staticmethod
    def forward(ctx, run, fast, names, n_state, *tensors):
        leaves = [t.detach().requires_grad_(t.requires_grad) for t in tensors]
        x, state, params = leaves[0], leaves[1 : 1 + n_state], leaves[1 + n_state :]
        with torch.enable_grad():
            y, st = fast(_bound_run(run, x, state, dict(zip(names, params))))
        ctx.run, ctx.names, ctx.n_state = run, names, n_state
        ctx.inner = (y, *st)
        ctx.leaves = leaves
        ctx.save_for_backward(*tensors)
        return (y.detach(), *(s.detach() for s in st))

    @staticmethod
    def backward(ctx, *grads):
        need = ctx.needs_input_grad[4:]
        if torch.is_grad_enabled():  # create_graph=True: differentiate the reference twin
            tensors = ctx.saved_tensors
            x, state = tensors[0], tensors[1 : 1 + ctx.n_state]
            params = tensors[1 + ctx.n_state :]
            y, st = run_reference(_bound_run(ctx.run, x, state,
                                             dict(zip(ctx.names, params))))
            outs = (y, *st)
            ins = tensors
        else:
            outs, ins = ctx.inner, ctx.leaves
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
        wanted = [t for t, n in zip(ins, need) if n]
        got = iter(torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                       allow_unused=True, create_graph=torch.is_grad_enabled(),
                                       retain_graph=_keep_graph())
                   if pairs and wanted else [None] * len(wanted))
        if not _keep_graph():  # nothing reads the inner graph again: free it now
            ctx.inner = ctx.leaves = None
        return (None, None, None, None, *(next(got) if n else None for n in need))


def _keep_graph() -> bool:
    return torch.is_grad_enabled() or graph_kept()


def exact_engine(run: DirectionRun, fast) -> tuple[Tensor, tuple[Tensor, ...]]:
    """``fast(run)`` (the engine) with an exact double backward: see the module docstring."""
    tensors = cell_tensors(run.cell)
    names = tuple(tensors)
    outs = _Exact.apply(run, fast, names, len(run.state), run.x, *run.state, *tensors.values())
    return outs[0], tuple(outs[1:])


# ---------------------------------------------------------------------------------------------
# the custom operators (torch.compile / torch.export)


def _zoneout_args(zoneout) -> tuple[list, list]:
    if zoneout is None:
        return [], []
    masks = [z if isinstance(z, Tensor) else None for z in zoneout]
    ps = [0.0 if isinstance(z, Tensor) else float(z) for z in zoneout]
    return masks, ps


def _zoneout_of(masks, ps):
    if not ps:
        return None
    return tuple(m if m is not None else p for m, p in zip(masks, ps))


def _op_run(x, state, params, lengths, rec_mask, zo_masks, zo_p, cell, reverse, training):
    return DirectionRun(_cell_from(cell, params), x, tuple(state), lengths, reverse, rec_mask,
                        _zoneout_of(zo_masks, zo_p), training)


def _run_real(kernel: str, run: DirectionRun):
    """Run ``run`` on the named kernel's real (non-tracing) implementation."""
    if kernel == "engine":
        from rnnkit.kernels.engine.driver import engine_fast  # (driver imports this module)
        return engine_fast(run)
    if kernel == "scan":
        from rnnkit.kernels.scan_kernel import scan_fast  # (scan_kernel imports this module)
        return scan_fast(run)
    raise ValueError(f"rnnkit::direction: expected kernel 'engine' or 'scan', got {kernel!r}.")


@torch.library.custom_op("rnnkit::direction", mutates_args=())
def direction(x: Tensor, state: list[Tensor], params: list[Tensor],
                     lengths: Tensor | None, rec_mask: Tensor | None,
                     zo_masks: list[Tensor | None], zo_p: list[float], cell: str,
                     reverse: bool, training: bool, kernel: str) -> list[Tensor]:
    """One direction of one layer on ``kernel`` (the engine, or the min-cells' scan):
    returns ``[y (B, T, P), *state_T]``."""
    run = _op_run(x, state, params, lengths, rec_mask, zo_masks, zo_p, cell, reverse, training)
    with torch.no_grad():
        y, st = _run_real(kernel, run)
    return _unaliased([y.contiguous(), *(s.contiguous() for s in st)],
                      (x, *state, *params, lengths, rec_mask))


def _unaliased(outs: list[Tensor], ins) -> list[Tensor]:
    """A custom op's outputs may not alias its inputs or each other: copy those that do (a
    passed-through gradient, say)."""
    seen = {t.untyped_storage().data_ptr() for t in ins if isinstance(t, Tensor)}
    res = []
    for t in outs:
        p = t.untyped_storage().data_ptr()
        res.append(t.clone() if p in seen else t)
        seen.add(p)
    return res


@direction.register_fake
def _(x, state, params, lengths, rec_mask, zo_masks, zo_p, cell, reverse, training, kernel):
    template, _ = _template(cell)
    B, T = x.shape[0], x.shape[1]
    return [x.new_empty(B, T, template.output_size), *(s.new_empty(s.shape) for s in state)]


@torch.library.custom_op("rnnkit::direction_backward", mutates_args=())
def direction_backward(grads: list[Tensor], x: Tensor, state: list[Tensor],
                              params: list[Tensor], lengths: Tensor | None,
                              rec_mask: Tensor | None, zo_masks: list[Tensor | None],
                              zo_p: list[float], cell: str, reverse: bool,
                              training: bool, kernel: str) -> list[Tensor]:
    """Gradients ``[dx, *d state, *d params]`` of ``direction``: the engine's forward
    recomputed on real tensors, then its hand-written backward."""
    leaves = [t.detach().requires_grad_(True) for t in (x, *state, *params)]
    n = len(state)
    run = _op_run(leaves[0], leaves[1 : 1 + n], leaves[1 + n :], lengths, rec_mask, zo_masks,
                  zo_p, cell, reverse, training)
    with autograd_inside_op():
        y, st = _run_real(kernel, run)
        got = torch.autograd.grad((y, *st), leaves, grads, allow_unused=True)
    got = [torch.zeros_like(t) if g is None else g.contiguous() for t, g in zip(leaves, got)]
    return _unaliased(got, (*grads, x, *state, *params))


@direction_backward.register_fake
def _(grads, x, state, params, lengths, rec_mask, zo_masks, zo_p, cell, reverse, training,
      kernel):
    return [t.new_empty(t.shape) for t in (x, *state, *params)]


def _setup(ctx, inputs, output):
    x, state, params, lengths, rec_mask, zo_masks, zo_p, cell, reverse, training, kernel = inputs
    ctx.n_state, ctx.n_params = len(state), len(params)
    ctx.n_zo = len(zo_masks)
    ctx.has = (lengths is not None, rec_mask is not None, [m is not None for m in zo_masks])
    ctx.consts = (zo_p, cell, reverse, training, kernel)
    opt = [t for t in (lengths, rec_mask, *zo_masks) if t is not None]
    ctx.save_for_backward(x, *state, *params, *opt)


def _unpack(ctx):
    saved = list(ctx.saved_tensors)
    n, p = ctx.n_state, ctx.n_params
    x, state, params = saved[0], saved[1 : 1 + n], saved[1 + n : 1 + n + p]
    rest = iter(saved[1 + n + p :])
    has_len, has_mask, has_zo = ctx.has
    lengths = next(rest) if has_len else None
    rec_mask = next(rest) if has_mask else None
    zo_masks = [next(rest) if h else None for h in has_zo]
    return x, state, params, lengths, rec_mask, zo_masks


def _backward(ctx, grads):
    x, state, params, lengths, rec_mask, zo_masks = _unpack(ctx)
    zo_p, cell, reverse, training, kernel = ctx.consts
    n = ctx.n_state
    if torch.is_grad_enabled():  # create_graph=True: the reference loop, differentiated
        run = _op_run(x, state, params, lengths, rec_mask, zo_masks, zo_p, cell, reverse,
                      training)
        y, st = run_reference(run)
        ins = [x, *state, *params]
        wanted = [t for t in ins if t.requires_grad]
        pairs = [(o, g) for o, g in zip((y, *st), grads) if g is not None]
        got = iter(torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                       allow_unused=True, create_graph=True))
        got = [next(got) if t.requires_grad else None for t in ins]
    else:
        B, T = x.shape[0], x.shape[1]
        shapes = [(B, T, _template(cell)[0].output_size), *(s.shape for s in state)]
        grads = [x.new_zeros(sh) if g is None else g for sh, g in zip(shapes, grads)]
        got = direction_backward(list(grads), x, list(state), list(params), lengths,
                                        rec_mask, zo_masks, zo_p, cell, reverse, training,
                                        kernel)
    # a list argument gets a list of Nones when it is a list of tensors (an empty one too),
    # else one None (torch.library's structure rule for backward results)
    zo_m = [None] * ctx.n_zo if all(ctx.has[2]) else None
    zo_f = [] if not zo_p else None
    return (got[0], list(got[1 : 1 + n]), list(got[1 + n :]), None, None, zo_m, zo_f, None,
            None, None, None)


direction.register_autograd(_backward, setup_context=_setup)


def op_args(run: DirectionRun, kernel: str = "engine") -> tuple:
    """The arguments of ``rnnkit::direction`` for ``run`` on ``kernel`` ('engine', 'scan')."""
    tensors = cell_tensors(run.cell)
    zo_masks, zo_p = _zoneout_args(run.zoneout)
    return (run.x, list(run.state), list(tensors.values()), run.lengths, run.rec_mask,
            zo_masks, zo_p, cell_spec(run.cell, tuple(tensors)), bool(run.reverse),
            bool(run.training), kernel)


def direction_op(run: DirectionRun, kernel: str = "engine") -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run ``run`` on ``kernel`` through ``rnnkit::direction`` (one op in a graph)."""
    outs = direction(*op_args(run, kernel))
    return outs[0], tuple(outs[1:])

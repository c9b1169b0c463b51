"""PyTorch's module test database, run over rnnkit.

Two sets of entries, one set of generic checks (the checks of PyTorch's
``test/test_modules.py``: forward and its reference, factory kwargs, repr, pickle, non-contiguous
inputs, gradcheck / gradgradcheck in float64, memory format, train / eval, meta-device
construction, errors):

* ``torchdb``: torch's own ModuleInfo entries for nn.RNN / LSTM / GRU / RNNCell / LSTMCell /
  GRUCell (``torch.testing._internal.common_modules``: their sample inputs, reference functions
  and error inputs) with the module class swapped for rnnkit's. ``RNNKIT_MODULE_DB_SIDES=
  torch.nn,rnnkit`` runs them on torch.nn too, so the two pass counts compare directly.
* ``variants``: rnnkit's layers and cells × options (peephole, layer norm, projection, GRU
  forms, recurrent dropout, zoneout, min-RNNs) × ragged lengths × initial state, checked
  against the reference loop (outputs, states, gradients), torch.nn where comparable, and
  the kernel that ran.

Double backward through the engine is issue 16's other half (a differentiable backward or
the reference whenever ``create_graph=True``): here gradgradcheck of an entry that runs the
engine is an expected failure (not strict) until it lands; through ``impl="reference"`` it
must pass.
"""

from __future__ import annotations

import copy
import io
import os
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck
from torch.utils._pytree import tree_flatten, tree_map, tree_unflatten

import rnnkit

common_modules = pytest.importorskip("torch.testing._internal.common_modules")  # needs expecttest
from torch.testing._internal.common_modules import (  # noqa: E402
    FunctionInput,
    ModuleErrorEnum,
    ModuleInput,
    module_db,
)
from torch.testing._internal.common_utils import freeze_rng_state  # noqa: E402

NAMES = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
TORCH_INFOS = {mi.module_cls.__name__: mi for mi in module_db
               if mi.module_cls.__module__ == "torch.nn.modules.rnn"
               and mi.module_cls.__name__ in NAMES}
SIDES = os.environ.get("RNNKIT_MODULE_DB_SIDES", "rnnkit").split(",")
F32, F64 = torch.float32, torch.float64


def module_class(side: str, name: str):
    if side == "torch.nn":
        return getattr(torch.nn, name)
    cls = getattr(rnnkit, name, None)
    if cls is None:
        pytest.fail(f"rnnkit has no {name}")
    return cls


# -- helpers ----------------------------------------------------------------------------------
def build(cls, mi: ModuleInput, dtype, training):
    m = cls(*mi.constructor_input.args, **mi.constructor_input.kwargs)
    m.to(dtype)
    m.train(training)
    return m


def call(m, mi: ModuleInput, args=None, kwargs=None):
    args = mi.forward_input.args if args is None else args
    kwargs = mi.forward_input.kwargs if kwargs is None else kwargs
    with freeze_rng_state():
        return m(*args, **kwargs)


def tensors(obj) -> list[torch.Tensor]:
    return [t for t in tree_flatten(obj)[0] if isinstance(t, torch.Tensor)]


def outputs_of(out) -> list[torch.Tensor]:
    """Differentiable output tensors (a PackedSequence's data included)."""
    flat = []
    for t in tree_flatten(out)[0]:
        if isinstance(t, torch.nn.utils.rnn.PackedSequence):
            t = t.data
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            flat.append(t)
    return flat


def non_contiguous(obj):
    def nc(t):
        if not isinstance(t, torch.Tensor) or t.dim() == 0 or not t.is_floating_point():
            return t
        out = torch.repeat_interleave(t.detach(), 2, dim=-1)[..., ::2]
        assert not out.is_contiguous()
        return out.requires_grad_(t.requires_grad)
    return tree_map(nc, obj)


def fresh(obj):
    """Detached copies of the tensors in ``obj`` that keep requires_grad (and a new .grad)."""
    return tree_map(lambda t: t.detach().clone().requires_grad_(t.requires_grad)
                    if isinstance(t, torch.Tensor) and t.is_floating_point() else t, obj)


def grads_of(out, inputs, m, seed=0):
    """Gradients of a fixed random projection of the outputs w.r.t. the inputs and params."""
    outs = outputs_of(out)
    g = torch.Generator().manual_seed(seed)
    gos = [torch.randn(o.shape, generator=g, dtype=o.dtype) for o in outs]
    wrt = [t for t in tensors(inputs) if t.requires_grad] + list(m.parameters())
    return torch.autograd.grad(outs, wrt, gos, allow_unused=True)


def gradient_check(m, mi: ModuleInput, check, partials: bool) -> None:
    """torch's test_grad / test_gradgrad: the total derivative w.r.t. inputs and parameters,
    then (``partials``) each parameter alone."""
    args, kwargs = mi.forward_input.args, mi.forward_input.kwargs
    params = tuple(m.parameters())
    flat, spec = tree_flatten((args, params))

    def fn(*flat_in):
        a, _ = tree_unflatten(list(flat_in), spec)
        with freeze_rng_state():
            return tuple(outputs_of(m(*a, **kwargs)))

    assert check(fn, tuple(flat))
    if partials:
        saved = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(False)
        for p, s in zip(params, saved, strict=True):
            p.requires_grad_(s)
            assert check(fn, tuple(flat))
            p.requires_grad_(False)
        for p, s in zip(params, saved, strict=True):
            p.requires_grad_(s)


# -- the generic checks (one function per check of test_modules.py) ---------------------------
def check_forward(cls, mi, dtype, training):
    m = build(cls, mi, dtype, training)
    out = call(m, mi)
    if mi.reference_fn is not None:
        with freeze_rng_state():
            ref = mi.reference_fn(m, *mi.forward_input.args, **mi.forward_input.kwargs)
        torch.testing.assert_close(out, ref)
    (m.float() if dtype == F32 else m.double())
    call(m, mi)
    assert all(p.dtype == dtype for p in m.parameters())


def check_factory_kwargs(cls, mi, dtype, training):
    m = cls(*mi.constructor_input.args, **mi.constructor_input.kwargs, device="cpu", dtype=dtype)
    m.train(training)
    assert all(p.dtype == dtype and p.device.type == "cpu" for p in m.parameters())


def check_repr(cls, mi, dtype, training):
    m = build(cls, mi, dtype, training)
    assert repr(m) and str(m)


def check_pickle(cls, mi, dtype, training):
    m = build(cls, mi, dtype, training)
    out = call(m, mi)
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    m2 = torch.load(buf, weights_only=False)  # our own module, written just above
    torch.testing.assert_close(call(m2, mi), out)
    torch.testing.assert_close(call(copy.deepcopy(m), mi), out)


def check_non_contiguous(cls, mi, dtype, training):
    m = build(cls, mi, dtype, training)
    args = fresh(mi.forward_input.args)
    kwargs = fresh(mi.forward_input.kwargs)
    ref_out = call(m, mi, args, kwargs)
    ref = grads_of(ref_out, (args, kwargs), m)
    nc_args, nc_kwargs = non_contiguous(args), non_contiguous(kwargs)
    out = call(m, mi, nc_args, nc_kwargs)
    torch.testing.assert_close(out, ref_out)
    got = grads_of(out, (nc_args, nc_kwargs), m)
    for a, b in zip(got, ref, strict=True):
        if b is not None:
            torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


def check_grad(cls, mi, dtype, training, partials=False):
    gradient_check(build(cls, mi, dtype, training), mi, gradcheck, partials)


def check_gradgrad(cls, mi, dtype, training, partials=False):
    gradient_check(build(cls, mi, dtype, training), mi, gradgradcheck, partials)


def check_memory_format(cls, mi, dtype, training):
    m = build(cls, mi, dtype, training)
    ref = call(m, mi)
    for fmt in (torch.preserve_format, torch.contiguous_format):
        m.to(memory_format=fmt)
        out = call(m, mi)
        torch.testing.assert_close(out, ref)
        assert all(t.is_contiguous() for t in outputs_of(out))


def check_train_eval(cls, mi, dtype, training, differ: bool):
    """With ``training`` removed, a module that declares train == eval must still run."""
    m = build(cls, mi, dtype, training)
    del m.training
    try:
        call(m, mi)
    except AttributeError as e:
        assert "'training'" in str(e) and differ, e


def check_device_ctx_init(cls, mi, dtype, training):
    m_cpu = cls(*mi.constructor_input.args, **mi.constructor_input.kwargs)
    with torch.device("meta"):
        m = cls(*mi.constructor_input.args, **mi.constructor_input.kwargs)
    for a, b in zip(m.parameters(), m_cpu.parameters(), strict=True):
        assert a.is_meta and a.shape == b.shape and a.dtype == b.dtype


def check_errors(cls, error_inputs):
    for ei in error_inputs:
        mi = ei.module_error_input
        c_args, c_kwargs = mi.constructor_input.args, mi.constructor_input.kwargs
        if ei.error_on == ModuleErrorEnum.CONSTRUCTION_ERROR:
            with pytest.raises(ei.error_type, match=ei.error_regex):
                cls(*c_args, **c_kwargs)
        else:
            m = cls(*c_args, **c_kwargs)
            with pytest.raises(ei.error_type, match=ei.error_regex):
                m(*mi.forward_input.args, **mi.forward_input.kwargs)


# -- torch's entries ----------------------------------------------------------------------------
CHECKS = ("forward", "factory_kwargs", "repr", "pickle", "non_contiguous", "grad", "gradgrad",
          "memory_format", "train_eval", "device_ctx_init", "errors")
_F64_ONLY = {"grad", "gradgrad"}


def _torchdb_cases():
    for side, name, check in product(SIDES, NAMES, CHECKS):
        info = TORCH_INFOS[name]
        dtypes = (F64,) if check in _F64_ONLY else (F32, F64)
        modes = (True, False) if info.train_and_eval_differ else (True,)
        if check == "train_eval":
            modes = (True,)
        for dtype, training in product(dtypes, modes):
            layer = not name.endswith("Cell")  # 16-32 samples each: a subset by default
            heavy = check == "gradgrad" or (layer and check == "grad") or (
                layer and dtype == F32 and check in ("pickle", "non_contiguous",
                                                     "memory_format"))
            marks = [pytest.mark.slow] if heavy else []
            yield pytest.param(side, name, check, dtype, training, marks=marks,
                               id=f"{side}-{name}-{check}-{str(dtype)[6:]}-"
                                  f"{'train' if training else 'eval'}")


def _engine_runs(m, mi) -> bool:
    call(m, mi)
    return getattr(m, "last_kernel", None) == "engine"


@pytest.mark.parametrize("side,name,check,dtype,training", list(_torchdb_cases()))
def test_torchdb(side, name, check, dtype, training):
    info = TORCH_INFOS[name]
    cls = module_class(side, name)
    if check == "errors":
        check_errors(cls, info.module_error_inputs_func(info, device="cpu", dtype=dtype,
                                                        requires_grad=False, training=training))
        return
    samples = info.module_inputs_func(info, device="cpu", dtype=dtype,
                                      requires_grad=check in {"non_contiguous", "grad",
                                                              "gradgrad"}, training=training)
    for mi in samples:
        if check == "train_eval":
            check_train_eval(cls, mi, dtype, training, info.train_and_eval_differ)
        elif check == "gradgrad":
            # exact through the engine too: its backward differentiates the reference twin when
            # create_graph=True (kernels/ops.py)
            check_gradgrad(cls, mi, dtype, training)
        else:
            globals()[f"check_{check}"](cls, mi, dtype, training)


# -- rnnkit's variants ---------------------------------------------------------------------------
@dataclass
class Variant:
    """One rnnkit configuration: constructor kwargs, the kernel it must run, and whether
    torch.nn's class of the same name computes the same function."""

    name: str
    cls: str
    kwargs: dict[str, Any]
    kernel: str | None = "engine"
    torch_equal: bool = False
    tags: set[str] = field(default_factory=set)


LAYER_VARIANTS = [
    Variant("lstm", "LSTM", {}, None, True),
    Variant("lstm-peephole", "LSTM", {"peephole": True}),
    Variant("lstm-layernorm", "LSTM", {"layer_norm": True}),
    Variant("lstm-proj", "LSTM", {"proj_size": 2}, None, True),
    Variant("lstm-all", "LSTM", {"peephole": True, "layer_norm": True, "proj_size": 2}),
    Variant("lstm-recdrop", "LSTM", {"recurrent_dropout": 0.3}),
    Variant("lstm-zoneout", "LSTM", {"zoneout": 0.3}),
    Variant("gru", "GRU", {}, "engine", True),
    Variant("gru-reset-before", "GRU", {"reset_after": False}),
    Variant("gru-layernorm", "GRU", {"layer_norm": True}),
    Variant("gru-recdrop", "GRU", {"recurrent_dropout": 0.3}),
    Variant("gru-zoneout", "GRU", {"zoneout": 0.3}),
    Variant("rnn-tanh", "RNN", {}, "engine", True),
    Variant("rnn-relu", "RNN", {"nonlinearity": "relu"}, "engine", True),
    Variant("rnn-zoneout", "RNN", {"zoneout": 0.3}),
    Variant("rnn-recdrop", "RNN", {"recurrent_dropout": 0.3}),
    Variant("mingru", "MinGRU", {}, "scan"),
    Variant("minlstm", "MinLSTM", {"zoneout": 0.2}, "scan"),
]
SHAPES = {  # name -> (num_layers, bidirectional, lengths, h0)
    "plain": (1, False, False, False),
    "ragged-h0": (1, False, True, True),
    "bi-ragged": (1, True, True, False),
    "2layers-bi-h0": (2, True, False, True),
    "2layers-ragged-h0": (2, False, True, True),
}
B, T, I, H = 3, 5, 2, 4


def make_layer(v: Variant, shape: str, dtype=F64, impl="auto", training=True):
    L, bi, _, _ = SHAPES[shape]
    torch.manual_seed(0)
    m = getattr(rnnkit, v.cls)(I, H, num_layers=L, bidirectional=bi, batch_first=True,
                               impl=impl, dtype=dtype, **v.kwargs)
    return m.train(training)


def layer_inputs(m, shape: str, dtype=F64, requires_grad=True):
    _, _, ragged, h0 = SHAPES[shape]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, I, generator=g, dtype=dtype).requires_grad_(requires_grad)
    args: list[Any] = [x]
    if h0:
        shapes = m._state_shapes(B)
        hx = tuple(torch.randn(s, generator=g, dtype=dtype).requires_grad_(requires_grad)
                   for s in shapes)
        args.append(hx if len(hx) > 1 else hx[0])
    kwargs = {"lengths": torch.tensor([T, 2, 1])} if ragged else {}
    return args, kwargs


def _variant_cases(default_shapes=("plain", "ragged-h0"), default_variants=None):
    for v, shape in product(LAYER_VARIANTS, SHAPES):
        slow = shape not in default_shapes or (default_variants is not None
                                               and v.name not in default_variants)
        yield pytest.param(v, shape, marks=[pytest.mark.slow] if slow else [],
                           id=f"{v.name}-{shape}")


def _run(m, args, kwargs):
    """A forward with the same random masks on every call (a fixed seed, state restored)."""
    with freeze_rng_state():
        torch.manual_seed(123)
        return m(*args, **kwargs)


@pytest.mark.parametrize("v,shape", list(_variant_cases()))
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_variant_forward_backward_vs_reference(v, shape, training):
    """Outputs, final states and every gradient equal the reference loop's; the kernel that
    ran is the one the entry names; torch.nn agrees where it computes the same thing."""
    m = make_layer(v, shape, training=training)
    ref = make_layer(v, shape, impl="reference", training=training)
    args, kwargs = layer_inputs(m, shape)
    out = _run(m, args, kwargs)
    if v.kernel is not None and (training or "recurrent_dropout" not in v.kwargs):
        assert m.last_kernel == v.kernel  # (in evaluation recurrent dropout is off)
    assert ref.last_kernel is None
    r_args = fresh(args)
    r_out = _run(ref, r_args, kwargs)
    assert ref.last_kernel == "reference"
    torch.testing.assert_close(out, r_out)
    for a, b in zip(grads_of(out, args, m), grads_of(r_out, r_args, ref), strict=True):
        torch.testing.assert_close(a, b)
    if v.torch_equal and not kwargs:
        tn = getattr(torch.nn, v.cls)(I, H, num_layers=m.num_layers, batch_first=True,
                                      bidirectional=m.bidirectional, dtype=F64,
                                      **v.kwargs).train(training)
        tn.load_state_dict(m.state_dict())
        torch.testing.assert_close(_run(tn, fresh(args), {}), out)


# the default suite gradchecks one configuration per family and kernel path (all: slow)
_GRADCHECK_DEFAULT = ("lstm-all", "lstm-recdrop", "gru-reset-before", "gru-layernorm",
                      "rnn-zoneout", "mingru")


@pytest.mark.parametrize("v,shape", list(_variant_cases(default_shapes=("ragged-h0",),
                                                        default_variants=_GRADCHECK_DEFAULT)))
def test_variant_gradcheck(v, shape):
    m = make_layer(v, shape)
    args, kwargs = layer_inputs(m, shape)
    gradient_check(m, ModuleInput(FunctionInput(), FunctionInput(*args, **kwargs)), gradcheck,
                   partials=False)
    assert v.kernel is None or m.last_kernel == v.kernel


@pytest.mark.parametrize("v,shape", list(_variant_cases(default_shapes=())))
def test_variant_gradgradcheck_reference(v, shape):
    """Double backward through the reference loop (what create_graph=True must give)."""
    m = make_layer(v, shape, impl="reference")
    args, kwargs = layer_inputs(m, shape)
    gradient_check(m, ModuleInput(FunctionInput(), FunctionInput(*args, **kwargs)),
                   gradgradcheck, partials=False)


@pytest.mark.parametrize("v", [pytest.param(v, marks=[] if v.name in ("gru", "rnn-tanh",
                                                                       "lstm-peephole")
                                              else [pytest.mark.slow])
                               for v in LAYER_VARIANTS if v.kernel == "engine"],
                         ids=lambda v: v.name)
def test_variant_gradgradcheck_engine(v):
    m = make_layer(v, "ragged-h0")
    args, kwargs = layer_inputs(m, "ragged-h0")
    assert _engine_runs(m, ModuleInput(FunctionInput(), FunctionInput(*args, **kwargs)))
    gradient_check(m, ModuleInput(FunctionInput(), FunctionInput(*args, **kwargs)),
                   gradgradcheck, partials=False)


@pytest.mark.parametrize("v,shape", list(_variant_cases(default_shapes=("bi-ragged",))))
def test_variant_non_contiguous_pickle_state_dict(v, shape):
    """Non-contiguous inputs give the same outputs and gradients; pickle, deepcopy and a
    state_dict loaded into a fresh module give the same outputs."""
    m = make_layer(v, shape)
    args, kwargs = layer_inputs(m, shape)
    out = _run(m, args, kwargs)
    g = grads_of(out, args, m)
    nc = non_contiguous(fresh(args))
    out_nc = _run(m, nc, kwargs)
    torch.testing.assert_close(out_nc, out)
    for a, b in zip(grads_of(out_nc, nc, m), g, strict=True):
        torch.testing.assert_close(a, b)
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    for other in (torch.load(buf, weights_only=False), copy.deepcopy(m)):
        torch.testing.assert_close(_run(other, args, kwargs), out)
    twin = getattr(rnnkit, v.cls)(I, H, num_layers=m.num_layers, bidirectional=m.bidirectional,
                                  batch_first=True, dtype=F64, **v.kwargs)
    twin.load_state_dict(m.state_dict())
    torch.testing.assert_close(_run(twin, args, kwargs), out)


@pytest.mark.parametrize("v", LAYER_VARIANTS, ids=lambda v: v.name)
def test_variant_train_eval(v):
    """Evaluation is deterministic; with a regulariser, training differs from evaluation."""
    m = make_layer(v, "ragged-h0", training=False)
    args, kwargs = layer_inputs(m, "ragged-h0", requires_grad=False)
    e1, e2 = m(*args, **kwargs), m(*args, **kwargs)
    torch.testing.assert_close(e1, e2)
    m.train()
    t1 = m(*args, **kwargs)
    regularised = any(v.kwargs.get(k, 0) for k in ("recurrent_dropout", "zoneout"))
    same = all(torch.equal(a, b) for a, b in zip(tensors(t1), tensors(e1), strict=True))
    assert same != regularised


@pytest.mark.parametrize("v", LAYER_VARIANTS, ids=lambda v: v.name)
def test_variant_errors(v):
    m = make_layer(v, "plain", dtype=F32)
    with pytest.raises(RuntimeError, match=r"expected input with 2 features"):
        m(torch.randn(B, T, I + 1))
    with pytest.raises(ValueError, match="expected input of rank 3"):
        m(torch.randn(B, T, I, 1))
    with pytest.raises(ValueError, match=r"RNN input dtype .* does not match weight dtype"):
        m(torch.randn(B, T, I, dtype=F64))
    h = torch.zeros(m._state_shapes(B + 1)[0])
    with pytest.raises(RuntimeError, match=r"expected h_0 of shape"):
        m(torch.randn(B, T, I), (h, h) if v.cls == "LSTM" else h)


# -- rnnkit's cells ----------------------------------------------------------------------------
CELL_VARIANTS = {
    "rnncell-tanh": ("RNNCell", {}, True),
    "rnncell-relu-nobias": ("RNNCell", {"nonlinearity": "relu", "bias": False}, True),
    "lstmcell": ("LSTMCell", {}, True),
    "lstmcell-peephole-ln": ("LSTMCell", {"peephole": True, "layer_norm": True}, False),
    "lstmcell-proj": ("LSTMCell", {"proj_size": 2}, False),
    "grucell": ("GRUCell", {}, True),
    "grucell-reset-before-ln": ("GRUCell", {"reset_after": False, "layer_norm": True}, False),
}
_LAYER_OF = {"RNNCell": "RNN", "LSTMCell": "LSTM", "GRUCell": "GRU"}


def _cell_and_input(name, batched, with_hx, dtype=F64):
    cls, kw, _ = CELL_VARIANTS[name]
    torch.manual_seed(0)
    cell = getattr(rnnkit, cls)(I, H, dtype=dtype, **kw)
    g = torch.Generator().manual_seed(1)
    lead = (B,) if batched else ()
    x = torch.randn(*lead, I, generator=g, dtype=dtype, requires_grad=True)
    hx = None
    if with_hx:
        hx = tuple(torch.randn(*lead, s, generator=g, dtype=dtype, requires_grad=True)
                   for s in cell.state_sizes)
        hx = hx if cls == "LSTMCell" else hx[0]
    return cell, x, hx


@pytest.mark.parametrize("with_hx", [False, True], ids=["zeros", "hx"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("name", list(CELL_VARIANTS))
def test_cell_matches_layer_and_torch(name, batched, with_hx):
    """One cell call equals the layer of the same options over T=1 (and torch.nn's cell for
    the standard configurations), gradients included; gradcheck passes in float64."""
    cls, kw, torch_equal = CELL_VARIANTS[name]
    cell, x, hx = _cell_and_input(name, batched, with_hx)
    out = cell(x, hx)
    layer_kw = {k: v for k, v in kw.items()}
    layer = getattr(rnnkit, _LAYER_OF[cls])(I, H, batch_first=True, dtype=F64, **layer_kw)
    layer.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    xs = x.unsqueeze(-2)  # (B, 1, I) or (1, I)
    state = None if hx is None else tree_map(lambda t: t.unsqueeze(0), hx)
    _, h_n = layer(xs, state)
    expect = tree_map(lambda t: t.squeeze(0), h_n)
    torch.testing.assert_close(out, expect)
    if torch_equal:
        tn = getattr(torch.nn, cls)(I, H, dtype=F64, **kw)
        tn.load_state_dict(cell.state_dict())
        torch.testing.assert_close(out, tn(x, hx))
    params = tuple(cell.parameters())
    inputs = (x, *(tensors(hx)))

    def fn(*flat):
        k = len(inputs)
        h = None if hx is None else (flat[1:k] if cls == "LSTMCell" else flat[1])
        return tuple(tensors(cell(flat[0], h)))

    if with_hx:
        assert gradcheck(fn, inputs + params)
    if batched and with_hx:
        assert gradgradcheck(fn, inputs + params)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_default_init_and_state_dict_swap(cls):
    """The same seed gives torch.nn's weights; state_dicts load both ways."""
    torch.manual_seed(3)
    tn = getattr(torch.nn, cls)(5, 7, bias=True)
    torch.manual_seed(3)
    rk = getattr(rnnkit, cls)(5, 7, bias=True)
    assert list(tn.state_dict()) == list(rk.state_dict())
    for a, b in zip(tn.state_dict().values(), rk.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    other = getattr(rnnkit, cls)(5, 7)
    other.load_state_dict(tn.state_dict())
    tn2 = getattr(torch.nn, cls)(5, 7)
    tn2.load_state_dict(rk.state_dict())
    assert repr(rk) == repr(tn)
    nb = getattr(rnnkit, cls)(5, 7, bias=False)
    assert nb.bias_ih is None and repr(nb) == repr(getattr(torch.nn, cls)(5, 7, bias=False))


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_refuses_broadcast_state(cls):
    """A (1, H) state for a batch of B > 1 raises as torch.nn does (the contract's step
    would broadcast it silently)."""
    x = torch.randn(3, 5)
    h = torch.zeros(1, 7)
    hx = (h, h) if cls == "LSTMCell" else h
    for m in (getattr(torch.nn, cls)(5, 7), getattr(rnnkit, cls)(5, 7)):
        with pytest.raises(RuntimeError, match="Input batch size 3 doesn't match hidden0 "
                                               "batch size 1"):
            m(x, hx)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_errors(cls):
    m = getattr(rnnkit, cls)(5, 7)
    name = "hx[0]" if cls == "LSTMCell" else "hidden"
    with pytest.raises(ValueError, match=rf"{cls}: Expected input to be 1D or 2D, got 3D"):
        m(torch.randn(2, 3, 5))
    h4 = torch.zeros(3, 1, 1, 7)
    with pytest.raises(ValueError, match=rf"Expected {name.replace('[', '.').replace(']', '.')}"
                                         r" to be 1D or 2D, got 4D"):
        m(torch.randn(3, 5), (h4, h4) if cls == "LSTMCell" else h4)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 6 expected 5"):
        m(torch.randn(3, 6))
    h = torch.zeros(3, 8)
    with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 8, "
                                           "expected 7"):
        m(torch.randn(3, 5), (h, h) if cls == "LSTMCell" else h)
    with pytest.raises(RuntimeError, match=r"expected .* 1-D \(H,\) for a 1-D input"):
        m(torch.randn(5), (h, h) if cls == "LSTMCell" else h)
    with pytest.raises(ValueError, match=r"expected input dtype torch.float32"):
        m(torch.randn(3, 5, dtype=F64))
    with pytest.raises(TypeError, match="input_size should be of type int, got: float"):
        getattr(rnnkit, cls)(5.0, 7)
    if cls == "LSTMCell":
        with pytest.raises(TypeError, match=r"expected hx as a tuple \(h, c\)"):
            m(torch.randn(2, 5), torch.zeros(2, 7))


def test_cells_run_in_recurrent_on_the_engine():
    """rnnkit.LSTMCell / GRUCell / RNNCell are step-contract cells: Recurrent runs them on
    the fused engine, as the cells of rnnkit.cells."""
    x = torch.randn(2, 6, 5)
    for cell in (rnnkit.LSTMCell(5, 7, peephole=True), rnnkit.GRUCell(5, 7),
                 rnnkit.RNNCell(5, 7)):
        layer = rnnkit.Recurrent(cell, batch_first=True)
        y, _ = layer(x)
        assert layer.explain(x).name == "engine"
        ref = rnnkit.Recurrent(cell, batch_first=True, impl="reference")
        torch.testing.assert_close(y, ref(x)[0])


def test_cell_autocast_dtypes_as_torch_nn():
    x = torch.randn(3, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for cls in ("RNNCell", "LSTMCell", "GRUCell"):
            torch.manual_seed(0)
            tn = getattr(torch.nn, cls)(5, 7)
            rk = getattr(rnnkit, cls)(5, 7)
            rk.load_state_dict(tn.state_dict())
            a, b = tensors(tn(x)), tensors(rk(x))
            assert [t.dtype for t in a] == [t.dtype for t in b], cls
            for s, t in zip(a, b, strict=True):
                torch.testing.assert_close(t.float(), s.float(), atol=2e-2, rtol=0)

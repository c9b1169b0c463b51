"""torch.onnx.export(..., dynamo=True) of rnnkit's layers, run by onnxruntime, equals eager.

What is exported is the reference loop's decomposition (pure torch ops, unrolled over the
traced T): ONNX has no ``rnnkit::direction``, and the native kernels decline while
``torch.onnx`` exports (``torch_fused.transform_active``). One export per T, so the default
suite keeps two small cases and the rest is marked slow."""

from __future__ import annotations

import pytest
import torch

import rnnkit

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

FACTORIES = {
    "lstm": lambda bi: rnnkit.LSTM(3, 4, batch_first=True, bidirectional=bi),
    "gru": lambda bi: rnnkit.GRU(3, 4, batch_first=True, bidirectional=bi),
    "rnn": lambda bi: rnnkit.RNN(3, 4, batch_first=True, bidirectional=bi),
    "lstm-peephole": lambda bi: rnnkit.LSTM(3, 4, batch_first=True, bidirectional=bi,
                                            peephole=True),
}


def _check(kind: str, bi: bool, T: int, B: int, h0: bool, ragged: bool) -> None:
    torch.manual_seed(0)
    m = FACTORIES[kind](bi).eval()
    x = torch.randn(B, T, 3)
    D = 2 if bi else 1
    hx = None
    if h0:
        hx = torch.randn(D, B, 4)
        hx = (hx, torch.randn(D, B, 4)) if kind.startswith("lstm") else hx
    lengths = torch.tensor([T, max(1, T - 1), 1][:B]) if ragged else None
    prog = torch.onnx.export(m, (x, hx, lengths), dynamo=True, verbose=False)
    sess = ort.InferenceSession(prog.model_proto.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    flat = [x] + (list(hx) if isinstance(hx, tuple) else [hx] if hx is not None else [])
    flat += [lengths] if lengths is not None else []
    feeds = {i.name: t.numpy() for i, t in zip(sess.get_inputs(), flat)}
    got = sess.run(None, feeds)
    y, state = m(x, hx, lengths)
    want = (y, *(state if isinstance(state, tuple) else (state,)))
    assert len(got) == len(want)
    for a, b in zip(got, want):
        torch.testing.assert_close(torch.from_numpy(a), b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind,bi,T,B,h0,ragged", [
    ("gru", False, 2, 1, False, False),
    ("lstm", True, 17, 3, True, True),
], ids=["gru-T2-B1", "lstm-bi-T17-B3-h0-ragged"])
def test_onnx_matches_eager(kind, bi, T, B, h0, ragged):
    _check(kind, bi, T, B, h0, ragged)


@pytest.mark.slow
@pytest.mark.parametrize("kind", FACTORIES)
@pytest.mark.parametrize("bi", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("T,B", [(1, 1), (2, 3), (17, 1)])
def test_onnx_matches_eager_slow(kind, bi, T, B):
    _check(kind, bi, T, B, h0=B > 1, ragged=B > 1)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_onnx_matches_eager_long(kind):
    """T=128 unrolled: minutes per export (bi GRU B=3: 467 s on a loaded 2-core machine)."""
    _check(kind, False, 128, 3, h0=True, ragged=True)

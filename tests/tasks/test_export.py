"""``rnnkit export DIR`` and ``--runtime onnxruntime``: the exported graph gives the eager
model's predictions (≤ 1e-5) on tiny trained runs; refusals are one line; files are kept.

ONNX export takes ~5–15 s per model on 2 cores: each run is exported once per module."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.cli.main import main
from rnnkit.tasks import classify, classify_data, classify_models
from rnnkit.tasks import forecast as F
from rnnkit.tasks.common import COMMON_DEFAULTS, load_weights, read_run, resolve_config
from rnnkit.tasks.errors import UsageError
from rnnkit.tasks.export import check_exportable, onnx_predict_proba

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fc")
    t = np.arange(60)
    y = 50 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 4) + np.random.default_rng(0).normal(0, .5, 60)
    pd.DataFrame({"time": t, "y": y}).to_csv(tmp / "s.csv", index=False)
    cfg = resolve_config(F.DEFAULTS, {"data": str(tmp / "s.csv"), "out": str(tmp / "run"),
                                      "quiet": True, "epochs": 2, "ensemble": 1,
                                      "hidden_size": 8, "season": 4, "lookback": 8,
                                      "horizon": 4, "baselines": False})
    assert F.train(cfg) == 0
    assert main(["export", str(tmp / "run")]) == 0
    return tmp


def test_forecast_onnx_equals_eager(forecast_run, capsys):
    run, data = forecast_run / "run", forecast_run / "s.csv"
    meta = json.loads((run / "export" / "export.json").read_text())
    assert meta["task"] == "forecast" and meta["lookback"] == 8 and meta["horizon"] == 4
    assert meta["transform"] == read_run(run)["transform"] and meta["inputs"]["x"] == [1, 8, 1]
    import onnx

    props = {p.key: p.value for p in onnx.load(str(run / "export" / "model.onnx")).metadata_props}
    assert json.loads(props["rnnkit"])["transform"] == meta["transform"]
    for cmd in ("predict", "forecast"):
        outs = []
        for rt in ("torch", "onnxruntime"):
            path = forecast_run / f"{cmd}-{rt}.csv"
            assert main([cmd, str(run), "--data", str(data), "-o", str(path),
                         "--runtime", rt]) == 0
            outs.append(pd.read_csv(path))
        eager, ort = outs
        assert list(eager.columns) == list(ort.columns) and len(eager) == 4
        for col in eager.columns[1:]:
            np.testing.assert_allclose(ort[col], eager[col], rtol=1e-5, atol=1e-5)
    capsys.readouterr()
    # a horizon the graph was not exported for is refused, not silently wrong
    assert main(["forecast", str(run), "--data", str(data), "--horizon", "6",
                 "--runtime", "onnxruntime"]) == 2
    assert "--horizon: expected the exported horizon 4" in capsys.readouterr().err


def test_export_refuses_to_overwrite_and_detects_a_stale_export(forecast_run, capsys):
    run = forecast_run / "run"
    before = (run / "export" / "model.onnx").read_bytes()
    assert main(["export", str(run)]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and err.count("\n") == 1
    assert (run / "export" / "model.onnx").read_bytes() == before
    meta_path = run / "export" / "export.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "weights_sha256": "0" * 64}))
    try:
        assert main(["predict", str(run), "--runtime", "onnxruntime"]) == 2
        assert "earlier weights" in capsys.readouterr().err
    finally:
        meta_path.write_text(json.dumps(meta))


def test_forecast_pt2_equals_eager(forecast_run):
    run = forecast_run / "run"
    assert main(["export", str(run), "--format", "pt2"]) == 0
    ep = torch.export.load(str(run / "export" / "model.pt2"))
    model, *_ = F._load_run(run)
    x, xf = torch.randn(1, 8, 1), torch.zeros(1, 4, 0)
    ref = model.forecast(x, xf, steps=4)
    got = ep.module()(x, xf)
    for name, v in zip(("point", "lower", "upper"), got, strict=True):
        torch.testing.assert_close(v, ref[name], rtol=1e-5, atol=1e-5)


def test_classify_onnx_equals_eager_on_ragged_batches(tmp_path, capsys):
    rng = np.random.default_rng(1)
    y = np.arange(24) % 3
    df = pd.DataFrame(rng.normal(size=(24, 10)) + y[:, None], columns=[f"t{i}" for i in range(10)])
    df["label"] = np.array(["a", "b", "c"])[y]
    df.to_csv(tmp_path / "f.csv", index=False)
    cfg = {**COMMON_DEFAULTS, **classify.DEFAULTS, "data": str(tmp_path / "f.csv"),
           "out": str(tmp_path / "run"), "quiet": True, "epochs": 1, "hidden_size": 8,
           "batch_size": 8, "cv_folds": 0}
    assert classify.train(cfg) == 0
    run_dir = tmp_path / "run"
    assert main(["export", str(run_dir)]) == 0
    meta = json.loads((run_dir / "export" / "export.json").read_text())
    assert meta["classes"] == ["a", "b", "c"] and meta["length"] == 10
    assert set(meta["scaling"]) == {"mean", "std"}
    run = read_run(run_dir)
    model = load_weights(classify_models.build_model(run), run_dir).eval()
    X = df[[f"t{i}" for i in range(10)]].to_numpy(np.float32)[:, :, None]
    lengths = np.array([10, 3, 7, 1, 10, 9] * 4)  # ragged: padded to T=10 inside the graph
    items = classify_data.encode(run, X, lengths=lengths)
    eager = classify_models.predict_proba(model, items, {"device": "cpu"})
    np.testing.assert_allclose(onnx_predict_proba(run_dir, items, batch_size=5), eager,
                               rtol=1e-5, atol=1e-5)
    for rt in ("torch", "onnxruntime"):
        assert main(["predict", str(run_dir), "-o", str(tmp_path / f"{rt}.csv"),
                     "--runtime", rt]) == 0
    a, b = (pd.read_csv(tmp_path / f"{rt}.csv") for rt in ("torch", "onnxruntime"))
    assert (a["label"] == b["label"]).all()
    for c in ("a", "b", "c"):
        np.testing.assert_allclose(b[f"prob_{c}"], a[f"prob_{c}"], atol=1e-5)


def test_unsupported_runs_are_one_line_errors():
    for run in ({"task": "seq2seq"}, {"task": "forecast", "kind": "panel"},
                {"task": "classify", "kind": "text"},
                {"task": "classify", "kind": "sequence", "rocket": {"weight": 0.5}}):
        with pytest.raises(UsageError, match="or lm run, got") as e:
            check_exportable("DIR", run)
        assert "\n" not in str(e.value)


def test_missing_onnxruntime_names_the_extra(forecast_run, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert main(["predict", str(forecast_run / "run"), "--runtime", "onnxruntime"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "rnnkit[export]"' in err and err.count("\n") == 1


def test_lm_step_onnx_generates_what_eager_generates(tmp_path, capsys):
    from rnnkit.tasks import lm
    from rnnkit.tasks.export import OnnxLanguageModel

    path = tmp_path / "t.txt"
    path.write_text("and the lord said unto moses, go in unto pharaoh. " * 20, encoding="utf-8")
    args = {"data": str(path), "out": str(tmp_path / "run"), "quiet": True, "epochs": 1,
            "hidden_size": 8, "batch_size": 4, "seq_len": 8, "num_layers": 2}
    assert lm.train(resolve_config(lm.DEFAULTS, args)) == 0
    run_dir = tmp_path / "run"
    assert main(["export", str(run_dir)]) == 0
    model, tok, _ = lm._load_run(run_dir)
    ids = [int(i) for i in tok.encode("and the lo")]
    ort = OnnxLanguageModel(run_dir)
    logits, _ = ort.step_logits(ids)
    with torch.no_grad():
        ref = model(torch.tensor([ids]))[0][:, -1]
    np.testing.assert_allclose(logits, ref.numpy(), rtol=1e-5, atol=1e-5)
    texts = []
    for rt in ("torch", "onnxruntime"):
        capsys.readouterr()
        assert main(["generate", str(run_dir), "--prime", "and", "--length", "30",
                     "--temperature", "0", "--runtime", rt]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and len(texts[0].rstrip("\n")) == 33

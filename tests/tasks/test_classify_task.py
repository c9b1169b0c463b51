"""The classify pipeline in-process: splits, shape-based defaults, and the run directory
round trip (config.json rebuilds model, scaler and tokenizer; predictions match)."""

import numpy as np
import pytest
import torch

from rnnkit.data import SequenceClassData, TextClassData
from rnnkit.tasks import classify, classify_data
from rnnkit.tasks.common import COMMON_DEFAULTS, load_weights, read_run


def test_stratified_split_keeps_class_shares_and_is_seeded():
    y = np.array([0] * 80 + [1] * 20)
    keep, held = classify_data.stratified_split(y, 0.1, seed=3)
    assert len(held) == 10 and np.bincount(y[held]).tolist() == [8, 2]
    assert set(keep).isdisjoint(held) and len(keep) + len(held) == 100
    again = classify_data.stratified_split(y, 0.1, seed=3)
    assert (again[1] == held).all()
    # a class with one item stays in training
    keep, held = classify_data.stratified_split(np.array([0, 0, 0, 1]), 0.5, seed=0)
    assert 3 in keep


def _seq(n=30, channels=1):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 10, channels)) + y[:, None, None]
    return SequenceClassData(X, y, X[:8], y[:8], ("a", "b"), name="toy")


def test_defaults_come_from_the_data_shape():
    cfg = {**COMMON_DEFAULTS, **classify.DEFAULTS}
    small = classify._auto_settings(cfg, _seq(30, 1))
    assert small["znorm"] is True and small["val_frac"] == 0.0 and small["conv"] is True
    assert small["pooling"] == "mean" and 10 <= small["epochs"] <= 100
    multi = classify._auto_settings(cfg, _seq(400, 3))
    assert multi["znorm"] is False and multi["val_frac"] == 0.1
    text = classify._auto_settings(cfg, TextClassData(("a b",) * 4, np.array([0, 1] * 2),
                                                      ("a",), np.array([0]), ("x", "y")))
    assert text["bidirectional"] is True and text["pooling"] == "max"
    given = classify._auto_settings({**cfg, "pooling": "attention", "epochs": 3}, _seq())
    assert given["pooling"] == "attention" and given["epochs"] == 3


def _train(tmp_path, data, test_data=None, **kw):
    cfg = {**COMMON_DEFAULTS, **classify.DEFAULTS, "data": str(data), "test_data": test_data,
           "out": str(tmp_path / "run"), "quiet": True, "epochs": 2, "hidden_size": 8,
           "batch_size": 8, **kw}
    assert classify.train(cfg) == 0
    return tmp_path / "run"


def _roundtrip(out, inputs, **encode_kw):
    """Rebuild from config.json alone and compare with the trained model's own predictions."""
    run = read_run(out)
    model = load_weights(classify.build_model(run), out).eval()
    items = classify_data.encode(run, inputs, **encode_kw)
    p1 = classify._predict_proba(model, items, run["settings"])
    model2 = load_weights(classify.build_model(read_run(out)), out).eval()
    p2 = classify._predict_proba(model2, classify_data.encode(read_run(out), inputs, **encode_kw),
                                 {})
    np.testing.assert_allclose(p1, p2, atol=1e-6)
    np.testing.assert_allclose(p1.sum(1), 1.0, atol=1e-5)
    return run, p1


def test_numeric_run_round_trip(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(1)
    y = np.arange(40) % 2
    df = pd.DataFrame(rng.normal(size=(40, 8)) + y[:, None], columns=list("abcdefgh"))
    df["label"] = y
    df.to_csv(tmp_path / "f.csv", index=False)
    out = _train(tmp_path, tmp_path / "f.csv")
    X = df[list("abcdefgh")].to_numpy(np.float32)[:, :, None]
    run, _ = _roundtrip(out, X, lengths=np.full(40, 8))
    assert run["kind"] == "sequence" and run["data"]["classes"] == ["0", "1"]
    assert run["model"]["input_size"] == 1 and run["source"]["label_col"] == "label"


def test_text_run_round_trip_includes_the_tokenizer(tmp_path):
    import pandas as pd

    texts = ["good tasty snack", "bad stale chips", "great value", "awful, never again"] * 6
    pd.DataFrame({"t": texts, "y": ["p", "n", "p", "n"] * 6}).to_csv(tmp_path / "t.csv",
                                                                     index=False)
    out = _train(tmp_path, tmp_path / "t.csv", text_col="t", label_col="y", min_freq=1)
    run, _ = _roundtrip(out, texts[:4])
    tok = run["data"]["tokenizer"]
    assert tok["kind"] == "word" and "tasty" in tok["itos"] and run["data"]["max_len"] >= 3


def test_run_dir_is_not_created_for_bad_input(tmp_path):
    with pytest.raises(classify.CLIError, match="missing path"):
        _train(tmp_path, tmp_path / "nope.ts")
    assert not (tmp_path / "run").exists()


def test_threads_setting_is_applied():
    before = torch.get_num_threads()
    classify._set_threads(1)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(before)

"""The classify pipeline in-process: splits, shape-based defaults, and the run directory
round trip (config.json rebuilds model, scaler and tokenizer; predictions match)."""

import numpy as np
import pytest
import torch

from rnnkit.data import SequenceClassData, TextClassData
from rnnkit.tasks import classify, classify_data, classify_fit, classify_models
from rnnkit.tasks.classify_settings import auto_settings
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
    small = auto_settings(cfg, _seq(30, 1))
    assert small["znorm"] is True and small["val_frac"] == 0.0 and small["conv"] is True
    assert small["pooling"] == "mean" and 10 <= small["epochs"] <= 100
    multi = auto_settings(cfg, _seq(400, 3))
    assert multi["znorm"] is False and multi["val_frac"] == 0.1
    text = auto_settings(cfg, TextClassData(("a b",) * 4, np.array([0, 1] * 2),
                                                      ("a",), np.array([0]), ("x", "y")))
    assert text["bidirectional"] is True and text["pooling"] == "max"
    assert text["pretrain_epochs"] == 10 and text["ensemble"] == 3 and text["epochs"] == 12
    assert text["nb_weight"] == 0.5 and text["nb_c"] == 0.1
    deep = auto_settings({**cfg, "num_layers": 2}, TextClassData(
        ("a b",) * 4, np.array([0, 1] * 2), ("a",), np.array([0]), ("x", "y")))
    assert deep["pretrain_epochs"] == 0  # a deep bidirectional encoder cannot be an LM
    big = TextClassData(("a b",) * 20_000, np.arange(20_000) % 2, ("a",), np.array([0]),
                        ("x", "y"))
    big = auto_settings(cfg, big)
    assert big["pretrain_epochs"] == 2 and big["ensemble"] == 1 and big["nb_weight"] == 0.0
    assert multi["ensemble"] == 1 and not multi["pretrain_epochs"]
    given = auto_settings({**cfg, "pooling": "attention", "epochs": 3}, _seq())
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
    model = load_weights(classify_models.build_model(run), out).eval()
    items = classify_data.encode(run, inputs, **encode_kw)
    p1 = classify_models.predict_proba(model, items, run["settings"])
    model2 = load_weights(classify_models.build_model(read_run(out)), out).eval()
    p2 = classify_models.predict_proba(
        model2, classify_data.encode(read_run(out), inputs, **encode_kw), {})
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


def _texts_csv(tmp_path):
    import pandas as pd

    texts = ["good tasty snack", "bad stale chips", "great value", "awful, never again"] * 6
    pd.DataFrame({"t": texts, "y": ["p", "n", "p", "n"] * 6}).to_csv(tmp_path / "t.csv",
                                                                     index=False)
    return tmp_path / "t.csv", texts


def test_text_ensemble_with_pretraining_round_trip(tmp_path):
    """--ensemble 2 --pretrain-epochs 1: one language-model pretraining, then two members
    (seeds 0 and 1000) fine-tuned from it; the saved ensemble's probabilities are the mean of
    its members'."""
    import json

    from rnnkit.models.ensemble import ProbabilityEnsemble

    data, texts = _texts_csv(tmp_path)
    out = _train(tmp_path, data, text_col="t", label_col="y", min_freq=1, ensemble=2,
                 pretrain_epochs=1, nb_weight=0.0)
    run, p = _roundtrip(out, texts[:4])
    assert run["ensemble"] == 2 and "nb" not in run
    m = json.loads((out / "metrics.json").read_text())
    assert m["ensemble"] == 2 and [r["seed"] for r in m["members"]] == [0, 1000]
    assert m["pretrain"]["epochs"] == 1 and all(r["epochs_run"] >= 1 for r in m["members"])
    assert (out / "checkpoints" / "member1").is_dir()
    model = load_weights(classify_models.build_model(run), out).eval()
    assert isinstance(model, ProbabilityEnsemble) and len(model.members) == 2
    items = classify_data.encode(run, texts[:4])
    each = [classify_models.predict_proba(mem, items, {}) for mem in model.members]
    np.testing.assert_allclose(p, np.mean(each, axis=0), atol=1e-5)


def test_single_model_run_is_unchanged_by_the_ensemble_option(tmp_path):
    data, texts = _texts_csv(tmp_path)
    one = _train(tmp_path / "a", data, text_col="t", label_col="y", min_freq=1, ensemble=1,
                 nb_weight=0.0)
    run, _ = _roundtrip(one, texts[:4])
    assert "ensemble" not in run
    assert not any(k.startswith("members.") for k in
                   load_weights(classify_models.build_model(run), one).state_dict())


@pytest.mark.parametrize("kw,match", [
    ({"ensemble": 0}, "--ensemble: expected a positive number"),
    ({"pretrain_epochs": -1}, "--pretrain-epochs: expected a number of epochs >= 0"),
    ({"pretrain_epochs": 1, "num_layers": 2}, "--pretrain-epochs: expected a one-layer"),
    ({"pretrain_share": 0.0}, "--pretrain-share: expected 0 < value <= 1"),
    ({"nb_weight": 1.5}, "--nb-weight: expected 0 <= W <= 1"),
    ({"nb_c": 0}, "--nb-c: expected a value > 0"),
])
def test_bad_ensemble_and_pretraining_options(tmp_path, kw, match):
    data, _ = _texts_csv(tmp_path)
    with pytest.raises(classify.CLIError, match=match):
        _train(tmp_path, data, text_col="t", label_col="y", **kw)
    assert not (tmp_path / "run").exists()


def test_pretraining_needs_text(tmp_path):
    import pandas as pd

    y = np.arange(30) % 2
    pd.DataFrame({"a": y * 1.0, "b": -y * 1.0, "label": y}).to_csv(tmp_path / "f.csv",
                                                                   index=False)
    with pytest.raises(classify.CLIError, match="--pretrain-epochs: expected text data"):
        _train(tmp_path, tmp_path / "f.csv", pretrain_epochs=2)
    with pytest.raises(classify.CLIError, match="--nb-weight: expected text data"):
        _train(tmp_path, tmp_path / "f.csv", nb_weight=0.5)


def test_text_run_with_the_nb_member_round_trip(tmp_path):
    """Default text settings add the NB-weighted logistic regression as the last member, with
    weight 0.5 against the recurrent model(s); it is rebuilt from config.json."""
    import json

    from rnnkit.models.ensemble import ProbabilityEnsemble
    from rnnkit.models.nb_classifier import NBLogisticClassifier

    data, texts = _texts_csv(tmp_path)
    out = _train(tmp_path, data, text_col="t", label_col="y", min_freq=1, ensemble=1)
    run, p = _roundtrip(out, texts[:4])
    assert "ensemble" not in run and run["nb"]["weight"] == 0.5 and run["nb"]["C"] == 0.1
    assert run["nb"]["model"]["vocab_size"] == run["model"]["vocab_size"]
    m = json.loads((out / "metrics.json").read_text())
    assert m["nb"]["weight"] == 0.5 and m["nb"]["iterations"] >= 1
    model = load_weights(classify_models.build_model(run), out).eval()
    assert isinstance(model, ProbabilityEnsemble) and model.weights == [0.5, 0.5]
    assert isinstance(model.members[1], NBLogisticClassifier)
    assert float(model.members[1].ratio.abs().sum()) > 0  # fitted ratios were saved
    items = classify_data.encode(run, texts[:4])
    each = [classify_models.predict_proba(mem, items, {}) for mem in model.members]
    np.testing.assert_allclose(p, 0.5 * each[0] + 0.5 * each[1], atol=1e-5)
    labels = [run["data"]["classes"].index(c) for c in ("p", "n", "p", "n")]
    assert each[1].argmax(1).tolist() == labels  # NB-LR fits these separable texts


def test_ensemble_members_hold_out_different_validation_splits():
    y = np.array([0] * 60 + [1] * 40)
    ds = TextClassData(tuple(f"t{i}" for i in range(100)), y, ("a",), np.array([0]), ("x", "y"))
    items = classify_data.Items(np.arange(100)[:, None], np.ones(100), y)
    cfg = {"val_frac": 0.1, "seed": 0}
    splits = [classify_fit.member_split(cfg, ds, items, i) for i in range(3)]
    held = [set(v.x[:, 0].tolist()) for _, v in splits]
    for (fit, val), h in zip(splits, held):
        assert len(val) == 10 and np.bincount(val.y.numpy()).tolist() == [6, 4]
        assert set(fit.x[:, 0].tolist()) == set(range(100)) - h
    assert held[0] != held[1] != held[2]
    # member 0 keeps the single-model split; no validation split when val_frac is 0
    keep, _ = classify_data.stratified_split(y, 0.1, 1)
    assert splits[0][0].x[:, 0].tolist() == keep.tolist()
    assert classify_fit.member_split({"val_frac": 0.0, "seed": 0}, ds, items, 2) == (items, None)

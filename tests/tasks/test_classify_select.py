"""Sequence model selection by cross-validation on the training split: no test value reaches
scaling, folds or selection; the step budget grows with the data; the MiniRocket member and
baseline are deterministic; variable-length and missing-value .ts files end to end."""

import json

import numpy as np
import pytest
import torch

from rnnkit.tasks import classify, classify_models
from rnnkit.tasks.classify_select import SelectionSettings, budget, stratified_folds
from rnnkit.tasks.common import COMMON_DEFAULTS, load_weights, read_run

TINY = dict(quiet=True, epochs=2, hidden_size=4, cv_folds=2)


def _ts(path, n, length=14, seed=0, poison=False, missing=False, offset=0.0,
        scale=1.0):
    """A 2-class, 2-channel .ts file of variable lengths (``missing``: trailing and interior
    '?'; ``poison``: absurd values, as a test file nobody should learn from)."""
    rng = np.random.default_rng(seed)
    lines = ["@problemName Toy", "@univariate false", "@equalLength false",
             "@classLabel true a b", "@data"]
    for i in range(n):
        lab = "ab"[i % 2]
        t = length - (i % 4)
        chans = []
        for _ in range(2):
            v = np.sin(np.linspace(0, 3, t) * (2 if lab == "b" else 1)) + 0.1 * rng.normal(size=t)
            v = v * 1e6 + 1e9 if poison else v * scale + offset
            vals = [f"{x:.4f}" for x in v]
            if missing and i % 3 == 0:
                vals[2] = "?"                      # interior: interpolated
                vals[-3:] = ["?"] * 3              # trailing on every channel: shorter case
            chans.append(",".join(vals))
        lines.append(":".join(chans) + f":{lab}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _train(tmp_path, train, test, name="run", **kw):
    out = tmp_path / name
    cfg = {**COMMON_DEFAULTS, **classify.DEFAULTS, "data": str(train), "test_data": str(test),
           "out": str(out), **TINY, **kw}
    assert classify.train(cfg) == 0
    return out


def test_cross_validation_never_sees_the_test_split(tmp_path):
    """Poisoned test values change nothing that is fitted: scaler, folds' CV table, chosen
    model, weights — only the test score."""
    train = _ts(tmp_path / "T_TRAIN.ts", 16)
    clean = _train(tmp_path, train, _ts(tmp_path / "A_TEST.ts", 8, seed=1), "clean")
    bad = _train(tmp_path, train, _ts(tmp_path / "B_TEST.ts", 8, seed=1, poison=True), "bad")
    a, b = read_run(clean), read_run(bad)
    assert a["data"] == b["data"] and a["model"] == b["model"] and a.get("rocket") == b.get(
        "rocket")
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (clean, bad))
    assert ma["selection"]["cv"] == mb["selection"]["cv"]
    assert ma["selection"]["winner"] == mb["selection"]["winner"]
    wa = load_weights(classify_models.build_model(a), clean).state_dict()
    wb = load_weights(classify_models.build_model(b), bad).state_dict()
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_report_names_the_winner_and_keeps_the_rnn_alone(tmp_path):
    out = _train(tmp_path, _ts(tmp_path / "T_TRAIN.ts", 16),
                 _ts(tmp_path / "T_TEST.ts", 8, seed=1), rocket_weight=0.5)
    m = json.loads((out / "metrics.json").read_text())
    sel = m["selection"]
    assert sel["rocket_weight"] == 0.5 and "minirocket" in sel["winner"]
    assert sel["candidate"] in sel["winner"] and sel["folds"] == 2
    assert {r["candidate"] for r in sel["cv"]} >= {"cnn-lstm", "lstm-fcn"}
    for name in ("rnnkit_rnn_alone", "minirocket", "1nn_euclidean", "1nn_dtw",
                 "majority_class"):
        assert name in m["baselines"], name
    for name in ("minirocket", "1nn_euclidean", "1nn_dtw"):
        assert m["baselines"][name]["seconds"] >= 0
    run = read_run(out)
    assert run["ensemble"] == 2 and run["rocket"]["weight"] == 0.5


def test_variable_length_and_missing_values_end_to_end(tmp_path):
    """'?' at the end of a case shortens it (masked), inside it is interpolated; the run
    trains, evaluates and predicts the same numbers, with no NaN anywhere."""
    train = _ts(tmp_path / "M_TRAIN.ts", 16, missing=True)
    test = _ts(tmp_path / "M_TEST.ts", 8, seed=1, missing=True)
    out = _train(tmp_path, train, test, rocket_weight=0.0)
    m = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(m["test"]["accuracy"])
    assert classify.evaluate(str(out), {"data": str(train), "test_data": str(test)}) == 0
    ev = json.loads((out / "evaluation.json").read_text())
    assert ev["test"]["accuracy"] == pytest.approx(m["test"]["accuracy"])
    assert classify.predict(str(out), {"data": str(test), "output": str(tmp_path / "p.csv")}) == 0
    import pandas as pd

    p = pd.read_csv(tmp_path / "p.csv")
    assert len(p) == 8 and np.isfinite(p.filter(like="prob_").to_numpy()).all()


def test_missing_values_are_trimmed_not_padded():
    from rnnkit.data import trim_missing

    x = np.array([[1.0, 2.0], [np.nan, 4.0], [3.0, np.nan], [np.nan, np.nan]])
    y = trim_missing(x)
    assert y.shape == (3, 2)  # the all-missing last step is cut: the length masks it
    np.testing.assert_allclose(y, [[1, 2], [2, 4], [3, 4]])


def test_budget_grows_with_the_data_and_stops_on_convergence():
    s = SelectionSettings()
    small, mid, big = budget(30, s), budget(600, s), budget(100_000, s)
    assert small["max_steps"] == s.min_steps and big["max_steps"] == s.max_steps
    assert small["max_steps"] <= mid["max_steps"] <= big["max_steps"]
    assert small["batch_size"] <= mid["batch_size"] <= big["batch_size"] == 64
    assert all(b["patience"] >= 3 for b in (small, mid, big))
    fixed = budget(30, SelectionSettings(epochs=5))
    assert fixed["epochs"] == 5


def test_folds_are_stratified_and_cover_the_training_split():
    y = np.array([0] * 9 + [1] * 6)
    folds = stratified_folds(y, 3, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(15))
    assert all(np.bincount(y[f]).tolist() == [3, 2] for f in folds)


@pytest.mark.parametrize("bad", [dict(candidates=("nope",)), dict(rocket_weights=(1.0,)),
                                 dict(rnn_steps=0)], ids=["candidate", "weight", "steps"])
def test_selection_settings_are_validated(bad):
    with pytest.raises(ValueError, match="SelectionSettings: expected"):
        SelectionSettings(**bad)


def test_minirocket_member_matches_aeon_and_baseline_is_deterministic():
    """The stored-tensor MiniRocket member predicts what aeon's MiniRocketClassifier does,
    survives a state_dict round trip, and the baseline repeats under a seed."""
    from rnnkit.baselines.classification import minirocket
    from rnnkit.models.rocket import MiniRocketMember

    rng = np.random.default_rng(0)
    y = np.arange(20) % 2
    X = (np.sin(np.linspace(0, 6, 30))[None, :, None] * (1 + y)[:, None, None]
         + 0.3 * rng.normal(size=(20, 30, 1))).astype(np.float32)
    lengths = np.full(20, 30)
    m = MiniRocketMember.fit(X[:12], lengths[:12], y[:12], num_classes=2, seed=3)
    mine = m(torch.from_numpy(X[12:]), torch.from_numpy(lengths[12:])).argmax(1).numpy()
    ref = minirocket(X[:12], y[:12], X[12:], seed=3)
    assert (mine == ref).all()
    assert (minirocket(X[:12], y[:12], X[12:], seed=3) == ref).all()
    again = MiniRocketMember(m.config)
    again.load_state_dict(m.state_dict())
    torch.testing.assert_close(again(torch.from_numpy(X[12:])), m(torch.from_numpy(X[12:])))


def test_minirocket_member_is_fitted_on_the_inputs_it_will_see(tmp_path):
    """The run's MiniRocket member reads scaled inputs, so it is fitted on them: on data far
    from zero mean it agrees with MiniRocket on the raw data (its features are shift- and
    scale-invariant when fitted on the same scale)."""
    from rnnkit.baselines.classification import minirocket
    from rnnkit.data import load_ts_classification
    from rnnkit.tasks.classify_data import encode

    train = _ts(tmp_path / "O_TRAIN.ts", 24, length=20, offset=300.0, scale=100.0)
    test = _ts(tmp_path / "O_TEST.ts", 16, length=20, seed=1, offset=300.0, scale=100.0)
    out = _train(tmp_path, train, test, rocket_weight=0.5)
    run = read_run(out)
    rocket = load_weights(classify_models.build_model(run), out).members[-1]
    ds = load_ts_classification(train, test, fillna="mask")
    items = encode(run, ds.X_test, ds.y_test, ds.lengths_test)
    mine = classify_models.predict_proba(rocket, items, {}).argmax(1)
    ref = minirocket(ds.X_train, ds.y_train, ds.X_test, ds.lengths_train, ds.lengths_test,
                     seed=0)
    assert (mine == ref).mean() >= 0.9

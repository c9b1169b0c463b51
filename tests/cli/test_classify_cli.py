"""``rnnkit train classify`` / ``evaluate`` / ``predict`` as subprocesses (built-in numeric
data, a user CSV of texts, a user CSV of numeric features, a user ``.ts`` pair), and the
one-line errors for bad input (exit status 2, no run directory left behind)."""

import json
import subprocess
import sys

import numpy as np
import pytest

TINY = ["--quiet", "--epochs", "1", "--hidden-size", "4", "--batch-size", "16"]
POS = ["great taste, love it", "really great snack", "love the flavour, great value",
       "tasty and great", "my kids love these"]
NEG = ["stale and bland", "awful taste, never again", "arrived broken, bad", "too salty, bad",
       "bland, would not buy"]


def _rnnkit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def _text_csv(path, n=4, label="label", empty=False):
    import pandas as pd

    texts = (POS + NEG) * n
    if empty:
        texts[3] = "  "
    pd.DataFrame({"review": texts, label: (["good"] * 5 + ["bad"] * 5) * n}).to_csv(path,
                                                                                   index=False)
    return path


def _numeric_csv(path, n=40, label=True):
    import pandas as pd

    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 12)) + y[:, None] * np.linspace(-1, 1, 12)
    df = pd.DataFrame(X, columns=[f"t{i}" for i in range(12)])
    if label:
        df["label"] = np.where(y == 1, "up", "down")
    df.to_csv(path, index=False)
    return path


def _ts(path, n, channels=2, length=16, seed=0):
    rng = np.random.default_rng(seed)
    lines = ["@problemName Toy", f"@univariate {'true' if channels == 1 else 'false'}",
             "@equalLength false", "@classLabel true a b", "@data"]
    for i in range(n):
        lab = "ab"[i % 2]
        t = length - (i % 3)  # variable lengths
        chans = [rng.normal(size=t) + (1.5 if lab == "b" else 0) for _ in range(channels)]
        lines.append(":".join(",".join(f"{v:.4f}" for v in c) for c in chans) + f":{lab}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _check_run(out, dataset, history=False):
    for name in ("config.json", "model.safetensors", "metrics.json", "confusion.png",
                 *(("history.csv", "history.png") if history else ())):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] == "classify" and m["dataset"] == dataset
    assert set(m["test"]) == {"accuracy", "macro_f1", "seconds"}
    assert "majority_class" in m["baselines"] and m["train_seconds"] >= 0
    return m


@pytest.fixture(scope="module")
def italy(tmp_path_factory):
    out = tmp_path_factory.mktemp("ipd") / "run"
    r = _rnnkit("train", "classify", "--data", "ItalyPowerDemand", "--out", out, *TINY)
    assert r.returncode == 0, r.stderr
    return out, r


def test_builtin_numeric_train_evaluate_predict(italy):
    out, r = italy
    m = _check_run(out, "ItalyPowerDemand")
    assert "1nn_euclidean" in m["baselines"] and "macro_f1" in r.stdout
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["kind"] == "sequence" and len(cfg["data"]["mean"]) == 1
    r = _rnnkit("evaluate", out)
    assert r.returncode == 0, r.stderr
    ev = json.loads((out / "evaluation.json").read_text())
    assert ev["n"] == 1029 and ev["test"]["accuracy"] == pytest.approx(m["test"]["accuracy"])
    r = _rnnkit("predict", out, "-o", out / "p.csv")
    assert r.returncode == 0, r.stderr
    import pandas as pd

    p = pd.read_csv(out / "p.csv")
    assert list(p.columns) == ["index", "label", "prob_1", "prob_2", "true_label"]
    np.testing.assert_allclose(p[["prob_1", "prob_2"]].sum(axis=1), 1.0, atol=1e-5)


def test_user_text_csv_and_single_input(tmp_path):
    data, out = _text_csv(tmp_path / "reviews.csv"), tmp_path / "run"
    r = _rnnkit("train", "classify", "--data", data, "--text-col", "review", "--out", out,
                "--tokenizer", "char", "--max-len", "40", *TINY)
    assert r.returncode == 0, r.stderr
    m = _check_run(out, "reviews", history=True)
    assert "tfidf_logreg" in m["baselines"]
    assert json.loads((out / "config.json").read_text())["data"]["tokenizer"]["kind"] == "char"
    r = _rnnkit("predict", out, "--input", "great snack, love it")
    assert r.returncode == 0, r.stderr
    head, row = r.stdout.strip().splitlines()
    assert head.startswith("label,prob_bad,prob_good") and row.split(",")[0] in ("bad", "good")
    unlabelled = tmp_path / "new.csv"
    import pandas as pd

    pd.DataFrame({"review": ["so bad", "so great"]}).to_csv(unlabelled, index=False)
    r = _rnnkit("predict", out, "--data", unlabelled)
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(out / "predictions.csv")) == 2
    r = _rnnkit("evaluate", out, "--data", data)
    assert r.returncode == 0 and "accuracy" in r.stdout, r.stderr


@pytest.mark.slow  # ~40-70 s of subprocess runs: `make test-slow`
def test_user_numeric_csv_and_ts_pair(tmp_path):
    data, out = _numeric_csv(tmp_path / "feat.csv"), tmp_path / "csvrun"
    r = _rnnkit("train", "classify", "--data", data, "--out", out, *TINY)
    assert r.returncode == 0, r.stderr
    _check_run(out, "feat")
    r = _rnnkit("predict", out, "--data", _numeric_csv(tmp_path / "new.csv", 6, label=False))
    assert r.returncode == 0, r.stderr
    train, test = _ts(tmp_path / "T_TRAIN.ts", 24), _ts(tmp_path / "T_TEST.ts", 12, seed=1)
    out = tmp_path / "tsrun"
    r = _rnnkit("train", "classify", "--data", train, "--test-data", test, "--out", out,
                "--pooling", "attention", "--no-conv", *TINY)
    assert r.returncode == 0, r.stderr
    assert _check_run(out, "Toy")["baselines"]["1nn_euclidean"]["accuracy"] > 0.5
    r = _rnnkit("evaluate", out, "--data", train, "--test-data", test)
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "evaluation.json").read_text())["n"] == 12


def _bad(tmp_path, *args, expect):
    out = tmp_path / "never"
    r = _rnnkit("train", "classify", *args, "--out", out, *TINY)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error: "), r.stderr
    assert expect in lines[0], lines[0]
    assert not out.exists()
    return lines[0]


def test_missing_file_and_unknown_dataset(tmp_path):
    _bad(tmp_path, "--data", tmp_path / "nope.csv", expect="missing path")
    _bad(tmp_path, "--data", "GunPiont", expect="Did you mean 'GunPoint'")
    _bad(tmp_path, "--data", "airline", expect="expected a classification dataset")


def test_unknown_columns_list_the_available_ones(tmp_path):
    data = _text_csv(tmp_path / "r.csv")
    msg = _bad(tmp_path, "--data", data, "--label-col", "stars", expect="--label-col")
    assert "['review', 'label']" in msg
    _bad(tmp_path, "--data", data, "--text-col", "body", expect="--text-col")


def test_empty_text_and_single_class(tmp_path):
    _bad(tmp_path, "--data", _text_csv(tmp_path / "e.csv", empty=True), expect="empty")
    import pandas as pd

    pd.DataFrame({"review": POS * 3, "label": ["good"] * 15}).to_csv(tmp_path / "one.csv",
                                                                      index=False)
    _bad(tmp_path, "--data", tmp_path / "one.csv", expect="at least two classes")


def test_ts_test_file_with_other_channels(tmp_path):
    train, test = _ts(tmp_path / "A_TRAIN.ts", 12), _ts(tmp_path / "A_TEST.ts", 6, channels=3)
    _bad(tmp_path, "--data", train, "--test-data", test, expect="expected 2 channels")


def test_single_input_needs_a_text_run(italy):
    out, _ = italy
    r = _rnnkit("predict", out, "--input", "hello")
    assert r.returncode == 2 and "text classification run" in r.stderr


@pytest.mark.slow  # ~40-70 s of subprocess runs: `make test-slow`
def test_explain_numeric_and_text_runs(tmp_path):
    """``rnnkit explain`` on classify runs: per-step saliency for the predicted class (numeric),
    per-token saliency (text) and the attention weights of attention pooling, summing to 1."""
    num = tmp_path / "num"
    r = _rnnkit("train", "classify", "--data", _numeric_csv(tmp_path / "n.csv"), "--pooling",
                "attention", "--out", num, *TINY)
    assert r.returncode == 0, r.stderr
    r = _rnnkit("explain", num, "--index", "2")
    assert r.returncode == 0, r.stderr
    rec = json.loads((num / "explain" / "saliency-2.json").read_text())
    assert len(rec["scores"]) == 12 and len(rec["attention"]) == 12
    assert abs(sum(rec["attention"]) - 1) < 1e-5
    assert (num / "explain" / "attention-2.png").is_file()
    text = tmp_path / "text"
    r = _rnnkit("train", "classify", "--data", _text_csv(tmp_path / "t.csv"), "--text-col",
                "review", "--out", text, *TINY)
    assert r.returncode == 0, r.stderr
    r = _rnnkit("explain", text, "--index", "0", "--data", tmp_path / "t.csv")
    assert r.returncode == 0, r.stderr
    rec = json.loads((text / "explain" / "saliency-0.json").read_text())
    from rnnkit.data import tokenizer_from_dict

    tok = tokenizer_from_dict(json.loads((text / "config.json").read_text())["data"]["tokenizer"])
    assert len(rec["scores"]) == len(tok.encode(POS[0]))
    r = _rnnkit("explain", num, "--index", "-1")
    assert r.returncode == 2 and "--index: expected 0 <= index <" in r.stderr


def test_text_ensemble_with_pretraining_predict_and_explain(tmp_path):
    data, out = _text_csv(tmp_path / "t.csv"), tmp_path / "ens"
    r = _rnnkit("train", "classify", "--data", data, "--text-col", "review", "--out", out,
                "--ensemble", "2", "--pretrain-epochs", "1", *TINY)
    assert r.returncode == 0, r.stderr
    assert "ensemble of 2" in r.stdout
    m = _check_run(out, "t")
    assert m["ensemble"] == 2 and len(m["members"]) == 2
    r = _rnnkit("predict", out, "--input", "great snack, love it")
    assert r.returncode == 0, r.stderr
    r = _rnnkit("explain", out, "--index", "0", "--data", data)
    assert r.returncode == 0, r.stderr
    assert "explaining its first member" in r.stdout
    r = _rnnkit("train", "classify", "--data", data, "--text-col", "review", "--out",
                tmp_path / "bad", "--ensemble", "0", *TINY)
    assert r.returncode == 2 and "--ensemble: expected a positive number" in r.stderr
    assert not (tmp_path / "bad").exists()

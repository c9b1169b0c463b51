"""``rnnkit train tag`` / ``evaluate`` / ``predict`` (subprocesses) and bad CoNLL files."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

SMALL = ["--quiet", "--epochs", "2", "--hidden-size", "16", "--embed-size", "8",
         "--batch-size", "16"]


def rnnkit(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def conll(path, n=60, seed=0):
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        toks = [(rng.choice(["john", "mary"]), "B-PER"), ("went", "O"), ("to", "O"),
                (rng.choice(["paris", "rome"]), "B-LOC")]
        lines += [f"{a}\t{b}" for a, b in toks] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tag")
    out = tmp / "run"
    p = rnnkit("train", "tag", "--data", conll(tmp / "ner.conll"), "--out", out, "--crf", *SMALL)
    assert p.returncode == 0, p.stderr
    assert "majority_tag" in p.stdout and "most_frequent_tag" in p.stdout
    return out


def test_train_writes_the_run_directory(run_dir):
    for name in ("config.json", "model.safetensors", "metrics.json", "test_predictions.conll"):
        assert (run_dir / name).is_file(), name
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["task"] == "tag" and m["dataset"] == "ner"
    assert {"token_accuracy", "entity_f1"} <= set(m["test"])
    assert set(m["baselines"]) == {"majority_tag", "most_frequent_tag"}
    assert json.loads((run_dir / "config.json").read_text())["model"]["crf"] is True


def test_predict_and_evaluate(run_dir, tmp_path):
    p = rnnkit("predict", run_dir, "--input", "mary went to rome")
    assert p.returncode == 0, p.stderr
    assert [line.split("\t")[0] for line in p.stdout.strip().splitlines()] == \
        ["mary", "went", "to", "rome"]
    toks = tmp_path / "toks.txt"
    toks.write_text("john\nwent\n\nmary\n")
    p = rnnkit("predict", run_dir, "--data", toks, "--output", tmp_path / "out.conll")
    assert p.returncode == 0, p.stderr
    assert len((tmp_path / "out.conll").read_text().split("\n\n")) >= 2
    p = rnnkit("evaluate", run_dir, "--data", conll(tmp_path / "t.conll", 10, 1))
    assert p.returncode == 0 and "entity_f1" in p.stdout, p.stderr


@pytest.mark.parametrize("text,match", [
    ("a\tO\nb\tB-X\textra\n\nc\tO\n", "expected 2 columns on line 2"),
    ("a\nb\n", "one column"),
    ("\n\n", "got none"),
], ids=["ragged", "one-column", "empty"])
def test_bad_conll_is_one_line_exit_2_and_no_run_dir(tmp_path, text, match):
    data = tmp_path / "bad.conll"
    data.write_text(text)
    out = tmp_path / "run"
    p = rnnkit("train", "tag", "--data", data, "--out", out, *SMALL)
    assert p.returncode == 2, p.stderr
    assert match in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not out.exists()

"""``rnnkit explain DIR --data … --index N``: attention heatmap (seq2seq) and saliency (tag)
PNG + JSON; errors for a bad index and for tasks without explanations."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SMALL = ["--quiet", "--epochs", "1", "--hidden-size", "8", "--embed-size", "8",
         "--batch-size", "8"]


def rnnkit(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explain")
    tsv = tmp / "pairs.tsv"
    tsv.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["abc", "bca", "cab", "ab", "ba"] * 4))
    conll = tmp / "t.conll"
    conll.write_text("a\tB-X\nb\tO\n\nb\tO\na\tB-X\n\n" * 10)
    s2s, tag = tmp / "s2s", tmp / "tag"
    for task, data, out in (("seq2seq", tsv, s2s), ("tag", conll, tag)):
        p = rnnkit("train", task, "--data", data, "--out", out, *SMALL)
        assert p.returncode == 0, p.stderr
    return {"s2s": (s2s, tsv), "tag": (tag, conll)}


def test_explain_seq2seq_attention(runs, tmp_path):
    run, data = runs["s2s"]
    p = rnnkit("explain", run, "--data", data, "--index", "2", "--output", tmp_path)
    assert p.returncode == 0, p.stderr
    rec = json.loads((tmp_path / "attention-2.json").read_text())
    assert (tmp_path / "attention-2.png").is_file() and rec["source"] == "cab"
    assert len(rec["attention"]) == len(rec["output_tokens"])
    for row in rec["attention"]:
        assert len(row) == 3 and abs(sum(row) - 1) < 1e-4


def test_explain_tagger_saliency(runs, tmp_path):
    run, data = runs["tag"]
    p = rnnkit("explain", run, "--data", data, "--index", "1", "--output", tmp_path,
               "--method", "gradient_x_input")
    assert p.returncode == 0, p.stderr
    rec = json.loads((tmp_path / "saliency-1.json").read_text())
    assert rec["tokens"] == ["b", "a"] and len(rec["scores"]) == 2
    assert (tmp_path / "saliency-1.png").is_file()


def test_explain_errors(runs, tmp_path):
    run, data = runs["s2s"]
    p = rnnkit("explain", run, "--data", data, "--index", "999")
    assert p.returncode == 2 and "--index: expected 0 <= N < 20" in p.stderr
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "config.json").write_text(json.dumps({"task": "lm"}))
    p = rnnkit("explain", fake)
    if "supports it" not in p.stderr:
        pytest.skip("the lm task now has explain()")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1

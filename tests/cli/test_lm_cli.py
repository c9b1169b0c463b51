"""``rnnkit train lm`` / ``evaluate`` / ``predict`` / ``generate`` as a user runs them
(subprocesses), and every bad-input error: one line, exit status 2, no run directory left."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

TEXT = ("And God said, Let there be light: and there was light. And God saw the light, that it "
        "was good: and God divided the light from the darkness.\n") * 40
SMALL = ["--quiet", "--epochs", "2", "--hidden-size", "32", "--batch-size", "8", "--seq-len",
         "32", "--lr", "0.01"]


def rnnkit(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True,
                          text=True, timeout=240, cwd=cwd)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lm")
    data = tmp / "genesis.txt"
    data.write_text(TEXT, encoding="utf-8")
    out = tmp / "run"
    p = rnnkit("train", "lm", "--data", data, "--out", out, *SMALL)
    assert p.returncode == 0, p.stderr
    assert "bzip2-9" in p.stdout and "unigram" in p.stdout and "metrics.json" in p.stdout
    return out


def test_train_writes_the_run_directory(run_dir):
    for name in ("config.json", "model.safetensors", "metrics.json", "history.csv",
                 "history.png"):
        assert (run_dir / name).is_file(), name
    m = json.loads((run_dir / "metrics.json").read_text())
    assert {"task", "dataset", "test", "baselines", "train_seconds"} <= set(m)
    assert m["task"] == "lm" and m["dataset"] == "genesis"
    assert set(m["test"]) == {"bpc", "perplexity"}
    assert set(m["baselines"]) == {"unigram", "bzip2-9"}
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["tokenizer"]["kind"] == "char" and cfg["settings"]["seq_len"] == 32


def test_evaluate_reprints_the_test_score(run_dir, tmp_path):
    m = json.loads((run_dir / "metrics.json").read_text())
    p = rnnkit("evaluate", run_dir)
    assert p.returncode == 0, p.stderr
    assert f"{m['test']['bpc']:.4g}" in p.stdout
    other = tmp_path / "other.txt"
    line = "And God saw the light, that it was good.\n"
    other.write_text(line * 5, encoding="utf-8")
    p = rnnkit("evaluate", run_dir, "--test-data", other)  # a whole given file
    assert p.returncode == 0, p.stderr
    assert "bpc" in p.stdout and f"{5 * len(line):,} chars" in p.stdout


def test_generate_is_repeatable_under_a_seed(run_dir):
    args = ("generate", run_dir, "--prime", "And God", "--length", "60", "--seed", "1",
            "--top-k", "5", "--top-p", "0.9", "--temperature", "0.7")
    a, b = rnnkit(*args), rnnkit(*args)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout and a.stdout.startswith("And God")
    assert len(a.stdout.rstrip("\n")) == len("And God") + 60


def test_predict_writes_a_surprisal_csv(run_dir, tmp_path):
    out = tmp_path / "bits.csv"
    p = rnnkit("predict", run_dir, "--output", out)
    assert p.returncode == 0, p.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "position,token,bits" and len(lines) > 100


def test_evaluate_dynamic_prints_both_scores(run_dir):
    m = json.loads((run_dir / "metrics.json").read_text())
    p = rnnkit("evaluate", run_dir, "--dynamic", "--dynamic-lr", "1e-4",
               "--dynamic-segment-len", "25")
    assert p.returncode == 0, p.stderr
    assert f"{m['test']['bpc']:.4g}" in p.stdout  # the static score stays in the table
    assert "lstm-char-lm + dynamic eval" in p.stdout and "lr 0.0001" in p.stdout


def test_train_dynamic_eval_adds_test_dynamic(tmp_path):
    data = tmp_path / "genesis.txt"
    data.write_text(TEXT, encoding="utf-8")
    p = rnnkit("train", "lm", "--data", data, "--out", tmp_path / "run", *SMALL, "--epochs",
               "1", "--dynamic-eval")
    assert p.returncode == 0, p.stderr
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(m["test"]) == {"bpc", "perplexity"}
    assert m["test_dynamic"]["method"] == "rms" and m["test_dynamic"]["bpc"] > 0


def _error(p: subprocess.CompletedProcess, *words: str) -> None:
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnkit: error: "), p.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.parametrize("case", ["missing", "empty", "unknown", "binary", "bidirectional",
                                  "seq-len", "recurrent-dropout"])
def test_bad_training_input(case, tmp_path):
    f = tmp_path / "data.txt"
    out = tmp_path / "run"
    extra: list[str] = []
    if case == "empty":
        f.write_text("   \n", encoding="utf-8")
    elif case == "binary":
        f.write_bytes(b"caf\xe9 au lait\n" * 10)  # latin-1, not UTF-8
    elif case in ("bidirectional", "seq-len", "recurrent-dropout"):
        f.write_text(TEXT, encoding="utf-8")
        extra = {"bidirectional": ["--bidirectional"], "seq-len": ["--seq-len", "0"],
                 "recurrent-dropout": ["--recurrent-dropout", "1.5"]}[case]
    data = "kjvv" if case == "unknown" else str(f)
    p = rnnkit("train", "lm", "--data", data, "--out", out, *SMALL, *extra)
    expected = {"missing": ("--data", "no such file"), "empty": ("empty file",),
                "unknown": ("unknown dataset", "kjv"), "binary": ("UTF-8", "undecodable"),
                "bidirectional": ("left-to-right",), "seq-len": ("--seq-len",),
                "recurrent-dropout": ("--recurrent-dropout", "[0, 1)", "1.5")}[case]
    _error(p, *expected)
    assert not out.exists()


@pytest.mark.slow  # ~40-70 s of subprocess runs: `make test-slow`
def test_bad_generate_and_evaluate_input(run_dir, tmp_path):
    _error(rnnkit("generate", run_dir, "--temperature", "-1"), "temperature")
    _error(rnnkit("generate", run_dir, "--top-p", "1.5"), "top_p")
    _error(rnnkit("evaluate", run_dir, "--test-data", tmp_path / "nope.txt"), "--test-data")
    _error(rnnkit("generate", tmp_path), "config.json")
    _error(rnnkit("evaluate", run_dir, "--dynamic", "--dynamic-lr", "-1"), "--dynamic-lr",
           ">= 0")
    _error(rnnkit("evaluate", run_dir, "--dynamic", "--dynamic-segment-len", "0"),
           "--dynamic-segment-len", "integer >= 1")
    _error(rnnkit("evaluate", run_dir, "--dynamic-decay", "0.1"), "together with")
    other = tmp_path / "forecast-run"
    other.mkdir()
    (other / "config.json").write_text('{"task": "forecast"}', encoding="utf-8")
    _error(rnnkit("evaluate", other, "--dynamic"), "--dynamic-eval", "lm run")


def test_recurrent_dropout_flag_reaches_the_model_config():
    from rnnkit.cli.main import build_parser
    from rnnkit.tasks import lm
    from rnnkit.tasks.common import resolve_config

    args = build_parser().parse_args(["train", "lm", "--data", "kjv", "--recurrent-dropout",
                                      "0.2"])
    assert resolve_config(lm.DEFAULTS, vars(args))["recurrent_dropout"] == 0.2
    assert resolve_config(lm.DEFAULTS, {"data": "kjv"})["recurrent_dropout"] == 0.0

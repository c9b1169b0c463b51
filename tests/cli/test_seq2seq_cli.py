"""``rnnkit train seq2seq`` / ``evaluate`` / ``predict`` as a user runs them (subprocesses), and
the bad-input errors: one line, exit status 2, no run directory left."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

SMALL = ["--quiet", "--epochs", "2", "--hidden-size", "16", "--embed-size", "8",
         "--batch-size", "16", "--beam-width", "2"]


def rnnkit(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def reversal_tsv(path, n=80, seed=0):
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdef") for _ in range(rng.randint(2, 5))) for _ in range(n)]
    path.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("s2s")
    out = tmp / "run"
    p = rnnkit("train", "seq2seq", "--data", reversal_tsv(tmp / "rev.tsv"), "--out", out, *SMALL)
    assert p.returncode == 0, p.stderr
    assert "copy" in p.stdout and "most_frequent_mapping" in p.stdout and "greedy" in p.stdout
    return out


def test_train_writes_the_run_directory(run_dir):
    for name in ("config.json", "model.safetensors", "metrics.json", "history.csv",
                 "attention.png"):
        assert (run_dir / name).is_file(), name
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["task"] == "seq2seq" and m["dataset"] == "rev"
    assert set(m["test"]) == {"token_error_rate", "sequence_error_rate", "chrf"}
    assert set(m["baselines"]) == {"copy", "most_frequent_mapping"}
    assert set(m["greedy"]) == set(m["test"]) and m["beam_width"] == 2
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["model"]["hidden_size"] == 16 and cfg["target_tokenizer"]["kind"] == "char"


def test_evaluate_and_predict(run_dir, tmp_path):
    p = rnnkit("evaluate", run_dir)
    assert p.returncode == 0, p.stderr
    assert "token_error_rate" in p.stdout and (run_dir / "evaluation.json").is_file()
    p = rnnkit("predict", run_dir, "--input", "abc", "--beam-width", "1")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("\n") == 1  # one output (possibly empty for a 2-epoch model)
    src = tmp_path / "src.txt"
    src.write_text("abc\nfed\n")
    out = tmp_path / "pred.csv"
    p = rnnkit("predict", run_dir, "--data", src, "--output", out)
    assert p.returncode == 0, p.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "source,prediction" and len(lines) == 3


@pytest.mark.parametrize("name,text,extra,match", [
    ("m.csv", "en,fr\nab,ba\ncd,dc\nef,fe\n", ["--source-col", "en", "--target-col", "de"],
     "expected a target column named 'de'"),
    ("e.tsv", "ab\tba\n\ncd\tdc\nef\tfe\n", [], "empty line"),
    ("r.tsv", "ab\tba\ncd\nef\tfe\n", [], "at least 2 columns on line 2"),
    ("f.tsv", "ab\tba\ncd\t \nef\tfe\n", [], "non-empty target on line 2"),
], ids=["missing-column", "empty-line", "ragged", "empty-field"])
def test_bad_data_is_one_line_exit_2_and_no_run_dir(tmp_path, name, text, extra, match):
    data = tmp_path / name
    data.write_text(text, encoding="utf-8")
    out = tmp_path / "run"
    p = rnnkit("train", "seq2seq", "--data", data, "--out", out, *SMALL, *extra)
    assert p.returncode == 2, p.stderr
    assert match in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_settings_and_missing_file(tmp_path):
    out = tmp_path / "run"
    data = reversal_tsv(tmp_path / "ok.tsv", n=10)
    p = rnnkit("train", "seq2seq", "--data", data, "--out", out, "--dropout", "1.5", "--quiet")
    assert p.returncode == 2 and "dropout" in p.stderr and not out.exists()
    p = rnnkit("train", "seq2seq", "--data", tmp_path / "nope.tsv", "--out", out)
    assert p.returncode == 2 and "missing path" in p.stderr and not out.exists()


def test_predict_rejects_empty_input_and_bad_beam(run_dir):
    p = rnnkit("predict", run_dir, "--input", "  ")
    assert p.returncode == 2 and "non-empty" in p.stderr
    p = rnnkit("predict", run_dir, "--input", "abc", "--beam-width", "0")
    assert p.returncode == 2 and "beam_width" in p.stderr


def test_lr_schedule_flags_reach_the_config_and_bad_ones_are_errors(tmp_path):
    from rnnkit.cli.main import build_parser
    from rnnkit.tasks import seq2seq
    from rnnkit.tasks.common import resolve_config

    args = build_parser().parse_args(["train", "seq2seq", "--lr-schedule", "cosine",
                                      "--warmup-steps", "0", "--min-lr-ratio", "0.1"])
    cfg = resolve_config(seq2seq.DEFAULTS, vars(args))
    assert (cfg["lr_schedule"], cfg["warmup_steps"], cfg["min_lr_ratio"]) == ("cosine", 0, 0.1)
    out = tmp_path / "run"
    data = reversal_tsv(tmp_path / "ok.tsv", n=10)
    p = rnnkit("train", "seq2seq", "--data", data, "--out", out, "--min-lr-ratio", "2",
               "--quiet")
    assert p.returncode == 2 and "--min-lr-ratio: expected a number in [0, 1]" in p.stderr
    assert not out.exists()

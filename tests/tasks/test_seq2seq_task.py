"""The seq2seq pipeline in-process: config defaults, data loading/splitting, decoding helpers,
baselines and scoring."""

from __future__ import annotations

import json

import pytest
import torch

from rnnkit.data.pairs import PairData, fit_pair_tokenizers
from rnnkit.tasks import seq2seq
from rnnkit.tasks.common import COMMON_DEFAULTS, CLIError


def cfg(**kw):
    return {**COMMON_DEFAULTS, **seq2seq.DEFAULTS, **kw}


def write_pairs(path, words):
    path.write_text("".join(f"{w}\t{w.upper()}\n" for w in words), encoding="utf-8")
    return path


def test_load_pairs_split_and_test_file(tmp_path):
    words = [f"w{i}" for i in range(40)]
    d = seq2seq.load_pairs(cfg(data=str(write_pairs(tmp_path / "a.tsv", words))))
    assert (len(d.sources_train), len(d.sources_val), len(d.sources_test)) == (36, 2, 2)
    assert d.name == "a" and d.targets_train[0] == d.sources_train[0].upper()
    t = write_pairs(tmp_path / "t.tsv", ["x", "y"])
    d = seq2seq.load_pairs(cfg(data=str(tmp_path / "a.tsv"), test_data=str(t), max_train=5))
    assert d.sources_test == ("x", "y") and len(d.sources_train) == 5
    with pytest.raises(CLIError, match="at least 3 pairs"):
        seq2seq.load_pairs(cfg(data=str(write_pairs(tmp_path / "b.tsv", ["a", "b"]))))


def test_mapping_baseline_and_score():
    data = PairData(("ab", "ba", "aab"), ("AB", "BA", "AAB"), (), (), ("bb",), ("BB",))
    src_tok, tgt_tok = fit_pair_tokenizers(data)
    mapping = seq2seq.mapping_baseline(data, src_tok, tgt_tok)
    assert mapping("ab") == "AB" and mapping("bba") == "BBA" and mapping("zz") == "zz"
    s = seq2seq.score(["AB", "BA"], ["AB", "BB"], tgt_tok)
    assert s["sequence_error_rate"] == 0.5 and s["token_error_rate"] == 0.25
    assert "bleu" not in s and 0 < s["chrf"] < 100


def test_train_tiny_run_in_process(tmp_path, capsys):
    words = ["".join("abc"[(i * 7 + j) % 3] for j in range(2 + i % 3)) for i in range(60)]
    data = tmp_path / "p.tsv"
    data.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    out = tmp_path / "run"
    rc = seq2seq.train(cfg(data=str(data), out=str(out), epochs=1, hidden_size=8,
                           embed_size=8, batch_size=16, quiet=True, beam_width=2,
                           target_level="word", sampling_prob=0.5))
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert "bleu" in m["test"]  # word-level targets get BLEU
    settings, model, src_tok, tgt_tok = seq2seq.load_run(out)
    assert settings["target_level"] == "word" and tgt_tok.kind == "word"
    hyps = seq2seq.decode(model, src_tok, tgt_tok, ["abc", "a"], beam_width=1)
    assert len(hyps) == 2 and all(isinstance(h, str) for h in hyps)
    assert "metrics:" in capsys.readouterr().out


def test_bad_settings_fail_before_the_run_dir(tmp_path):
    out = tmp_path / "run"
    for bad in ({"attention": "cosine"}, {"model": "transformer"}, {"beam_width": 0}):
        with pytest.raises(CLIError):
            seq2seq.train(cfg(data="cmudict", out=str(out), **bad))
        assert not out.exists()
    torch.manual_seed(0)


@pytest.mark.parametrize("schedule", ["cosine", "plateau"])
def test_lr_schedule_and_cpu_clock_budget(tmp_path, schedule):
    words = ["".join("abc"[(i * 7 + j) % 3] for j in range(2 + i % 3)) for i in range(60)]
    data = tmp_path / "p.tsv"
    data.write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    ticks = iter(range(10**6))  # a fake clock: 1 s per reading, so the budget ends the run
    out = tmp_path / "run"
    seq2seq.train(cfg(data=str(data), out=str(out), epochs=50, time_budget=4.0, hidden_size=8,
                      embed_size=8, batch_size=8, quiet=True, beam_width=2, lr=1e-2,
                      lr_schedule=schedule, warmup_steps=0, min_lr_ratio=0.1),
                  clock=lambda: float(next(ticks)))
    hist = json.loads((out / "history.json").read_text())
    assert len(hist) == 1  # stopped by the clock within the first epoch (7 batches)
    settings = json.loads((out / "config.json").read_text())["settings"]
    assert settings["lr_schedule"] == schedule
    if schedule == "cosine":
        assert hist[-1]["lr"] < 1e-2  # annealing towards 0.1 · lr


def test_bad_schedule_settings_are_cli_errors(tmp_path):
    for bad, flag in (({"lr_schedule": "linear"}, "--lr-schedule"),
                      ({"warmup_steps": -1}, "--warmup-steps"),
                      ({"min_lr_ratio": 2.0}, "--min-lr-ratio")):
        with pytest.raises(CLIError, match=f"{flag}: expected"):
            seq2seq.train(cfg(data="cmudict", out=str(tmp_path / "run"), **bad))
    assert not (tmp_path / "run").exists()

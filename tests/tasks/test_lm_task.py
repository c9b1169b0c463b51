"""The lm task pipeline in-process: contiguous streams, splits, schedule, train → files →
evaluate / predict / generate from the run directory alone."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch

from rnnkit.baselines import run_lm_baselines
from rnnkit.data import TextCorpus, tokenizer_from_dict
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.tasks import lm, lm_data
from rnnkit.tasks.common import CLIError, resolve_config

TEXT = ("In the beginning God created the heaven and the earth. And the earth was without "
        "form, and void; and darkness was upon the face of the deep.\n") * 30


def test_stream_rows_continue_across_batches():
    ids = np.arange(1000)
    ds = lm_data.StreamDataset(ids, rows=3, seq_len=4)
    batches = list(torch.utils.data.DataLoader(ds, batch_size=3))  # the trainer's order
    assert len(batches) == len(ds) // 3 == (999 // 3) // 4
    for (x0, y0), (x1, _) in itertools.pairwise(batches):
        assert torch.equal(y0, x0 + 1)  # next-token targets
        assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # row r of batch n+1 continues row r
    assert batches[0][0][1, 0] == 999 // 3  # rows are contiguous thirds of the stream


def test_stream_shape_shrinks_for_small_texts():
    assert lm_data.stream_shape(100_000, 128, 64) == (128, 64)
    assert lm_data.stream_shape(1001, 128, 64) == (128, 7)
    assert lm_data.stream_shape(50, 128, 64) == (49, 1)
    with pytest.raises(CLIError, match="at least 3 tokens"):
        lm_data.stream_shape(2, 128, 64)


def test_held_out_tail_and_baselines_match_run_lm_baselines():
    corpus = TextCorpus(TEXT, "t")
    split = {"valid_frac": 0.05, "test_frac": 0.1}
    head, context, tail = lm_data.held_out(corpus, split, None)
    assert head + tail == TEXT and context == head
    assert tail == corpus.split(0.05, 0.1)[2]
    tok = lm_data.make_tokenizer({"tokenizer": "char", "min_freq": 1}).fit(TEXT)
    model = LanguageModel(LanguageModelConfig(vocab_size=tok.vocab_size, hidden_size=8))
    _, base, unit = lm_data.score(model, tok, head, context, tail)
    ref = {r["baseline"]: r["bpc"] for r in run_lm_baselines(TEXT, 0.1)}
    assert unit == "character"
    assert math.isclose(base["unigram"]["bpc"], ref["unigram"], rel_tol=1e-9)
    assert math.isclose(base["bzip2-9"]["bpc"], ref["bzip2-9"], rel_tol=1e-9)


def _train(tmp_path, **flags) -> tuple[dict, dict]:
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    args = {"data": str(path), "out": str(tmp_path / "run"), "quiet": True, "epochs": 4,
            "hidden_size": 48, "batch_size": 8, "seq_len": 32, "lr": 1e-2, "warmup_steps": 5,
            **flags}
    assert lm.train(resolve_config(lm.DEFAULTS, args)) == 0
    run_dir = tmp_path / "run"
    return (json.loads((run_dir / "config.json").read_text()),
            json.loads((run_dir / "metrics.json").read_text()))


def test_train_learns_and_the_run_dir_rebuilds_everything(tmp_path, capsys):
    run, metrics = _train(tmp_path)
    assert set(metrics) >= {"task", "dataset", "test", "baselines", "train_seconds"}
    assert metrics["test"]["bpc"] < 0.6 * metrics["baselines"]["unigram"]["bpc"]
    assert math.isclose(metrics["test"]["perplexity"], 2 ** metrics["test"]["bpc"])
    tok = tokenizer_from_dict(run["tokenizer"])  # config.json round trip, tokenizer included
    assert tok.kind == "char" and tok.to_dict() == run["tokenizer"]
    assert LanguageModelConfig.from_dict(run["model"]).to_dict() == run["model"]
    capsys.readouterr()
    assert lm.evaluate(tmp_path / "run", {}) == 0  # nothing but the run directory
    printed = capsys.readouterr().out
    assert f"{metrics['test']['bpc']:.4g}" in printed
    assert lm.generate(tmp_path / "run", {"prime": "And the", "length": 40, "seed": 3,
                                          "temperature": 0.5}) == 0
    text = capsys.readouterr().out
    assert text.startswith("And the") and len(text.rstrip("\n")) == len("And the") + 40


def test_word_level_reports_per_token_perplexity(tmp_path, capsys):
    run, metrics = _train(tmp_path, tokenizer="word", embedding_dim=16, epochs=2, seq_len=8)
    assert run["tokenizer"]["kind"] == "word" and run["model"]["tie_weights"] is True
    assert metrics["perplexity_unit"] == "word token"
    assert set(metrics["test"]) == {"bpc", "bits_per_token", "perplexity"}
    assert "unigram-word" in metrics["baselines"]
    assert lm.generate(tmp_path / "run", {"prime": "", "length": 5, "seed": 0}) == 0
    assert len(capsys.readouterr().out.split()) >= 5 + 3  # table lines precede it


def test_predict_writes_per_token_bits(tmp_path):
    _train(tmp_path, epochs=1)
    out = tmp_path / "p.csv"
    assert lm.predict(tmp_path / "run", {"input": "And the earth", "output": str(out)}) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "position,token,bits" and len(lines) == 1 + len("And the earth") - 1
    assert lines[1].startswith("1,n,")


def test_resume_continues_from_the_run_directory(tmp_path):
    _train(tmp_path, epochs=1)
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    _train(tmp_path, epochs=2, resume=str(tmp_path / "run"), out=None)
    hist2 = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in hist2] == [1, 2] and hist2[0] == hist[0]
    with pytest.raises(CLIError, match="--resume: expected a run directory"):
        lm.train(resolve_config(lm.DEFAULTS, {"data": "kjv", "resume": str(tmp_path / "no")}))
    assert not (tmp_path / "no").exists()


def test_bidirectional_and_bad_sizes_are_refused(tmp_path):
    base = {"data": str(tmp_path / "x.txt"), "out": str(tmp_path / "run")}
    with pytest.raises(CLIError, match="left-to-right"):
        lm.train(resolve_config(lm.DEFAULTS, {**base, "bidirectional": True}))
    with pytest.raises(CLIError, match="--seq-len: expected an integer >= 1"):
        lm.train(resolve_config(lm.DEFAULTS, {**base, "seq_len": 0}))
    assert not (tmp_path / "run").exists()


def test_default_budget_applies_only_without_epochs():
    cfg = lm._fill_defaults(resolve_config(lm.DEFAULTS, {"data": "kjv"}))
    assert cfg["time_budget"] == lm.DEFAULT_TIME_BUDGET
    cfg = lm._fill_defaults(resolve_config(lm.DEFAULTS, {"data": "kjv", "epochs": 2}))
    assert cfg["time_budget"] is None and cfg["epochs"] == 2


def test_dynamic_eval_is_reported_beside_the_static_score(tmp_path, capsys):
    run, metrics = _train(tmp_path, epochs=2, dynamic_eval=True, dynamic_lr=1e-3,
                          dynamic_segment_len=20)
    assert set(metrics["test"]) == {"bpc", "perplexity"}  # the static score, as before
    dyn = metrics["test_dynamic"]
    assert {"bpc", "perplexity", "method", "lr", "decay", "segment_len", "cpu_seconds"} <= set(dyn)
    assert (dyn["method"], dyn["lr"], dyn["segment_len"]) == ("rms", 1e-3, 20)
    assert dyn["decay"] == lm_data.DYNAMIC_DEFAULTS["decay"]  # the unset one: its default
    assert math.isclose(dyn["perplexity"], 2 ** dyn["bpc"])
    assert dyn["bpc"] != metrics["test"]["bpc"]
    assert run["settings"]["dynamic_eval"] is True
    capsys.readouterr()
    args = {"dynamic_eval": True, "dynamic_lr": 1e-3, "dynamic_segment_len": 20}
    assert lm.evaluate(tmp_path / "run", args) == 0  # same text, same settings, same numbers
    out = capsys.readouterr().out
    assert "dynamic eval" in out and f"{dyn['bpc']:.4g}" in out
    assert f"{metrics['test']['bpc']:.4g}" in out


@pytest.mark.parametrize("args, match", [
    ({"dynamic_eval": True, "dynamic_lr": -1.0}, "--dynamic-lr: expected a number >= 0"),
    ({"dynamic_eval": True, "dynamic_decay": 1.0}, r"--dynamic-decay: expected a number in \[0"),
    ({"dynamic_eval": True, "dynamic_segment_len": 0}, "--dynamic-segment-len: expected an int"),
    ({"dynamic_lr": 1e-4}, "--dynamic-lr: expected it together with --dynamic-eval"),
])
def test_bad_dynamic_settings_fail_before_any_work(tmp_path, args, match):
    base = {"data": str(tmp_path / "missing.txt"), "out": str(tmp_path / "run")}
    with pytest.raises(CLIError, match=match):
        lm.train(resolve_config(lm.DEFAULTS, {**base, **args}))
    assert not (tmp_path / "run").exists()
    with pytest.raises(CLIError, match=match):
        lm.evaluate(tmp_path / "no-run", args)

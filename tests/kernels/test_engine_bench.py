"""Smoke test of ``rnnkit bench`` (engine): it runs and writes the JSON it prints."""

from __future__ import annotations

import json

import pytest
import torch

from rnnkit.bench import engine


@pytest.mark.slow
def test_bench_engine_smoke(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "SHAPES", [(2, 5, 3, 4)])
    out = tmp_path / "r.json"
    assert engine.main(["--shapes", "0", "--cells", "LSTM", "--variants", "standard,peephole",
                        "--repeats", "1", "--no-extras", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["cases"]
    assert [r["kernel_train"] for r in rows] == ["torch", "engine"]
    assert all(r["ratio_train"] > 0 for r in rows)


@pytest.mark.parametrize("args, msg", [
    (["--cells", "LSTM,foo"], "--cells: expected a comma list of LSTM, GRU, RNN, got 'foo'"),
    (["--shapes", "0,9"], "--shapes: expected indices 0..2"),
    (["--cells", "RNN", "--variants", "peephole"], "--variants: expected some of"),
    (["--threads", "0,x"], "--threads: expected a comma list of thread counts"),
    pytest.param(["--device", "cuda"], "--device: expected a usable CUDA device, got none",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has a GPU")),
])
def test_bench_engine_rejects_bad_selection(args, msg, capsys):
    with pytest.raises(SystemExit) as e:
        engine.main(args)
    assert e.value.code == 2 and msg in capsys.readouterr().err


def test_bench_engine_cells_are_case_insensitive(monkeypatch):
    seen = []
    monkeypatch.setattr(engine, "_case", lambda family, variant, *a: seen.append(
        (family, variant)) or {"ratio_train": 1.0, "ratio_infer": 1.0})
    monkeypatch.setattr(engine, "_print", lambda report: None)
    monkeypatch.setattr(engine, "_peak_gflops", lambda *a: 1.0)
    assert engine.main(["--cells", "gru", "--variants", "reset_before", "--shapes", "2",
                        "--no-extras"]) == 0
    assert seen == [("GRU", "reset_before")]


def test_bench_runs_one_row_set_per_thread_count(monkeypatch):
    """Default: torch's default thread count first, then one thread; 0 means the default."""
    seen = []
    monkeypatch.setattr(engine, "_case", lambda family, variant, *a: seen.append(
        torch.get_num_threads()) or {"ratio_train": 1.0, "ratio_infer": 1.0})
    monkeypatch.setattr(engine, "_peak_gflops", lambda *a: 1.0)
    reports = []
    monkeypatch.setattr(engine, "_print", reports.append)
    default = torch.get_num_threads()
    try:
        assert engine.main(["--cells", "gru", "--variants", "standard", "--shapes", "2",
                            "--no-extras"]) == 0
        assert seen == sorted({default, 1}, key=lambda n: n == 1)
        assert [r["threads"] for r in reports[0]["cases"]] == seen
        seen.clear()
        assert engine.main(["--cells", "gru", "--variants", "standard", "--shapes", "2",
                            "--no-extras", "--threads", "2,0"]) == 0
        assert seen == sorted({2, default}, key=lambda n: n != 2)
    finally:
        torch.set_num_threads(default)


def test_bench_reports_keras_when_installed_and_says_so_when_not(tmp_path, monkeypatch):
    """With Keras 3 installed the rows carry its times and the Keras / rnnkit ratios (Keras on
    its torch backend); without it the report says it was skipped and how to add it."""
    import sys

    from rnnkit.bench import keras_side

    monkeypatch.setattr(engine, "SHAPES", [(2, 4, 3, 5)])
    monkeypatch.setattr(engine, "_peak_gflops", lambda *a: 1.0)
    out = tmp_path / "r.json"
    argv = ["--shapes", "0", "--cells", "GRU", "--variants", "standard,reset_before,layer_norm",
            "--repeats", "1", "--no-extras", "--no-naive", "--json", str(out)]
    if keras_side._keras() is not None:
        assert engine.main(argv) == 0
        report = json.loads(out.read_text())
        assert report["keras"].startswith("Keras 3")
        rows = {r["variant"]: r for r in report["cases"]}
        assert rows["standard"]["ratio_keras_train"] > 0
        assert rows["reset_before"]["ratio_keras_infer"] > 0
        assert "ratio_keras_train" not in rows["layer_norm"]  # Keras has no layer-norm GRU
    assert engine.main([*argv, "--no-keras"]) == 0
    report = json.loads(out.read_text())
    assert report["keras"] == "skipped (--no-keras)"
    assert all("ratio_keras_train" not in r for r in report["cases"])
    monkeypatch.setitem(sys.modules, "keras", None)  # as if not installed: import fails
    assert "not installed" in keras_side.status()
    assert keras_side.keras_fns("LSTM", "standard", (2, 4, 3, 5), None, None) == {}
    assert engine.main(argv) == 0
    assert json.loads(out.read_text())["keras"].startswith("not installed")


def test_peak_memory_is_the_childs_own_and_grows_with_the_step():
    """The per-configuration peak is measured in a fresh process: a big parent (whose peak
    Linux would carry into ru_maxrss) does not leak into it, and a longer sequence needs more."""
    hog = torch.ones(100 * 2**20)  # 400 MB in this (parent) process
    short = engine._peak_memory_mb("LSTM", "standard", (16, 50, 32, 128), True)
    long = engine._peak_memory_mb("LSTM", "standard", (16, 400, 32, 128), True)
    del hog
    assert 0 < short < long < 200


def test_bench_extras_time_bf16_for_every_lstm_and_gru_variant(tmp_path, monkeypatch, capsys):
    """The extras time bf16 training of every LSTM and GRU variant against torch.nn fp32 and
    bf16, print one line per row and write them to the JSON."""
    monkeypatch.setattr(engine, "SHAPES", [(2, 5, 3, 4)])
    monkeypatch.setattr(engine, "_streaming", lambda repeats: [])
    out = tmp_path / "r.json"
    assert engine.main(["--shapes", "0", "--cells", "RNN", "--variants", "standard",
                        "--repeats", "1", "--no-naive", "--no-keras", "--threads", "1",
                        "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["bf16"]
    assert [(r["family"], r["variant"]) for r in rows] == [
        (f, v) for f in ("LSTM", "GRU") for v in engine.VARIANTS[f]]
    from rnnkit.kernels.torch_fused import cpu_bf16_native

    for r in rows:
        # torch.nn's own bf16 LSTM fails on CPUs without native bf16 (AVX2-only): the row
        # says so instead of crashing the benchmark
        want = {"torch.nn fp32", "torch.nn bf16", "rnnkit bf16"}
        if not cpu_bf16_native() and r["family"] == "LSTM":
            want.discard("torch.nn bf16")
            assert "fails on this CPU" in r["note"]
        assert set(r["times_ms"]) == want and r["ratio_vs_torch_fp32"] > 0
    assert capsys.readouterr().out.count("bf16 train ") == len(rows)


@pytest.mark.gpu
def test_bench_engine_runs_on_cuda(tmp_path, monkeypatch):
    """--device cuda: cuDNN beside the engine's Triton step, synchronised timings, CUDA memory."""
    monkeypatch.setattr(engine, "SHAPES", [(4, 6, 3, 8)])
    out = tmp_path / "r.json"
    assert engine.main(["--device", "cuda", "--shapes", "0", "--cells", "LSTM,GRU", "--variants",
                        "standard,layer_norm", "--repeats", "1", "--memory", "--json",
                        str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["device"] == "cuda" and report["keras"] == "skipped (--device cuda)"
    assert {r["kernel_train"] for r in report["cases"] if r["variant"] == "layer_norm"} == {
        "engine"}
    assert all(r["peak_mem_mb"]["rnnkit"] > 0 for r in report["cases"])

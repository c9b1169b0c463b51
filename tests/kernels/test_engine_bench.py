"""Smoke test of ``rnnkit bench`` (engine): it runs and writes the JSON it prints."""

from __future__ import annotations

import json

import pytest

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

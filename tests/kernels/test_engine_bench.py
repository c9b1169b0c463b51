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

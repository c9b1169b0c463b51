"""The tagging pipeline in-process: data loading, baselines, a tiny run that learns."""

from __future__ import annotations

import json

import pytest

from rnnkit.data.conll import TaggedData
from rnnkit.tasks import tag
from rnnkit.tasks.common import COMMON_DEFAULTS, CLIError


def cfg(**kw):
    return {**COMMON_DEFAULTS, **tag.DEFAULTS, **kw}


def conll(path, n):
    names, places = ["ann", "bob", "cy"], ["rome", "oslo"]
    lines = []
    for i in range(n):
        lines += [f"{names[i % 3]}\tB-PER", "saw\tO", f"{places[i % 2]}\tB-LOC", ""]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_baselines_hand_made():
    d = TaggedData((("a", "x", "w"), ("a", "y")), (("B-P", "O", "O"), ("B-P", "O")), (), (),
                   (("a", "z"),), (("B-P", "O"),))
    b = tag.baselines(d)
    assert b["majority_tag"]["token_accuracy"] == 0.5 and b["majority_tag"]["entity_f1"] == 0
    assert b["most_frequent_tag"]["token_accuracy"] == 1.0
    assert b["most_frequent_tag"]["entity_f1"] == 1.0


def test_load_tagged_and_errors(tmp_path):
    d = tag.load_tagged(cfg(data=str(conll(tmp_path / "a.conll", 40))))
    assert (len(d.sentences_train), len(d.sentences_val), len(d.sentences_test)) == (36, 2, 2)
    with pytest.raises(CLIError, match="at least 3 sentences"):
        tag.load_tagged(cfg(data=str(conll(tmp_path / "b.conll", 2))))


def test_tiny_run_learns(tmp_path):
    out = tmp_path / "run"
    rc = tag.train(cfg(data=str(conll(tmp_path / "a.conll", 120)), out=str(out), epochs=4,
                       hidden_size=16, embed_size=8, batch_size=8, quiet=True))
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["test"]["token_accuracy"] > m["baselines"]["majority_tag"]["token_accuracy"]
    assert m["test"]["entity_f1"] >= 0.9

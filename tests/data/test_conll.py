"""CoNLL reading/writing (DOCSTART, blank lines, extra columns, ragged files) and the KJV
truecasing labels."""

from __future__ import annotations

import shutil

import pytest

from rnnkit.data.conll import Vocab, case_tags, load_kjv_case, read_conll, write_conll


def test_read_conll(tmp_path):
    p = tmp_path / "a.conll"
    p.write_text("-DOCSTART- -X- O\n\nJohn NNP B-PER\nlives VBZ O\n\n\nParis NNP B-LOC\n")
    sents, tags = read_conll(p)
    assert sents == [["John", "lives"], ["Paris"]]
    assert tags == [["B-PER", "O"], ["B-LOC"]]


def test_write_then_read_roundtrip(tmp_path):
    sents, tags = [["a", "b"], ["c"]], [["O", "B-X"], ["O"]]
    p = write_conll(tmp_path / "out.conll", sents, tags)
    assert read_conll(p) == (sents, tags)
    write_conll(tmp_path / "two.conll", sents, tags, tags)
    assert (tmp_path / "two.conll").read_text().splitlines()[0] == "a\tO\tO"


@pytest.mark.parametrize("text,match", [
    ("a\tO\nb\tB-X\textra\n", "expected 2 columns on line 2"),
    ("a\nb\n", "one column"),
    ("\n\n", "got none"),
], ids=["ragged", "one-column", "empty"])
def test_bad_conll(tmp_path, text, match):
    p = tmp_path / "bad.conll"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_conll(p)


def test_tokens_only_file_for_prediction(tmp_path):
    p = tmp_path / "toks.txt"
    p.write_text("a\nb\n\nc\n")
    assert read_conll(p, require_tags=False) == ([["a", "b"], ["c"]], None)


def test_case_tags_and_vocab():
    toks = ["And", "the", "LORD", "God", "said", ",", "Holy", "Ghost", "I", "."]
    assert case_tags(toks) == ["B-CAP", "O", "B-UPPER", "B-CAP", "O", "O", "B-CAP", "I-CAP",
                               "I-CAP", "O"]
    v = Vocab.build([["a", "b", "a"]], min_freq=2)
    assert v.itos == ["<pad>", "<unk>", "a"] and v.encode(["a", "b"]) == [2, 1]
    assert Vocab.from_dict(v.to_dict()).itos == v.itos


@pytest.mark.skipif(shutil.which("bible") is None, reason="apt-get install bible-kjv")
def test_kjv_case_split():
    d = load_kjv_case()
    assert (len(d.sentences_train), len(d.sentences_val), len(d.sentences_test)) == \
        (27992, 1555, 1555)
    s, t = d.sentences_test[0], d.tags_test[0]
    assert len(s) == len(t) and all(w == w.lower() for w in s)
    assert {x for ts in d.tags_train for x in ts} == {"O", "B-CAP", "I-CAP", "B-UPPER",
                                                       "I-UPPER"}

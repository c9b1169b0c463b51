"""Word and char tokenizers: round trip, OOV, padding/truncation, JSON save/load."""

import json

import numpy as np
import pytest

from rnnkit.data import CharTokenizer, WordTokenizer, tokenizer_from_dict


def test_word_tokenizer():
    tok = WordTokenizer(max_vocab=6, min_freq=1).fit(["The cat sat.", "the cat ran!", "a dog"])
    assert tok.itos[:4] == ["<pad>", "<unk>", "the", "cat"] and tok.vocab_size == 6
    assert tok.tokenize("Don't stop!") == ["don't", "stop", "!"]
    ids = tok.encode("the cat flew")
    assert ids[:2] == [2, 3] and ids[2] == tok.unk_id == 1
    assert tok.decode(tok.encode("the cat sat")) == "the cat sat"
    mf = WordTokenizer(min_freq=2).fit(["a a b", "a c"])
    assert mf.itos == ["<pad>", "<unk>", "a"]


def test_padding_truncation():
    tok = WordTokenizer().fit(["one two three four five"])
    ids, lengths = tok.encode_batch(["one two three four five", "two"], max_len=3)
    np.testing.assert_array_equal(ids, [[2, 3, 4], [3, 0, 0]])
    assert lengths.tolist() == [3, 1] and ids.dtype == np.int64
    ids, _ = tok.encode_batch(["one two three four five"], max_len=2, truncation="start")
    assert ids.tolist() == [[5, 6]]
    with pytest.raises(ValueError, match="truncation"):
        tok.encode_batch(["x"], truncation="middle")


def test_char_tokenizer_and_serialisation():
    text = "hello world\n"
    tok = CharTokenizer().fit(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode_array("héllo").tolist() == tok.encode("héllo")
    assert tok.encode("é") == [1]
    for t in (tok, WordTokenizer().fit(["a b c"])):
        t2 = tokenizer_from_dict(json.loads(json.dumps(t.to_dict())))
        assert type(t2) is type(t) and t2.itos == t.itos
    with pytest.raises(ValueError, match="Call fit"):
        CharTokenizer().encode("abc")
    with pytest.raises(TypeError, match="expected str"):
        tok.encode(3)

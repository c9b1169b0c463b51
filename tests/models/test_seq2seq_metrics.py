"""Edit-distance error rates and sacrebleu scores used by the seq2seq task."""

import pytest

from rnnkit.metrics_seq import bleu, chrf, edit_distance, sequence_error_rate, token_error_rate


def test_edit_distance():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], ["a"]) == 1 and edit_distance(["a", "b"], ["a", "b"]) == 0


def test_error_rates():
    refs = [["K", "AE", "T"], ["D", "AO", "G"]]
    hyps = [["K", "AH", "T"], ["D", "AO", "G"]]
    assert token_error_rate(refs, hyps) == pytest.approx(1 / 6)
    assert sequence_error_rate(refs, hyps) == 0.5
    assert token_error_rate([["a"]], [["a", "b", "c"]]) == 2.0  # insertions count
    with pytest.raises(ValueError, match="as many"):
        token_error_rate(refs, hyps[:1])


def test_sacrebleu_scores():
    refs = ["the cat sat on the mat", "a dog barked"]
    assert bleu(refs, refs) == pytest.approx(100.0)
    assert chrf(refs, refs) == pytest.approx(100.0)
    assert chrf(refs, ["xyz", "qqq"]) < 10

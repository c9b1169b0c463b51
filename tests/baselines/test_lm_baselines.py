"""LM baselines: unigram entropy and bzip2 bits/char."""

import math
import shutil

import pytest

from rnnkit.baselines import bzip2_bpc, run_lm_baselines, unigram_bpc
from rnnkit.data import load_dataset


def test_unigram_hand_computed():
    assert unigram_bpc("abab", test_frac=1.0) == pytest.approx(1.0)
    # head "aaab" → counts a:3 b:1, alphabet {a, b}: P(a) = 4/6 on the tail "a"
    assert unigram_bpc("aaaba", test_frac=0.2) == pytest.approx(-math.log2(4 / 6))
    with pytest.raises(ValueError, match="non-empty"):
        unigram_bpc("")


def test_bzip2_compresses_repetition():
    assert bzip2_bpc("abc" * 5000, test_frac=1.0) < 0.1
    assert [r["baseline"] for r in run_lm_baselines("hello world " * 100)] == [
        "unigram", "bzip2-9"]


@pytest.mark.skipif(shutil.which("bible") is None,
                    reason="needs the 'bible' program: apt-get install bible-kjv bible-kjv-text")
def test_kjv_reference_whole_text():
    text = load_dataset("kjv").text
    assert bzip2_bpc(text, test_frac=1.0) == pytest.approx(1.671, abs=0.005)
    assert unigram_bpc(text, test_frac=1.0) == pytest.approx(4.40, abs=0.01)

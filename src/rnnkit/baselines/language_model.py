"""Language-model baselines in bits per character on a held-out tail of a text.

* :func:`unigram_bpc` — cross-entropy of the tail under character frequencies of the head
  (add-one smoothing over the union alphabet): what a model with no context gets.
* :func:`bzip2_bpc` — ``8 · len(bz2.compress(tail, 9)) / len(tail)``: a strong, context-using
  compressor; the KJV reference 1.671 bpc is for the whole text, so the tail alone (a smaller
  input for bzip2) reads somewhat higher.

Both count characters (Unicode code points), not bytes. Split convention: the last
``test_frac`` (default 10 %) of the text is held out, as in :meth:`TextCorpus.split`.

Example:
    >>> text = load_dataset("kjv").text
    >>> bzip2_bpc(text), unigram_bpc(text)
"""

from __future__ import annotations

import bz2
import math
from collections import Counter

__all__ = ["bzip2_bpc", "run_lm_baselines", "unigram_bpc"]


def _split(text: str, test_frac: float, where: str) -> tuple[str, str]:
    if not isinstance(text, str) or not text:
        raise ValueError(f"{where}: expected a non-empty str, got {type(text).__name__}.")
    if not 0 < test_frac <= 1:
        raise ValueError(f"{where}: expected 0 < test_frac <= 1, got {test_frac}.")
    cut = len(text) - max(1, round(len(text) * test_frac))
    return text[:cut], text[cut:]


def unigram_bpc(text: str, test_frac: float = 0.1) -> float:
    """Bits/char of the last ``test_frac`` of ``text`` under a unigram model of the rest.

    With ``test_frac=1`` it is the plain unigram entropy of the whole text (no smoothing).
    """
    head, tail = _split(text, test_frac, "unigram_bpc")
    if not head:  # whole-text entropy
        counts = Counter(tail)
        n = len(tail)
        return -sum(c / n * math.log2(c / n) for c in counts.values())
    train, test = Counter(head), Counter(tail)
    alphabet = set(train) | set(test)
    total = len(head) + len(alphabet)
    bits = -sum(c * math.log2((train[ch] + 1) / total) for ch, c in test.items())
    return bits / len(tail)


def bzip2_bpc(text: str, test_frac: float = 0.1) -> float:
    """Bits/char of bzip2 (level 9) on the last ``test_frac`` of ``text`` (UTF-8 encoded)."""
    _, tail = _split(text, test_frac, "bzip2_bpc")
    return 8.0 * len(bz2.compress(tail.encode("utf-8"), 9)) / len(tail)


def run_lm_baselines(text: str, test_frac: float = 0.1) -> list[dict]:
    """Both baselines on the held-out tail: ``[{"baseline", "bpc"}, …]``."""
    return [{"baseline": "unigram", "bpc": unigram_bpc(text, test_frac)},
            {"baseline": "bzip2-9", "bpc": bzip2_bpc(text, test_frac)}]

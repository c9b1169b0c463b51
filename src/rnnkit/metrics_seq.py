"""Metrics for sequence outputs: edit-distance error rates, chrF/BLEU, and entity-level F1.

* ``token_error_rate`` = Σ_i lev(ref_i, hyp_i) / Σ_i |ref_i|   (Levenshtein over tokens: the
  phoneme error rate for G2P, the word error rate for word-level text). A fraction.
* ``sequence_error_rate`` = fraction of outputs that differ from their reference at all (the
  "word error rate" of G2P papers).
* ``chrf`` / ``bleu``: corpus scores from ``sacrebleu`` (0–100), imported lazily.
* ``entity_f1``: seqeval-style (CoNLL ``conlleval``) precision / recall / F1 over entity spans
  decoded from BIO tags: an entity is correct only when its type and both boundaries match.
  ``I-X`` after ``O`` or after a different type starts a new entity, as conlleval does.
* ``token_accuracy``: fraction of equal tags over all tokens.

Example:
    >>> token_error_rate([["K", "AE", "T"]], [["K", "AH", "T"]])       # 1/3
    >>> entity_f1([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])["f1"]   # 0.0
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "bio_entities",
    "bleu",
    "chrf",
    "edit_distance",
    "entity_f1",
    "sequence_error_rate",
    "token_accuracy",
    "token_error_rate",
]


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (insertions, deletions, substitutions cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def _check(refs: Sequence, hyps: Sequence, where: str) -> None:
    if len(refs) != len(hyps):
        raise ValueError(f"{where}: expected as many hypotheses as references, got "
                         f"{len(hyps)} and {len(refs)}.")
    if len(refs) == 0:
        raise ValueError(f"{where}: expected at least one reference, got none.")


def token_error_rate(refs: Sequence[Sequence], hyps: Sequence[Sequence]) -> float:
    """Σ edit distance / Σ reference length (a fraction; may exceed 1)."""
    _check(refs, hyps, "token_error_rate")
    total = sum(len(r) for r in refs)
    return sum(edit_distance(r, h) for r, h in zip(refs, hyps, strict=True)) / max(total, 1)


def sequence_error_rate(refs: Sequence[Sequence], hyps: Sequence[Sequence]) -> float:
    """Fraction of hypotheses not exactly equal to their reference."""
    _check(refs, hyps, "sequence_error_rate")
    return sum(list(r) != list(h) for r, h in zip(refs, hyps, strict=True)) / len(refs)


def chrf(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus chrF (sacrebleu, 0–100)."""
    _check(refs, hyps, "chrf")
    import sacrebleu

    return float(sacrebleu.corpus_chrf(list(hyps), [list(refs)]).score)


def bleu(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu, 0–100, its default 13a tokenisation)."""
    _check(refs, hyps, "bleu")
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(hyps), [list(refs)]).score)


def bio_entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans ``(type, start, end_exclusive)`` of one BIO-tagged sentence.

    ``B-X`` starts an entity; ``I-X`` continues one of type X or starts one otherwise; ``O``
    (or any tag without a ``B-``/``I-`` prefix) ends it.
    """
    spans, kind, start = [], None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, typ = str(tag).partition("-")
        continues = prefix == "I" and kind == typ
        if kind is not None and not continues:
            spans.append((kind, start, i))
            kind = None
        if prefix == "B" or (prefix == "I" and not continues):
            kind, start = typ, i
    return spans


def entity_f1(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro precision / recall / F1 over exact entity spans (seqeval / conlleval)."""
    _check(refs, hyps, "entity_f1")
    tp = n_ref = n_hyp = 0
    for i, (r, h) in enumerate(zip(refs, hyps, strict=True)):
        if len(r) != len(h):
            raise ValueError(f"entity_f1: expected sentence {i} to have equal lengths, got "
                             f"{len(r)} reference and {len(h)} predicted tags.")
        rs, hs = set(bio_entities(r)), set(bio_entities(h))
        tp, n_ref, n_hyp = tp + len(rs & hs), n_ref + len(rs), n_hyp + len(hs)
    p = tp / n_hyp if n_hyp else 0.0
    rec = tp / n_ref if n_ref else 0.0
    f1 = 2 * p * rec / (p + rec) if p + rec else 0.0
    return {"precision": p, "recall": rec, "f1": f1}


def token_accuracy(refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]) -> float:
    """Fraction of tokens whose predicted tag equals the reference."""
    _check(refs, hyps, "token_accuracy")
    total = sum(len(r) for r in refs)
    ok = sum(a == b for r, h in zip(refs, hyps, strict=True) for a, b in zip(r, h, strict=False))
    return ok / max(total, 1)

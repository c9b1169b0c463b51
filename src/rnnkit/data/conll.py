"""CoNLL-style sequence-labelling files, a token vocabulary, and the KJV truecasing task.

File format (:func:`read_conll`): one token per line, its columns separated by whitespace (tab
or spaces), the token first and the tag last; a blank line between sentences; ``-DOCSTART-``
lines are skipped. Every token line must have the same number of columns (a ragged file is an
error naming the line). ``require_tags=False`` also accepts one-column files (tokens only).

Built-in task ``kjv-case`` (:func:`load_kjv_case`): capitalisation restoration on the King
James Bible, labels taken exactly from the text. Each verse is split into words and
punctuation; the input is the lower-cased tokens, the tags mark runs of capitalised words
(``CAP``: "God", "Holy Ghost") and of all-capital words (``UPPER``: "LORD") in BIO form, other
tokens ``O``. Fixed split by verse: ``numpy.random.default_rng(0)`` permutation, 90/5/5.

Example:
    >>> sents, tags = read_conll("train.conll")
    >>> data = load_kjv_case()      # TaggedData, ~28k/1.6k/1.6k verses
"""

from __future__ import annotations

import itertools
import os
import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TaggedData", "Vocab", "case_tags", "load_kjv_case", "read_conll", "write_conll"]


@dataclass(frozen=True)
class TaggedData:
    """Tokenised sentences with one tag per token, split train / validation / test."""

    sentences_train: tuple[tuple[str, ...], ...]
    tags_train: tuple[tuple[str, ...], ...]
    sentences_val: tuple[tuple[str, ...], ...]
    tags_val: tuple[tuple[str, ...], ...]
    sentences_test: tuple[tuple[str, ...], ...]
    tags_test: tuple[tuple[str, ...], ...]
    name: str = "conll"


def read_conll(path: str | os.PathLike, require_tags: bool = True,
               ) -> tuple[list[list[str]], list[list[str]] | None]:
    """Sentences and tags of a CoNLL file (format in the module docstring).

    Returns ``(sentences, tags)``; ``tags`` is None for a one-column file read with
    ``require_tags=False``.
    """
    path = Path(path)
    where = f"CoNLL file '{path}'"
    if not path.is_file():
        raise FileNotFoundError(f"{where}: expected a file, got a missing path. Check the path.")
    sents, tags, cur_s, cur_t = [], [], [], []
    ncols = None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            if cur_s:
                sents.append(cur_s)
                tags.append(cur_t)
                cur_s, cur_t = [], []
            continue
        if parts[0] == "-DOCSTART-":
            continue
        if ncols is None:
            ncols = len(parts)
            if ncols < 2 and require_tags:
                raise ValueError(f"{where}: expected 'token tag' on line {lineno}, got one "
                                 f"column {line.strip()!r}. Separate token and tag by a tab.")
        elif len(parts) != ncols:
            raise ValueError(f"{where}: expected {ncols} columns on line {lineno} (like the "
                             f"first token line), got {len(parts)}: {line.strip()!r}. Every "
                             "token line needs the same columns.")
        cur_s.append(parts[0])
        cur_t.append(parts[-1])
    if cur_s:
        sents.append(cur_s)
        tags.append(cur_t)
    if not sents:
        raise ValueError(f"{where}: expected sentences (token and tag per line, blank line "
                         "between sentences), got none.")
    return sents, (tags if ncols and ncols >= 2 else None)


def write_conll(path: str | os.PathLike, sentences: Sequence[Sequence[str]],
                *columns: Sequence[Sequence[str]]) -> Path:
    """Write tokens and any tag columns (gold, predicted, …) atomically, tab-separated."""
    path = Path(path)
    lines = []
    for i, sent in enumerate(sentences):
        for j, tok in enumerate(sent):
            lines.append("\t".join([tok, *(str(col[i][j]) for col in columns)]))
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


class Vocab:
    """Token ↔ id map with ``<pad>`` = 0 and ``<unk>`` = 1 (tokens seen >= min_freq times)."""

    def __init__(self, itos: Sequence[str]) -> None:
        self.itos = list(itos)
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, sentences: Sequence[Sequence[str]], min_freq: int = 1,
              max_size: int | None = None) -> Vocab:
        counts = Counter(t for s in sentences for t in s)
        kept = [t for t, c in counts.most_common() if c >= min_freq]
        return cls(["<pad>", "<unk>", *kept[: None if max_size is None else max_size - 2]])

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.stoi.get(t, 1) for t in tokens]

    def __len__(self) -> int:
        return len(self.itos)

    def to_dict(self) -> dict:
        return {"itos": self.itos}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        return cls(d["itos"])


_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|[^\w\s]|\d+")


def _case(tok: str) -> str | None:
    if not tok[0].isalpha():
        return None
    if len(tok) > 1 and tok.isupper():
        return "UPPER"
    return "CAP" if tok[0].isupper() else None


def case_tags(tokens: Sequence[str]) -> list[str]:
    """BIO tags of runs of capitalised (CAP) and all-capital (UPPER) words."""
    out, prev = [], None
    for tok in tokens:
        kind = _case(tok)
        out.append("O" if kind is None else ("I-" if kind == prev else "B-") + kind)
        prev = kind
    return out


def _verses(text: str) -> list[str]:
    verse = re.compile(r"^\s+\d+\s+(.*\S)\s*$")
    return [m.group(1) for line in text.splitlines() if (m := verse.match(line))]


def load_kjv_case(max_verses: int | None = None) -> TaggedData:
    """The KJV truecasing task (see module docstring); needs the ``bible`` program."""
    from rnnkit.data.builtin import load_kjv

    verses = _verses(load_kjv().text)
    toks = [_TOKEN.findall(v) for v in verses]
    pairs = [([t.lower() for t in ts], case_tags(ts)) for ts in toks if ts]
    order = np.random.default_rng(0).permutation(len(pairs))
    n = len(pairs)
    n_test = n_val = round(0.05 * n)
    bounds = [0, n - n_val - n_test, n - n_test, n]
    parts = []
    for a, b in itertools.pairwise(bounds):
        idx = order[a:b][:max_verses]
        parts += [tuple(tuple(pairs[i][0]) for i in idx), tuple(tuple(pairs[i][1]) for i in idx)]
    return TaggedData(*parts, name="kjv-case")

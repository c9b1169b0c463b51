"""Word- and character-level tokenizers with a frozen vocabulary, JSON-serialisable.

Both reserve id 0 for ``<pad>`` and id 1 for ``<unk>`` (out-of-vocabulary). The vocabulary is
built by :meth:`fit` from training texts: tokens ordered by decreasing frequency (ties by first
appearance), kept if seen ``>= min_freq`` times, capped at ``max_vocab`` ids in total.

Example:
    >>> tok = WordTokenizer(max_vocab=20000).fit(texts_train)
    >>> ids, lengths = tok.encode_batch(texts_test, max_len=256)    # [B, T] int64, [B]
    >>> tok2 = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))

Letters: B texts, T tokens, V vocabulary size.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["PAD", "UNK", "CharTokenizer", "Tokenizer", "WordTokenizer", "tokenizer_from_dict"]

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


class Tokenizer:
    """Shared vocabulary logic; subclasses define :meth:`tokenize` and :meth:`detokenize`."""

    kind = ""

    def __init__(self, max_vocab: int | None = None, min_freq: int = 1,
                 lower: bool = False) -> None:
        if max_vocab is not None and max_vocab < 3:
            raise ValueError(f"{type(self).__name__}: expected max_vocab >= 3 or None, got "
                             f"{max_vocab}.")
        if min_freq < 1:
            raise ValueError(f"{type(self).__name__}: expected min_freq >= 1, got {min_freq}.")
        self.max_vocab, self.min_freq, self.lower = max_vocab, int(min_freq), bool(lower)
        self.itos: list[str] = [PAD, UNK]
        self.stoi: dict[str, int] = {PAD: PAD_ID, UNK: UNK_ID}

    # -- subclass hooks -------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def detokenize(self, tokens: list[str]) -> str:
        raise NotImplementedError

    # -- vocabulary -------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """V, including ``<pad>`` and ``<unk>``."""
        return len(self.itos)

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @property
    def unk_id(self) -> int:
        return UNK_ID

    def fit(self, texts: Iterable[str] | str) -> Tokenizer:
        """Build the vocabulary from training ``texts`` (a string counts as one text)."""
        texts = [texts] if isinstance(texts, str) else texts
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(self.tokenize(_check_text(text, f"{type(self).__name__}.fit")))
        kept = [t for t, c in counts.most_common() if c >= self.min_freq and t not in self.stoi]
        if self.max_vocab is not None:
            kept = kept[: self.max_vocab - 2]
        self.itos = [PAD, UNK, *kept]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        return self

    def encode(self, text: str) -> list[int]:
        """Token ids of one text (unknown tokens → ``<unk>`` = 1)."""
        if len(self.itos) <= 2:
            raise ValueError(f"{type(self).__name__}.encode: expected a fitted tokenizer, got an "
                             "empty vocabulary. Call fit(train_texts) first.")
        return [self.stoi.get(t, UNK_ID) for t in self.tokenize(_check_text(text, "encode"))]

    def decode(self, ids: Iterable[int], skip_pad: bool = True) -> str:
        """Text of a sequence of ids (``<pad>`` dropped by default, unknown ids → ``<unk>``)."""
        tokens = [self.itos[i] if 0 <= i < len(self.itos) else UNK for i in map(int, ids)
                  if not (skip_pad and i == PAD_ID)]
        return self.detokenize(tokens)

    def encode_batch(self, texts: Sequence[str], max_len: int | None = None,
                     truncation: str = "end") -> tuple[np.ndarray, np.ndarray]:
        """Encode, truncate and right-pad texts.

        Args:
            texts: B strings.
            max_len: cap on T (default: the longest encoded text).
            truncation: ``"end"`` keeps the first ``max_len`` tokens, ``"start"`` the last.

        Returns:
            ``(ids [B, T] int64 padded with 0, lengths [B] int64)``; lengths are >= 1 unless a
            text encodes to no tokens at all.
        """
        if truncation not in ("end", "start"):
            raise ValueError(f"encode_batch: expected truncation 'end' or 'start', got "
                             f"{truncation!r}.")
        if max_len is not None and max_len < 1:
            raise ValueError(f"encode_batch: expected max_len >= 1 or None, got {max_len}.")
        encoded = [self.encode(t) for t in texts]
        if max_len is not None:
            encoded = [e[:max_len] if truncation == "end" else e[-max_len:] for e in encoded]
        lengths = np.array([len(e) for e in encoded], dtype=np.int64)
        ids = np.zeros((len(encoded), max(int(lengths.max(initial=0)), 1)), dtype=np.int64)
        for i, e in enumerate(encoded):
            ids[i, : len(e)] = e
        return ids, lengths

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-serialisable state (settings and vocabulary)."""
        return {"kind": self.kind, "max_vocab": self.max_vocab, "min_freq": self.min_freq,
                "lower": self.lower, "itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict) -> Tokenizer:
        """Rebuild a tokenizer saved by :meth:`to_dict`."""
        tok = cls(max_vocab=d["max_vocab"], min_freq=d["min_freq"], lower=d["lower"])
        if d["itos"][:2] != [PAD, UNK]:
            raise ValueError(f"{cls.__name__}.from_dict: expected itos to start with "
                             f"['{PAD}', '{UNK}'], got {d['itos'][:2]}.")
        tok.itos = list(d["itos"])
        tok.stoi = {t: i for i, t in enumerate(tok.itos)}
        return tok


class WordTokenizer(Tokenizer):
    """Word-level tokenizer: lower-cases, splits words (with inner apostrophes) and punctuation.

    ``"Don't stop!"`` → ``["don't", "stop", "!"]``. Decoding joins tokens with spaces.

    Args:
        max_vocab: cap on V (including the 2 specials); ``None`` for no cap.
        min_freq: minimum training count for a word to get its own id.
        lower: lower-case before splitting (default True).
    """

    kind = "word"
    _pattern = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]")

    def __init__(self, max_vocab: int | None = 20000, min_freq: int = 1,
                 lower: bool = True) -> None:
        super().__init__(max_vocab, min_freq, lower)

    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` into word and punctuation tokens."""
        return self._pattern.findall(text.lower() if self.lower else text)

    def detokenize(self, tokens: list[str]) -> str:
        return " ".join(tokens)


class CharTokenizer(Tokenizer):
    """Character-level tokenizer: one id per character; decoding is exact for known chars.

    Args:
        max_vocab: cap on V (including the 2 specials); ``None`` for no cap.
        min_freq: minimum training count for a character.
        lower: lower-case first (default False).
    """

    kind = "char"

    def __init__(self, max_vocab: int | None = None, min_freq: int = 1,
                 lower: bool = False) -> None:
        super().__init__(max_vocab, min_freq, lower)

    def tokenize(self, text: str) -> list[str]:
        return list(text.lower() if self.lower else text)

    def detokenize(self, tokens: list[str]) -> str:
        return "".join(tokens)

    def encode_array(self, text: str) -> np.ndarray:
        """Ids of a long text (e.g. a whole LM corpus) as an int64 array ``[len(text)]``."""
        table = {c: i for c, i in self.stoi.items() if len(c) == 1}
        text = text.lower() if self.lower else text
        return np.fromiter((table.get(c, UNK_ID) for c in text), dtype=np.int64, count=len(text))


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a :class:`WordTokenizer` or :class:`CharTokenizer` from its ``to_dict()``."""
    kinds = {"word": WordTokenizer, "char": CharTokenizer}
    if d.get("kind") not in kinds:
        raise ValueError(f"tokenizer_from_dict: expected kind in {list(kinds)}, got "
                         f"{d.get('kind')!r}.")
    return kinds[d["kind"]].from_dict(d)


def _check_text(text: object, where: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{where}: expected str, got {type(text).__name__}.")
    return text

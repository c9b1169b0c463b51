"""Language-modelling data side: corpus, split, tokenizer, contiguous streams, scoring.

What :mod:`rnnkit.tasks.lm` (the pipeline) feeds on::

    load_corpus ─ split_text: train | valid ─ make_tokenizer(...).fit(train) ─ encode → ids
    stream_shape, StreamDataset: ids as B contiguous rows, batch n+1 continuing batch n
    held_out: (head, context, tail) · score: exact bits of the tail beside unigram and bzip2
    dynamic_score: the same tail under dynamic evaluation (adapting while it reads)

The test tail is the last ``test_frac`` of the text (the convention of
:func:`rnnkit.baselines.run_lm_baselines`) or a separate file; each tail token is predicted
from all the text before it (:func:`tail_nll`).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

import numpy as np
import torch

from rnnkit.baselines import bzip2_bpc, unigram_bpc
from rnnkit.data import (
    CharTokenizer,
    TextCorpus,
    Tokenizer,
    WordTokenizer,
    load_dataset,
    load_text,
)
from rnnkit.models.dynamic_eval import dynamic_token_nll, gradient_rms
from rnnkit.models.language_model import LanguageModel
from rnnkit.tasks.common import CLIError
from rnnkit.tasks.sources import is_path, resolve_source

__all__ = ["CONTEXT_CHARS", "DYNAMIC_DEFAULTS", "RMS_BATCHES", "StreamDataset", "dynamic_score",
           "encode", "held_out", "is_path", "load_corpus", "make_tokenizer", "score",
           "split_text", "stream_shape", "tail_nll"]

CONTEXT_CHARS = 4000  # text before the test tail fed as context (≥ token_nll's warm-up)
# Dynamic evaluation (RMS rule): step size, decay to the trained weights, tokens per update —
# chosen on the KJV validation split (README, Results) — and the training batches that
# estimate the RMS gradients: 100 batches of 32 rows × 100 tokens.
DYNAMIC_DEFAULTS: dict[str, float | int] = {"lr": 2.5e-5, "decay": 5e-4, "segment_len": 25}
RMS_BATCHES = {"segment_len": 100, "rows": 32, "max_batches": 100}


# ---- corpus, split, tokenizer ----------------------------------------------------------------

def load_corpus(data: str | None, flag: str = "--data") -> TextCorpus:
    """A built-in corpus by name (``kjv``) or a UTF-8 text file, as a :class:`TextCorpus`."""
    if not data:
        raise CLIError(f"{flag}: expected a built-in corpus (kjv) or a UTF-8 .txt file, got "
                       f"nothing. Pass e.g. {flag} kjv.")
    source = resolve_source(data, flag)
    if source.kind == "file":
        try:
            return load_text(source.path)
        except (FileNotFoundError, ValueError) as e:
            raise CLIError(f"{flag}: {e}") from None
    ds = load_dataset(source.name)
    if not isinstance(ds, TextCorpus):
        raise CLIError(f"{flag}: expected a language-modelling corpus (kjv) or a .txt file, got "
                       f"the {type(ds).__name__} dataset '{data}'. See 'rnnkit datasets'.")
    return ds


def split_text(corpus: TextCorpus, split: dict[str, float], separate_test: bool
               ) -> tuple[str, str]:
    """``(train, valid)`` text; the test tail (or a separate test file) is held out."""
    vf, tf = split["valid_frac"], split["test_frac"]
    if not (0 <= vf < 1 and 0 < tf < 1 and vf + tf < 1):
        raise CLIError(f"--valid-frac/--test-frac: expected 0 <= valid, 0 < test, valid + test "
                       f"< 1, got {vf} and {tf}.")
    if separate_test:
        n = len(corpus.text)
        cut = n - round(n * vf)
        return corpus.text[:cut], corpus.text[cut:]
    train_text, valid_text, _ = corpus.split(vf, tf)
    return train_text, valid_text


def held_out(corpus: TextCorpus | None, split: dict[str, float], test_file: str | None
             ) -> tuple[str, str, str]:
    """``(head, context, tail)``: the text the unigram baseline is fitted on, the text that
    precedes the tail (model context; empty for a separate file) and the scored tail."""
    if test_file:
        tail = load_corpus(test_file, "--test-data").text
        return (corpus.text if corpus is not None else ""), "", tail
    n = len(corpus.text)
    cut = n - max(1, round(n * split["test_frac"]))  # the convention of run_lm_baselines
    return corpus.text[:cut], corpus.text[:cut], corpus.text[cut:]


def make_tokenizer(cfg: dict[str, Any]) -> Tokenizer:
    kw = {"min_freq": cfg["min_freq"]}
    if cfg.get("max_vocab") is not None:
        kw["max_vocab"] = cfg["max_vocab"]
    try:
        return CharTokenizer(**kw) if cfg["tokenizer"] == "char" else WordTokenizer(**kw)
    except ValueError as e:
        raise CLIError(f"--max-vocab/--min-freq: {e}") from None


def encode(tok: Tokenizer, text: str) -> np.ndarray:
    """Ids of a long text as int64 ``[N]``."""
    if isinstance(tok, CharTokenizer):
        return tok.encode_array(text)
    return np.asarray(tok.encode(text), dtype=np.int64)


def stream_shape(n_tokens: int, seq_len: int, batch_size: int) -> tuple[int, int]:
    """``(seq_len, rows)`` shrunk so that every one of ``rows`` rows holds >= 1 batch."""
    if n_tokens < 3:
        raise CLIError(f"--data: expected a training text of at least 3 tokens, got {n_tokens}. "
                       "Use a longer text (or a smaller --valid-frac/--test-frac).")
    rows = max(1, min(batch_size, (n_tokens - 1) // seq_len))
    return min(seq_len, (n_tokens - 1) // rows), rows


# ---- contiguous streams ----------------------------------------------------------------------

class StreamDataset(torch.utils.data.Dataset):
    """Item ``j = n·rows + r`` is ``(x, y)``: time steps ``[n·T, (n+1)·T)`` of row ``r`` of the
    token stream laid out as ``rows`` contiguous rows (``y`` = ``x`` shifted by one token).

    Batched in order with ``batch_size = rows``, batch ``n+1`` continues batch ``n`` row by
    row, which is what stateful training (carried state) needs.
    """

    def __init__(self, ids: np.ndarray, rows: int, seq_len: int) -> None:
        per_row = (len(ids) - 1) // rows
        self.rows, self.seq_len, self.steps = rows, seq_len, per_row // seq_len
        if self.steps < 1:
            raise ValueError(f"StreamDataset: expected at least rows·(seq_len) + 1 = "
                             f"{rows * seq_len + 1} tokens, got {len(ids)}.")
        t = torch.as_tensor(np.asarray(ids[: rows * per_row + 1]), dtype=torch.int64)
        self.x = t[:-1].view(rows, per_row)
        self.y = t[1:].view(rows, per_row)

    def __len__(self) -> int:
        return self.rows * self.steps

    def __getitem__(self, j: int) -> tuple[torch.Tensor, torch.Tensor]:
        n, r = divmod(int(j), self.rows)
        sl = slice(n * self.seq_len, (n + 1) * self.seq_len)
        return self.x[r, sl], self.y[r, sl]


# ---- scoring ----------------------------------------------------------------------------------

def _tail_ids(tok: Tokenizer, context: str, tail: str) -> tuple[np.ndarray, int]:
    """``(ids, first)``: the last ``CONTEXT_CHARS`` of context then the tail, and the index of
    the first scored token (the first token of a tail without context is not scored)."""
    ctx = encode(tok, context[-CONTEXT_CHARS:]) if context else np.zeros(0, np.int64)
    ids = np.concatenate([ctx, encode(tok, tail)])
    first = max(len(ctx), 1)
    if len(ids) - first < 1:
        raise CLIError(f"test text: expected at least 2 tokens to score, got {len(ids)}. Use a "
                       "longer text.")
    return ids, first


def _metrics(nll: torch.Tensor, tok: Tokenizer, tail: str) -> dict[str, float]:
    """Char level: ``bpc`` and ``perplexity`` per character. Word level: ``bits_per_token`` and
    ``perplexity`` per word token, and ``bpc`` = total bits / characters of the tail."""
    bits = float(nll.double().sum()) / math.log(2)
    per_token = bits / nll.numel()
    if tok.kind == "char":
        return {"bpc": per_token, "perplexity": 2 ** per_token}
    return {"bpc": bits / len(tail), "bits_per_token": per_token, "perplexity": 2 ** per_token}


def tail_nll(model: LanguageModel, tok: Tokenizer, context: str, tail: str) -> torch.Tensor:
    """Nats of each tail token given everything before it (the first token of a tail without
    context is not scored: nothing predicts it)."""
    ids, first = _tail_ids(tok, context, tail)
    return model.token_nll(torch.as_tensor(ids), first=first, rows=64, chunk_len=512)


def score(model: LanguageModel, tok: Tokenizer, head: str, context: str, tail: str
          ) -> tuple[dict[str, float], dict[str, dict[str, float]], str]:
    """``(model metrics, baseline metrics, perplexity unit)`` on ``tail`` (:func:`_metrics`;
    the word tokenizer lower-cases and drops spacing, so word-level ``bpc`` is only roughly
    comparable to bzip2)."""
    metrics = _metrics(tail_nll(model, tok, context, tail), tok, tail)
    base = {"unigram": {"bpc": _unigram_chars(head, tail)}, "bzip2-9": {"bpc": bzip2_bpc(tail, 1)}}
    if tok.kind == "char":
        return metrics, base, "character"
    base["unigram-word"] = _unigram_words(tok, head, tail)
    return metrics, base, "word token"


def dynamic_score(model: LanguageModel, tok: Tokenizer, train_text: str, context: str,
                  tail: str, *, lr: float, decay: float, segment_len: int) -> dict[str, Any]:
    """The tail's metrics (as :func:`score`) under dynamic evaluation, plus its settings and
    the process CPU seconds it took (gradient statistics included).

    Same context as the static score; every tail token is scored before the one gradient step
    on its segment (:func:`rnnkit.models.dynamic_eval.dynamic_token_nll`, RMS rule with the
    RMS gradients of ``train_text``). The model is not modified.
    """
    t0 = time.process_time()
    train_ids = encode(tok, train_text)
    if len(train_ids) < 2:
        raise CLIError(f"dynamic evaluation: expected a training text of at least 2 tokens for "
                       f"the gradient statistics, got {len(train_ids)}. Train on more text.")
    seg = min(RMS_BATCHES["segment_len"], len(train_ids) - 1)
    rms = gradient_rms(model, train_ids, **{**RMS_BATCHES, "segment_len": seg})
    ids, first = _tail_ids(tok, context, tail)
    nll = dynamic_token_nll(model, torch.as_tensor(ids), first, segment_len=segment_len, lr=lr,
                            decay=decay, grad_rms=rms)
    return {**_metrics(nll, tok, tail), "method": "rms", "lr": lr, "decay": decay,
            "segment_len": segment_len, "cpu_seconds": round(time.process_time() - t0, 1)}


def _unigram_chars(head: str, tail: str) -> float:
    if not head:
        return unigram_bpc(tail, 1.0)  # the tail's own entropy: an optimistic floor
    return unigram_bpc(head + tail, len(tail) / (len(head) + len(tail)))


def _unigram_words(tok: Tokenizer, head: str, tail: str) -> dict[str, float]:
    """Add-one-smoothed unigram over the tokenizer's ids (``<unk>`` included)."""
    train, test = Counter(encode(tok, head).tolist()), encode(tok, tail).tolist()
    total = sum(train.values()) + tok.vocab_size
    bits = -sum(math.log2((train[i] + 1) / total) for i in test)
    per = bits / max(len(test), 1)
    return {"bpc": bits / len(tail), "bits_per_token": per, "perplexity": 2 ** per}

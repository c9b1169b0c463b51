"""Language modelling: ``rnnkit train lm`` and ``evaluate`` / ``predict`` / ``generate``.

Data flow::

    text ─ split: train | valid (5 %) | test (last 10 %) ─ tokenizer fitted on train ─ ids
    train ids → B contiguous rows; batch n = columns [n·T, (n+1)·T) of every row (+1 shifted)

so row ``b`` of batch ``n+1`` continues row ``b`` of batch ``n``: the trainer runs
``stateful=True`` (``shuffle=False``, ``drop_last=True``) and carries the detached recurrent
state across batches (truncated BPTT over the whole corpus, the classic char-rnn setup). The
learning rate warms up, then follows a cosine to ``min_lr_ratio · lr`` over whichever ends
first, the epochs or the time budget.

The test score is the exact bits per character (char level) or per token (word level) of the
held-out tail, each token predicted from all the text before it
(:meth:`LanguageModel.token_nll`), beside a unigram model and bzip2 on the same tail. With
``--dynamic-eval`` the tail is scored a second time under dynamic evaluation (the model takes
a gradient step on each segment after predicting it, :mod:`rnnkit.models.dynamic_eval`),
reported beside the static score as ``test_dynamic`` in ``metrics.json``. Run
directory: ``config.json`` (settings, model config, tokenizer, split), ``model.safetensors``,
``metrics.json``, ``history.{csv,json,png}`` (loss / bpc curves), ``checkpoints/``.

The data side (corpus, split, tokenizer, :class:`StreamDataset`, tail scoring) lives in
:mod:`rnnkit.tasks.lm_data`; this module trains, schedules, reports and generates.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from rnnkit.data import Tokenizer, tokenizer_from_dict
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.tasks.budget import budget_callback
from rnnkit.tasks.common import (
    CLIError,
    format_table,
    load_weights,
    make_out_dir,
    read_run,
    save_weights,
    trainer_config,
    write_json,
    write_metrics,
)
from rnnkit.tasks.lm_data import (
    DYNAMIC_DEFAULTS,
    StreamDataset,
    dynamic_score,
    encode,
    held_out,
    is_path,
    load_corpus,
    make_tokenizer,
    score,
    split_text,
    stream_shape,
    tail_nll,
)
from rnnkit.tasks.task import CommonSettings
from rnnkit.training import Trainer, seed_everything

__all__ = ["DEFAULTS", "LMSettings", "StreamDataset", "add_arguments", "evaluate", "generate",
           "predict", "score", "train"]

DEFAULTS: dict[str, Any] = {
    "tokenizer": "char", "seq_len": 100, "embedding_dim": None, "tie_weights": None,
    "max_vocab": None, "min_freq": 1, "valid_frac": 0.05, "test_frac": 0.1,
    "clip_grad_norm": 1.0, "weight_decay": 0.0, "warmup_steps": 100, "min_lr_ratio": 0.05,
    "recurrent_dropout": 0.0, "dynamic_eval": False, "dynamic_lr": None, "dynamic_decay": None,
    "dynamic_segment_len": None,
}
# Per-task values of the common flags when they are left unset.
# Batch 32 × 100 steps: as many chars/s as 64 × 128 on this CPU, with 2.5× the updates.
_TRAIN_DEFAULTS = {"batch_size": 32, "lr": 2e-3, "hidden_size": 384, "num_layers": 1,
                   "dropout": 0.0, "bidirectional": False, "layer_norm": False}
DEFAULT_TIME_BUDGET = 600.0  # seconds, when neither --epochs nor --time-budget is given


@dataclass(frozen=True)
class LMSettings(CommonSettings):
    """Every setting of an lm run, after the data-independent defaults are filled
    (:func:`_fill_defaults`: embedding size and weight tying follow the tokenizer; without
    --epochs and --time-budget, 100 epochs within 600 s)."""

    data: str = "kjv"
    epochs: int = 100
    batch_size: int = 32
    lr: float = 2e-3
    hidden_size: int = 384
    num_layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    layer_norm: bool = False
    tokenizer: str = "char"
    seq_len: int = 100
    embedding_dim: int = 64
    tie_weights: bool = False
    max_vocab: int | None = None
    min_freq: int = 1
    valid_frac: float = 0.05
    test_frac: float = 0.1
    clip_grad_norm: float = 1.0
    weight_decay: float = 0.0
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    recurrent_dropout: float = 0.0
    dynamic_eval: bool = False
    dynamic_lr: float | None = None
    dynamic_decay: float | None = None
    dynamic_segment_len: int | None = None

    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        **CommonSettings.BOUNDS, "seq_len": (1, None), "embedding_dim": (1, None),
        "min_freq": (1, None), "clip_grad_norm": (0, None),
        "weight_decay": (0, None), "warmup_steps": (0, None), "min_lr_ratio": (0, 1),
        "recurrent_dropout": (0, 0.999)}
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        **CommonSettings.CHOICES, "tokenizer": ("char", "word")}


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """The language-model flags (every default is None so TOML values are not overridden)."""
    a = group.add_argument
    a("--tokenizer", choices=["char", "word"], help="char (default) or word level")
    a("--seq-len", type=int, metavar="T", help="time steps per batch = truncated-BPTT length "
      "(default 100); the state carries across batches")
    a("--embedding-dim", type=int, help="token embedding size (default 64 char, 256 word)")
    a("--tie-weights", action=argparse.BooleanOptionalAction, default=None,
      help="share the embedding with the output layer (default: off char, on word)")
    a("--max-vocab", type=int, help="vocabulary cap incl. <pad>/<unk> (default: none for "
      "char, 20000 for word)")
    a("--min-freq", type=int, help="minimum training count for a token (default 1)")
    a("--valid-frac", type=float, help="validation slice before the test tail (default 0.05)")
    a("--test-frac", type=float, help="held-out tail (default 0.1)")
    a("--clip-grad-norm", type=float, help="gradient clipping (default 1.0)")
    a("--weight-decay", type=float, help="AdamW weight decay (default 0)")
    a("--warmup-steps", type=int, help="linear LR warm-up steps (default 100)")
    a("--min-lr-ratio", type=float, help="final LR of the cosine decay / --lr (default 0.05)")
    a("--recurrent-dropout", type=float, help="variational dropout on the recurrent state "
      "(one mask per sequence; lstm/gru/rnn; default 0). --dropout acts between layers and "
      "before the output layer")
    add_dynamic_arguments(group, "--dynamic-eval")


def add_dynamic_arguments(group: argparse._ArgumentGroup, *flags: str) -> None:
    """``--dynamic-eval`` (``flags``: its spellings) and its three settings (train, evaluate)."""
    d = DYNAMIC_DEFAULTS
    group.add_argument(*flags, dest="dynamic_eval", action="store_true", default=None,
                       help="also score the test tail under dynamic evaluation (Krause et al. "
                       "2018: one RMS-scaled gradient step after each segment is scored), "
                       "reported beside the static score (default: off)")
    group.add_argument("--dynamic-lr", type=float, metavar="ETA",
                       help=f"dynamic evaluation step size (default {d['lr']:g})")
    group.add_argument("--dynamic-decay", type=float, metavar="LAMBDA",
                       help=f"pull back to the trained weights per step, in [0, 1) (default "
                       f"{d['decay']:g})")
    group.add_argument("--dynamic-segment-len", type=int, metavar="S",
                       help=f"tokens scored between two updates (default {d['segment_len']})")


# ---- train ------------------------------------------------------------------------------------

def train(cfg: dict[str, Any], *, clock: Callable[[], float] | None = None) -> int:
    """Train, score the held-out tail beside the baselines, write the run directory.

    ``clock`` (seconds; default wall time) is what ``time_budget`` and the cosine schedule
    measure: ``time.process_time`` budgets CPU time instead (benchmarks on a shared machine).
    """
    s = LMSettings.from_dict(_fill_defaults(dict(cfg)))  # every settings error surfaces here
    dynamic = _dynamic_settings(s.to_dict())
    resume = _checkpoints(s.resume)
    corpus = load_corpus(s.data, "--data")
    split = {"valid_frac": s.valid_frac, "test_frac": s.test_frac}
    if s.test_data:
        load_corpus(s.test_data, "--test-data")  # fail now, not after training
    train_text, valid_text = split_text(corpus, split, separate_test=bool(s.test_data))
    tok = make_tokenizer(s.to_dict()).fit(train_text)
    train_ids, valid_ids = encode(tok, train_text), encode(tok, valid_text)
    seq_len, rows = stream_shape(len(train_ids), s.seq_len, s.batch_size)
    model_cfg = LanguageModelConfig(
        vocab_size=tok.vocab_size, model=s.model.lower(), embedding_dim=s.embedding_dim,
        hidden_size=s.hidden_size, num_layers=s.num_layers, dropout=s.dropout,
        recurrent_dropout=s.recurrent_dropout, tie_weights=s.tie_weights,
        layer_norm=s.layer_norm)
    out = make_out_dir(s, "lm", corpus.name)  # all validation done: now write files
    if (seq_len, rows) != (s.seq_len, s.batch_size) and not s.quiet:
        print(f"note: the training text has {len(train_ids):,} tokens; using batch size {rows} "
              f"and seq-len {seq_len} so that every row holds at least one batch.")
    seed_everything(s.seed)
    model = LanguageModel(model_cfg)
    tcfg = trainer_config(s, out, batch_size=rows, optimizer="adamw", shuffle=False,
                          drop_last=True, stateful=True, schedule="constant",
                          clip_grad_norm=s.clip_grad_norm, weight_decay=s.weight_decay,
                          time_budget=s.time_budget if clock is None else None)
    schedule = budget_callback(clock, s.time_budget, cosine=(s.warmup_steps, s.min_lr_ratio))
    val_len = min(seq_len, (len(valid_ids) - 1) // rows)
    val = StreamDataset(valid_ids, rows, val_len) if val_len >= 1 else None
    t0 = time.time()
    Trainer(tcfg, callbacks=[schedule]).fit(model, StreamDataset(train_ids, rows, seq_len), val,
                                            resume=resume)
    seconds = time.time() - t0
    settings = s.to_dict()
    run = {"task": "lm", "dataset": corpus.name, "data": _resolved(s.data),
           "test_data": _resolved(s.test_data),
           "settings": {k: settings[k] for k in (*DEFAULTS, "model", "seed", "epochs",
                                                 "time_budget", "batch_size", "lr",
                                                 "hidden_size", "num_layers", "dropout",
                                                 "precision")},
           "split": split, "tokenizer": tok.to_dict(), "model": model_cfg.to_dict(),
           "default_prime": "\n" if "\n" in tok.stoi else tok.itos[2]}
    save_weights(model, out)
    write_json(out / "config.json", run)
    head, context, tail = held_out(corpus, split, s.test_data)
    return _report(model, tok, head, context, tail, out, run, seconds,
                   dynamic=dynamic, train_text=train_text)


def _fill_defaults(cfg: dict[str, Any]) -> dict[str, Any]:
    cfg = {**cfg, **{k: v for k, v in _TRAIN_DEFAULTS.items() if cfg.get(k) is None}}
    word = cfg["tokenizer"] == "word"
    if cfg["tokenizer"] not in ("char", "word"):
        raise CLIError(f"--tokenizer: expected char or word, got {cfg['tokenizer']!r}.")
    if cfg.get("embedding_dim") is None:
        cfg["embedding_dim"] = 256 if word else 64
    if cfg.get("tie_weights") is None:
        cfg["tie_weights"] = word
    if cfg.get("epochs") is None and cfg.get("time_budget") is None:
        cfg["epochs"], cfg["time_budget"] = 100, DEFAULT_TIME_BUDGET
    elif cfg.get("epochs") is None:
        cfg["epochs"] = 100_000  # the time budget decides
    if cfg["bidirectional"]:
        raise CLIError("--bidirectional: expected a left-to-right model for language modelling, "
                       "got --bidirectional. Drop the flag.")
    for name in ("seq_len", "batch_size", "epochs", "min_freq", "embedding_dim"):
        v = cfg[name]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise CLIError(f"--{name.replace('_', '-')}: expected an integer >= 1, got {v!r}.")
    return cfg


def _dynamic_settings(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The validated dynamic-evaluation settings, or None without ``--dynamic-eval``."""
    given = [k for k in ("dynamic_lr", "dynamic_decay", "dynamic_segment_len")
             if cfg.get(k) is not None]
    if not cfg.get("dynamic_eval"):
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise CLIError(f"{flag}: expected it together with --dynamic-eval, got it alone. "
                           f"Add --dynamic-eval (or --dynamic with evaluate).")
        return None
    s = {k: cfg.get(f"dynamic_{k}") for k in DYNAMIC_DEFAULTS}
    s = {k: DYNAMIC_DEFAULTS[k] if v is None else v for k, v in s.items()}
    checks = {"lr": (lambda v: v >= 0, "a number >= 0", "e.g. 3e-5"),
              "decay": (lambda v: 0 <= v < 1, "a number in [0, 1)", "e.g. 0 or 1e-3"),
              "segment_len": (lambda v: isinstance(v, int) and v >= 1, "an integer >= 1",
                              "e.g. 50")}
    for k, (ok, want, example) in checks.items():
        v = s[k]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                or not ok(v):
            raise CLIError(f"--dynamic-{k.replace('_', '-')}: expected {want}, got {v!r}. "
                           f"Pass {example}.")
    return {"lr": float(s["lr"]), "decay": float(s["decay"]),
            "segment_len": int(s["segment_len"])}


def _checkpoints(resume: str | None) -> str | None:
    """``--resume DIR`` names the run directory; its checkpoints live in ``DIR/checkpoints``."""
    if resume and (Path(resume) / "checkpoints").is_dir():
        return str(Path(resume) / "checkpoints")
    if resume and not (Path(resume) / "latest").is_file():
        raise CLIError(f"--resume: expected a run directory with checkpoints/, got '{resume}' "
                       "without any. Pass the --out directory of an earlier 'rnnkit train lm'.")
    return resume


def _resolved(data: str | None) -> str | None:
    return str(Path(data).resolve()) if data and is_path(data) else data


def _report(model: LanguageModel, tok: Tokenizer, head: str, context: str, tail: str,
            out: Path, run: dict[str, Any], seconds: float | None, *,
            dynamic: dict[str, Any] | None = None, train_text: str | None = None) -> int:
    """Score the tail (and, with ``dynamic`` settings, score it again under dynamic evaluation
    with gradient statistics from ``train_text``), print the table; with ``seconds`` (after
    training) write metrics.json."""
    test, base, unit = score(model, tok, head, context, tail)
    name = f"{model.config.model}-{tok.kind}-lm"
    extra: dict[str, Any] = {}
    rows = dict(base)
    if dynamic is not None:
        dyn = dynamic_score(model, tok, train_text or "", context, tail, **dynamic)
        rows = {f"{name} + dynamic eval": {k: dyn[k] for k in test}, **base}
        extra["test_dynamic"] = dyn
    print(format_table(test, rows, model_name=name))
    print(f"(test: {len(tail):,} chars; bpc = bits per character, perplexity per {unit})")
    if dynamic is not None:
        d = extra["test_dynamic"]
        print(f"(dynamic eval: each segment of {d['segment_len']} tokens is scored, then one "
              f"RMS-scaled gradient step, lr {d['lr']:g}, decay {d['decay']:g}; "
              f"{d['cpu_seconds']:.0f} CPU s. The first row is the static score.)")
    if seconds is not None:
        write_metrics(out, "lm", run["dataset"], test, base, seconds, perplexity_unit=unit,
                      test_chars=len(tail), **extra)
        print(f"metrics: {out / 'metrics.json'}\nplots:   {out / 'history.png'}")
    return 0


# ---- evaluate / predict / generate --------------------------------------------------------------

def _load_run(run_dir: str | Path) -> tuple[LanguageModel, Tokenizer, dict[str, Any]]:
    run = read_run(run_dir)
    try:
        tok = tokenizer_from_dict(run["tokenizer"])
        model = LanguageModel(LanguageModelConfig.from_dict(run["model"]))
        split = dict(run["split"])
    except (KeyError, TypeError, ValueError) as e:
        raise CLIError(f"{run_dir}/config.json: expected an lm run with 'tokenizer', 'model' and "
                       f"'split', got a damaged file ({e}). Train again.") from None
    load_weights(model, run_dir)
    model.eval()
    return model, tok, {**run, "split": split}


def _eval_text(run: dict[str, Any], args: dict[str, Any]) -> tuple[str, str, str]:
    """(head, context, tail) for evaluate/predict: --data's test tail, --test-data's whole
    file, or (neither given) the run's own test data."""
    data, test_file = args.get("data"), args.get("test_data")
    if data is None and test_file is None:
        data, test_file = run["data"], run.get("test_data")
    corpus = load_corpus(data, "--data") if data is not None else None
    return held_out(corpus, run["split"], test_file)


def evaluate(run_dir: str | Path, args: dict[str, Any]) -> int:
    """Print the bits per character of the data's test tail (or a file) beside the baselines;
    with ``dynamic_eval`` also under dynamic evaluation (statistics from the run's training
    text)."""
    dynamic = _dynamic_settings(args)
    model, tok, run = _load_run(run_dir)
    head, context, tail = _eval_text(run, args)
    train_text = _train_text(run) if dynamic is not None else None
    return _report(model, tok, head, context, tail, Path(run_dir), run, None,
                   dynamic=dynamic, train_text=train_text)


def _train_text(run: dict[str, Any]) -> str:
    """The run's own training text (the gradient statistics of dynamic evaluation)."""
    corpus = load_corpus(run["data"], "config.json 'data'")
    return split_text(corpus, run["split"], separate_test=bool(run.get("test_data")))[0]


def predict(run_dir: str | Path, args: dict[str, Any]) -> int:
    """Per-token surprisal CSV ``position, token, bits`` of the test tail, a file or --input."""
    model, tok, run = _load_run(run_dir)
    if args.get("input") is not None:
        context, tail = "", str(args["input"])
    else:
        _, context, tail = _eval_text(run, args)
    nll = tail_nll(model, tok, context, tail) / math.log(2)
    ids = encode(tok, tail)[-nll.numel():]
    first = len(encode(tok, tail)) - nll.numel()
    path = Path(args.get("output") or Path(run_dir) / "predictions.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["position", "token", "bits"])
        for k, (i, b) in enumerate(zip(ids.tolist(), nll.tolist(), strict=True)):
            t = tok.itos[i]
            w.writerow([first + k, t.encode("unicode_escape").decode("ascii")
                        if not t.isprintable() else t, f"{b:.4f}"])
    os.replace(tmp, path)
    print(f"predictions: {path} ({nll.numel():,} tokens; mean {float(nll.mean()):.4f} bits per "
          f"token; bits = -log2 p(token | text before it))")
    return 0


def generate(run_dir: str | Path, args: dict[str, Any]) -> int:
    """Print the prime followed by ``length`` generated characters (or words)."""
    model, tok, run = _load_run(run_dir)
    if args.get("runtime") == "onnxruntime":
        from rnnkit.tasks.export import OnnxLanguageModel

        model = OnnxLanguageModel(run_dir)
    length = args.get("length")
    length = 300 if length is None else length
    if length < 0:
        raise CLIError(f"--length: expected a number of tokens >= 0, got {length}.")
    prime = args.get("prime") or ""
    prime_ids = encode(tok, prime).tolist()
    if prime and not prime_ids:
        raise CLIError(f"--prime: expected text with at least one {tok.kind} token, got "
                       f"{prime!r}.")
    start = prime_ids or encode(tok, run.get("default_prime") or "\n").tolist() or [2]
    seed = args.get("seed")
    gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    temperature = args.get("temperature")
    ids = model.generate(start, length, 0.8 if temperature is None else float(temperature),
                         args.get("top_k"), args.get("top_p"), generator=gen,
                         banned=[tok.unk_id] if tok.kind == "char" else None)
    sep = " " if tok.kind == "word" and prime and ids else ""
    print(f"{prime}{sep}{tok.decode(ids)}")
    return 0

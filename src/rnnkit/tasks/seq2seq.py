"""``rnnkit train seq2seq``: attention encoder-decoder on (source, target) pairs.

Data: ``--data cmudict`` (grapheme-to-phoneme, fixed 90/5/5 split by word) or a TSV/CSV file
(``--source-col``/``--target-col``; split 90/5/5 with ``--seed`` unless ``--test-data`` is
given, then the file is split 95/5 train/validation). Test metrics (``metrics.json``):
``token_error_rate``, ``sequence_error_rate`` (fractions), ``chrf`` and, for word-level
targets, ``bleu`` (sacrebleu, 0–100), decoded with beam search (``--beam-width``); greedy
decoding is reported beside it (``"greedy"``). Baselines: ``copy`` (output = source) and
``most_frequent_mapping`` (the training target of an identical source, else each source token
mapped to its most frequent aligned target token, learned from equal-length pairs).
Training: Adam with gradient clipping, length-bucketed batches, and ``--lr-schedule``
``constant`` (default), ``cosine`` (warm-up, then annealed to the time budget or the last
epoch, whichever comes first) or ``plateau`` (on the validation loss).
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from rnnkit.data.pairs import (
    PairData,
    PairDataset,
    fit_pair_tokenizers,
    load_cmudict,
    load_pairs_file,
    split_pairs,
)
from rnnkit.data.tokenizers import tokenizer_from_dict
from rnnkit.metrics_seq import bleu, chrf, sequence_error_rate, token_error_rate
from rnnkit.models.beam_search import beam_search, greedy_decode
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
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
from rnnkit.tasks.task import CommonSettings

__all__ = ["DEFAULTS", "Seq2SeqSettings", "add_arguments", "evaluate", "explain", "predict",
           "train"]

DEFAULTS: dict[str, Any] = {
    "source_col": None, "target_col": None, "source_level": None, "target_level": None,
    "attention": "general", "input_feeding": True, "embed_size": 64, "sampling_prob": 0.0,
    "label_smoothing": 0.0, "beam_width": 5, "length_penalty": 1.0, "max_train": None,
    "lr_schedule": "constant", "warmup_steps": 100, "min_lr_ratio": 0.05,
}
LR_SCHEDULES = ("constant", "cosine", "plateau")
_PLATEAU = {"lr_gamma": 0.5, "plateau_patience": 1}  # halve the LR after 2 epochs w/o progress
_FILLS = {"data": "cmudict", "epochs": 20, "batch_size": 64, "lr": 2e-3, "hidden_size": 256,
          "num_layers": 1, "dropout": 0.1, "bidirectional": True, "layer_norm": False}


@dataclass(frozen=True)
class Seq2SeqSettings(CommonSettings):
    """Every setting of a seq2seq run (the common ones filled with this task's defaults)."""

    data: str = "cmudict"
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.1
    bidirectional: bool = True
    layer_norm: bool = False
    source_col: str | int | None = None
    target_col: str | int | None = None
    source_level: str | None = None
    target_level: str | None = None
    attention: str = "general"
    input_feeding: bool = True
    embed_size: int = 64
    sampling_prob: float = 0.0
    label_smoothing: float = 0.0
    beam_width: int = 5
    length_penalty: float = 1.0
    max_train: int | None = None
    lr_schedule: str = "constant"
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05

    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        **CommonSettings.BOUNDS, "embed_size": (1, None), "sampling_prob": (0, 1),
        "label_smoothing": (0, 0.999), "beam_width": (1, None), "max_train": (1, None),
        "warmup_steps": (0, None), "min_lr_ratio": (0, 1)}
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        **CommonSettings.CHOICES, "source_level": ("char", "word"),
        "target_level": ("char", "word"), "attention": ("dot", "general", "additive", "none"),
        "lr_schedule": LR_SCHEDULES}


def add_arguments(g) -> None:
    g.add_argument("--source-col", help="source column name or 0-based index (default: "
                   "'source' if the header has it, else column 0)")
    g.add_argument("--target-col", help="target column (default 'target', else column 1)")
    g.add_argument("--source-level", choices=["char", "word"],
                   help="tokenise sources by character or word (default char)")
    g.add_argument("--target-level", choices=["char", "word"],
                   help="tokenise targets (default char; cmudict: word = phonemes)")
    g.add_argument("--attention", choices=["dot", "general", "additive", "none"],
                   help="Luong dot / general, Bahdanau additive, or none (default general)")
    g.add_argument("--input-feeding", action=argparse.BooleanOptionalAction, default=None,
                   help="feed the attentional state into the next decoder step (default on)")
    g.add_argument("--embed-size", type=int, help="token embedding size (default 64)")
    g.add_argument("--sampling-prob", type=float, help="scheduled sampling, ramped 0 → p "
                   "(default 0: always the true previous token)")
    g.add_argument("--label-smoothing", type=float, help="label smoothing of the loss "
                   "(default 0)")
    g.add_argument("--beam-width", type=int, help="beam width for the test metrics (1 = greedy; "
                   "default 5)")
    g.add_argument("--length-penalty", type=float, help="α in score / length^α (default 1)")
    g.add_argument("--max-train", type=int, help="use at most this many training pairs "
                   "(default: all)")
    g.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help="constant (default); cosine: warm-up, then a cosine to --min-lr-ratio "
                   "over whichever ends first, --epochs or --time-budget; plateau: halve the LR "
                   "after two epochs without a lower validation loss")
    g.add_argument("--warmup-steps", type=int, help="cosine: linear LR warm-up steps "
                   "(default 100)")
    g.add_argument("--min-lr-ratio", type=float, help="cosine: final LR / --lr (default 0.05)")


def _fill(cfg: dict[str, Any]) -> dict[str, Any]:
    return {**cfg, **{k: v for k, v in _FILLS.items() if cfg.get(k) is None}}


def load_pairs(cfg: dict[str, Any]) -> PairData:
    """The train/validation/test pairs a config names (built-in or file)."""
    name = str(cfg["data"])
    if name.lower() == "cmudict":
        data = load_cmudict()
    else:
        src, tgt = load_pairs_file(name, cfg.get("source_col"), cfg.get("target_col"))
        if cfg.get("test_data"):
            te = load_pairs_file(cfg["test_data"], cfg.get("source_col"), cfg.get("target_col"))
            (s_tr, t_tr), (s_va, t_va) = split_pairs(src, tgt, (0.95, 0.05), cfg["seed"])
        else:
            if len(src) < 3:
                raise CLIError(f"--data: expected at least 3 pairs to split, got {len(src)}. "
                               "Add rows or pass --test-data.")
            (s_tr, t_tr), (s_va, t_va), te = split_pairs(src, tgt, (0.9, 0.05, 0.05),
                                                         cfg["seed"])
        data = PairData(tuple(s_tr), tuple(t_tr), tuple(s_va), tuple(t_va), tuple(te[0]),
                        tuple(te[1]), name=Path(name).stem)
    if cfg.get("max_train"):
        n = int(cfg["max_train"])
        data = PairData(data.sources_train[:n], data.targets_train[:n], *[
            getattr(data, f) for f in ("sources_val", "targets_val", "sources_test",
                                       "targets_test")], name=data.name,
            source_level=data.source_level, target_level=data.target_level)
    return data


def decode(model: Seq2Seq, src_tok, tgt_tok, sources, beam_width: int = 5,
           length_penalty: float = 1.0, batch_size: int = 256) -> list[str]:
    """Decode source strings to target strings (beam search; width 1 = greedy)."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    out: list[str] = [""] * len(sources)
    for a in range(0, len(order), batch_size):
        idx = order[a: a + batch_size]
        ids, lengths = src_tok.encode_batch([sources[i] for i in idx])
        src, lengths = torch.as_tensor(ids), torch.as_tensor(lengths).clamp(min=1)
        if beam_width == 1:
            hyp = greedy_decode(model, src, lengths)
        else:
            hyp = beam_search(model, src, lengths, beam_width, length_penalty=length_penalty)
        for i, toks in zip(idx, hyp.tokens, strict=True):
            out[i] = tgt_tok.decode(toks)
    return out


def score(refs: list[str], hyps: list[str], tgt_tok) -> dict[str, float]:
    """The seq2seq metrics of hypotheses against references (target-level tokens)."""
    r = [tgt_tok.tokenize(t) for t in refs]
    h = [tgt_tok.tokenize(t) for t in hyps]
    m = {"token_error_rate": token_error_rate(r, h), "sequence_error_rate":
         sequence_error_rate(r, h), "chrf": chrf(refs, hyps)}
    if tgt_tok.kind == "word":
        m["bleu"] = bleu(refs, hyps)
    return m


def mapping_baseline(data: PairData, src_tok, tgt_tok):
    """Most-frequent mapping: exact-source lookup, else per-token position-aligned mapping."""
    exact: dict[str, Counter] = defaultdict(Counter)
    per_tok: dict[str, Counter] = defaultdict(Counter)
    for s, t in zip(data.sources_train, data.targets_train, strict=True):
        exact[s][t] += 1
        ss, tt = src_tok.tokenize(s), tgt_tok.tokenize(t)
        if len(ss) == len(tt):
            for a, b in zip(ss, tt, strict=True):
                per_tok[a][b] += 1
    best = {a: c.most_common(1)[0][0] for a, c in per_tok.items()}

    def predict(s: str) -> str:
        if s in exact:
            return exact[s].most_common(1)[0][0]
        return tgt_tok.detokenize([best.get(a, a) for a in src_tok.tokenize(s)])

    return predict


def _build(cfg: dict[str, Any], src_tok, tgt_tok) -> Seq2Seq:
    mc = Seq2SeqConfig(
        src_vocab_size=src_tok.vocab_size, tgt_vocab_size=tgt_tok.vocab_size,
        bos_id=tgt_tok.stoi["<s>"], eos_id=tgt_tok.stoi["</s>"], model=cfg["model"],
        embed_size=int(cfg["embed_size"]), hidden_size=int(cfg["hidden_size"]),
        num_layers=int(cfg["num_layers"]), bidirectional=bool(cfg["bidirectional"]),
        dropout=float(cfg["dropout"]), layer_norm=bool(cfg["layer_norm"]),
        attention=cfg["attention"], input_feeding=bool(cfg["input_feeding"]),
        sampling_prob=float(cfg["sampling_prob"]), label_smoothing=float(cfg["label_smoothing"]))
    return Seq2Seq(mc)


def _check_schedule(cfg: dict[str, Any]) -> None:
    if cfg["lr_schedule"] not in LR_SCHEDULES:
        raise CLIError(f"--lr-schedule: expected one of {', '.join(LR_SCHEDULES)}, got "
                       f"{cfg['lr_schedule']!r}. Pick one of those.")
    w = cfg["warmup_steps"]
    if isinstance(w, bool) or not isinstance(w, int) or w < 0:
        raise CLIError(f"--warmup-steps: expected an integer >= 0, got {w!r}.")
    r = cfg["min_lr_ratio"]
    if isinstance(r, bool) or not isinstance(r, int | float) or not 0 <= r <= 1:
        raise CLIError(f"--min-lr-ratio: expected a number in [0, 1], got {r!r}. The final "
                       "learning rate is this fraction of --lr.")


def _ramp_callback(final: float, epochs: int):
    from rnnkit.training import Callback

    class SamplingRamp(Callback):
        """Scheduled sampling: p rises linearly from 0 to ``final`` over the epochs."""

        def on_epoch_start(self, trainer) -> None:
            e = len(trainer.history)
            trainer.model.sampling_prob = final * min(1.0, e / max(epochs - 1, 1))

    return SamplingRamp()


def train(cfg: dict[str, Any], *, clock: Callable[[], float] | None = None) -> int:
    """Train, decode the test split (beam and greedy) beside the baselines, write the run.

    ``clock`` (seconds; default wall time) is what ``time_budget`` and the cosine schedule
    measure: ``time.process_time`` budgets CPU time instead (benchmarks on a shared machine).
    """
    from rnnkit.training import Trainer, seed_everything

    st = Seq2SeqSettings.from_dict(_fill(dict(cfg)))  # every settings error surfaces here
    cfg = st.to_dict()  # the helpers below share their dict form with evaluate / predict
    _check_schedule(cfg)
    try:
        Seq2SeqConfig(2, 4, 2, 3, model=cfg["model"], attention=cfg["attention"],
                      dropout=float(cfg["dropout"]), sampling_prob=float(cfg["sampling_prob"]))
    except ValueError as e:
        raise CLIError(str(e)) from e
    _beam_width({}, cfg)
    data = load_pairs(cfg)
    src_tok, tgt_tok = fit_pair_tokenizers(data, cfg["source_level"], cfg["target_level"])
    train_ds = PairDataset.encode(src_tok, tgt_tok, data.sources_train, data.targets_train)
    val_ds = PairDataset.encode(src_tok, tgt_tok, data.sources_val, data.targets_val)
    seed_everything(st.seed)
    model = _build(cfg, src_tok, tgt_tok)
    out = make_out_dir(st, "seq2seq", data.name)
    ramp = st.sampling_prob > 0
    callbacks = [_ramp_callback(st.sampling_prob, st.epochs)] if ramp else []
    sched = st.lr_schedule
    cosine = (st.warmup_steps, st.min_lr_ratio) if sched == "cosine" else None
    budget = budget_callback(clock, st.time_budget, cosine)
    callbacks += [budget] if budget is not None else []
    tc = trainer_config(st, out, bucket_by_length=True, clip_grad_norm=1.0, optimizer="adam",
                        schedule="plateau" if sched == "plateau" else "constant",
                        **(_PLATEAU if sched == "plateau" else {}),
                        time_budget=st.time_budget if clock is None else None)
    t0 = time.time()
    Trainer(tc, callbacks=callbacks, collate_fn=train_ds.collate).fit(
        model, train_ds, val_ds, resume=st.resume)
    seconds = time.time() - t0
    model.eval()
    refs = list(data.targets_test)
    hyps = decode(model, src_tok, tgt_tok, data.sources_test, st.beam_width, st.length_penalty)
    test = score(refs, hyps, tgt_tok)
    greedy = score(refs, decode(model, src_tok, tgt_tok, data.sources_test, 1), tgt_tok)
    mapping = mapping_baseline(data, src_tok, tgt_tok)
    baselines = {"copy": score(refs, list(data.sources_test), tgt_tok),
                 "most_frequent_mapping": score(refs, [mapping(s) for s in data.sources_test],
                                                tgt_tok)}
    write_json(out / "config.json", {
        "task": "seq2seq", "dataset": data.name, "settings": {**cfg, "resume": None},
        "model": model.config.to_dict(), "source_tokenizer": src_tok.to_dict(),
        "target_tokenizer": tgt_tok.to_dict()})
    save_weights(model, out)
    write_metrics(out, "seq2seq", data.name, test, baselines, seconds,
                  greedy={k.lower(): float(v) for k, v in greedy.items()},
                  beam_width=st.beam_width)
    drawn = _attention_png(model, src_tok, tgt_tok, data.sources_test[0], out / "attention.png")
    print(format_table(test, {"greedy": greedy, **baselines},
                       model_name=f"{st.model} beam-{st.beam_width}"))
    print(f"metrics: {out / 'metrics.json'}")
    if drawn:
        print(f"plots: {drawn[0]}")
    return 0


def _attention_png(model, src_tok, tgt_tok, source: str, path: Path, beam_width: int = 5):
    """Decode one source and draw its attention heatmap; returns (path, record) or None."""
    from rnnkit.plots.attention import plot_attention

    ids = src_tok.encode(source)
    if not ids or model.config.attention == "none":
        return None
    hyp = beam_search(model, torch.tensor([ids]), torch.tensor([len(ids)]), beam_width,
                      return_attention=True)
    alpha = hyp.attention[0]
    out_toks = ([tgt_tok.itos[i] for i in hyp.tokens[0]] + ["</s>"])[: alpha.shape[0]]
    src_toks = [src_tok.itos[i] for i in ids]
    plot_attention(alpha, src_toks, out_toks, path, title=source[:60])
    return path, {"source": source, "source_tokens": src_toks, "output_tokens": out_toks,
                  "output": tgt_tok.decode(hyp.tokens[0]), "attention": alpha.tolist()}


def load_run(run_dir) -> tuple[dict[str, Any], Seq2Seq, Any, Any]:
    """``(settings, model, source tokenizer, target tokenizer)`` of a trained run."""
    run = read_run(run_dir)
    src_tok = tokenizer_from_dict(run["source_tokenizer"])
    tgt_tok = tokenizer_from_dict(run["target_tokenizer"])
    model = load_weights(Seq2Seq(Seq2SeqConfig.from_dict(run["model"])), run_dir)
    return run["settings"], model.eval(), src_tok, tgt_tok


def _sources_file(path: str, settings: dict[str, Any]) -> tuple[list[str], list[str] | None]:
    """Sources (and targets, when the file has them) of a file for predict/explain."""
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"--data: expected a file, got missing path '{p}'. Check the path.")
    if p.suffix.lower() in (".tsv", ".csv"):
        try:
            src, tgt = load_pairs_file(p, settings.get("source_col"), settings.get("target_col"))
            return src, tgt
        except ValueError:
            pass
    lines = p.read_text(encoding="utf-8").splitlines()
    if p.suffix.lower() in (".tsv", ".csv"):
        delim = "," if p.suffix.lower() == ".csv" else "\t"
        lines = [row[0] if row else "" for row in csv.reader(lines, delimiter=delim)]
    for i, line in enumerate(lines, 1):
        if not line.strip():
            raise CLIError(f"--data: expected one source per line in '{p}', got an empty line "
                           f"{i}. Remove empty lines.")
    if not lines:
        raise CLIError(f"--data: expected sources in '{p}', got an empty file.")
    return [x.strip() for x in lines], None


def _beam_width(args: dict[str, Any], settings: dict[str, Any]) -> int:
    width = args.get("beam_width")
    width = settings.get("beam_width", 5) if width is None else width
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise CLIError(f"--beam-width: expected a positive int (beam_width 1 = greedy), got "
                       f"{width!r}.")
    return width


def _eval_data(run_dir, args: dict[str, Any], settings: dict[str, Any]):
    if args.get("data"):
        return _sources_file(args["data"], settings)
    data = load_pairs(settings)
    return list(data.sources_test), list(data.targets_test)


def evaluate(run_dir, args: dict[str, Any]) -> int:
    """Score a run on ``--data`` (a pairs file) or its own test split; prints the table."""
    settings, model, src_tok, tgt_tok = load_run(run_dir)
    sources, targets = _eval_data(run_dir, args, settings)
    if targets is None:
        raise CLIError("evaluate: expected a TSV/CSV file with source and target columns, got "
                       "sources only. Use 'rnnkit predict' for unlabelled data.")
    width = _beam_width(args, settings)
    hyps = decode(model, src_tok, tgt_tok, sources, width, settings.get("length_penalty", 1.0))
    test = score(targets, hyps, tgt_tok)
    write_json(Path(run_dir) / "evaluation.json", {"data": args.get("data") or "test split",
                                                    "beam_width": width, "test": test})
    print(format_table(test, {}, model_name=f"beam-{width}"))
    print(f"metrics: {Path(run_dir) / 'evaluation.json'}")
    return 0


def predict(run_dir, args: dict[str, Any]) -> int:
    """Decode ``--input TEXT`` (printed) or every source of ``--data FILE`` (to a CSV)."""
    settings, model, src_tok, tgt_tok = load_run(run_dir)
    width = _beam_width(args, settings)
    if args.get("input") is not None:
        if not str(args["input"]).strip() or not src_tok.encode(args["input"]):
            raise CLIError("--input: expected a non-empty text, got an empty one.")
        print(decode(model, src_tok, tgt_tok, [args["input"]], width)[0])
        return 0
    sources, _ = _eval_data(run_dir, args, settings)
    hyps = decode(model, src_tok, tgt_tok, sources, width, settings.get("length_penalty", 1.0))
    out = Path(args.get("output") or Path(run_dir) / "predictions.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "prediction"])
        w.writerows(zip(sources, hyps, strict=True))
    tmp.replace(out)
    print(f"predictions: {out}")
    return 0


def explain(run_dir, args: dict[str, Any]) -> int:
    """Attention heatmap (PNG) and weights (JSON) of example ``--index`` of ``--data``."""
    settings, model, src_tok, tgt_tok = load_run(run_dir)
    if model.config.attention == "none":
        raise CLIError(f"explain: expected a model with attention, got attention='none' in "
                       f"{run_dir}. Train with --attention general (or dot, additive).")
    sources, _ = _eval_data(run_dir, args, settings)
    i = int(args.get("index") or 0)
    if not 0 <= i < len(sources):
        raise CLIError(f"--index: expected 0 <= N < {len(sources)}, got {i}.")
    out_dir = Path(args.get("output") or Path(run_dir) / "explain")
    width = _beam_width(args, settings)
    drawn = _attention_png(model, src_tok, tgt_tok, sources[i], out_dir / f"attention-{i}.png",
                           width)
    if drawn is None:
        raise CLIError(f"explain: expected example {i} to have known source tokens, got none.")
    write_json(out_dir / f"attention-{i}.json", {"index": i, **drawn[1]})
    print(f"output: {drawn[1]['output']}")
    print(f"plots: {drawn[0]}")
    print(f"scores: {out_dir / f'attention-{i}.json'}")
    return 0

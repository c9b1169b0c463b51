"""``rnnkit train tag``: per-token labelling with a BiRNN(-CRF) tagger.

Data: ``--data kjv-case`` (KJV capitalisation restoration, BIO tags, fixed 90/5/5 split by
verse) or a CoNLL file (token and tag per line, blank line between sentences), split 90/5/5 by
sentence with ``--seed`` unless ``--test-data`` is given (then 95/5 train/validation). Test
metrics: ``token_accuracy`` and seqeval-style ``entity_f1`` (with ``entity_precision``,
``entity_recall``) over BIO spans. Baselines: ``majority_tag`` (every token gets the most
frequent tag) and ``most_frequent_tag`` (each known token its most frequent training tag).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from rnnkit.data.collate import pad_collate
from rnnkit.data.conll import TaggedData, Vocab, load_kjv_case, read_conll, write_conll
from rnnkit.data.pairs import split_pairs
from rnnkit.metrics_seq import entity_f1, token_accuracy
from rnnkit.models.tagger import IGNORE_INDEX, Tagger, TaggerConfig
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

__all__ = ["DEFAULTS", "TagSettings", "add_arguments", "evaluate", "explain", "predict",
           "score", "train"]

DEFAULTS: dict[str, Any] = {"crf": False, "embed_size": 64, "min_freq": 1, "max_train": None}
_FILLS = {"data": "kjv-case", "epochs": 5, "batch_size": 32, "lr": 3e-3, "hidden_size": 128,
          "num_layers": 1, "dropout": 0.1, "bidirectional": True, "layer_norm": False}


@dataclass(frozen=True)
class TagSettings(CommonSettings):
    """Every setting of a tag run (the common ones filled with the tagger's defaults)."""

    data: str = "kjv-case"
    epochs: int = 5
    batch_size: int = 32
    lr: float = 3e-3
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.1
    bidirectional: bool = True
    layer_norm: bool = False
    crf: bool = False
    embed_size: int = 64
    min_freq: int = 1
    max_train: int | None = None

    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        **CommonSettings.BOUNDS, "embed_size": (1, None), "min_freq": (1, None),
        "max_train": (1, None)}

    @classmethod
    def of(cls, cfg: dict[str, Any] | TagSettings) -> TagSettings:
        return cfg if isinstance(cfg, TagSettings) else cls.from_dict(cfg)


def add_arguments(g) -> None:
    import argparse

    g.add_argument("--crf", action=argparse.BooleanOptionalAction, default=None,
                   help="decode tags jointly with a linear-chain CRF (default: off)")
    g.add_argument("--embed-size", type=int, help="token embedding size (default 64)")
    g.add_argument("--min-freq", type=int, help="rarer training tokens become <unk> (default 1)")
    g.add_argument("--max-train", type=int, help="use at most this many training sentences "
                   "(default: all)")


def load_tagged(cfg: dict[str, Any] | TagSettings) -> TaggedData:
    s = TagSettings.of(cfg)
    name = str(s.data)
    if name.lower() == "kjv-case":
        data = load_kjv_case()
    else:
        sents, tags = read_conll(name)
        if s.test_data:
            te_s, te_t = read_conll(s.test_data)
            (s_tr, t_tr), (s_va, t_va) = split_pairs(sents, tags, (0.95, 0.05), s.seed)
        else:
            if len(sents) < 3:
                raise CLIError(f"--data: expected at least 3 sentences to split, got "
                               f"{len(sents)}. Add sentences or pass --test-data.")
            (s_tr, t_tr), (s_va, t_va), (te_s, te_t) = split_pairs(
                sents, tags, (0.9, 0.05, 0.05), s.seed)
        tup = lambda xs: tuple(tuple(x) for x in xs)  # noqa: E731
        data = TaggedData(tup(s_tr), tup(t_tr), tup(s_va), tup(t_va), tup(te_s), tup(te_t),
                          name=Path(name).stem)
    if s.max_train:
        n = s.max_train
        data = TaggedData(data.sentences_train[:n], data.tags_train[:n], data.sentences_val,
                          data.tags_val, data.sentences_test, data.tags_test, data.name)
    return data


def _dataset(vocab: Vocab, tag_ids: dict[str, int], sents, tags) -> list:
    return [(torch.tensor(vocab.encode(s), dtype=torch.long),
             torch.tensor([tag_ids.get(t, IGNORE_INDEX) for t in ts], dtype=torch.long))
            for s, ts in zip(sents, tags, strict=True)]


def _collate(items):
    return pad_collate(items, target_padding_value=IGNORE_INDEX)


def tag_sentences(model: Tagger, vocab: Vocab, itags: list[str], sents,
                  batch_size: int = 128) -> list[list[str]]:
    """Predicted tag strings of tokenised sentences."""
    out: list[list[str]] = []
    for a in range(0, len(sents), batch_size):
        chunk = sents[a: a + batch_size]
        batch = pad_collate([torch.tensor(vocab.encode(s), dtype=torch.long) for s in chunk])
        out += [[itags[i] for i in row] for row in model.decode(batch.inputs, batch.lengths)]
    return out


def score(refs, hyps) -> dict[str, float]:
    ent = entity_f1(refs, hyps)
    return {"token_accuracy": token_accuracy(refs, hyps), "entity_f1": ent["f1"],
            "entity_precision": ent["precision"], "entity_recall": ent["recall"]}


def baselines(data: TaggedData) -> dict[str, dict[str, float]]:
    counts = Counter(t for ts in data.tags_train for t in ts)
    majority = counts.most_common(1)[0][0]
    per_tok: dict[str, Counter] = defaultdict(Counter)
    for s, ts in zip(data.sentences_train, data.tags_train, strict=True):
        for a, b in zip(s, ts, strict=True):
            per_tok[a][b] += 1
    best = {a: c.most_common(1)[0][0] for a, c in per_tok.items()}
    refs = data.tags_test
    return {"majority_tag": score(refs, [[majority] * len(s) for s in data.sentences_test]),
            "most_frequent_tag": score(refs, [[best.get(a, majority) for a in s]
                                              for s in data.sentences_test])}


def train(cfg: dict[str, Any] | TagSettings) -> int:
    """Train a tagger, score it beside the baselines, write the run directory."""
    from rnnkit.training import Trainer, seed_everything

    s = TagSettings.of(cfg)  # every user error about settings surfaces here
    data = load_tagged(s)
    vocab = Vocab.build(data.sentences_train, s.min_freq)
    itags = sorted({t for ts in data.tags_train for t in ts})
    tag_ids = {t: i for i, t in enumerate(itags)}
    mc = TaggerConfig(len(vocab), len(itags), model=s.model, embed_size=s.embed_size,
                      hidden_size=s.hidden_size, num_layers=s.num_layers,
                      bidirectional=s.bidirectional, dropout=s.dropout,
                      layer_norm=s.layer_norm, crf=s.crf)
    seed_everything(s.seed)
    model = Tagger(mc)
    out = make_out_dir(s, "tag", data.name)
    tc = trainer_config(s, out, bucket_by_length=True, clip_grad_norm=5.0)
    t0 = time.time()
    Trainer(tc, collate_fn=_collate).fit(
        model, _dataset(vocab, tag_ids, data.sentences_train, data.tags_train),
        _dataset(vocab, tag_ids, data.sentences_val, data.tags_val), resume=s.resume)
    seconds = time.time() - t0
    hyps = tag_sentences(model, vocab, itags, data.sentences_test)
    test = score(data.tags_test, hyps)
    base = baselines(data)
    write_json(out / "config.json", {"task": "tag", "dataset": data.name,
                                     "settings": s.replace(resume=None).to_dict(),
                                     "model": mc.to_dict(), "vocab": vocab.to_dict(),
                                     "tags": itags})
    save_weights(model, out)
    write_metrics(out, "tag", data.name, test, base, seconds)
    write_conll(out / "test_predictions.conll", data.sentences_test, data.tags_test, hyps)
    print(format_table(test, base, model_name=f"{s.model}{'-crf' if mc.crf else ''}"))
    print(f"metrics: {out / 'metrics.json'}")
    print(f"predictions: {out / 'test_predictions.conll'}")
    return 0


def load_run(run_dir) -> tuple[dict[str, Any], Tagger, Vocab, list[str]]:
    run = read_run(run_dir)
    model = load_weights(Tagger(TaggerConfig.from_dict(run["model"])), run_dir)
    return run["settings"], model.eval(), Vocab.from_dict(run["vocab"]), list(run["tags"])


def _data(args: dict[str, Any], settings: dict[str, Any], require_tags: bool):
    if args.get("data"):
        if str(args["data"]).lower() == "kjv-case":
            d = load_kjv_case()
            return [list(s) for s in d.sentences_test], [list(t) for t in d.tags_test]
        return read_conll(args["data"], require_tags=require_tags)
    d = load_tagged(settings)
    return [list(s) for s in d.sentences_test], [list(t) for t in d.tags_test]


def evaluate(run_dir, args: dict[str, Any]) -> int:
    settings, model, vocab, itags = load_run(run_dir)
    sents, tags = _data(args, settings, True)
    test = score(tags, tag_sentences(model, vocab, itags, sents))
    write_json(Path(run_dir) / "evaluation.json", {"data": args.get("data") or "test split",
                                                    "test": test})
    print(format_table(test, {}))
    print(f"metrics: {Path(run_dir) / 'evaluation.json'}")
    return 0


def predict(run_dir, args: dict[str, Any]) -> int:
    """Tag ``--input TEXT`` (whitespace tokens; printed) or ``--data FILE`` (CoNLL out)."""
    settings, model, vocab, itags = load_run(run_dir)
    if args.get("input") is not None:
        toks = str(args["input"]).split()
        if not toks:
            raise CLIError("--input: expected a non-empty text, got an empty one.")
        for tok, tag in zip(toks, tag_sentences(model, vocab, itags, [toks])[0], strict=True):
            print(f"{tok}\t{tag}")
        return 0
    sents, _ = _data(args, settings, False)
    out = Path(args.get("output") or Path(run_dir) / "predictions.conll")
    write_conll(out, sents, tag_sentences(model, vocab, itags, sents))
    print(f"predictions: {out}")
    return 0


def explain(run_dir, args: dict[str, Any]) -> int:
    """Saliency of each predicted tag over the input tokens of sentence ``--index``."""
    from rnnkit.interpret import explain_tagger

    settings, model, vocab, itags = load_run(run_dir)
    sents, _ = _data(args, settings, False)
    i = int(args.get("index") or 0)
    if not 0 <= i < len(sents):
        raise CLIError(f"--index: expected 0 <= N < {len(sents)}, got {i}.")
    out_dir = Path(args.get("output") or Path(run_dir) / "explain")
    files = explain_tagger(model, vocab.encode(sents[i]), sents[i], itags, out_dir, i,
                           method=args.get("method") or "integrated_gradients")
    for f in files:
        print(f"{'plots' if f.suffix == '.png' else 'scores'}: {f}")
    return 0

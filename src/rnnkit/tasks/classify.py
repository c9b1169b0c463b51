"""Classification pipeline: ``rnnkit train classify`` and ``evaluate`` / ``predict`` / ``explain``.

Two kinds of data, one command:

* numeric sequences (:class:`~rnnkit.data.SequenceClassData`: UCR/UEA ``.ts`` pairs, built-in
  ItalyPowerDemand/GunPoint/BasicMotions/PLAID/ACSF1/PickupGestureWiimoteZ, or a CSV of
  numeric feature columns plus a label column) → per-channel standard scaling fitted on the
  training split → :class:`~rnnkit.models.sequence_classifier.SequenceClassifier` models
  chosen by stratified k-fold cross-validation on the training split
  (:mod:`rnnkit.tasks.classify_select`: CNN+LSTM or LSTM-FCN, augmentation for tiny sets,
  MiniRocket's weight in the average; the winner's fold models are the ensemble);
* texts (:class:`~rnnkit.data.TextClassData`) → tokenizer →
  :class:`~rnnkit.models.text_classifier.TextClassifier` members (optionally pretrained as a
  language model, :mod:`rnnkit.tasks.classify_text`, plus NB-LR, :mod:`rnnkit.tasks.classify_nb`)
  with early stopping on a validation split (:mod:`rnnkit.tasks.classify_fit`).

The concepts, one file each: data (``classify_data``), settings by the data's shape
(``classify_settings``), models of a run (``classify_models``), training with a validation
split (``classify_fit``), cross-validated selection (``classify_select``), the text
pretraining (``classify_text``), NB-LR (``classify_nb``) and the report beside MiniRocket,
1-NN Euclidean / DTW and the majority class (``classify_report``). This module is the task
interface: ``DEFAULTS``, ``add_arguments``, ``train``, ``evaluate``, ``predict``, ``explain``.

Run directory: ``config.json`` (settings, model config, classes, scaler/tokenizer, the
selection), ``model.safetensors``, ``metrics.json``, ``confusion.png``, ``history.*`` (runs
with a validation split), ``checkpoints/``; ``evaluate`` adds ``evaluation.json``, ``predict``
``predictions.csv``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from rnnkit.data import TextClassData
from rnnkit.models.pooling import POOLINGS
from rnnkit.tasks.classify_data import (
    Items,
    check_data,
    encode,
    fit_tokenizer,
    load_inputs,
    load_source,
    scaler,
)
from rnnkit.tasks.classify_fit import fit_member, member_split, needs_pretraining
from rnnkit.tasks.classify_models import build_model, ensemble, model_config, predict_proba
from rnnkit.tasks.classify_nb import fit_nb_member, nb_settings
from rnnkit.tasks.classify_report import baselines, report
from rnnkit.tasks.classify_settings import ClassifySettings, auto_settings, check_options
from rnnkit.tasks.common import (
    CLIError,
    format_table,
    load_weights,
    make_out_dir,
    read_run,
    save_weights,
    trainer_config,
    write_json,
)

__all__ = ["DEFAULTS", "ClassifySettings", "add_arguments", "evaluate", "explain", "predict",
           "train"]

DEFAULTS: dict[str, Any] = {
    "label_col": "label", "text_col": None, "pooling": None, "conv": None, "conv_layout": None,
    "znorm": None, "tokenizer": "word", "max_len": None, "vocab_size": 20000, "min_freq": 2,
    "embed_dim": None, "word_dropout": None, "bow_buckets": None, "bow_dropout": None,
    "label_smoothing": None,
    "weight_decay": None, "val_frac": None, "test_frac": 0.2, "patience": None, "threads": 1,
    "pretrain_epochs": None, "pretrain_lr": None, "pretrain_share": None, "pretrain_vocab": None,
    "ensemble": None, "nb_weight": None, "nb_c": None, "cv_folds": None, "rocket_weight": None,
}


def add_arguments(group: argparse._ArgumentGroup) -> None:
    """The classification flags (defaults None: unset values come from the shape table)."""
    a = group.add_argument
    a("--label-col", metavar="COL", help="label column of a CSV (default 'label')")
    a("--text-col", metavar="COL", help="text column of a CSV (default: the only text column)")
    a("--pooling", choices=POOLINGS, help="how RNN outputs become one vector (default mean "
      "for numeric data, max for text)")
    a("--conv", action=argparse.BooleanOptionalAction, default=None,
      help="convolutional (FCN) part for numeric sequences (default: chosen by "
      "cross-validation; setting it, --pooling or --conv-layout fixes the architecture)")
    a("--conv-layout", choices=("parallel", "serial"),
      help="FCN branch beside the RNN (LSTM-FCN, default) or conv layers feeding the RNN")
    a("--znorm", action=argparse.BooleanOptionalAction, default=None,
      help="per-series z-normalisation (default: on for univariate sequences)")
    a("--tokenizer", choices=("word", "char"), help="text tokenizer (default word)")
    a("--max-len", type=int, metavar="N", help="pad/truncate texts to N tokens (default: the "
      "95th percentile of training lengths, at most 400 words / 1000 chars)")
    a("--vocab-size", type=int, metavar="N", help="vocabulary cap incl. <pad>/<unk> (default "
      "20000)")
    a("--min-freq", type=int, metavar="N", help="min training count for a token's own id "
      "(default 2)")
    a("--embed-dim", type=int, help="token embedding size (default 64)")
    a("--word-dropout", type=float, help="share of tokens replaced by <unk> in "
      "training (default 0.1)")
    a("--bow-buckets", type=int, metavar="N", help="text: add a linear bag of unigrams and N "
      "hashed bigrams to the RNN's logits (default 262144; 0: the RNN alone)")
    a("--bow-dropout", type=float, help="text: share of training texts whose bag logits are "
      "dropped, so the RNN learns to classify alone too (default 0.5)")
    a("--label-smoothing", type=float, help="cross-entropy label smoothing (default "
      "0.1 for numeric sequences, 0 for text)")
    a("--weight-decay", type=float, help="AdamW weight decay (default 0.01)")
    a("--val-frac", type=float, help="stratified validation share of the training data for "
      "early stopping (default 0.1 with >= 200 training sequences, else 0)")
    a("--test-frac", type=float, help="test share when a CSV/.ts has no --test-data (default 0.2)")
    a("--patience", type=int, help="early-stopping patience in epochs (default "
      "15 for numeric sequences, 3 for text)")
    a("--pretrain-epochs", type=int, metavar="N", help="text: first train the embedding and "
      "encoder as a language model on the training texts for N epochs (ULMFiT style; default "
      "40000 / number of texts, 1 to 10; 0: off)")
    a("--pretrain-lr", type=float, help="learning rate of the language-model "
      "pretraining (default 0.003)")
    a("--pretrain-share", type=float, help="share of positions whose neighbour the language "
      "model predicts per batch (default 0.25; the softmax over the vocabulary dominates)")
    a("--pretrain-vocab", type=int, metavar="N", help="the language model predicts the N most "
      "frequent tokens, the rest as <unk> (default 2048; 0: the whole vocabulary)")
    a("--ensemble", type=int, metavar="N", help="train N models (seeds seed + 1000·i, each "
      "with its own validation split) and average their class probabilities (default 3 for "
      "text with < 10000 training texts, else 1)")
    a("--nb-weight", type=float, metavar="W", help="text: weight of an NB-weighted logistic "
      "regression on unigrams and hashed bigrams (NBSVM) in the probability average; the "
      "RNNs share 1 - W (default 0.5 with < 10000 training texts, else 0: off)")
    a("--nb-c", type=float, metavar="C", help="inverse L2 strength of that logistic regression "
      "(default 0.1; larger: less regularisation)")
    a("--cv-folds", type=int, metavar="K", help="numeric sequences: choose the architecture "
      "and the MiniRocket weight by stratified K-fold cross-validation on the training split "
      "and keep the winner's K fold models as the ensemble (default 3; 0: one model with the "
      "fixed settings, early stopping on a validation split)")
    a("--rocket-weight", type=float, metavar="W", help="numeric sequences with --cv-folds: "
      "weight of MiniRocket (aeon) in the probability average with the RNN fold models "
      "(default: chosen by cross-validation among 0 and 0.5; 0: the RNN alone)")
    a("--threads", type=int, help="CPU threads for torch (default 1: these models are small, "
      "and intra-op threads slow them down on a busy machine)")



def _set_threads(n: int | None) -> None:
    if n is not None:
        if n < 1:
            raise CLIError(f"--threads: expected a positive number, got {n}.")
        torch.set_num_threads(int(n))


def _prepare(cfg: dict[str, Any]) -> tuple[dict[str, Any], Any, dict[str, Any], Items, Items]:
    """Validate and load everything before anything is written: ``(cfg, data, run, train,
    test)`` (validation splits or folds are carved from ``train`` only)."""
    if not cfg.get("data"):
        raise CLIError("--data: expected a dataset name or a file, got nothing. Pass --data "
                       "ItalyPowerDemand (see 'rnnkit datasets') or --data FILE.csv.")
    src = {k: cfg.get(k) for k in ("data", "test_data", "label_col", "text_col", "test_frac",
                                   "seed")}
    ds = load_source(src)
    check_data(ds)
    cfg = auto_settings(cfg, ds)
    text = isinstance(ds, TextClassData)
    check_options(cfg, text)
    run: dict[str, Any] = {"task": "classify", "dataset": ds.name, "kind":
                           "text" if text else "sequence", "source": src}
    if text:
        tok = fit_tokenizer(cfg, ds.texts_train)
        run["data"] = {"classes": list(ds.classes), "tokenizer": tok.to_dict(),
                       "max_len": cfg["max_len"]}
        vocab = tok.vocab_size
    else:
        run["data"] = {"classes": list(ds.classes), "channels": list(ds.channels), **scaler(ds)}
        vocab = None
    run["model"] = model_config(cfg, ds, vocab)

    def items(split: str) -> Items:
        if text:
            return encode(run, getattr(ds, f"texts_{split}"), getattr(ds, f"y_{split}"))
        return encode(run, getattr(ds, f"X_{split}"), getattr(ds, f"y_{split}"),
                      getattr(ds, f"lengths_{split}"))

    return cfg, ds, run, items("train"), items("test")


def train(cfg: dict[str, Any] | ClassifySettings) -> int:
    """``rnnkit train classify``: fit, score beside the baselines, write the run directory."""
    from rnnkit.training import seed_everything

    # types, ranges and choices of every flag, before any data is read
    s = cfg if isinstance(cfg, ClassifySettings) else ClassifySettings.from_dict(dict(cfg))
    cfg = s.to_dict()
    _set_threads(cfg.get("threads"))
    user = dict(cfg)
    cfg, ds, run, all_train, test_items = _prepare(cfg)
    if run["kind"] == "sequence" and cfg["cv_folds"]:
        return _train_selected(cfg, user, ds, run, all_train, test_items)
    out = Path(cfg.get("out") or cfg.get("resume") or Path("runs") / f"classify-{ds.name}")
    train_items, val_items = member_split(cfg, ds, all_train, 0)
    extra = dict(weight_decay=cfg["weight_decay"], schedule="cosine", clip_grad_norm=1.0,
                 bucket_by_length=run["kind"] == "text", progress="none" if cfg["quiet"]
                 else "bar", early_stopping_patience=cfg["patience"] if val_items else None)
    tcfg = trainer_config(cfg, out, **extra)  # validated before the directory exists
    n = int(cfg["ensemble"])
    seed_everything(cfg["seed"])
    build_model(run)
    out = make_out_dir(cfg, "classify", ds.name)
    run["settings"] = {k: v for k, v in cfg.items() if k not in ("quiet", "resume", "out")}
    run["trainer"] = tcfg.to_dict()
    if n > 1:
        run["ensemble"] = n
    if run["kind"] == "text" and cfg["nb_weight"] > 0:
        run["nb"] = nb_settings(run, ds.n_classes, cfg["nb_weight"], cfg["nb_c"])
    write_json(out / "config.json", run)
    t0 = time.perf_counter()
    encoder, pretrain = None, {}
    if run["kind"] == "text" and cfg["pretrain_epochs"] and needs_pretraining(cfg, n):
        from rnnkit.tasks.classify_text import pretrain_encoder

        encoder, pretrain = pretrain_encoder(cfg, run, tcfg, all_train)
    fitted = [fit_member(i, n, cfg, run, tcfg, out, *member_split(cfg, ds, all_train, i),
                         encoder=encoder) for i in range(n)]
    models, nb = [m for m, _ in fitted], {}
    if run.get("nb"):
        nb_model, nb = fit_nb_member(run, all_train)
        models.append(nb_model)
    model = models[0] if len(models) == 1 else ensemble(models, run)
    save_weights(model, out)
    pred = predict_proba(model, test_items, cfg).argmax(1)
    seconds = time.perf_counter() - t0
    rep = [r for _, r in fitted]
    extra_metrics = rep[0] if n == 1 else {"ensemble": n, "members": rep}
    what = f" (ensemble of {n})" if n > 1 else ""
    if nb:
        what += f" + NB-LR (weight {run['nb']['weight']:g})"
    header = (f"{ds.name}: {len(train_items)} train / {len(val_items or [])} validation / "
              f"{len(test_items)} test, {ds.n_classes} classes, {seconds:.1f} s{what}")
    report(out, ds, f"{cfg['model']} ({run['kind']}){what}", pred, seconds, cfg["seed"],
           baselines(ds, cfg["seed"]), {}, header, **extra_metrics, **pretrain, **nb)
    return 0


def _train_selected(cfg: dict[str, Any], user: dict[str, Any], ds: Any, run: dict[str, Any],
                    all_train: Items, test_items: Items) -> int:
    """Numeric sequences: choose by cross-validation on the training split, keep the
    winner's fold ensemble (+ MiniRocket), score it and the RNN alone beside the baselines."""
    from rnnkit.models.ensemble import ProbabilityEnsemble
    from rnnkit.tasks.classify_select import select_and_fit, selection_settings

    settings = selection_settings(cfg, user)
    # run.json keeps the user's settings, not the shape table's values: a restart with them
    # selects by cross-validation again instead of fixing the table's architecture
    out = make_out_dir(user, "classify", ds.name,
                       no_checkpoints="model selection by cross-validation (--cv-folds)")
    run["settings"] = {k: v for k, v in cfg.items() if k not in ("quiet", "resume", "out")}
    run["selection"] = settings.to_dict()
    t0, c0 = time.perf_counter(), time.process_time()
    log = (lambda *a, **k: None) if cfg.get("quiet") else print
    sel = select_and_fit(settings, run["model"], ds, all_train, device=cfg.get("device") or
                         "auto", log=log)
    run["model"] = sel.model_config
    if len(sel.models) > 1:
        run["ensemble"] = len(sel.models)
    members: list[torch.nn.Module] = list(sel.models)
    if sel.rocket is not None:
        run["rocket"] = {"weight": sel.rocket_weight, "model": sel.rocket.config.to_dict()}
        members.append(sel.rocket)
    model = ensemble(members, run) if len(members) > 1 else members[0]
    write_json(out / "config.json", run)
    save_weights(model, out)
    pred = predict_proba(model, test_items, cfg).argmax(1)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    winner = sel.winner + (f" + minirocket (weight {sel.rocket_weight:g})" if sel.rocket
                           else "")
    rows = {}
    if sel.rocket is not None:  # the recurrent model on its own
        from rnnkit.baselines.classification import classification_metrics

        rnn = ProbabilityEnsemble(sel.models)
        rows["rnnkit_rnn_alone"] = classification_metrics(
            ds.y_test, predict_proba(rnn, test_items, cfg).argmax(1))
    header = (f"{ds.name}: {len(all_train)} train ({sel.folds}-fold CV) / {len(test_items)} "
              f"test, {ds.n_classes} classes, {seconds:.1f} s; selected: {winner}")
    report(out, ds, f"rnnkit {winner}", pred, seconds, cfg["seed"],
           baselines(ds, cfg["seed"]), rows, header, cpu_seconds=round(cpu, 2),
           selection={"winner": winner, "candidate": sel.winner,
                      "rocket_weight": sel.rocket_weight, "folds": sel.folds,
                      "cv": sel.table, "fold_training": sel.fold_reports})
    return 0


def _load_run(run_dir: str) -> tuple[dict[str, Any], torch.nn.Module]:
    run = read_run(run_dir)
    _set_threads(run.get("settings", {}).get("threads"))
    for key in ("kind", "model", "data"):
        if key not in run:
            raise CLIError(f"{run_dir}/config.json: expected a classify run with '{key}', got "
                           f"none. Train again with 'rnnkit train classify'.")
    model = load_weights(build_model(run), run_dir)
    return run, model.eval()


def evaluate(run_dir: str, args: dict[str, Any]) -> int:
    """``rnnkit evaluate DIR [--data ...]``: accuracy and macro-F1 (default: the run's test
    split); written to ``DIR/evaluation.json``."""
    from rnnkit.baselines.classification import classification_metrics

    run, model = _load_run(run_dir)
    name, items, y, _ = load_inputs(run_dir, run, args, need_labels=True)
    pred = predict_proba(model, items, run.get("settings", {})).argmax(1)
    metrics = classification_metrics(y, pred)
    write_json(Path(run_dir) / "evaluation.json", {"task": "classify", "dataset": name,
                                                   "n": len(y), "test": metrics})
    print(format_table(metrics, {}, model_name=f"{run['model']['model']} on {name}"))
    print(f"\nwritten: {Path(run_dir) / 'evaluation.json'}")
    return 0


def predict(run_dir: str, args: dict[str, Any]) -> int:
    """``rnnkit predict DIR [--data ...|--input TEXT] [-o FILE]``: labels and per-class
    probabilities as CSV (default ``DIR/predictions.csv``; ``--input``: printed)."""
    import pandas as pd

    run, model = _load_run(run_dir)
    onnx = args.get("runtime") == "onnxruntime"
    classes = [str(c) for c in run["data"]["classes"]]
    single = args.get("input")
    if single is not None:
        if run["kind"] != "text":
            raise CLIError("--input: expected a text classification run, got a numeric one. "
                           "Pass --data FILE instead.")
        if not single.strip():
            raise CLIError("--input: expected a non-empty text, got an empty one.")
        items, y, raw = encode(run, [single]), None, [single]
    else:
        _, items, y, raw = load_inputs(run_dir, run, args, need_labels=False)
    if onnx:
        from rnnkit.tasks.export import onnx_predict_proba

        proba = onnx_predict_proba(run_dir, items)
    else:
        proba = predict_proba(model, items, run.get("settings", {}))
    df = pd.DataFrame({"label": [classes[i] for i in proba.argmax(1)]})
    for k, c in enumerate(classes):
        df[f"prob_{c}"] = proba[:, k].round(6)
    if y is not None:
        df["true_label"] = [classes[i] for i in y]
    if raw is not None and run["kind"] == "text":
        df["text"] = [t[:80] for t in raw]
    out = args.get("output")
    if single is not None and out is None:
        print(df.to_csv(index=False).strip())
        return 0
    out = Path(out or Path(run_dir) / "predictions.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    df.to_csv(tmp, index_label="index")
    tmp.replace(out)
    print(f"{len(df)} predictions written to {out}")
    return 0


def explain(run_dir: str, args: dict[str, Any]) -> int:
    """``rnnkit explain DIR [--data …] [--index N] [--method M] [-o DIR]``: per-step saliency
    of example N for its predicted class (integrated gradients by default; for text, w.r.t. the
    token embeddings) and, with attention pooling, the attention weights — PNG + JSON."""
    from rnnkit.data import tokenizer_from_dict
    from rnnkit.interpret import explain_sequence, explain_tokens

    run, model = _load_run(run_dir)
    if hasattr(model, "members"):  # saliency needs one embedding: explain the first member
        print(f"ensemble of {len(model.members)}: explaining its first member")
        model = model.members[0]
    _, items, labels, _ = load_inputs(run_dir, run, args, need_labels=False)
    i = int(args.get("index") or 0)
    if not 0 <= i < len(items):
        raise CLIError(f"--index: expected 0 <= index < {len(items)} (the number of examples), "
                       f"got {i}.")
    x, _ = items[i]
    with torch.no_grad():
        logits, alpha = model.forward_with_attention(x[None], torch.tensor([x.shape[0]]))
    target, attention = int(logits.argmax(1)), None if alpha is None else alpha[0]
    out = Path(args.get("output") or Path(run_dir) / "explain")
    method = args.get("method") or "integrated_gradients"
    classes = run["data"]["classes"]
    caption = ("" if labels is None else f"true: {classes[int(labels[i])]}, ") + \
        f"predicted: {classes[target]}"
    if run["kind"] == "text":
        tok = tokenizer_from_dict(run["data"]["tokenizer"])
        tokens = [tok.itos[int(t)] if int(t) < len(tok.itos) else "?" for t in x]
        files = explain_tokens(model, model.embedding, x.tolist(), tokens, out, i, method,
                               target, attention, caption=caption)
    else:
        files = explain_sequence(model, x, out, i, method, target, attention=attention,
                                 caption=caption)
    print(f"example {i}: predicted {run['data']['classes'][target]}")
    for f in files:
        print(f"{'plot' if f.suffix == '.png' else 'scores'}: {f}")
    return 0

"""cmudict grapheme-to-phoneme quality: attention seq2seq vs baselines, greedy vs beam search.

Trains ``rnnkit train seq2seq --data cmudict`` (the fixed 90/5/5 split by word, stress removed,
39 phonemes) for ``--time-budget`` seconds, then decodes the 6,303 test words greedily and with
beam search, and prints phoneme error rate (PER = token_error_rate) and word error rate (WER =
sequence_error_rate) beside the issue's targets and the baselines on the same split.

Targets (issue 7): PER <= 10 %, WER <= 35 % within 30 minutes of CPU training; reference:
Yao & Zweig 2015 encoder-decoder LSTM 7.63 % PER / 28.61 % WER (on a *different* cmudict split).

    python benchmarks/g2p_quality.py --time-budget 1800 --clock cpu --threads 1   # the full one
    python benchmarks/g2p_quality.py --time-budget 300 --out /tmp/g2p

``--clock cpu`` budgets this process's CPU time (fair on a shared machine; use with
``--threads 1``); ``--clock wall`` (default) wall time. The default LR schedule here is a cosine
annealed to the end of the budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from rnnkit.tasks import seq2seq
from rnnkit.tasks.common import COMMON_DEFAULTS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--time-budget", type=float, default=1800.0, help="training seconds")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="what --time-budget measures: wall time (default) or this process's CPU "
                   "time (fair on a shared machine; use with --threads 1)")
    p.add_argument("--out", default="runs/bench-g2p")
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--embed-size", type=int, default=64)
    p.add_argument("--num-layers", type=int, default=2, help="encoder and decoder layers")
    p.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=True,
                   help="bidirectional encoder (default on)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr-schedule", choices=seq2seq.LR_SCHEDULES, default="cosine")
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--min-lr-ratio", type=float, default=0.02)
    p.add_argument("--attention", default="general")
    p.add_argument("--input-feeding", action=argparse.BooleanOptionalAction, default=False,
                   help="off by default here: the decoder then runs in one call (faster on CPU)")
    p.add_argument("--beam-width", type=int, default=5)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1 is fastest on a shared machine)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    a.model_desc = (f"{'bi' if a.bidirectional else 'uni'}-LSTM L={a.num_layers} "
                    f"H={a.hidden_size} E={a.embed_size} dropout={a.dropout} lr={a.lr} "
                    f"{a.lr_schedule} B={a.batch_size} input feeding {a.input_feeding}")
    torch.set_num_threads(a.threads)
    cfg = {**COMMON_DEFAULTS, **seq2seq.DEFAULTS, "data": "cmudict", "out": a.out,
           "epochs": 1000, "time_budget": a.time_budget, "hidden_size": a.hidden_size,
           "embed_size": a.embed_size, "num_layers": a.num_layers,
           "bidirectional": a.bidirectional, "batch_size": a.batch_size, "lr": a.lr,
           "dropout": a.dropout, "lr_schedule": a.lr_schedule, "warmup_steps": a.warmup_steps,
           "min_lr_ratio": a.min_lr_ratio, "attention": a.attention,
           "input_feeding": a.input_feeding, "beam_width": a.beam_width, "seed": a.seed,
           "quiet": True}
    t0, c0 = time.time(), time.process_time()
    seq2seq.train(cfg, clock=time.process_time if a.clock == "cpu" else None)
    cpu = time.process_time() - c0
    m = json.loads((Path(a.out) / "metrics.json").read_text())
    rows = [(f"seq2seq beam-{a.beam_width}", m["test"]), ("seq2seq greedy", m["greedy"]),
            *m["baselines"].items()]
    hist = json.loads((Path(a.out) / "history.json").read_text())
    print(f"\ncmudict G2P test (6,303 words): budget {a.time_budget / 60:g} {a.clock} min, "
          f"trained {m['train_seconds'] / 60:.1f} wall min, {len(hist)} epochs (CPU "
          f"{cpu / 60:.1f} min and wall {(time.time() - t0) / 60:.1f} min incl. decoding); "
          f"{a.model_desc}")
    print(f"{'':28}{'PER %':>8}{'WER %':>8}{'chrF':>8}")
    for name, r in rows:
        print(f"{name:28}{100 * r['token_error_rate']:8.2f}{100 * r['sequence_error_rate']:8.2f}"
              f"{r['chrf']:8.1f}")
    print(f"{'target (issue 7)':28}{10.0:8.2f}{35.0:8.2f}")
    print(f"{'Yao & Zweig 2015 (other split)':28}{7.63:8.2f}{28.61:8.2f}")
    beam_better = m["test"]["sequence_error_rate"] <= m["greedy"]["sequence_error_rate"]
    print(f"beam-{a.beam_width} <= greedy WER: {beam_better}")
    ok = m["test"]["token_error_rate"] <= 0.10 and m["test"]["sequence_error_rate"] <= 0.35
    print(f"targets met: {ok}")
    print(f"\n{'epoch':>6}{'minutes':>9}{'train loss':>12}{'val loss':>10}{'val acc %':>11}"
          f"{'lr':>10}")
    minutes = 0.0
    for h in hist:
        minutes += h.get("time_s", 0.0) / 60
        nan = float("nan")
        print(f"{h['epoch']:6d}{minutes:9.1f}{h['loss']:12.4f}{h.get('val_loss', nan):10.4f}"
              f"{100 * h.get('val_token_acc', nan):11.2f}{h['lr']:10.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

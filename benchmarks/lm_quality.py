"""Language-model quality benchmark: KJV char-LM bits/char on the last 10 % vs bzip2.

Issue 5's target: a char-level LM trained for at most 30 minutes on this CPU scores below
1.671 bits per character on the last 10 % of the King James Bible (bzip2 -9's figure for the
*whole* text, DATASETS.md; bzip2 on the tail alone reads 1.906). Runs ``rnnkit train lm`` with
the given settings, then prints the target table (model and baselines on the same tail) and the
validation bits/char after each epoch against elapsed training time.

    python benchmarks/lm_quality.py --minutes 30                     # wall clock, torch threads
    python benchmarks/lm_quality.py --minutes 30 --clock cpu --threads 1   # on a shared machine
    python benchmarks/lm_quality.py … --dynamic-eval   # + the tail under dynamic evaluation

``--dynamic-eval`` scores the tail a second time under dynamic evaluation (Krause et al. 2018;
its settings are tuned on the validation split by ``benchmarks/lm_dynamic_eval.py``) and prints
it beside the static score; the static score stays the headline number of the table.

Not a test: numbers depend on the machine (and on what else runs on it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from rnnkit.tasks import lm
from rnnkit.tasks.common import resolve_config

BZIP2_WHOLE_TEXT = 1.671  # DATASETS.md: bzip2 -9 on the whole KJV text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="kjv")
    p.add_argument("--minutes", type=float, default=30.0, help="training time budget")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="what --minutes measures: wall time (default) or this process's CPU "
                   "time (fair on a shared machine; use with --threads 1)")
    p.add_argument("--hidden-size", type=int, default=512)
    p.add_argument("--num-layers", type=int, default=1)
    p.add_argument("--embedding-dim", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr-ratio", type=float, default=0.05,
                   help="final LR of the cosine (annealed to the budget) / --lr")
    p.add_argument("--dropout", type=float, default=0.0,
                   help="between layers and before the output layer")
    p.add_argument("--recurrent-dropout", type=float, default=0.0,
                   help="variational dropout on h_{t-1} (runs rnnkit's engine, not oneDNN)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay")
    p.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=False,
                   help="share the embedding with the output layer")
    p.add_argument("--model", default="lstm")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", default=None, help="run directory (default /tmp/lm-bench-<time>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dynamic-eval", action="store_true",
                   help="also report the tail under dynamic evaluation (not part of the budget)")
    p.add_argument("--dynamic-lr", type=float, default=None)
    p.add_argument("--dynamic-decay", type=float, default=None)
    p.add_argument("--dynamic-segment-len", type=int, default=None)
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    out = Path(a.out or f"/tmp/lm-bench-{int(time.time())}")
    args = {"data": a.data, "time_budget": a.minutes * 60, "hidden_size": a.hidden_size,
            "num_layers": a.num_layers, "embedding_dim": a.embedding_dim,
            "batch_size": a.batch_size, "seq_len": a.seq_len, "lr": a.lr, "model": a.model,
            "min_lr_ratio": a.min_lr_ratio, "dropout": a.dropout,
            "recurrent_dropout": a.recurrent_dropout, "weight_decay": a.weight_decay,
            "tie_weights": a.tie_weights,
            "precision": a.precision, "seed": a.seed, "out": str(out), "quiet": True,
            "dynamic_eval": a.dynamic_eval, "dynamic_lr": a.dynamic_lr,
            "dynamic_decay": a.dynamic_decay, "dynamic_segment_len": a.dynamic_segment_len}
    cfg = resolve_config(lm.DEFAULTS, args)
    t0 = time.time()
    lm.train(cfg, clock=time.process_time if a.clock == "cpu" else None)
    wall = time.time() - t0
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    report(a, metrics, history, wall)
    return 0


def report(a: argparse.Namespace, metrics: dict, history: list[dict], wall: float) -> None:
    model_bpc = metrics["test"]["bpc"]
    print(f"\n== {a.data}: {a.model} H={a.hidden_size} L={a.num_layers} E={a.embedding_dim} "
          f"B={a.batch_size} T={a.seq_len} lr={a.lr}→×{a.min_lr_ratio:g} dropout={a.dropout} "
          f"rec.dropout={a.recurrent_dropout} wd={a.weight_decay} tied={a.tie_weights} "
          f"{a.precision} threads="
          f"{a.threads or torch.get_num_threads()} budget={a.minutes:g} {a.clock} min ==")
    print(f"{'':28}{'bpc (last 10 %)':>16}")
    print(f"{'model':28}{model_bpc:16.4f}")
    for name, m in metrics["baselines"].items():
        print(f"{name + ' (same tail)':28}{m['bpc']:16.4f}")
    print(f"{'bzip2-9 (whole text, ref.)':28}{BZIP2_WHOLE_TEXT:16.4f}")
    ok = "PASS" if model_bpc < BZIP2_WHOLE_TEXT else "FAIL"
    print(f"target bpc < {BZIP2_WHOLE_TEXT} within 30 min: {ok} (trained "
          f"{metrics['train_seconds'] / 60:.1f} min; {wall / 60:.1f} min with scoring)")
    dyn = metrics.get("test_dynamic")
    if dyn:
        ok = "PASS" if dyn["bpc"] < BZIP2_WHOLE_TEXT else "FAIL"
        print(f"{'model + dynamic evaluation':28}{dyn['bpc']:16.4f}   (segments of "
              f"{dyn['segment_len']}, lr {dyn['lr']:g}, decay {dyn['decay']:g}; "
              f"{dyn['cpu_seconds']:.0f} CPU s after training)")
        print(f"target with dynamic evaluation: {ok} (each character is scored before the "
              f"model adapts to it; the static score above is the model's own)")
    print(f"\n{'epoch':>6}{'minutes':>10}{'chars (M)':>11}{'train bpc':>11}{'val bpc':>10}")
    elapsed, chars = 0.0, 0
    per_step = a.batch_size * a.seq_len
    for h in history:
        elapsed += h.get("time_s", 0.0)
        chars = h.get("step", 0) * per_step
        nan = float("nan")
        print(f"{h['epoch']:6d}{elapsed / 60:10.1f}{chars / 1e6:11.1f}"
              f"{h.get('bpc', nan):11.3f}{h.get('val_bpc', nan):10.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())

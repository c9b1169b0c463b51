"""Dynamic evaluation of a trained char-LM run: tune on the validation split, then score the test.

Loads an ``rnnkit train lm`` run directory, scores the validation split (the ``valid_frac`` of
text just before the test tail, with the same 4,000 characters of context as the tail) with
fixed weights and under dynamic evaluation for every setting of a small grid (step size ×
decay × segment length, RMS rule and, with ``--sgd-lr``, plain SGD), and prints bits/char and
CPU seconds. With ``--test`` it then scores the test tail, static and dynamic, with the best
validation setting only — the test tail never chooses anything.

    OMP_NUM_THREADS=1 python benchmarks/lm_dynamic_eval.py /tmp/lm-full --threads 1 \\
        --lr 3e-5 5e-5 8e-5 --decay 3e-4 1e-3 --segment-len 25 50 100 --test

Step size and decay act once per update, and an update follows every segment: ``--lr`` and
``--decay`` are given per 50 tokens and scaled by ``segment_len / 50`` (so their rate per token
stays put across segment lengths), as Krause et al.'s grid does; the table shows the values
used. Not a test: numbers depend on the run and the machine.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from rnnkit.models.dynamic_eval import dynamic_token_nll, gradient_rms
from rnnkit.tasks import lm
from rnnkit.tasks.lm_data import (
    CONTEXT_CHARS,
    RMS_BATCHES,
    dynamic_score,
    encode,
    held_out,
    load_corpus,
    score,
    split_text,
    tail_nll,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--lr", type=float, nargs="+", default=[3e-5, 5e-5, 8e-5],
                   help="RMS-rule step sizes at segment length 50")
    p.add_argument("--sgd-lr", type=float, nargs="*", default=[],
                   help="plain-SGD step sizes at segment length 50 (none: RMS rule only)")
    p.add_argument("--decay", type=float, nargs="+", default=[3e-4, 1e-3],
                   help="decays at segment length 50")
    p.add_argument("--segment-len", type=int, nargs="+", default=[25, 50])
    p.add_argument("--valid-chars", type=int, default=None,
                   help="score only the first N characters of the validation split")
    p.add_argument("--test", action="store_true",
                   help="then score the test tail with the best validation setting")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    model, tok, run = lm._load_run(a.run_dir)
    corpus = load_corpus(run["data"])
    train_text, valid_text = split_text(corpus, run["split"], bool(run.get("test_data")))
    valid_text = valid_text[: a.valid_chars] if a.valid_chars else valid_text
    t0 = time.process_time()
    static = float(tail_nll(model, tok, train_text, valid_text).double().mean()) / math.log(2)
    print(f"validation: {len(valid_text):,} chars; static {static:.4f} bpc "
          f"({time.process_time() - t0:.0f} CPU s)")
    t0 = time.process_time()
    rms = gradient_rms(model, encode(tok, train_text), **RMS_BATCHES)
    print(f"gradient statistics: {time.process_time() - t0:.0f} CPU s")
    ctx = encode(tok, train_text[-CONTEXT_CHARS:])
    ids = torch.as_tensor(np.concatenate([ctx, encode(tok, valid_text)]))
    grid = [("rms", lr, d, s) for s in a.segment_len for d in a.decay for lr in a.lr]
    grid += [("sgd", lr, d, s) for s in a.segment_len for d in a.decay for lr in a.sgd_lr]
    print(f"\n{'rule':>5}{'segment':>9}{'lr':>10}{'decay':>9}{'val bpc':>10}{'gain':>8}"
          f"{'CPU s':>8}")
    results = []
    for rule, lr50, decay50, seg in grid:
        lr, decay = lr50 * seg / 50, decay50 * seg / 50
        t0 = time.process_time()
        nll = dynamic_token_nll(model, ids, len(ctx), segment_len=seg, lr=lr, decay=decay,
                                grad_rms=rms if rule == "rms" else None)
        bpc = float(nll.double().mean()) / math.log(2)
        secs = time.process_time() - t0
        results.append((bpc, rule, lr, decay, seg))
        print(f"{rule:>5}{seg:9d}{lr:10.3g}{decay:9.2g}{bpc:10.4f}{bpc - static:8.3f}"
              f"{secs:8.0f}", flush=True)
    bpc, rule, lr, decay, seg = min(results)
    print(f"\nbest on validation: {rule}, segment {seg}, lr {lr:g}, decay {decay:g}: {bpc:.4f} "
          f"bpc (static {static:.4f})")
    if a.test:
        if rule != "rms":
            print("(the test run uses the RMS rule, the rule of 'rnnkit evaluate --dynamic')")
        head, context, tail = held_out(corpus, run["split"], run.get("test_data"))
        test, base, _ = score(model, tok, head, context, tail)
        dyn = dynamic_score(model, tok, train_text, context, tail, lr=lr, decay=decay,
                            segment_len=seg)
        print(f"test tail: {len(tail):,} chars; static {test['bpc']:.4f} bpc, dynamic "
              f"{dyn['bpc']:.4f} bpc ({dyn['cpu_seconds']:.0f} CPU s with the gradient "
              f"statistics); bzip2-9 on the tail {base['bzip2-9']['bpc']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

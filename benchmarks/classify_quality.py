"""Classification quality against the issue's targets, with the default settings.

Each row is one ``rnnkit train classify`` run (in-process, the CLI's defaults, one seed),
scored on the official test split beside the baselines on the same split::

    python benchmarks/classify_quality.py                       # all targets, seed 0
    python benchmarks/classify_quality.py --datasets GunPoint --models lstm gru mingru minlstm \
        --seeds 0 1 2 --json /tmp/cls.json

Columns: test accuracy and macro-F1 of the model, the best baseline (1-NN Euclidean for
numeric sequences, TF-IDF + logistic regression for text; majority class too), wall and CPU
seconds of training, and whether the target is met. Timings depend on the machine's load.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

from _overrides import parse_overrides  # benchmarks/ (the script's folder)

TARGETS = {"ItalyPowerDemand": 0.96, "GunPoint": 0.97, "BasicMotions": 0.975, "finefoods": 0.82}


def run_one(dataset: str, model: str, seed: int, out: Path, extra: dict) -> dict:
    from rnnkit.tasks import classify
    from rnnkit.tasks.common import COMMON_DEFAULTS

    cfg = {**COMMON_DEFAULTS, **classify.DEFAULTS, "data": dataset, "model": model,
           "seed": seed, "out": str(out), "quiet": True, **extra}
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        classify.train(cfg)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    m = json.loads((out / "metrics.json").read_text())
    return {"dataset": dataset, "model": model, "seed": seed, **m["test"],
            "baselines": m["baselines"], "train_seconds": m["train_seconds"],
            "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
            "target": TARGETS.get(dataset)}


def format_rows(rows: list[dict]) -> str:
    head = (f"{'dataset':<17}{'model':<9}{'seed':>5}{'acc':>8}{'F1':>8}{'1nn/tfidf':>11}"
            f"{'majority':>10}{'target':>8}{'met':>5}{'wall s':>8}{'cpu s':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        b = r["baselines"]
        strong = b.get("1nn_euclidean", b.get("tfidf_logreg", {})).get("accuracy", float("nan"))
        target = r["target"]
        met = "-" if target is None else ("yes" if r["accuracy"] >= target else "NO")
        lines.append(f"{r['dataset']:<17}{r['model']:<9}{r['seed']:>5}{r['accuracy']:>8.4f}"
                     f"{r['macro_f1']:>8.4f}{strong:>11.4f}"
                     f"{b['majority_class']['accuracy']:>10.4f}"
                     f"{(target or float('nan')):>8.3f}{met:>5}{r['wall_seconds']:>8.1f}"
                     f"{r['cpu_seconds']:>8.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(TARGETS))
    p.add_argument("--models", nargs="+", default=["lstm"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override settings, e.g. pooling=attention epochs=80 (JSON values)")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args(argv)
    extra = parse_overrides(args.set)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ds in args.datasets:
            for model in args.models:
                for seed in args.seeds:
                    out = Path(tmp) / f"{ds}-{model}-{seed}"
                    rows.append(run_one(ds, model, seed, out, extra))
                    print(format_rows(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(format_rows(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

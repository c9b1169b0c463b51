"""rnnkit's sequence classifier beside MiniRocket, 1-NN Euclidean and 1-NN DTW, one script.

Each row is one ``rnnkit train classify`` run in-process with the CLI's defaults (model and
MiniRocket weight chosen by 3-fold cross-validation on the training split), scored on the
official test split; the baselines come from the same run's report (same split, MiniRocket
with the same seed)::

    python benchmarks/classify_minirocket.py                      # dev sets, seeds 0 1 2
    python benchmarks/classify_minirocket.py --datasets GunPoint --seeds 0 --json /tmp/r.json

Columns: test accuracy of rnnkit (the selected model), of its recurrent part alone, of
MiniRocket, 1-NN ED and 1-NN DTW; rnnkit's fit + predict wall and CPU seconds (one torch
thread); the selected model. The summary checks the targets of issue #18 per dataset: mean
over seeds >= MiniRocket mean - 1 point, and never below 1-NN (Euclidean) on any seed. Wall
seconds depend on the machine's load (CPU seconds much less so).
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

DEV = ["ItalyPowerDemand", "GunPoint", "BasicMotions", "PickupGestureWiimoteZ", "ACSF1",
       "PLAID"]


def run_one(dataset: str, seed: int, out: Path, extra: dict) -> dict:
    from rnnkit.tasks import classify
    from rnnkit.tasks.common import COMMON_DEFAULTS

    cfg = {**COMMON_DEFAULTS, **classify.DEFAULTS, "data": dataset, "seed": seed,
           "out": str(out), "quiet": True, **extra}
    wall = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        classify.train(cfg)
    wall = time.perf_counter() - wall
    m = json.loads((out / "metrics.json").read_text())
    b = m["baselines"]
    acc = {k: v["accuracy"] for k, v in b.items()}
    return {"dataset": dataset, "seed": seed, "rnnkit": m["test"]["accuracy"],
            "rnn_alone": acc.get("rnnkit_rnn_alone", m["test"]["accuracy"]),
            "minirocket": acc["minirocket"], "1nn_ed": acc["1nn_euclidean"],
            "1nn_dtw": acc["1nn_dtw"], "seconds": m["test"]["seconds"],
            "cpu_seconds": m.get("cpu_seconds"), "minirocket_s": b["minirocket"]["seconds"],
            "1nn_dtw_s": b["1nn_dtw"]["seconds"], "winner": m["selection"]["winner"],
            "total_wall": round(wall, 1)}


def format_rows(rows: list[dict]) -> str:
    head = (f"{'dataset':<23}{'seed':>4}{'rnnkit':>8}{'rnn':>7}{'MiniR':>7}{'1NN-ED':>8}"
            f"{'1NN-DTW':>8}{'wall s':>8}{'cpu s':>7}  selected")
    lines = [head, "-" * (len(head) + 30)]
    for r in rows:
        lines.append(f"{r['dataset']:<23}{r['seed']:>4}{r['rnnkit']:>8.4f}{r['rnn_alone']:>7.4f}"
                     f"{r['minirocket']:>7.4f}{r['1nn_ed']:>8.4f}{r['1nn_dtw']:>8.4f}"
                     f"{r['seconds']:>8.1f}{(r['cpu_seconds'] or float('nan')):>7.1f}  "
                     f"{r['winner']}")
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    import numpy as np

    lines = [f"{'dataset':<23}{'rnnkit':>8}{'rnn':>7}{'MiniR':>7}{'>=MR-1':>8}{'>=1NN':>7}"
             f"{'max cpu s':>10}"]
    for d in dict.fromkeys(r["dataset"] for r in rows):
        rs = [r for r in rows if r["dataset"] == d]
        mean = {k: float(np.mean([r[k] for r in rs])) for k in ("rnnkit", "rnn_alone",
                                                                "minirocket")}
        ok1 = mean["rnnkit"] >= mean["minirocket"] - 0.01
        ok2 = all(r["rnnkit"] >= r["1nn_ed"] for r in rs)
        cpu = max((r["cpu_seconds"] or 0) for r in rs)
        lines.append(f"{d:<23}{mean['rnnkit']:>8.4f}{mean['rnn_alone']:>7.4f}"
                     f"{mean['minirocket']:>7.4f}{'yes' if ok1 else 'NO':>8}"
                     f"{'yes' if ok2 else 'NO':>7}{cpu:>10.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=DEV)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override settings, e.g. cv_folds=5 (JSON values)")
    p.add_argument("--json", help="also write the rows here (after every run)")
    args = p.parse_args(argv)
    extra = parse_overrides(args.set)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for d in args.datasets:
            for s in args.seeds:
                rows.append(run_one(d, s, Path(tmp) / f"{d}-{s}", extra))
                print(format_rows(rows[-1:]).splitlines()[-1], flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps(rows, indent=1))
    print("\n" + format_rows(rows) + "\n\n" + summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

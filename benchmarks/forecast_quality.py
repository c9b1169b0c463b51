"""Forecast quality of ``rnnkit train forecast`` against the classical baselines and the
published references (DATASETS.md), over several seeds.

Runs the real pipeline (``rnnkit.tasks.forecast.train``, exactly what the CLI runs) once per
(dataset, horizon, model kind, seed) and prints one table: the model's test MAPE / sMAPE / MASE
as mean ± sd over seeds, the baselines on the same split, and the issue's targets.

    python benchmarks/forecast_quality.py                        # airline H=12 and H=24, lstm
    python benchmarks/forecast_quality.py --models lstm gru mingru minlstm --seeds 0 1 2
    python benchmarks/forecast_quality.py --cases elecdemand sunspots

Targets (airline, last 24 months): MAPE <= 8.5 % (SARIMA airline model 8.52 %), aim <= 6.4 %
(Holt-Winters 6.39 %). Last 12 months: SARIMA 2.90 %, Holt-Winters 2.21 %.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REFERENCES = {  # DATASETS.md
    ("airline", 24): "target MAPE <= 8.5 (SARIMA 8.52), aim <= 6.4 (HW 6.39)",
    ("airline", 12): "SARIMA 2.90, HW 2.21",
}

CASES = {  # name -> (data, extra settings)
    "airline": ("airline", {}),
    "airline-h24": ("airline", {"horizon": 24}),
    "sunspots": ("sunspots", {}),
    "elecdemand": ("elecdemand", {}),
}


def run_case(name: str, kind: str, seeds: list[int], extra: dict) -> dict:
    """Train once per seed; return the model metrics per seed and the baselines (seed 0)."""
    from rnnkit.tasks import forecast as F
    from rnnkit.tasks.common import resolve_config

    data, settings = CASES[name]
    runs, baselines, seconds, info = [], {}, [], {}
    for i, seed in enumerate(seeds):
        with tempfile.TemporaryDirectory() as tmp:
            args = {"data": data, "model": kind, "seed": seed, "quiet": True,
                    "out": str(Path(tmp) / "run"), "baselines": i == 0, **settings, **extra}
            cfg = resolve_config(F.DEFAULTS, args)
            t0 = time.time()
            with open(os.devnull, "w") as devnull:
                stdout, sys.stdout = sys.stdout, devnull
                try:
                    F.train(cfg)
                finally:
                    sys.stdout = stdout
            seconds.append(time.time() - t0)
            m = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
        runs.append(m["test"] | {"coverage": m["coverage"]})
        if i == 0:
            baselines = m["baselines"]
            info = {"horizon": m["horizon"], "lookback": m["lookback"], "season": m["season"],
                    "model": m["model"]}
    return {"case": name, "kind": kind, "runs": runs, "baselines": baselines,
            "seconds": float(np.mean(seconds)), **info}


def _ms(values: list[float]) -> str:
    a = np.asarray(values, dtype=float)
    return f"{a.mean():6.2f} ± {a.std():4.2f}"


def print_table(results: list[dict]) -> None:
    head = (f"{'case':<12}{'H':>4}{'model':>14}{'MAPE %':>16}{'sMAPE %':>16}{'MASE':>16}"
            f"{'cover':>7}{'s/run':>7}")
    print(head)
    print("-" * len(head))
    for r in results:
        cols = {m: _ms([x[m] for x in r["runs"]]) for m in ("mape", "smape", "mase")}
        cov = np.mean([x["coverage"] for x in r["runs"]])
        print(f"{r['case']:<12}{r['horizon']:>4}{r['model']:>14}{cols['mape']:>16}"
              f"{cols['smape']:>16}{cols['mase']:>16}{cov:>7.2f}{r['seconds']:>7.1f}")
        for b, m in r["baselines"].items():
            print(f"{'':<16}{b:>14}{m['mape']:>9.2f}{'':>7}{m['smape']:>9.2f}{'':>7}"
                  f"{m['mase']:>9.3f}")
        ref = REFERENCES.get((CASES[r["case"]][0], r["horizon"]))
        if ref:
            print(f"{'':<16}{'reference':>14}  {ref}")
    print(f"(model: mean ± sd over {len(results[0]['runs'])} seeds; cover = share of test "
          "points inside the 80 % interval)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=["airline", "airline-h24"], choices=CASES)
    p.add_argument("--models", nargs="+", default=["lstm"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON",
                   help="extra settings, e.g. ensemble=1 time_budget=60")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    extra = {k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)}
    results = []
    for case in a.cases:
        for kind in a.models:
            results.append(run_case(case, kind, a.seeds, extra))
            print(f"done {case} {kind}: {results[-1]['seconds']:.1f} s/run", file=sys.stderr)
    print_table(results)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

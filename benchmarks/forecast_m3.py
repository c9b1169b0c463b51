"""M3 / M1 benchmark: rnnkit's global forecaster vs statsforecast's models, per group.

    PYTHONPATH=src python benchmarks/forecast_m3.py --sets m3-monthly m3-quarterly --limit 100
    PYTHONPATH=src python benchmarks/forecast_m3.py --sets m1-yearly m1-quarterly m1-monthly

Every model is fitted on the official training parts and scored on the official test parts
(M4 metrics: sMAPE, MASE, OWA vs Naive2; coverage and MSIS of the 80 % interval). rnnkit's
choices (steps, combination weight, interval width) use only the training parts. Prints one
table per group with each model's seconds (the cost column) and writes a JSON of the results.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from rnnkit.data.long_format import load_competition
from rnnkit.forecasting import RNNForecast, aggregate, series_metrics, stat_forecasts

M3_SETS = ("m3-yearly", "m3-quarterly", "m3-monthly", "m3-other")


def score(panel, point, lo=None, hi=None) -> dict[str, float]:
    rows = [series_metrics(panel.test[i], point[i], panel.y[i], panel.season,
                           None if lo is None else lo[i], None if hi is None else hi[i])
            for i in range(panel.n_series)]
    return aggregate(rows)


def run_group(name: str, limit: int | None, stat_models: tuple[str, ...], n_jobs: int,
              **settings) -> dict:
    panel = load_competition(name)
    if limit:
        panel = panel.subset(limit)
    res = {}
    fc = stat_forecasts(list(panel.y), panel.horizon, panel.season, models=stat_models,
                        n_jobs=n_jobs)
    naive2 = score(panel, fc["Naive2"]["point"])
    for model, f in fc.items():
        if model == "Naive2":
            res[model] = {**naive2, "owa": 1.0, "seconds": f["seconds"]}
            continue
        m = score(panel, f["point"], f["lo"], f["hi"])
        m["owa"] = 0.5 * (m["smape"] / naive2["smape"] + m["mase"] / naive2["mase"])
        res[model] = {**m, "seconds": f["seconds"]}
    t0, c0 = time.perf_counter(), time.process_time()
    rf = RNNForecast(n_jobs=n_jobs, **settings).fit(panel)
    point, lo, hi = rf.forecast_from(list(panel.y))
    m = score(panel, point, lo, hi)
    m["owa"] = 0.5 * (m["smape"] / naive2["smape"] + m["mase"] / naive2["mase"])
    res["rnnkit"] = {**m, "seconds": time.perf_counter() - t0,
                     "cpu_seconds": time.process_time() - c0, "method": rf.info_["method"],
                     "info": {k: v for k, v in rf.info_.items() if k != "method"}}
    return {"n_series": panel.n_series, "horizon": panel.horizon, "models": res}


def table(name: str, r: dict) -> str:
    lines = [f"{name}: {r['n_series']} series, h={r['horizon']}",
             f"  {'model':<14}{'sMAPE':>8}{'MASE':>8}{'OWA':>7}{'cover80':>9}{'MSIS':>8}"
             f"{'seconds':>9}"]
    for model, m in r["models"].items():
        cov = f"{m['coverage']:.0%}" if "coverage" in m else "-"
        msis = f"{m['msis']:.2f}" if "msis" in m else "-"
        lines.append(f"  {model:<14}{m['smape']:8.2f}{m['mase']:8.3f}{m['owa']:7.3f}{cov:>9}"
                     f"{msis:>8}{m['seconds']:9.1f}")
    lines.append(f"  rnnkit = {r['models']['rnnkit']['method']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=list(M3_SETS))
    ap.add_argument("--limit", type=int, help="first N series of each group (default: all)")
    ap.add_argument("--stat-models", nargs="+",
                    default=["SeasonalNaive", "Naive", "AutoETS", "AutoARIMA", "AutoTheta"])
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=1500)
    ap.add_argument("--ensemble", type=int, default=1)
    ap.add_argument("--hidden-size", type=int, default=64)
    ap.add_argument("--combine", default="auto")
    ap.add_argument("--json", default="benchmarks/results/forecast_m3.json")
    a = ap.parse_args()
    results = {}
    for name in a.sets:
        results[name] = run_group(name, a.limit, tuple(a.stat_models), a.n_jobs,
                                  max_steps=a.max_steps, ensemble=a.ensemble,
                                  hidden_size=a.hidden_size, combine=a.combine)
        print(table(name, results[name]), flush=True)
        os.makedirs(os.path.dirname(a.json) or ".", exist_ok=True)
        with open(a.json, "w") as f:  # after each group: a long run keeps what it measured
            json.dump({"args": vars(a), "results": results}, f, indent=1, default=float)
    print(f"results: {a.json}")


if __name__ == "__main__":
    main()

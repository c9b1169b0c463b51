"""Every baseline on every built-in dataset, next to the reference numbers of DATASETS.md.

Usage: ``python benchmarks/baselines.py [--quick]`` (``--quick`` skips PLAID, ACSF1 and kjv).

Protocols. Forecasting: the last H points are the test set (airline H=24 and H=12; sunspots
H=20 plus the classic one-step 1921–1987 protocol; elecdemand H=48 = one day, models fitted on
the last 8 weeks of training data). Classification: the official train/test splits. LM:
bits/char on the last 10 % of the text, plus bzip2 on the whole text (the reference protocol).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from rnnkit.baselines import (
    bzip2_bpc,
    run_classification_baselines,
    run_forecast_baselines,
    run_lm_baselines,
    unigram_bpc,
)
from rnnkit.data import MissingDependencyError, load_dataset
from rnnkit.metrics import rmse

# (dataset, baseline, metric) → reference value from DATASETS.md
REFERENCE = {
    ("airline H=24", "SeasonalNaive", "MAPE %"): 15.5,
    ("sunspots 1-step 1921-87", "persistence", "RMSE"): 30.3,
    ("sunspots 1-step 1921-87", "AR(9)", "MSE"): 305.0,
    ("ItalyPowerDemand", "1nn_euclidean", "acc %"): 95.5,
    ("GunPoint", "1nn_euclidean", "acc %"): 91.3,
    ("finefoods", "tfidf_logreg", "acc %"): 80.4,
    ("kjv (whole text)", "bzip2-9", "bpc"): 1.671,
    ("kjv (whole text)", "unigram", "bpc"): 4.40,
}

FORECASTS = [  # name, horizon, season override, max_history (statsforecast models)
    ("airline", 24, None, None),
    ("airline", 12, None, None),
    ("sunspots", 20, None, None),
    ("elecdemand", 48, None, 48 * 7 * 8),
]


def _forecasting(rows: list) -> None:
    for name, horizon, season, max_history in FORECASTS:
        series = load_dataset(name)
        season = season or series.season
        for r in run_forecast_baselines(series.y, horizon, season, max_history):
            key = f"{name} H={horizon}"
            metric, value = ("RMSE", r["rmse"]) if name == "sunspots" else ("MAPE %", r["mape"])
            rows.append((key, r["baseline"], metric, value, _info(r["info"])))
            rows.append((key, r["baseline"], "MASE", r["mase"], ""))


def _info(info: dict) -> str:
    keys = ("order", "seasonal_order", "log", "seasonal", "trend")
    return " ".join(f"{k}={info[k]}" for k in keys if k in info)


def _sunspots_one_step(rows: list) -> None:
    """Persistence and AR(9) fitted on 1700–1920, one-step forecasts over 1921–1987."""
    from statsmodels.tsa.ar_model import AutoReg

    s = load_dataset("sunspots")
    years, y = s.time_index, s.y
    test = (years >= 1921) & (years <= 1987)
    idx = np.flatnonzero(test)
    rows.append(("sunspots 1-step 1921-87", "persistence", "RMSE",
                 rmse(y[idx], y[idx - 1]), ""))
    fit = AutoReg(y[years <= 1920], lags=9, trend="c").fit()
    coef = fit.params  # [const, lag 1, …, lag 9]
    pred = np.array([coef[0] + coef[1:] @ y[t - 1:t - 10:-1] for t in idx])
    mse = float(np.mean((y[idx] - pred) ** 2))
    rows.append(("sunspots 1-step 1921-87", "AR(9)", "MSE", mse, ""))


def _classification(rows: list, quick: bool) -> None:
    names = ["ItalyPowerDemand", "GunPoint", "BasicMotions", "finefoods"]
    names += [] if quick else ["PLAID", "ACSF1"]
    for name in names:
        for r in run_classification_baselines(load_dataset(name)):
            rows.append((name, r["baseline"], "acc %", 100 * r["accuracy"],
                         f"macro-F1 {r['macro_f1']:.3f}"))


def _language_model(rows: list) -> None:
    text = load_dataset("kjv").text
    for r in run_lm_baselines(text):
        rows.append(("kjv (last 10 %)", r["baseline"], "bpc", r["bpc"], ""))
    rows.append(("kjv (whole text)", "bzip2-9", "bpc", bzip2_bpc(text, 1.0), ""))
    rows.append(("kjv (whole text)", "unigram", "bpc", unigram_bpc(text, 1.0), "entropy"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip PLAID, ACSF1 and kjv")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows: list[tuple] = []
    t0 = time.perf_counter()
    sections = [_forecasting, _sunspots_one_step, lambda r: _classification(r, args.quick)]
    if not args.quick:
        sections.append(_language_model)
    for section in sections:
        try:
            section(rows)
        except MissingDependencyError as exc:
            print(f"skipped: {exc}")
    head = f"{'dataset':<24} {'baseline':<15} {'metric':<7} {'ours':>8} {'ref':>8} {'Δ':>7}  notes"
    print(head)
    print("-" * len(head))
    for dataset, baseline, metric, value, note in rows:
        ref = REFERENCE.get((dataset, baseline, metric))
        ref_s, delta = (f"{ref:8.3f}", f"{value - ref:+7.3f}") if ref is not None else ("", "")
        print(f"{dataset:<24} {baseline:<15} {metric:<7} {value:8.3f} {ref_s:>8} {delta:>7}  "
              f"{note}".rstrip())
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

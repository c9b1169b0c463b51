"""Single series: combine the RNN with the statistical models, weight chosen by backtest.

The weight ``w`` of ``w·RNN + (1 − w)·mean(AutoETS, AutoTheta)`` is chosen among
0, ¼, ½, ¾, 1 by MASE on the last horizon before the test block (the validation block: the
statistical models are fitted on what precedes it). The RNN's early stopping also watched that
block, so its score there is a little optimistic: the choice leans towards the RNN, never
towards a model that saw the test. On airline / sunspots this keeps the single-series
forecast from losing to seasonal naive (see README).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.baselines.stat_models import stat_forecasts
from rnnkit.metrics import mase

__all__ = ["STAT_MEMBERS", "WEIGHTS", "choose_weight", "mix", "stat_member_forecast"]

STAT_MEMBERS = ("AutoETS", "AutoTheta")
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def stat_member_forecast(y: np.ndarray, h: int, season: int | None,
                         max_history: int | None = None) -> np.ndarray:
    """``[h]`` mean forecast of the statistical members fitted on ``y``."""
    y = np.asarray(y, dtype=np.float64)
    if max_history:
        y = y[-max_history:]
    fc = stat_forecasts([y], h, season or 1, models=STAT_MEMBERS, ensemble=False)
    return np.mean([fc[m]["point"][0] for m in STAT_MEMBERS], axis=0)


def choose_weight(actual: np.ndarray, rnn: np.ndarray, history: np.ndarray,
                  season: int | None, max_history: int | None = None) -> dict[str, Any]:
    """The weight with the lowest MASE on ``actual`` (the validation block after
    ``history``), given the RNN's forecast of it."""
    h = len(actual)
    stat = stat_member_forecast(history, h, season, max_history)
    m = season if season and len(history) > season else 1
    scores = {f"{w:g}": float(mase(actual, mix(w, rnn, stat), history, m)) for w in WEIGHTS}
    best = min(WEIGHTS, key=lambda w: scores[f"{w:g}"])
    return {"weight_rnn": float(best), "stat_models": list(STAT_MEMBERS),
            "validation_mase": scores}


def mix(w: float, rnn: np.ndarray, stat: np.ndarray) -> np.ndarray:
    return np.asarray(rnn) if w >= 1 else w * np.asarray(rnn) + (1 - w) * np.asarray(stat)

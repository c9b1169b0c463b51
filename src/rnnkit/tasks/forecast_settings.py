"""The forecasting task's typed settings: every ``rnnkit train forecast`` flag, checked once.

:class:`ForecastSettings` is a frozen dataclass on :class:`~rnnkit.tasks.task.CommonSettings`
(see that module for the protocol). ``forecast.train`` builds it from the resolved settings
before any file is read or written, so a bad value — ``--horizon 0``, ``--level 1.5``,
``--mode sideways``, ``--diff -1``, a string from a TOML file where a number belongs — is a
one-line error naming the flag, for the one-series path and the many-series path alike.
Fields left ``None`` are chosen later from the data (horizon and season from the series, the
model sizes from ``forecast._TRAIN_DEFAULTS`` or :class:`~rnnkit.forecasting.RNNForecast`).

Example:
    >>> ForecastSettings.from_dict({"data": "airline", "horizon": 12}).level
    0.8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rnnkit.data import FILL_METHODS
from rnnkit.models.forecaster import LOSSES, MODES, NORMS
from rnnkit.tasks.errors import UsageError
from rnnkit.tasks.task import CommonSettings, flag

__all__ = ["ForecastSettings"]

COMBINE = ("auto", "rnn", "stat")


@dataclass(frozen=True)
class ForecastSettings(CommonSettings):
    """Every setting of a forecast run (one series or many); ``None``: chosen from the data."""

    horizon: int | None = None
    lookback: int | None = None
    season: int | None = None
    target: list[str] | None = None  # a TOML file may give one name as a string
    covariates: list[str] | None = None
    future_covariates: list[str] | None = None
    mode: str = "direct"
    loss: str = "mse"
    log: bool | None = None
    diff: int = 0
    fillna: str | None = None
    norm: str = "mean"
    highway: bool = True
    ensemble: int | None = None
    val_size: int | None = None
    patience: int = 10
    level: float = 0.8
    stride: int | None = None
    baselines: bool = True
    id_col: str | None = None
    time_col: str | None = None
    backtest: int | None = None
    combine: str | None = None
    max_steps: int | None = None
    n_jobs: int | None = None

    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        **CommonSettings.BOUNDS, "horizon": (1, None), "lookback": (1, None),
        "season": (1, None), "diff": (0, None), "ensemble": (1, None), "val_size": (0, None),
        "patience": (1, None), "stride": (1, None), "backtest": (0, None),
        "max_steps": (1, None), "n_jobs": (-1, None)}
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        **CommonSettings.CHOICES, "mode": MODES, "loss": LOSSES, "norm": NORMS,
        "fillna": FILL_METHODS, "combine": COMBINE}

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.level < 1:
            raise UsageError(f"--level: expected a coverage in (0, 1), got {self.level!r}. "
                             f"Pass e.g. --level 0.8.")
        if self.n_jobs == 0:
            raise UsageError("--n-jobs: expected a number of processes >= 1 (or -1: every "
                             "core), got 0. Pass e.g. --n-jobs 1.")
        for name in ("target", "covariates", "future_covariates"):
            cols = getattr(self, name)
            cols = [cols] if isinstance(cols, str) else cols
            if cols is not None and not (isinstance(cols, list | tuple)
                                         and all(isinstance(c, str) and c for c in cols)):
                raise UsageError(f"{flag(name)}: expected column names, got {cols!r}.")

    @classmethod
    def check(cls, cfg: dict[str, Any]) -> ForecastSettings:
        """Validate the resolved settings ``cfg`` (flags, TOML, run.json) of one run."""
        return cls.from_dict(cfg)

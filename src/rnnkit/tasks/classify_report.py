"""What a classification run reports: the model beside the baselines on the same test split.

Baselines (:func:`rnnkit.baselines.run_classification_baselines`): majority class and, for
numeric sequences, 1-NN Euclidean, 1-NN DTW and MiniRocket (aeon, seeded), for texts TF-IDF +
logistic regression — each with its fit + predict seconds. For sequences chosen by
cross-validation, the recurrent model alone (the winner's fold ensemble without MiniRocket)
gets its own row when the winner mixes in MiniRocket, so the RNN always stands on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.tasks.common import format_table, write_metrics

__all__ = ["baselines", "plot_confusion", "report"]


def baselines(ds, seed: int) -> dict[str, dict[str, float]]:
    """``{name: {"accuracy", "macro_f1", "seconds"}}`` of every applicable baseline."""
    from rnnkit.baselines import run_classification_baselines

    return {b["baseline"]: {"accuracy": b["accuracy"], "macro_f1": b["macro_f1"],
                            "seconds": b["seconds"]}
            for b in run_classification_baselines(ds, seed=seed)}


def plot_confusion(y_true, y_pred, classes, path: Path) -> list[Path]:
    try:
        from rnnkit.plots.confusion import plot_confusion as plot

        return [plot(y_true, y_pred, classes, path)]
    except ImportError:  # plots are optional (matplotlib)
        return []


def report(out: Path, ds, name: str, pred: np.ndarray, seconds: float, seed: int,
           base: dict[str, dict[str, float]], extra_rows: dict[str, dict[str, float]],
           header: str, **extra: Any) -> None:
    """Write ``metrics.json`` and ``confusion.png``, print the table and the files."""
    from rnnkit.baselines.classification import classification_metrics

    test = {**classification_metrics(ds.y_test, pred), "seconds": round(float(seconds), 2)}
    write_metrics(out, "classify", ds.name, test, {**extra_rows, **base}, seconds, seed=seed,
                  **extra)
    plots = plot_confusion(ds.y_test, pred, ds.classes, out / "confusion.png")
    print(f"\n{header}\n")
    print(format_table(test, {**extra_rows, **base}, model_name=name))
    print(f"\nmetrics: {out / 'metrics.json'}")
    for p in [*plots, out / "history.png"]:
        if Path(p).is_file():
            print(f"plot:    {p}")

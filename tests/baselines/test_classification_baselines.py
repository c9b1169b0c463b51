"""Classification baselines: 1-NN ED matches the UCR archive; majority; TF-IDF + LR."""

import numpy as np
import pytest

from rnnkit.baselines import (
    majority_class,
    nearest_neighbour,
    run_classification_baselines,
    tfidf_logreg,
)
from rnnkit.data import load_dataset


@pytest.mark.parametrize("name,expected", [("ItalyPowerDemand", 0.955), ("GunPoint", 0.913)],
                         ids=["italy", "gunpoint"])
def test_1nn_euclidean_matches_ucr(name, expected):
    rows = {r["baseline"]: r for r in run_classification_baselines(load_dataset(name))}
    assert rows["1nn_euclidean"]["accuracy"] == pytest.approx(expected, abs=0.002)
    assert rows["majority_class"]["accuracy"] < 0.6


def test_majority_and_variable_length_1nn():
    assert majority_class([2, 1, 2, 0], 3).tolist() == [2, 2, 2]
    # same shape at half the resolution: resampling to a common length must match it
    t = np.linspace(0, 1, 40)
    up, down = np.sin(2 * np.pi * t), -np.sin(2 * np.pi * t)
    X_train = np.zeros((2, 40, 1))
    X_train[0, :, 0], X_train[1, :20, 0] = up, down[::2]
    pred = nearest_neighbour(X_train, [0, 1], np.stack([down, up])[:, :, None],
                             lengths_train=np.array([40, 20]))
    assert pred.tolist() == [1, 0]
    with pytest.raises(ValueError, match="expected X_train"):
        nearest_neighbour(np.zeros((2, 3, 1)), [0, 1], np.zeros((1, 3, 2)))


def test_tfidf_logreg_toy():
    texts = ["great tasty food", "awful bland food", "tasty great snack", "bland awful snack"]
    pred = tfidf_logreg(texts * 3, [0, 1, 0, 1] * 3, ["really tasty", "so bland"], min_df=1)
    assert pred.tolist() == [0, 1]


@pytest.mark.slow
def test_tfidf_logreg_finefoods():
    rows = {r["baseline"]: r for r in run_classification_baselines(load_dataset("finefoods"))}
    assert rows["tfidf_logreg"]["accuracy"] == pytest.approx(0.804, abs=0.015)


def test_dtw_handles_shifts_and_every_sequence_baseline_reports_seconds():
    """A bump at a random time: 1-NN DTW matches it wherever it is, and the baselines of a
    sequence set include 1-NN DTW and MiniRocket with their fit + predict seconds; missing
    values (NaN) are interpolated, not propagated."""
    from rnnkit.baselines.classification import nearest_neighbour_dtw
    from rnnkit.data import SequenceClassData

    rng = np.random.default_rng(0)

    def make(n):
        y = np.arange(n) % 2
        X = np.zeros((n, 24, 1))
        for i in range(n):
            s = rng.integers(2, 14)
            X[i, s:s + 6, 0] = 1.0 if y[i] else np.linspace(0, 1, 6)
        return X, y

    (Xa, ya), (Xb, yb) = make(12), make(10)
    Xb[0, 1, 0] = np.nan
    pred = nearest_neighbour_dtw(Xa, ya, Xb, window=0.5)
    assert (pred == yb).mean() >= 0.9
    rows = run_classification_baselines(SequenceClassData(Xa, ya, Xb, yb, ("a", "b")), seed=1)
    names = [r["baseline"] for r in rows]
    assert names == ["majority_class", "1nn_euclidean", "1nn_dtw", "minirocket"]
    assert all(r["seconds"] >= 0 and np.isfinite(r["accuracy"]) for r in rows)

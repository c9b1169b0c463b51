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

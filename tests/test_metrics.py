"""Every metric on hand-computed values, plus input validation."""

import math

import numpy as np
import pytest
import torch

from rnnkit.metrics import (
    accuracy,
    bpc,
    confusion_matrix,
    macro_f1,
    mae,
    mape,
    mase,
    perplexity,
    rmse,
    smape,
)

Y, P = [100.0, 200.0, 300.0], [110.0, 180.0, 300.0]  # errors -10, 20, 0


def test_regression_metrics():
    assert mae(Y, P) == pytest.approx(10.0)
    assert rmse(Y, P) == pytest.approx(math.sqrt(500 / 3))
    assert mape(Y, P) == pytest.approx(100 * (0.1 + 0.1 + 0) / 3)
    assert smape(Y, P) == pytest.approx(100 * (20 / 210 + 40 / 380) / 3)
    assert smape([0.0], [0.0]) == 0.0
    train = [1.0, 2.0, 4.0, 7.0]  # lag-1 naive MAE = (1 + 2 + 3) / 3 = 2
    assert mase(Y, P, train) == pytest.approx(5.0)
    assert mase(Y, P, train, season=2) == pytest.approx(10.0 / 4.0)  # |4-1|, |7-2| → 4
    assert mae(torch.tensor(Y), torch.tensor(P)) == pytest.approx(10.0)


def test_regression_validation():
    with pytest.raises(ValueError, match="same shape"):
        mae([1, 2], [1])
    with pytest.raises(ValueError, match="non-zero y_true"):
        mape([0, 1], [1, 1])
    with pytest.raises(ValueError, match="finite"):
        rmse([np.nan], [1])
    with pytest.raises(ValueError, match="season"):
        mase([1], [1], [1, 2], season=2)
    with pytest.raises(TypeError, match="expected numbers"):
        mae(["a"], ["b"])


def test_classification_metrics():
    t, p = [0, 0, 1, 1, 2], [0, 1, 1, 1, 0]
    assert accuracy(t, p) == pytest.approx(0.6)
    np.testing.assert_array_equal(confusion_matrix(t, p), [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    assert confusion_matrix(t, p, n_classes=4).shape == (4, 4)
    # F1: class 0: 2·1/(2+2)=0.5; class 1: 2·2/(2+3)=0.8; class 2: 0
    assert macro_f1(t, p) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert isinstance(accuracy(np.array(t), np.array(p)), float)
    with pytest.raises(ValueError, match="integer class labels"):
        accuracy([0.5], [0])
    with pytest.raises(ValueError, match="n_classes=2"):
        confusion_matrix(t, p, n_classes=2)


def test_lm_metrics():
    assert bpc(math.log(2)) == pytest.approx(1.0)
    assert bpc(10 * math.log(2), count=5) == pytest.approx(2.0)
    assert perplexity(math.log(7)) == pytest.approx(7.0)
    assert perplexity(torch.tensor(0.0)) == 1.0
    with pytest.raises(ValueError, match="non-negative"):
        bpc(-1.0)

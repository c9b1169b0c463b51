"""fit_nb_logistic: L-BFGS reaches scikit-learn's LogisticRegression optimum on the same
NB-scaled features (two classes: sklearn's C is twice ours, see the module docstring)."""

import numpy as np
import pytest
import torch

from rnnkit.models.nb_classifier import NBLogisticClassifier, NBLogisticConfig
from rnnkit.tasks.classify_nb import fit_nb_logistic


def _data(n=60, T=8, vocab=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    ids = torch.randint(2, vocab, (n, T), generator=g)
    ids[y == 1, 0] = 2  # a word that marks class 1 …
    ids[(y == 0) & (torch.arange(n) % 3 == 0), 1] = 2  # … but not always
    lengths = torch.randint(3, T + 1, (n,), generator=g)
    return ids, lengths, y


@pytest.mark.parametrize("C", [0.1, 1.0], ids=["C0.1", "C1"])
def test_fit_matches_sklearn_logistic_regression(C):
    sklearn = pytest.importorskip("sklearn.linear_model")  # the baselines extra
    from scipy import sparse

    ids, lengths, y = _data()
    m = NBLogisticClassifier(NBLogisticConfig(vocab_size=20, num_classes=2, buckets=16))
    info = fit_nb_logistic(m, ids, lengths, y, C=C)
    assert info["iterations"] >= 1 and info["train_loss"] < 0.7
    feats, rows = m.features(ids, lengths)
    X = sparse.csr_matrix((np.ones(len(feats)), (rows.numpy(), feats.numpy())),
                          shape=(len(y), m.num_features)) @ sparse.diags(m.ratio[1].numpy())
    ref = sklearn.LogisticRegression(C=2 * C, tol=1e-10, max_iter=10_000).fit(X, y.numpy())
    with torch.no_grad():
        ours = torch.softmax(m(ids, lengths), -1)[:, 1].numpy()
    np.testing.assert_allclose(ours, ref.predict_proba(X)[:, 1], atol=2e-4)


def test_fit_errors():
    ids, lengths, y = _data(n=10)
    m = NBLogisticClassifier(NBLogisticConfig(vocab_size=20, num_classes=2))
    with pytest.raises(ValueError, match="expected C > 0"):
        fit_nb_logistic(m, ids, lengths, y, C=0.0)

"""The NB-weighted logistic-regression member of a text ensemble (``--nb-weight``).

:class:`~rnnkit.models.nb_classifier.NBLogisticClassifier` is convex in its weights, so it is
fitted to convergence by full-batch L-BFGS rather than by the (stochastic, early-stopped)
trainer: first the naive-Bayes ratios on the training texts, then ``w, b`` minimising::

    (1/N) Σ_i CE(logits(x_i), y_i) + 1 / (2·C·N) · ‖w‖²        (bias not penalised)

which is scikit-learn's ``LogisticRegression(C)`` objective divided by ``C·N``, per class.
It reads the same token ids as the recurrent members (the run's tokenizer and ``max_len``)
and is fitted on all the training texts: with a fixed L2 strength and a convex objective it
needs no validation split. A run's ``config.json`` keeps ``{"weight", "C", "model"}`` under
``"nb"``.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.models.nb_classifier import NBLogisticClassifier, NBLogisticConfig

__all__ = ["build_nb", "fit_nb_logistic", "fit_nb_member", "nb_settings"]


def nb_settings(run: dict[str, Any], num_classes: int, weight: float, C: float,
                ) -> dict[str, Any]:
    """``run["nb"]``: the member's weight, ``C`` and model config (the text model's
    vocabulary and bigram buckets)."""
    m = run["model"]
    cfg = NBLogisticConfig(vocab_size=m["vocab_size"], num_classes=num_classes,
                           buckets=m.get("bow_buckets") or NBLogisticConfig.buckets)
    return {"weight": float(weight), "C": float(C), "model": cfg.to_dict()}


def build_nb(run: dict[str, Any]) -> NBLogisticClassifier:
    """The (unfitted) NB member that ``run["nb"]`` describes."""
    return NBLogisticClassifier(NBLogisticConfig.from_dict(run["nb"]["model"]))


def fit_nb_member(run: dict[str, Any], texts: Any) -> tuple[NBLogisticClassifier,
                                                             dict[str, Any]]:
    """The NB member fitted on the training ``texts`` (``Items``), and what to report."""
    model = build_nb(run)
    t0 = time.perf_counter()
    info = fit_nb_logistic(model, texts.x, torch.from_numpy(texts.lengths), texts.y,
                           C=run["nb"]["C"])
    info["seconds"] = round(time.perf_counter() - t0, 2)
    return model.eval(), {"nb": {"weight": run["nb"]["weight"], "C": run["nb"]["C"], **info}}


def fit_nb_logistic(model: Any, ids: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor,
                    C: float = 0.3, max_iter: int = 300) -> dict[str, float]:
    """Fit ``model`` (an ``NBLogisticClassifier``) on texts ``ids [N, T]`` (``lengths [N]``)
    with labels ``y [N]``; returns ``{"train_loss": …, "iterations": …}``.

    Args:
        C: inverse L2 strength (larger: less regularisation), as in scikit-learn.
        max_iter: L-BFGS iterations at most (it stops earlier once the gradient is tiny).
    """
    if not C > 0:
        raise ValueError(f"fit_nb_logistic: expected C > 0, got {C}. Pass e.g. C=0.3.")
    y = torch.as_tensor(y).long()
    model.fit_ratios(ids, lengths, y)
    feats, rows = model.features(ids, lengths)
    n = ids.shape[0]
    l2 = 1.0 / (2.0 * C * n)
    with torch.no_grad():  # start from the class prior: only the n-grams need fitting
        prior = torch.bincount(y, minlength=model.config.num_classes).double() + 1.0
        model.bias.copy_((prior / prior.sum()).log().to(model.bias))
        model.weight.zero_()
    opt = torch.optim.LBFGS([model.weight, model.bias], lr=1.0, max_iter=max_iter,
                            history_size=20, tolerance_grad=1e-6, tolerance_change=1e-10,
                            line_search_fn="strong_wolfe")
    was_training = model.training
    model.train()

    def objective() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model.logits_of(feats, rows, n), y)
        loss = loss + l2 * model.weight.square().sum()
        loss.backward()
        return loss

    opt.step(objective)
    model.train(was_training)
    with torch.no_grad():
        loss = F.cross_entropy(model.logits_of(feats, rows, n), y)
    state = opt.state[opt._params[0]]
    return {"train_loss": float(loss), "iterations": int(state.get("n_iter", 0))}

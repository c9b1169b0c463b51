"""rnnkit.baselines: classical reference models to compare every RNN against.

Forecasting (statsforecast), classification (majority class, 1-NN Euclidean, TF-IDF + logistic
regression via scikit-learn) and language modelling (unigram entropy, bzip2). Heavy packages are
imported inside the functions; a missing one raises an error naming the pip command.
"""

from rnnkit.baselines.classification import (
    classification_metrics,
    majority_class,
    nearest_neighbour,
    run_classification_baselines,
    tfidf_logreg,
)
from rnnkit.baselines.forecasting import (
    Forecast,
    forecast_metrics,
    naive,
    run_forecast_baselines,
    seasonal_naive,
)
from rnnkit.baselines.language_model import bzip2_bpc, run_lm_baselines, unigram_bpc

__all__ = [
    "Forecast",
    "bzip2_bpc",
    "classification_metrics",
    "forecast_metrics",
    "majority_class",
    "naive",
    "nearest_neighbour",
    "run_classification_baselines",
    "run_forecast_baselines",
    "run_lm_baselines",
    "seasonal_naive",
    "tfidf_logreg",
    "unigram_bpc",
]

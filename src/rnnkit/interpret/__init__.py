"""Explanations of recurrent models: attention heatmaps and per-step saliency.

* :mod:`rnnkit.interpret.saliency` — ``gradient_x_input`` and ``integrated_gradients`` for any
  ``fn(x [B, T, C], lengths) -> outputs``; exactly zero on padded steps.
* :mod:`rnnkit.interpret.explain` — ``explain_sequence`` (classifiers, forecasters) and
  ``explain_tagger`` write PNGs and a JSON of the scores for one example.
* Attention weights come from the models themselves (``Seq2Seq`` decoding with
  ``return_attention=True``, attention pooling) and are drawn by
  :func:`rnnkit.plots.attention.plot_attention`.
"""

from rnnkit.interpret.explain import (
    METHODS,
    explain_sequence,
    explain_tagger,
    explain_tokens,
    saliency,
)
from rnnkit.interpret.saliency import (
    gradient_x_input,
    integrated_gradients,
    select_target,
    step_mask,
)

__all__ = [
    "METHODS",
    "explain_sequence",
    "explain_tagger",
    "explain_tokens",
    "gradient_x_input",
    "integrated_gradients",
    "saliency",
    "select_target",
    "step_mask",
]

"""Keras 3 in ``rnnkit bench``: the same layer, shape and variant, timed in the same process.

Keras runs on its **torch backend** here (``KERAS_BACKEND=torch`` is set before Keras is first
imported), so its layers take the benchmark's own torch tensors and the comparison measures
Keras's recurrent implementation, not a framework boundary: on CPU that is Keras's generic
``ops.rnn`` step loop for every configuration (its fused paths are cuDNN-only). With TensorFlow
the numbers would differ; the report says which backend ran.

Variants with a Keras equivalent (others are left blank):

* ``standard`` — ``keras.layers.{LSTM, GRU, SimpleRNN}(H, return_sequences=True)``
* ``recurrent_dropout`` — ``recurrent_dropout=0.1`` (Keras's variational dropout on h)
* ``reset_before`` — GRU ``reset_after=False``
* ``ragged`` — a boolean ``mask`` (B, T) of the valid steps

Train = forward in training mode + ``sum().backward()``; infer = forward under ``no_grad``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import torch

__all__ = ["keras_fns", "status"]

_CLASSES = {"LSTM": "LSTM", "GRU": "GRU", "RNN": "SimpleRNN"}
_VARIANTS = {"standard": {}, "recurrent_dropout": {"recurrent_dropout": 0.1},
             "reset_before": {"reset_after": False}, "ragged": {}}


def _import():
    """The keras module (first imported on the torch backend), or None when missing."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
    except ImportError:
        return None
    return keras


def _keras():
    """The keras module when it runs on the torch backend, else None."""
    keras = _import()
    return keras if keras is not None and keras.backend.backend() == "torch" else None


def status() -> str:
    """One line for the report: whether and how Keras is benchmarked."""
    keras = _import()
    if keras is None:
        return "not installed (skipped; pip install keras to include it)"
    backend = keras.backend.backend()
    if backend != "torch":
        return (f"Keras {keras.__version__} imported on the {backend} backend before the "
                f"benchmark: skipped (rnnkit bench times Keras on its torch backend)")
    return f"Keras {keras.__version__}, torch backend (its CPU step loop)"


def keras_fns(family: str, variant: str, shape: tuple[int, int, int, int], x: torch.Tensor,
              lengths: torch.Tensor | None) -> dict[str, Callable[[], None]]:
    """``{"keras/train": f, "keras/infer": g}`` for this configuration, or ``{}`` when Keras
    is missing or has no equivalent of the variant."""
    keras = _keras()
    if keras is None or variant not in _VARIANTS or (variant == "reset_before"
                                                     and family != "GRU"):
        return {}
    B, T, I, H = shape
    layer = getattr(keras.layers, _CLASSES[family])(H, return_sequences=True,
                                                     **_VARIANTS[variant])
    layer.build((B, T, I))
    mask = None
    if variant == "ragged" and lengths is not None:
        mask = torch.arange(T)[None, :] < lengths[:, None]

    def train() -> None:
        y = layer(x, training=True, mask=mask)
        y.sum().backward()

    def infer() -> None:
        with torch.no_grad():
            layer(x, training=False, mask=mask)

    return {"keras/train": train, "keras/infer": infer}

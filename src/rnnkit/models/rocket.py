"""MiniRocket as a classifier member: aeon's features + ridge, stored as plain tensors.

MiniRocket (Dempster et al. 2021) convolves each series with 84 fixed kernels at several
dilations and keeps the proportion of positive values (PPV) above fitted biases: about 10,000
features, then a ridge classifier (aeon's ``MiniRocketClassifier``: features scaled by their
standard deviation, ``RidgeClassifierCV`` over 10 alphas). :meth:`MiniRocketMember.fit` fits
exactly that pipeline and copies its fitted numbers (dilations, biases, channel choices,
feature scale, ridge coefficients) into buffers, so the member is saved in ``safetensors``
beside recurrent members and rebuilt from its :class:`MiniRocketConfig` — nothing is pickled.

Inputs ``(x [B, T, C], lengths [B])`` are resampled linearly (each valid part) to the fitted
``length``; the ridge decision values ``d [B, K]`` (``[B, 1]`` for two classes) become logits
``τ·d`` (``τ·[-d, d]`` for two classes), ``τ = 5``, so a probability average with recurrent
members can use them. The transform runs aeon's numba code on CPU (no gradients).

Example:
    >>> member = MiniRocketMember.fit(X [N, T, C], lengths, y, num_classes=2, seed=0)
    >>> logits = member(x, lengths)                       # [B, 2]

Letters: B batch, T time, C channels, K classes, F features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.deps import require
from rnnkit.models.config_dict import DictConfig
from rnnkit.models.sequence_classifier import ClassifierSteps

__all__ = ["MiniRocketConfig", "MiniRocketMember"]

_PARAMS = ("channels_per_combination", "channel_indices", "dilations",
           "features_per_dilation", "biases")
TAU = 5.0


@dataclass(frozen=True)
class MiniRocketConfig(DictConfig):
    """Shapes of a fitted :class:`MiniRocketMember` (saved in ``config.json``).

    Args:
        input_size: C channels.
        num_classes: K >= 2.
        length: steps every series is resampled to (>= 9).
        sizes: lengths of the five aeon parameter arrays (channels per combination, channel
            indices, dilations, features per dilation, biases).
        num_features: F, the feature count.
    """

    input_size: int
    num_classes: int
    length: int
    sizes: tuple[int, ...]
    num_features: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(v) for v in self.sizes))
        if self.num_classes < 2 or self.length < 9 or len(self.sizes) != 5:
            raise ValueError(f"MiniRocketConfig: expected num_classes >= 2, length >= 9 and 5 "
                             f"sizes, got {self.num_classes}, {self.length}, {self.sizes}.")


def _resample(x: Tensor, lengths: Tensor | None, length: int) -> np.ndarray:
    """``[B, C, length]`` float32: each valid part ``x[b, :n]`` linearly resampled."""
    B, T, C = x.shape
    lengths = torch.full((B,), T) if lengths is None else torch.as_tensor(lengths).cpu()
    out = torch.empty(B, C, length, dtype=torch.float32)
    for b in range(B):
        n = max(1, int(lengths[b]))
        seg = x[b, :n].detach().float().cpu().T[None]  # [1, C, n]
        out[b] = F.interpolate(seg, size=length, mode="linear", align_corners=True)[0] \
            if n > 1 else seg[0].expand(C, length)
    return out.numpy()


class MiniRocketMember(ClassifierSteps, nn.Module):
    """Fitted MiniRocket + ridge: ``(x [B, T, C], lengths [B]) -> logits [B, K]``.

    Args:
        config: a :class:`MiniRocketConfig` (the buffers are filled by :meth:`fit` or by
            ``load_state_dict``).
    """

    def __init__(self, config: MiniRocketConfig) -> None:
        super().__init__()
        self.config = c = config
        for name, n, dt in zip(_PARAMS, c.sizes, (torch.int32,) * 4 + (torch.float32,)):
            self.register_buffer(name, torch.zeros(n, dtype=dt))
        k = 1 if c.num_classes == 2 else c.num_classes
        self.register_buffer("scale", torch.ones(c.num_features))
        self.register_buffer("coef", torch.zeros(k, c.num_features, dtype=torch.float64))
        self.register_buffer("intercept", torch.zeros(k, dtype=torch.float64))

    @classmethod
    def fit(cls, X: np.ndarray, lengths: np.ndarray | None, y: np.ndarray, num_classes: int,
            seed: int = 0, length: int | None = None) -> MiniRocketMember:
        """Fit aeon's ``MiniRocketClassifier(random_state=seed)`` on ``X [N, T, C]`` (valid
        parts resampled to ``length``, default ``max(T, 9)``) and labels ``y`` that hold
        every one of ``num_classes`` classes."""
        conv = require("aeon.classification.convolution_based", "pip install aeon",
                       "MiniRocketMember.fit")
        y = np.asarray(y, dtype=np.int64)
        if np.unique(y).size != num_classes:
            raise ValueError(f"MiniRocketMember.fit: expected every one of {num_classes} "
                             f"classes among the labels, got {np.unique(y).size}.")
        length = int(max(9, length or X.shape[1]))
        x = torch.as_tensor(np.asarray(X, np.float32))
        data = _resample(x, None if lengths is None else torch.as_tensor(lengths), length)
        clf = conv.MiniRocketClassifier(random_state=int(seed), n_jobs=1)
        clf.fit(data.astype(np.float64), y)
        params = clf.pipeline_.steps[0][1].parameters
        ridge = clf.pipeline_.steps[-1][1]
        coef = np.atleast_2d(np.asarray(ridge.coef_, np.float64))
        cfg = MiniRocketConfig(input_size=X.shape[2], num_classes=num_classes, length=length,
                               sizes=tuple(len(p) for p in params),
                               num_features=int(coef.shape[1]))
        member = cls(cfg)
        with torch.no_grad():
            for name, p in zip(_PARAMS, params):
                getattr(member, name).copy_(torch.from_numpy(np.asarray(p)))
            member.scale.copy_(torch.from_numpy(clf.pipeline_.steps[1][1].scale_.astype(np.float32)))
            member.coef.copy_(torch.from_numpy(coef))
            member.intercept.copy_(torch.from_numpy(np.atleast_1d(
                np.asarray(ridge.intercept_, np.float64))))
        return member.eval()

    def features(self, x: Tensor, lengths: Tensor | None = None) -> np.ndarray:
        """The scaled MiniRocket features ``[B, F]`` (float64)."""
        tr = require("aeon.transformations.collection.convolution_based._minirocket",
                     "pip install aeon", "MiniRocketMember")
        c = self.config
        if x.dim() != 3 or x.shape[2] != c.input_size:
            raise ValueError(f"MiniRocketMember: expected x of shape (B, T, {c.input_size}), "
                             f"got {tuple(x.shape)}. Check the number of channels.")
        data = _resample(x, lengths, c.length)
        params = tuple(getattr(self, n).numpy() for n in _PARAMS)
        indices = tr.MiniRocket._indices
        if c.input_size == 1:
            f = tr._static_transform_uni(data[:, 0], params, indices)
        else:
            f = tr._static_transform_multi(data, params, indices)
        return np.asarray(f, np.float64) / self.scale.double().numpy()

    def decision(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Ridge decision values ``[B, K]`` (``[B, 1]`` for two classes)."""
        f = torch.from_numpy(self.features(x, lengths))
        return f @ self.coef.T + self.intercept

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.forward_with_attention(x, lengths)[0]

    def forward_with_attention(self, x: Tensor, lengths: Tensor | None = None,
                               ) -> tuple[Tensor, None]:
        """``(logits [B, K], None)``: ``τ·d`` (two classes: ``τ·[-d, d]``)."""
        d = self.decision(x, lengths)
        logits = torch.cat([-d, d], dim=1) if self.config.num_classes == 2 else d
        return (TAU * logits).float().to(x.device), None

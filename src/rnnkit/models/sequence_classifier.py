"""Classifier for numeric multivariate sequences of variable length (sensor / UCR / UEA data).

Architecture (``x [B, T, C]``, ``lengths [B]``)::

    x ─ (per-series z-norm) ─┬─ conv front end? ─ RNN ─ pooling ─┐     (conv_layout="serial")
                             ├─ RNN ─ pooling ────────────────────┤
                             └─ FCN branch ─ global mean pool ────┴─ concat ─ dropout ─ linear
                                                          (conv_layout="parallel", LSTM-FCN)

* Downsampling (``downsample = f``): the valid steps are averaged in windows of ``f``
  (piecewise aggregate approximation, padded steps excluded), ``T → ⌈T/f⌉`` and each
  length ``n → ⌈n/f⌉``; long series then cost the convolutions and the recurrence ``f``
  times less.
* Augmentation (``augment``, training only): each training sequence is scaled by
  ``s ~ N(1, 0.1²)`` per channel and jittered by ``N(0, 0.03²)`` noise on valid steps after
  the z-normalisation (tiny training sets; inactive in ``eval()``).
* Per-series z-normalisation (``znorm``): each sequence and channel is shifted and scaled by
  its own mean and standard deviation over valid steps, ``x̂ = (x − μ_bc) / (σ_bc + ε)``.
* The FCN (Wang et al. 2017; Karim et al. LSTM-FCN 2017) is three blocks
  ``Conv1d(k) → BatchNorm → ReLU`` with ``conv_channels`` filters and ``conv_kernels`` widths,
  ``same`` padding. Padded steps are zeroed after every block and excluded from the batch
  statistics, so padding never leaks into valid steps.
* Pooling over valid steps: ``last | mean | max | maxmean | attention``
  (:mod:`rnnkit.models.pooling`); attention weights are returned by
  :meth:`SequenceClassifier.forward_with_attention`.

Example:
    >>> cfg = SequenceClassifierConfig(input_size=1, num_classes=2, pooling="attention")
    >>> model = SequenceClassifier(cfg)
    >>> logits = model(torch.randn(8, 150, 1), lengths=torch.full((8,), 150))   # (8, 2)

Letters: B batch, T time, C channels, H hidden, K classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.backbone import MODEL_KINDS, backbone_output_size, build_recurrent
from rnnkit.models.config_dict import DictConfig
from rnnkit.models.pooling import POOLINGS, SequencePooling, length_mask

__all__ = ["ClassifierSteps", "SequenceClassifier", "SequenceClassifierConfig"]

CONV_LAYOUTS = ("parallel", "serial")


def _check(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise ValueError(f"{where}: {msg}")


@dataclass(frozen=True)
class SequenceClassifierConfig(DictConfig):
    """Settings of a :class:`SequenceClassifier` (saved in ``config.json``).

    Args:
        input_size: C, channels per step.
        num_classes: K >= 2.
        model: recurrent kind, one of ``lstm | gru | rnn | mingru | minlstm``.
        hidden_size, num_layers, bidirectional, layer_norm: the recurrent backbone.
        dropout: between recurrent layers and before the linear head.
        pooling: ``last | mean | max | maxmean | attention``.
        conv: use the convolutional (FCN) part.
        conv_layout: ``parallel`` (FCN branch beside the RNN, LSTM-FCN) or ``serial`` (conv
            layers feed the RNN).
        conv_channels, conv_kernels: filters and widths of the conv blocks (same length).
        znorm: per-series z-normalisation inside the model.
        label_smoothing: cross-entropy label smoothing used in training.
        downsample: average windows of this many valid steps first (1: off).
        augment: random scaling and jitter of training sequences (training mode only).
    """

    input_size: int
    num_classes: int
    model: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.1
    bidirectional: bool = False
    layer_norm: bool = False
    pooling: str = "mean"
    conv: bool = True
    conv_layout: str = "parallel"
    conv_channels: tuple[int, ...] = (128, 256, 128)
    conv_kernels: tuple[int, ...] = (8, 5, 3)
    znorm: bool = False
    label_smoothing: float = 0.0
    downsample: int = 1
    augment: bool = False

    def __post_init__(self) -> None:
        w = "SequenceClassifierConfig"
        object.__setattr__(self, "conv_channels", tuple(int(c) for c in self.conv_channels))
        object.__setattr__(self, "conv_kernels", tuple(int(k) for k in self.conv_kernels))
        for name in ("input_size", "hidden_size", "num_layers", "downsample"):
            v = getattr(self, name)
            _check(isinstance(v, int) and v >= 1, w, f"expected {name} >= 1, got {v!r}.")
        _check(isinstance(self.num_classes, int) and self.num_classes >= 2, w,
               f"expected num_classes >= 2, got {self.num_classes!r}. A classifier needs at "
               f"least two classes in the training data.")
        _check(self.model in MODEL_KINDS, w, f"expected model in {list(MODEL_KINDS)}, got "
               f"{self.model!r}.")
        _check(self.pooling in POOLINGS, w, f"expected pooling in {list(POOLINGS)}, got "
               f"{self.pooling!r}.")
        _check(self.conv_layout in CONV_LAYOUTS, w, f"expected conv_layout in "
               f"{list(CONV_LAYOUTS)}, got {self.conv_layout!r}.")
        _check(len(self.conv_channels) == len(self.conv_kernels) >= 1
               and min(self.conv_channels + self.conv_kernels) >= 1, w,
               f"expected equally long positive conv_channels and conv_kernels, got "
               f"{self.conv_channels} and {self.conv_kernels}.")
        _check(0 <= self.dropout < 1, w, f"expected 0 <= dropout < 1, got {self.dropout}.")
        _check(0 <= self.label_smoothing < 1, w,
               f"expected 0 <= label_smoothing < 1, got {self.label_smoothing}.")



class ClassifierSteps:
    """The trainer protocol for classifiers whose ``forward(inputs, lengths)`` gives logits.

    Batches are ``PaddedBatch(inputs, targets [B], lengths [B])``. Logged: ``acc``.
    """

    label_smoothing: float = 0.0

    def _loss(self, batch: Any, smoothing: float) -> tuple[Tensor, dict[str, Tensor]]:
        inputs, targets, lengths = batch
        logits = self(inputs, lengths)
        loss = F.cross_entropy(logits.float(), targets, label_smoothing=smoothing)
        acc = (logits.argmax(-1) == targets).float().mean()
        return loss, {"acc": acc.detach()}

    def training_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        return self._loss(batch, self.label_smoothing)

    def validation_step(self, batch: Any) -> tuple[Tensor, dict[str, Tensor]]:
        return self._loss(batch, 0.0)

    def predict_step(self, batch: Any) -> Tensor:
        """Class probabilities ``[B, K]``."""
        inputs, _, lengths = batch
        return torch.softmax(self(inputs, lengths).float(), dim=-1)


class _MaskedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over ``[B, C, T]`` whose training statistics use valid steps only."""

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # mask [B, 1, T]
        if not self.training:
            return super().forward(x)
        m = mask.to(x.dtype)
        n = m.sum().clamp_min(2.0)
        mean = (x * m).sum((0, 2)) / n
        var = (((x - mean[None, :, None]) ** 2) * m).sum((0, 2)) / n
        with torch.no_grad():
            self.num_batches_tracked += 1
            mom = self.momentum
            self.running_mean.lerp_(mean.detach(), mom)
            self.running_var.lerp_(var.detach() * n / (n - 1), mom)
        x = (x - mean[None, :, None]) * torch.rsqrt(var[None, :, None] + self.eps)
        return x * self.weight[None, :, None] + self.bias[None, :, None]


class _ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__()
        self.pad = ((kernel - 1) // 2, kernel // 2)  # "same" output length, even k included
        self.conv = nn.Conv1d(cin, cout, kernel)
        self.norm = _MaskedBatchNorm1d(cout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        return F.relu(self.norm(self.conv(F.pad(x, self.pad)), mask)) * mask


class SequenceClassifier(ClassifierSteps, nn.Module):
    """RNN (+ optional FCN) classifier: ``(x [B, T, C], lengths [B]) -> logits [B, K]``.

    Args:
        config: a :class:`SequenceClassifierConfig`.
    """

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__()
        self.config = c = config
        self.label_smoothing = c.label_smoothing
        self.convs = nn.ModuleList()
        cin = c.input_size
        if c.conv:
            for cout, k in zip(c.conv_channels, c.conv_kernels):
                self.convs.append(_ConvBlock(cin, cout, k))
                cin = cout
        rnn_in = cin if c.conv and c.conv_layout == "serial" else c.input_size
        options = {"layer_norm": True} if c.layer_norm else {}
        self.rnn = build_recurrent(c.model, rnn_in, c.hidden_size, c.num_layers,
                                   dropout=c.dropout if c.num_layers > 1 else 0.0,
                                   bidirectional=c.bidirectional, **options)
        feats = backbone_output_size(self.rnn)
        self.pool = SequencePooling(c.pooling, feats, 2 if c.bidirectional else 1)
        head_in = self.pool.out_features + (cin if c.conv and c.conv_layout == "parallel"
                                            else 0)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(head_in, c.num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.forward_with_attention(x, lengths)[0]

    def forward_with_attention(self, x: Tensor, lengths: Tensor | None = None,
                               ) -> tuple[Tensor, Tensor | None]:
        """``(logits [B, K], α [B, T] or None)``; ``α`` are the attention pooling weights."""
        c = self.config
        if x.dim() != 3 or x.shape[2] != c.input_size:
            raise ValueError(f"SequenceClassifier: expected x of shape (B, T, {c.input_size}), "
                             f"got {tuple(x.shape)}. Check the number of channels.")
        if c.downsample > 1:
            x, lengths = _downsample(x, lengths, c.downsample)
        B, T, _ = x.shape
        mask = length_mask(lengths, B, T, x.device)
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
        if c.znorm:
            x = self._znorm(x, mask)
        if c.augment and self.training:
            scale = 1.0 + 0.1 * torch.randn(B, 1, x.shape[2], device=x.device, dtype=x.dtype)
            x = (x * scale + 0.03 * torch.randn_like(x)) * mask.unsqueeze(-1).to(x.dtype)
        conv_out = None
        if c.conv:
            m = mask.unsqueeze(1)
            h = x.transpose(1, 2)
            for block in self.convs:
                h = block(h, m)
            conv_out = h.transpose(1, 2)  # [B, T, C']
        rnn_in = conv_out if c.conv and c.conv_layout == "serial" else x
        # while exporting, always take the ragged path (exact for full lengths too): whether
        # a batch is ragged is data the exported graph cannot branch on
        ragged = lengths is not None and (torch.compiler.is_exporting()
                                          or bool((torch.as_tensor(lengths) < T).any()))
        y, _ = self.rnn(rnn_in, lengths=torch.as_tensor(lengths).cpu() if ragged else None)
        pooled, alpha = self.pool(y, lengths)
        if conv_out is not None and c.conv_layout == "parallel":
            mf = mask.unsqueeze(-1).to(conv_out.dtype)
            pooled = torch.cat([pooled, (conv_out * mf).sum(1) / mf.sum(1)], dim=1)
        return self.head(self.drop(pooled)), alpha

    @staticmethod
    def _znorm(x: Tensor, mask: Tensor, eps: float = 1e-5) -> Tensor:
        m = mask.unsqueeze(-1).to(x.dtype)
        n = m.sum(1, keepdim=True).clamp_min(1.0)
        mean = (x * m).sum(1, keepdim=True) / n
        std = ((((x - mean) ** 2) * m).sum(1, keepdim=True) / n).sqrt()
        return (x - mean) / (std + eps) * m


def _downsample(x: Tensor, lengths: Tensor | None, f: int) -> tuple[Tensor, Tensor]:
    """Mean of each window of ``f`` valid steps: ``x [B, T, C] -> [B, ⌈T/f⌉, C]``, lengths
    ``n -> ⌈n/f⌉`` (a last, partial window averages the valid steps it holds)."""
    B, T, C = x.shape
    lengths = (torch.full((B,), T, dtype=torch.long) if lengths is None
               else torch.as_tensor(lengths).long())
    m = length_mask(lengths, B, T, x.device).unsqueeze(-1).to(x.dtype)
    pad = (-T) % f
    xs = F.pad(x * m, (0, 0, 0, pad)).view(B, (T + pad) // f, f, C).sum(2)
    ns = F.pad(m, (0, 0, 0, pad)).view(B, (T + pad) // f, f, 1).sum(2)
    return xs / ns.clamp_min(1.0), (lengths + f - 1) // f

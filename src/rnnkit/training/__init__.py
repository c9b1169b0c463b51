"""Training engine: ``Trainer`` with fit/evaluate/predict for any ``nn.Module``.

Knows nothing of RNNs or tasks. See ``docs/training.md`` for the model protocol, truncated
BPTT, the checkpoint format and running under ``torchrun``.

Example:
    >>> from rnnkit.training import Trainer, TrainerConfig
    >>> trainer = Trainer(TrainerConfig(epochs=5, lr=1e-2, clip_grad_norm=1.0))
    >>> history = trainer.fit(model, train_ds, val_ds, loss_fn=torch.nn.functional.mse_loss)
"""

from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LRScheduler,
    ModelCheckpoint,
    TensorBoardLogger,
)
from .checkpoint import CheckpointError, load_weights, read_checkpoint
from .config import TrainerConfig
from .distributed import DistContext, init_distributed
from .optim import LRSchedule, build_optimizer, weight_decay_groups
from .plots import HistoryPlot, plot_history
from .progress import EpochLogger, ProgressBar
from .protocol import default_chunk, detach_state
from .trainer import NonFiniteError, Trainer, seed_everything

__all__ = [
    "CSVLogger",
    "Callback",
    "CheckpointError",
    "DistContext",
    "EarlyStopping",
    "EpochLogger",
    "HistoryPlot",
    "JSONLogger",
    "LRSchedule",
    "LRScheduler",
    "ModelCheckpoint",
    "NonFiniteError",
    "ProgressBar",
    "TensorBoardLogger",
    "Trainer",
    "TrainerConfig",
    "build_optimizer",
    "default_chunk",
    "detach_state",
    "init_distributed",
    "load_weights",
    "plot_history",
    "read_checkpoint",
    "seed_everything",
    "weight_decay_groups",
]

"""``Trainer``: fit / evaluate / predict for any ``nn.Module`` (the model protocol is in
:mod:`rnnkit.training.protocol` and ``docs/training.md``).

One optimiser step, in order: forward (under autocast if ``precision`` asks) → ``loss /
accumulate_grad_batches`` → backward; every ``accumulate_grad_batches`` micro-batches (or TBPTT
chunks): unscale (fp16) → clip by value → measure the global gradient norm and clip by norm →
if the loss or the norm is non-finite on any rank, skip the step → ``on_before_optimizer_step``
(sets the LR) → ``optimizer.step()``.

Example:
    >>> trainer = Trainer(TrainerConfig(epochs=3, lr=1e-2, clip_grad_norm=1.0))
    >>> history = trainer.fit(model, train_ds, val_ds, loss_fn=torch.nn.functional.mse_loss)
    >>> trainer.evaluate(model, test_ds, loss_fn=torch.nn.functional.mse_loss)["loss"]
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LRScheduler,
    ModelCheckpoint,
    TensorBoardLogger,
)
from .config import TrainerConfig
from .distributed import DistContext, all_reduce_max, init_distributed
from .evaluation import evaluate_model, predict_model, run_tbptt
from .loaders import build_train_loader
from .optim import LRSchedule, build_optimizer
from .plots import HistoryPlot
from .progress import EpochLogger, ProgressBar
from .protocol import StepModule, batch_size_of, move_to_device
from .resume import restore_trainer_state, save_trainer_state

__all__ = ["NonFiniteError", "Trainer", "seed_everything"]

log = logging.getLogger("rnnkit.training")


class NonFiniteError(FloatingPointError):
    """Training kept producing NaN/inf losses or gradients and was stopped."""


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy and torch (CPU and CUDA). Call it before building the
    model to make its initialisation repeatable too."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Model-agnostic training engine configured by a :class:`TrainerConfig`.

    Args:
        config: run settings (defaults if None).
        callbacks: extra callbacks, called after the built-in ones (LR schedule, early stopping,
            loggers, progress) and before checkpointing.
        collate_fn: turns a list of dataset items into a batch (e.g.
            :func:`rnnkit.data.collate.pad_collate` for variable-length sequences); used when
            ``fit``/``evaluate``/``predict`` get a Dataset rather than a DataLoader.

    After ``fit``: ``history`` (one dict per epoch), ``global_step``, ``skipped_steps``,
    ``last_checkpoint``.
    """

    def __init__(self, config: TrainerConfig | None = None,
                 callbacks: Sequence[Callback] = (), collate_fn: Callable | None = None) -> None:
        self.config = config or TrainerConfig()
        self.user_callbacks = list(callbacks)
        self.collate_fn = collate_fn
        self.dist = DistContext()
        self.device = torch.device("cpu")
        self.optimizer: torch.optim.Optimizer | None = None
        self.model: nn.Module | None = None
        self.callbacks = CallbackList([])
        self._loss_fn: Callable | None = None
        self._metrics: dict[str, Callable] | None = None
        self._reset_run_state()

    def _reset_run_state(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.global_step = 0
        self.skipped_steps = 0
        self.consecutive_nonfinite = 0
        self.position = (0, 0)  # (epoch, batches of it done): where a resume continues
        self.epoch = 0
        self.should_stop = False
        self.stop_reason = ""
        self.last_grad_norm = float("nan")
        self.last_batch_size = 0
        self.last_checkpoint: Path | None = None
        self.batches_per_epoch: int | None = None
        self._carried: Any = None
        self._pending = 0
        self._window_bad = False
        self._reset_meters()

    # ---- properties callbacks read ---------------------------------------------------------

    @property
    def is_main(self) -> bool:
        """True on rank 0 (the process that writes files)."""
        return self.dist.is_main

    @property
    def at_step_boundary(self) -> bool:
        """True when no gradients are pending (a checkpoint taken now resumes exactly)."""
        return self._pending == 0

    @property
    def lr(self) -> float:
        """Current learning rate of the first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"]) if self.optimizer else float("nan")

    @property
    def running_loss(self) -> float:
        """Mean training loss of the current epoch so far."""
        return self._meters["sums"].get("loss", float("nan")) / max(self._meters["count"], 1)

    @property
    def _stateful(self) -> bool:
        return self.config.tbptt_steps is not None or self.config.stateful

    # ---- fit ---------------------------------------------------------------------------------

    def fit(self, model: nn.Module, train: Any, val: Any = None, *,
            loss_fn: Callable | None = None, metrics: dict[str, Callable] | None = None,
            resume: str | os.PathLike | None = None) -> list[dict[str, Any]]:
        """Train ``model`` on ``train`` (Dataset or DataLoader), validating on ``val`` each epoch.

        Args:
            model: any module; see the model protocol in :mod:`rnnkit.training.protocol`.
            train, val: datasets (the trainer batches, shuffles and shards them) or loaders.
            loss_fn: ``loss_fn(prediction, target)`` for models without ``training_step``.
            metrics: ``{name: fn(prediction, target)}`` logged on the ``loss_fn`` path.
            resume: a checkpoint root or directory; training continues exactly where it left.

        Returns:
            ``self.history``: one dict per epoch (``epoch``, ``step``, ``loss``, metrics,
            ``val_*``, ``lr``, ``grad_norm``, ``skipped_steps``, ``time_s``).
        """
        cfg = self.config
        self._reset_run_state()
        self.dist = init_distributed(cfg.device)
        self.device = self._resolve_device()
        seed_everything(cfg.seed)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.model = model.to(self.device)
        self._loss_fn, self._metrics = loss_fn, metrics
        self.step_module = StepModule(model, loss_fn, metrics)
        self.optimizer = build_optimizer(model, cfg)
        self.scaler = torch.amp.GradScaler("cuda") if cfg.precision == "fp16" else None
        self.train_loader = build_train_loader(train, cfg, self.dist, self.collate_fn)
        self.val_data = val
        try:
            self.batches_per_epoch = len(self.train_loader)
        except TypeError:
            self.batches_per_epoch = None
        schedule = LRSchedule(cfg, cfg.max_steps or self._estimate_total_steps())
        self.callbacks = CallbackList(self._build_callbacks(schedule))
        if resume is not None:
            self._restore(resume)
        self._wrapped: nn.Module = self.step_module
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self._wrapped = nn.parallel.DistributedDataParallel(self.step_module, device_ids=ids)
        self.callbacks.on_fit_start(self)
        try:
            self._run()
        except BaseException as e:
            self.callbacks.on_exception(self, e)
            raise
        self.callbacks.on_fit_end(self)
        return self.history

    def _resolve_device(self) -> torch.device:
        d, cfg = self.config.device, self.config
        if d == "auto":
            d = "cuda" if torch.cuda.is_available() else "cpu"
        if d == "cuda":
            d = f"cuda:{self.dist.local_rank}"
        if d.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"TrainerConfig: device={cfg.device!r} but CUDA is not available. "
                             "Use device='cpu' or 'auto'.")
        if cfg.precision == "fp16" and not d.startswith("cuda"):
            raise ValueError("TrainerConfig: precision='fp16' needs a CUDA device (loss scaling);"
                             " on CPU use precision='bf16'.")
        return torch.device(d)

    def _estimate_total_steps(self) -> int:
        n = self.batches_per_epoch or 1
        chunks = 1
        tb = self.config.tbptt_steps
        if tb and self.batches_per_epoch:
            from .protocol import seq_len_of

            with contextlib.suppress(Exception):  # an estimate only (cosine horizon)
                chunks = math.ceil(seq_len_of(next(iter(self.train_loader.loader))) / tb)
        return self.config.epochs * math.ceil(n * chunks / self.config.accumulate_grad_batches)

    def _build_callbacks(self, schedule: LRSchedule) -> list[Callback]:
        cfg = self.config
        cbs: list[Callback] = [LRScheduler(schedule, cfg.monitor)]
        if cfg.early_stopping_patience:
            cbs.append(EarlyStopping(cfg.monitor, cfg.mode, cfg.early_stopping_patience,
                                     cfg.early_stopping_min_delta))
        if cfg.log_dir:
            d = Path(cfg.log_dir)
            cbs += [CSVLogger(d / "history.csv"), JSONLogger(d / "history.json"),
                    HistoryPlot(d / "history.png")]
            if cfg.tensorboard:
                cbs.append(TensorBoardLogger(d / "tensorboard"))
        if cfg.progress == "bar":
            cbs.append(ProgressBar())
        elif cfg.progress == "epoch":
            cbs.append(EpochLogger())
        cbs += self.user_callbacks
        if cfg.checkpoint_dir:
            cbs.append(ModelCheckpoint(cfg.checkpoint_dir, cfg.checkpoint_every_steps,
                                       cfg.keep_last, cfg.monitor, cfg.mode))
        return cbs

    # ---- the loop ----------------------------------------------------------------------------

    def _done(self) -> bool:
        ms, tb = self.config.max_steps, self.config.time_budget
        if tb is not None and time.perf_counter() - self._run_start >= tb and not self.should_stop:
            self.should_stop, self.stop_reason = True, f"time budget of {tb:g} s reached"
        return self.should_stop or (ms is not None and self.global_step >= ms)

    def _run(self) -> None:
        self._run_start = time.perf_counter()
        start_epoch, start_batch = self.position
        for epoch in range(start_epoch, self.config.epochs):
            if self._done():
                break
            self.epoch = epoch
            self.train_loader.set_epoch(epoch)
            self.train_loader.skip(start_batch)
            t0 = time.perf_counter()
            self.callbacks.on_epoch_start(self)
            self.step_module.train()
            done = start_batch
            for batch in self.train_loader:
                self.callbacks.on_train_batch_start(self, batch)
                logs = self._train_batch(batch)
                done += 1
                self.position = (epoch, done)
                self.callbacks.on_train_batch_end(self, logs)
                if self._done():
                    break
            start_batch = 0
            if self._pending:  # a partial accumulation window: step with what we have
                self._optimizer_step(rescale=self.config.accumulate_grad_batches / self._pending)
            self._end_epoch(epoch, time.perf_counter() - t0)

    def _train_batch(self, batch: Any) -> dict[str, float]:
        batch = move_to_device(batch, self.device)
        self.last_batch_size = batch_size_of(batch)
        if self._stateful:
            state = self._carried if self.config.stateful else None
            loss, logs, state = run_tbptt(self.model, batch, state, self.config.tbptt_steps,
                                          self._micro_step)
            if self.config.stateful:
                self._carried = state
        else:
            loss, logs, _ = self._micro_step(batch, None)
        return {"loss": loss, **logs, "lr": self.lr, "grad_norm": self.last_grad_norm}

    def _autocast(self) -> contextlib.AbstractContextManager:
        p = self.config.precision
        if p == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if p == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _micro_step(self, batch: Any, state: Any) -> tuple[float, dict[str, float], Any]:
        with self._autocast():
            loss, logs, new_state = self._wrapped("train", batch, state, stateful=self._stateful)
        if loss.dim() != 0:
            raise ValueError(f"Trainer: expected a scalar loss, got shape {tuple(loss.shape)}. "
                             "Reduce it (e.g. .mean()) in training_step or loss_fn.")
        value = float(loss.detach())
        scaled = loss.float() / self.config.accumulate_grad_batches
        (self.scaler.scale(scaled) if self.scaler else scaled).backward()
        self._pending += 1
        logs = {k: float(v) for k, v in logs.items()}
        if math.isfinite(value):
            n, m = self.last_batch_size, self._meters
            for k, v in {"loss": value, **logs}.items():
                m["sums"][k] = m["sums"].get(k, 0.0) + v * n
            m["count"] += n
        else:
            self._window_bad = True
        if self._pending >= self.config.accumulate_grad_batches:
            self._optimizer_step()
        return value, logs, new_state

    def _grad_norm(self, params: list[torch.Tensor]) -> float:
        cfg = self.config
        if cfg.clip_grad_value is not None:
            torch.nn.utils.clip_grad_value_(params, cfg.clip_grad_value)
        if not params:
            return 0.0
        if cfg.clip_grad_norm is not None:
            return float(torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad_norm))
        norms = torch.stack([torch.linalg.vector_norm(p.grad.detach().float()) for p in params])
        return float(torch.linalg.vector_norm(norms))

    def _optimizer_step(self, rescale: float = 1.0) -> None:
        opt = self.optimizer
        if self.scaler:
            self.scaler.unscale_(opt)
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if rescale != 1.0:
            for p in params:
                p.grad.mul_(rescale)
        norm = self._grad_norm(params)
        bad = self._window_bad or not math.isfinite(norm)
        if self.dist.enabled:  # every rank must take the same decision
            bad = bool(all_reduce_max(torch.tensor([float(bad)], device=self.device)).item())
        self._pending, self._window_bad = 0, False
        if bad:
            self._skip_step(norm)
            return
        self.last_grad_norm = norm
        self.callbacks.on_before_optimizer_step(self)
        if self.scaler:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()
        opt.zero_grad(set_to_none=True)
        self.global_step += 1
        self.consecutive_nonfinite = 0
        self._meters["grad_norm_sum"] += norm
        self._meters["steps"] += 1

    def _skip_step(self, norm: float) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.update()
        self.skipped_steps += 1
        self.consecutive_nonfinite += 1
        reason = (f"non-finite loss or gradient (grad norm {norm}) at epoch {self.epoch + 1}, "
                  f"after optimiser step {self.global_step}; step skipped")
        log.warning("Trainer: %s (%d in a row).", reason, self.consecutive_nonfinite)
        self.callbacks.on_skipped_step(self, reason)
        if self.consecutive_nonfinite >= self.config.max_nonfinite_steps:
            where = (f"The last good checkpoint is {self.last_checkpoint}."
                     if self.last_checkpoint else "No checkpoint was written.")
            raise NonFiniteError(
                f"Trainer: {self.consecutive_nonfinite} consecutive steps had a non-finite loss "
                f"or gradient (last: {reason}), so training stopped. {where} Lower lr, set "
                "clip_grad_norm, use precision='fp32', or check the data for NaN/inf."
            )

    def _reset_meters(self) -> None:
        self._meters: dict[str, Any] = {"sums": {}, "count": 0, "grad_norm_sum": 0.0, "steps": 0}

    def _end_epoch(self, epoch: int, seconds: float) -> None:
        m = self._meters
        logs: dict[str, Any] = {"epoch": epoch + 1, "step": self.global_step}
        stats = torch.tensor([m["count"], m["grad_norm_sum"], m["steps"],
                              *[m["sums"][k] for k in sorted(m["sums"])]], dtype=torch.float64)
        if self.dist.enabled:
            from .distributed import all_reduce_sum

            stats = all_reduce_sum(stats.to(self.device)).cpu()
        count, gsum, steps, *sums = stats.tolist()
        logs.update({k: s / max(count, 1) for k, s in zip(sorted(m["sums"]), sums)})
        logs["grad_norm"] = gsum / steps if steps else float("nan")
        if self.val_data is not None:
            val = self.evaluate(self.model, self.val_data)
            logs.update({f"val_{k}": v for k, v in val.items()})
            self.step_module.train()
        logs.update(lr=self.lr, skipped_steps=self.skipped_steps, time_s=round(seconds, 3))
        self.history.append(logs)
        self.position = (epoch + 1, 0)
        self._reset_meters()
        self._carried = None
        self.callbacks.on_epoch_end(self, logs)

    # ---- evaluate / predict ------------------------------------------------------------------

    def evaluate(self, model: nn.Module, data: Any, *, loss_fn: Callable | None = None,
                 metrics: dict[str, Callable] | None = None) -> dict[str, float]:
        """Mean loss and logged metrics of ``model`` over ``data`` (weighted by batch size).

        Uses ``model.validation_step`` if defined, else ``training_step`` under ``no_grad``
        (chunked like training when TBPTT is on), else ``loss_fn``. Under DDP each rank takes
        a shard and the sums are combined, so every rank returns the same numbers.
        """
        self._ensure_runtime()
        step = StepModule(model.to(self.device), loss_fn or self._loss_fn,
                          metrics if metrics is not None else self._metrics)
        with self._autocast():
            return evaluate_model(step, data, self)

    def predict(self, model: nn.Module, data: Any) -> torch.Tensor:
        """Outputs of ``model.predict_step(batch)`` (or ``model(x)``) over ``data`` in order,
        concatenated along dim 0 on CPU (right-padded with zeros where later dims differ)."""
        self._ensure_runtime()
        with self._autocast():
            return predict_model(model.to(self.device), data, self)

    def _ensure_runtime(self) -> None:
        if self.model is None:  # evaluate/predict called without fit
            import torch.distributed as tdist

            if tdist.is_available() and tdist.is_initialized():
                self.dist = DistContext(tdist.get_rank(), tdist.get_world_size(),
                                        int(os.environ.get("LOCAL_RANK", "0")))
            self.device = self._resolve_device()

    # ---- checkpoints -------------------------------------------------------------------------

    def save_checkpoint(self, root: str | os.PathLike, name: str) -> Path:
        """Write the full training state to ``root/name`` (rank 0) and point ``latest`` at it."""
        path = save_trainer_state(self, root, name)
        self.last_checkpoint = path
        return path

    def _restore(self, path: str | os.PathLike) -> None:
        restore_trainer_state(self, path)
        if self.stop_reason.startswith("time budget"):  # a new session brings a new budget
            self.should_stop, self.stop_reason = False, ""
        log.info("Trainer: resumed from %s at step %d.", self.last_checkpoint, self.global_step)

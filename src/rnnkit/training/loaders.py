"""DataLoaders the trainer builds: seeded, epoch-indexed, sharded, resumable.

Pass a ``Dataset`` (anything with ``__len__`` and ``__getitem__``) and the trainer builds a
``DataLoader`` over a :class:`~rnnkit.data.collate.SeededBatchSampler` (or
``BucketBatchSampler`` with ``bucket_by_length``): the order depends only on ``(seed, epoch)``,
a resumed run skips the batches already consumed, and under DDP each rank gets its shard of
every global batch. A ready ``DataLoader`` is used as it is (a resume then skips batches by
iterating; shard it yourself under DDP).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader

from rnnkit.data.collate import BucketBatchSampler, SeededBatchSampler

from .config import TrainerConfig
from .distributed import DistContext

__all__ = ["EpochLoader", "build_eval_loader", "build_train_loader"]


def _item_length(item: Any) -> int:
    x = item[0] if isinstance(item, tuple | list) else item
    return len(x)


class EpochLoader:
    """An iterable of batches for one epoch at a time: ``set_epoch(e)``, ``skip(n)``, iterate."""

    def __init__(self, loader: Iterable[Any], sampler: SeededBatchSampler | None) -> None:
        self.loader, self.sampler = loader, sampler
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's order (seeded samplers and samplers with ``set_epoch``)."""
        self._skip = 0
        target = self.sampler if self.sampler is not None else getattr(self.loader, "sampler", None)
        if hasattr(target, "set_epoch"):
            target.set_epoch(epoch)

    def skip(self, n: int) -> None:
        """Skip the first ``n`` batches of the next iteration."""
        self._skip = n

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Any]:
        n, self._skip = self._skip, 0
        if self.sampler is not None:
            self.sampler.skip(n)
            return iter(self.loader)
        return itertools.islice(iter(self.loader), n, None)


def _loader(dataset: Any, sampler: Any, config: TrainerConfig, collate_fn: Callable | None,
            ) -> DataLoader:
    # A private generator keeps DataLoader from drawing on the global torch RNG, which would
    # make a resumed run's RNG stream differ from an uninterrupted one.
    gen = torch.Generator().manual_seed(config.seed)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_fn,
                      num_workers=config.num_workers, generator=gen)


def build_train_loader(data: Any, config: TrainerConfig, dist: DistContext,
                       collate_fn: Callable | None = None) -> EpochLoader:
    """Wrap ``data`` (Dataset or DataLoader) as an :class:`EpochLoader` for training."""
    if isinstance(data, DataLoader) or not hasattr(data, "__getitem__"):
        return EpochLoader(data, None)
    kw = dict(shuffle=config.shuffle, seed=config.seed, drop_last=config.drop_last,
              rank=dist.rank, world_size=dist.world_size)
    if config.bucket_by_length:
        lengths = getattr(data, "lengths", None)
        if lengths is None:
            lengths = [_item_length(data[i]) for i in range(len(data))]
        sampler: SeededBatchSampler = BucketBatchSampler(lengths, config.batch_size, **kw)
    else:
        sampler = SeededBatchSampler(len(data), config.batch_size, **kw)
    return EpochLoader(_loader(data, sampler, config, collate_fn), sampler)


class _ShardBatches:
    """Rank r of W takes items r, r+W, ... in order (no padding, so metrics are exact)."""

    def __init__(self, n: int, batch_size: int, rank: int, world: int) -> None:
        self.idx = list(range(rank, n, world))
        self.batch_size = batch_size

    def __iter__(self) -> Iterator[list[int]]:
        for i in range(0, len(self.idx), self.batch_size):
            yield self.idx[i : i + self.batch_size]

    def __len__(self) -> int:
        return -(-len(self.idx) // self.batch_size)


def build_eval_loader(data: Any, config: TrainerConfig, dist: DistContext,
                      collate_fn: Callable | None = None) -> Iterable[Any]:
    """In-order batches of ``data`` for evaluation/prediction, sharded across ranks."""
    if isinstance(data, DataLoader) or not hasattr(data, "__getitem__"):
        return data
    sampler = _ShardBatches(len(data), config.batch_size, dist.rank, dist.world_size)
    return _loader(data, sampler, config, collate_fn)

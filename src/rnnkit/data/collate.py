"""Batching variable-length sequences: a padding collate and seeded, shardable batch samplers.

``pad_collate`` turns a list of ``(x, y)`` items with ``x`` of shape ``[T_i, I]`` (or ``[T_i]``)
into a :class:`PaddedBatch` ``(inputs [B, T, ...], targets, lengths [B])`` with right padding,
the layout every rnnkit layer and the trainer's truncated BPTT understand.

The samplers yield lists of indices (use them as ``DataLoader(batch_sampler=...)``). Their order
is a pure function of ``(seed, epoch)``, so a resumed run sees exactly the batches an
uninterrupted run would; ``skip(n)`` drops the first ``n`` batches of the current epoch (resume
mid-epoch) and ``rank``/``world_size`` shard every *global* batch of ``batch_size * world_size``
items across processes (DistributedDataParallel), so the union of the ranks' batches equals the
single-process batch of the same global size.

Example:
    >>> items = [(torch.randn(5, 3), 1), (torch.randn(2, 3), 0)]
    >>> batch = pad_collate(items)
    >>> batch.inputs.shape, batch.lengths.tolist()
    (torch.Size([2, 5, 3]), [5, 2])
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

__all__ = [
    "BucketBatchSampler",
    "PaddedBatch",
    "SeededBatchSampler",
    "pad_collate",
    "pad_sequences",
]


class PaddedBatch(NamedTuple):
    """A right-padded batch. ``inputs`` [B, T, ...]; ``targets`` [B, T, ...] or [B, ...] or None;
    ``lengths`` [B] (int64, on CPU): the number of valid steps of each sequence."""

    inputs: torch.Tensor
    targets: Any
    lengths: torch.Tensor


def pad_sequences(seqs: Sequence[torch.Tensor], padding_value: float = 0.0) -> torch.Tensor:
    """Stack tensors of shapes ``[T_i, ...]`` into ``[B, max T_i, ...]``, right-padded.

    Args:
        seqs: B tensors that agree on every dimension but the first.
        padding_value: value written into the padded steps.
    """
    if len(seqs) == 0:
        raise ValueError("pad_sequences: expected at least one sequence, got none.")
    trailing = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.shape[1:] != trailing:
            raise ValueError(
                f"pad_sequences: expected every sequence to have trailing shape {tuple(trailing)}, "
                f"got {tuple(s.shape[1:])} for item {i}. Only the first (time) dimension may vary."
            )
    return torch.nn.utils.rnn.pad_sequence(
        list(seqs), batch_first=True, padding_value=padding_value
    )


def _as_tensor(v: Any) -> torch.Tensor:
    return v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))


def pad_collate(
    items: Sequence[Any], padding_value: float = 0.0, target_padding_value: float = 0.0
) -> PaddedBatch:
    """Collate ``(x, y)`` items (or bare ``x`` items) into a :class:`PaddedBatch`.

    ``x`` has shape ``[T_i, ...]``. Targets that are sequences of the same length as their input
    (sequence labelling, next-token prediction) are padded like the inputs to ``[B, T, ...]``;
    other targets (class labels, vectors) are stacked to ``[B, ...]``.

    Args:
        items: B items, each ``x`` or ``(x, y)``.
        padding_value: fill for padded input steps.
        target_padding_value: fill for padded target steps (e.g. ``-100`` for cross-entropy's
            ``ignore_index``).
    """
    if len(items) == 0:
        raise ValueError("pad_collate: expected a non-empty list of items, got an empty one.")
    has_targets = isinstance(items[0], tuple | list)
    xs = [_as_tensor(it[0] if has_targets else it) for it in items]
    for i, x in enumerate(xs):
        if x.dim() == 0:
            raise ValueError(
                f"pad_collate: item {i} has a 0-d input; expected shape [T, ...] with T >= 0."
            )
    lengths = torch.tensor([x.shape[0] for x in xs], dtype=torch.int64)
    inputs = pad_sequences(xs, padding_value)
    if not has_targets:
        return PaddedBatch(inputs, None, lengths)
    ys = [_as_tensor(it[1]) for it in items]
    per_step = all(y.dim() >= 1 and y.shape[0] == x.shape[0] for x, y in zip(xs, ys))
    ragged = len({tuple(y.shape) for y in ys}) > 1
    if per_step and (ragged or (ys[0].dim() >= 1 and inputs.shape[1] == ys[0].shape[0])):
        targets = pad_sequences(ys, target_padding_value)
    else:
        targets = torch.stack(ys)
    return PaddedBatch(inputs, targets, lengths)


class SeededBatchSampler:
    """Batches of indices in an order fixed by ``(seed, epoch)``, sharded across ranks.

    Each epoch draws a permutation from ``numpy.random.default_rng([seed, epoch])`` (or keeps
    ``0..N-1`` when ``shuffle=False``), cuts it into global batches of ``batch_size *
    world_size`` and gives rank ``r`` the slice ``[r*batch_size, (r+1)*batch_size)`` of each.
    With several ranks the index list is padded by wrapping around so that every rank gets the
    same number of batches (as ``DistributedSampler`` does).

    Args:
        num_items: dataset length N.
        batch_size: items per batch on each rank.
        shuffle: permute the items each epoch.
        seed: base seed; the permutation of epoch e depends only on (seed, e).
        drop_last: drop the last incomplete global batch.
        rank, world_size: this process's shard.
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"{type(self).__name__}: expected batch_size >= 1, got {batch_size}.")
        if not 0 <= rank < world_size:
            raise ValueError(
                f"{type(self).__name__}: expected 0 <= rank < world_size, got rank={rank}, "
                f"world_size={world_size}."
            )
        self.num_items, self.batch_size, self.shuffle = num_items, batch_size, shuffle
        self.seed, self.drop_last, self.rank, self.world_size = seed, drop_last, rank, world_size
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next iteration yields (also clears ``skip``)."""
        self.epoch = epoch
        self._skip = 0

    def skip(self, num_batches: int) -> None:
        """Drop the first ``num_batches`` batches of the next iteration (resume mid-epoch)."""
        self._skip = num_batches

    def _order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.num_items)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.num_items)

    def _global_batches(self) -> list[np.ndarray]:
        order = self._order()
        gb = self.batch_size * self.world_size
        if self.world_size > 1 and not self.drop_last and len(order) % self.world_size:
            pad = self.world_size - len(order) % self.world_size
            order = np.concatenate([order, np.resize(order, pad)])
        batches = [order[i : i + gb] for i in range(0, len(order), gb)]
        if batches and self.drop_last and len(batches[-1]) < gb:
            batches.pop()
        return batches

    def _shard(self, global_batch: np.ndarray) -> list[int]:
        if self.world_size == 1:
            return global_batch.tolist()
        per_rank = len(global_batch) // self.world_size
        return global_batch[self.rank * per_rank : (self.rank + 1) * per_rank].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        skip, self._skip = self._skip, 0
        for gbatch in self._global_batches()[skip:]:
            yield self._shard(gbatch)

    def __len__(self) -> int:
        gb = self.batch_size * self.world_size
        n = self.num_items
        if self.world_size > 1 and not self.drop_last:
            n = math.ceil(n / self.world_size) * self.world_size
        return n // gb if self.drop_last else math.ceil(n / gb)


class BucketBatchSampler(SeededBatchSampler):
    """Like :class:`SeededBatchSampler`, but groups items of similar length to cut padding.

    Each epoch: permute (seeded), cut into pools of ``batch_size * world_size * pool_factor``
    items, sort each pool by length, cut pools into global batches, then shuffle the batch order
    (seeded). Sequences in a batch then have similar lengths, so little compute goes to padding.

    Args:
        lengths: length of each item (N values).
        batch_size: items per batch on each rank.
        pool_factor: how many batches' worth of items are sorted together (larger = less
            padding, less randomness).
        shuffle, seed, drop_last, rank, world_size: as for :class:`SeededBatchSampler`.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        pool_factor: int = 50,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__(
            len(lengths), batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
            rank=rank, world_size=world_size,
        )
        if pool_factor < 1:
            raise ValueError(f"BucketBatchSampler: expected pool_factor >= 1, got {pool_factor}.")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.pool_factor = pool_factor

    def _global_batches(self) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch, 1])
        order = self._order()
        gb = self.batch_size * self.world_size
        if self.world_size > 1 and not self.drop_last and len(order) % self.world_size:
            pad = self.world_size - len(order) % self.world_size
            order = np.concatenate([order, np.resize(order, pad)])
        pool = gb * self.pool_factor
        batches: list[np.ndarray] = []
        for p in range(0, len(order), pool):
            chunk = order[p : p + pool]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + gb] for i in range(0, len(chunk), gb))
        if self.drop_last:
            batches = [b for b in batches if len(b) == gb]
        if self.shuffle and len(batches) > 1:
            perm = rng.permutation(len(batches))
            batches = [batches[i] for i in perm]
        return batches

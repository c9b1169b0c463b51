"""Scale-out on torch.distributed: the trainer runs unchanged under ``torchrun``.

``torchrun --nproc_per_node=N script.py`` starts N processes and sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them, joins
the process group (``gloo`` on CPU, ``nccl`` on GPU) and picks this process's device. The
trainer then wraps the model in ``DistributedDataParallel`` (gradients are averaged across
ranks), shards each global batch across ranks, and writes checkpoints and logs on rank 0 only.
Several machines: the same command with ``--nnodes=M --node_rank=i --rdzv_endpoint=HOST:PORT``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistContext", "all_reduce_max", "all_reduce_sum", "barrier", "init_distributed"]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size``; ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True with more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes checkpoints and logs."""
        return self.rank == 0


def init_distributed(device: str = "auto") -> DistContext:
    """Join the process group described by torchrun's environment (no-op without it).

    Args:
        device: the trainer's device setting; ``gloo`` is used for CPU, ``nccl`` for CUDA.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(),
                       local_rank=local_rank)


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum of ``t`` over ranks (``t`` itself when not distributed)."""
    if _active():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_reduce_max(t: torch.Tensor) -> torch.Tensor:
    """Element-wise max of ``t`` over ranks (``t`` itself when not distributed)."""
    if _active():
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if _active():
        dist.barrier()

"""Training in several processes with ``torch.distributed``: started by ``torchrun`` (gloo on
the CPU, NCCL on GPUs), one process per device, every process holding the whole model.

The split of work is the data-parallel one that keeps a run comparable to one process: every
process draws the same random numbers (data order, missing-modality draws, flips) for the whole
global batch of ``batch_size`` cases and trains on its own contiguous share of it, so the
gradient averaged over the processes is the one-process gradient of that batch (up to the order
of float sums, each process's BatchNorm statistics over its share, and its dropout masks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from mmcrnet.errors import InvalidArgument


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: ``rank`` of ``world`` processes (0 of 1 alone)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0  # on this machine (torchrun's LOCAL_RANK)

    @property
    def main(self) -> bool:
        """The process that writes checkpoints, the model and progress."""
        return self.rank == 0

    @property
    def local_main(self) -> bool:
        """The first process on its machine: it fills the machine's caches for the others."""
        return self.local_rank == 0

    def share(self, rows: np.ndarray) -> np.ndarray:
        """This process's contiguous share of a global batch's ``rows`` (positions into it)."""
        return np.array_split(np.arange(len(rows)), self.world)[self.rank]

    def gather(self, values: np.ndarray) -> np.ndarray:
        """Every process's ``values`` (each its share of rows), concatenated in rank order."""
        if self.world == 1:
            return values
        parts: list[Any] = [None] * self.world
        dist.all_gather_object(parts, values)
        return np.concatenate(parts)

    def total(self, value: float) -> float:
        """``value`` summed over the processes."""
        if self.world == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor)
        return float(tensor[0])

    def agree(self, decision: bool) -> bool:
        """The main process's ``decision``, the same in every process (a wall-time stop)."""
        if self.world == 1:
            return decision
        flag = torch.tensor([int(decision)])
        dist.broadcast(flag, 0)
        return bool(flag[0])

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def current() -> Ranks:
    """The run this process belongs to (one process when torch.distributed is not started)."""
    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        return Ranks(dist.get_rank(), dist.get_world_size(), local)
    return Ranks()


def start_from_environment(device: torch.device) -> tuple[Ranks, torch.device]:
    """Join the process group that ``torchrun`` describes in the environment (``WORLD_SIZE``,
    ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT``); alone when there is none.

    NCCL for CUDA, each process on GPU ``LOCAL_RANK``; gloo on the CPU.

    Returns:
        the ranks and the device this process trains on.
    Raises:
        InvalidArgument: more processes on a machine than it has GPUs.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks(), device
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise InvalidArgument(
                f"process {local} on this machine has no GPU of its own "
                f"({torch.cuda.device_count()} GPUs): use --nproc-per-node "
                f"{torch.cuda.device_count()} or fewer"
            )
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return current(), device


def stop() -> None:
    """Leave the process group (when one was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["Ranks", "current", "start_from_environment", "stop"]

"""Wall times of a step over repeats, the way every benchmark here takes them: warm-up calls
first, CUDA synchronised around each timed call, milliseconds; :class:`Timing` summarises."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Timing:
    """Milliseconds of one step over the repeats."""

    median: float
    p95: float
    what: str = ""

    @classmethod
    def of(cls, values: list[float], what: str = "") -> Timing:
        return cls(
            round(float(np.median(values)), 2), round(float(np.percentile(values, 95)), 2), what
        )


def timed(
    step: Callable[[], object], repeats: int, device: torch.device, warmup: int = 3
) -> list[float]:
    """``repeats`` wall times in ms after ``warmup`` calls (CUDA synchronised)."""
    for _ in range(warmup):
        step()
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append((time.perf_counter() - started) * 1000)
    return out


def timed_alternately(
    first: Callable[[], object],
    second: Callable[[], object],
    repeats: int,
    device: torch.device,
    warmup: int = 3,
) -> tuple[list[float], list[float]]:
    """Wall times in ms of two steps taken in turn, ``repeats`` each after ``warmup`` turns:
    a peer and ours see the same moments of a noisy machine, so their ratio is fair."""
    for _ in range(warmup):
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for step, out in ((first, times[0]), (second, times[1])):
            out.extend(timed(step, 1, device, warmup=0))
    return times

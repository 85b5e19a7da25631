"""What a benchmark section returns, and a small median helper shared by the sections."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    area: str
    name: str
    value: float
    unit: str
    note: str = ""


def median_seconds(action: Callable[[], object], *, repeat: int = 5) -> float:
    """Median wall time of `action` over `repeat` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)

"""What a benchmark section returns (a figure, its spread, its target) and the summaries sections share."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    """One published figure: the median of `samples` runs (with min–max), or a single value (`samples` 1).

    `limit` is the issue's target where it has one: the figure meets it when `value <= limit`.
    """

    area: str
    name: str
    value: float
    unit: str
    note: str = ""
    low: float | None = None
    high: float | None = None
    samples: int = 1
    limit: float | None = None

    @property
    def met(self) -> bool | None:
        return None if self.limit is None else self.value <= self.limit


def summary(
    area: str, name: str, values: Sequence[float], unit: str, note: str = "", *, limit: float | None = None
) -> Measurement:
    """Median, min and max of `values`."""
    return Measurement(
        area,
        name,
        statistics.median(values),
        unit,
        note,
        low=min(values),
        high=max(values),
        samples=len(values),
        limit=limit,
    )


def median_seconds(action: Callable[[], object], *, repeat: int = 5) -> float:
    """Median wall time of `action` over `repeat` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


@dataclass(frozen=True)
class BenchOptions:
    """How much each section runs: the published figures use the defaults; the smoke test runs tiny ones."""

    repeat: int = 15
    words: int = 1000
    streams: int = 50
    items: int = 200

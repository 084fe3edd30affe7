"""Statistics for the bench: percentiles of few samples, summaries and ratios.

Pure functions only, so the numbers the report prints are unit-tested apart from the
noisy measurements they are computed from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks.

    This is numpy's default ("linear", Hyndman-Fan type 7). With the few samples a bench
    takes (3 in --quick), the nearest-rank method would make p95 simply the maximum and
    p50 jump between samples; interpolation degrades more gracefully and is what readers
    of numpy or pandas output expect. None for no samples.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0-100")
    if not samples:
        return None
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


@dataclass(frozen=True)
class Summary:
    """Order statistics of one measured quantity, in seconds (or MiB for memory)."""

    n: int
    p50: float | None
    p95: float | None
    min: float | None
    max: float | None
    mean: float | None

    def to_json(self) -> dict[str, float | int | None]:
        return {key: rounded(value) for key, value in asdict(self).items()}


def summarize(samples: Sequence[float]) -> Summary:
    """p50, p95, min, max and mean of `samples`; all None when there are none."""
    if not samples:
        return Summary(n=0, p50=None, p95=None, min=None, max=None, mean=None)
    return Summary(
        n=len(samples),
        p50=percentile(samples, 50),
        p95=percentile(samples, 95),
        min=min(samples),
        max=max(samples),
        mean=sum(samples) / len(samples),
    )


def ratio(value: float | None, floor: float | None) -> float | None:
    """value / floor, or None when either is missing or the floor is not positive.

    A ratio against a floor measured in the same run is what makes figures comparable on
    a shared, noisy machine; a missing floor must not turn into a made-up number.
    """
    if value is None or floor is None or floor <= 0:
        return None
    return value / floor


def added(value: float | None, floor: float | None) -> float | None:
    """value - floor: the seconds the stack adds, or None when either is missing.

    The ratio's companion: when the lab image itself starts faster, the floor drops and
    the ratio rises even though the stack adds no more than before.
    """
    if value is None or floor is None:
        return None
    return value - floor


def rounded(value: float | int | None, digits: int = 3) -> float | int | None:
    if value is None or isinstance(value, int):
        return value
    return round(value, digits)

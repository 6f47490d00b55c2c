"""Summary statistics shared by the benchmark scripts."""

from __future__ import annotations


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile of ``values`` by linear interpolation between the closest ranks (NaN when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = pct / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

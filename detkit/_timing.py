"""Median-of-repeats timing shared by ``detkit demo`` and the benchmark runner in bench/."""

from __future__ import annotations

import time
from typing import Callable


def median_seconds(fn: Callable[[], object], *, repeats: int = 7, min_time: float = 0.05,
                   max_time: float = 10.0) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` measurements.

    Fast calls are looped inside each measurement until it lasts ``min_time`` (the per-call time
    is reported); one warm-up call comes first. Repeats stop early when ``max_time`` is spent.
    """
    start = time.perf_counter()
    fn()
    single = time.perf_counter() - start
    loops = max(1, int(min_time / single)) if single > 0 else 1000
    samples = []
    budget_start = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - t0) / loops)
        if time.perf_counter() - budget_start > max_time:
            break
    samples.sort()
    mid = len(samples) // 2
    return samples[mid] if len(samples) % 2 else 0.5 * (samples[mid - 1] + samples[mid])

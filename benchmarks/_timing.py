"""Timing helpers shared by the benchmarks (wall clock and process CPU time, seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall, process CPU) seconds of one call of ``run()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - t0, time.process_time() - c0


def best_time(run: Callable[[], object], repeats: int, warmup: bool = False) -> float:
    """Best wall time (s) of ``repeats`` calls of ``run()``, after one untimed call when
    ``warmup`` (imports, caches, a model shipped to workers)."""
    if warmup:
        run()
    return min(timed(run)[0] for _ in range(repeats))

"""A small timing harness: warm-up, repeated runs, medians with spread.

These machines are noisy, so every figure is a median over repeats with its
spread, and every comparison is a ratio of two figures measured in the same
run. Each ``benchmarks/bench_*.py`` module exposes ``run(quick: bool) ->
BenchResult``; ``bearing-bench`` runs them all and writes RESULTS.md/JSON.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Timing:
    """Seconds per call: median and spread over ``repeats`` repeats."""

    median: float
    p10: float
    p90: float
    min: float
    repeats: int
    calls_per_repeat: int

    def as_dict(self) -> dict[str, float]:
        return {"median_s": self.median, "p10_s": self.p10, "p90_s": self.p90, "min_s": self.min,
                "repeats": self.repeats, "calls_per_repeat": self.calls_per_repeat}

    def fmt(self, unit: str = "auto") -> str:
        return f"{format_seconds(self.median, unit)} ({format_seconds(self.p10, unit)}-{format_seconds(self.p90, unit)})"


def format_seconds(s: float, unit: str = "auto") -> str:
    if unit == "auto":
        unit = "s" if s >= 1 else "ms" if s >= 1e-3 else "us"
    factor = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
    return f"{s * factor:.3g} {unit}"


def measure(fn: Callable[[], Any], *, repeats: int = 7, warmup: int = 1, min_time: float = 0.05,
            calls: int | None = None) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed batches.

    Each batch makes ``calls`` calls (chosen so one batch takes at least
    ``min_time`` seconds when not given), like ``timeit.Timer.autorange``.
    """
    for _ in range(warmup):
        fn()
    if calls is None:
        calls = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            if time.perf_counter() - t0 >= min_time or calls >= 1_000_000:
                break
            calls *= 2
    per_call = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call.append((time.perf_counter() - t0) / calls)
    per_call.sort()
    q = statistics.quantiles(per_call, n=10, method="inclusive") if len(per_call) > 1 else per_call * 9
    return Timing(statistics.median(per_call), q[0], q[-1], per_call[0], repeats, calls)


@dataclass
class BenchResult:
    """What one benchmark module reports: raw figures for JSON, a section for RESULTS.md."""

    name: str
    title: str
    figures: dict[str, Any] = field(default_factory=dict)
    markdown: str = ""
    #: each goal this benchmark checks, in words, and whether this run met it (``bearing-bench`` exits 1 on a miss)
    goals: dict[str, bool] = field(default_factory=dict)

"""The feature computation per snapshot: what the Pi does once per snapshot before scoring.

``edge_agent.features.registry.mean_abs`` on one real snapshot as the agent receives it
(20,480 x 4 int16 counts), against the obvious float route (convert the counts
to physical values, then ``np.abs(x).mean(axis=0)``), measured in the same run.
A snapshot holds 1.024 s of signal, so "x real time" is 1.024 s / time.

Run: ``python -m benchmarks.bench_features``.
"""
from __future__ import annotations

import numpy as np

from benchmarks.harness import BenchResult, measure
from edge_agent.features.registry import mean_abs
from firmware_io.recordings.ims import IMS_SAMPLE_RATE_HZ, IMS_SCALE
from firmware_io.recordings.reader import iter_snapshots
from firmware_io.recordings import ims as datasets


def run(quick: bool = False) -> BenchResult:
    snap = next(iter(iter_snapshots([datasets.RAW_TEST2_DIR])))
    counts = snap.as_counts(IMS_SCALE)
    seconds_of_signal = counts.shape[0] / IMS_SAMPLE_RATE_HZ

    def float_route() -> np.ndarray:
        return np.abs(counts.astype(np.float64) * IMS_SCALE).mean(axis=0)

    kit_values, float_values = mean_abs(counts, IMS_SCALE), float_route()
    agree = float(np.abs(kit_values - float_values).max())
    repeats = 5 if quick else 15
    kit = measure(lambda: mean_abs(counts, IMS_SCALE), repeats=repeats)
    alt = measure(float_route, repeats=repeats)
    figures = {
        "snapshot_shape": list(counts.shape), "kit_s": kit.as_dict(), "float_route_s": alt.as_dict(),
        "kit_x_real_time": seconds_of_signal / kit.median, "ratio_float_over_kit": alt.median / kit.median,
        "max_abs_difference": agree,
    }
    md = (f"One real IMS test-2 snapshot as the agent receives it ({counts.shape[0]:,} x {counts.shape[1]} int16 "
          f"counts, {seconds_of_signal:.3f} s of signal); the two routes agree to {agree:.1e}.\n\n"
          "| route | time per snapshot | x real time |\n|---|---:|---:|\n"
          f"| kit: `mean_abs(counts, scale)` (int64 sum, scale after the mean) | {kit.fmt()} | "
          f"{seconds_of_signal / kit.median:,.0f}x |\n"
          f"| float route: counts -> float64 values -> `abs().mean()` | {alt.fmt()} | "
          f"{seconds_of_signal / alt.median:,.0f}x |\n\n"
          f"The kit's route takes {kit.median / alt.median:.2f}x the time of the float route "
          f"and is exact for int16 (no `abs(-32768)` overflow, no rounding of the scale per sample).\n")
    return BenchResult("features", "Feature computation per snapshot", figures, md)


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv).markdown)

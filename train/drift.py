"""Is the healthy period stationary? Measure each feature's drift before a model learns it.

A model learns "healthy" as the range the training period covered. When the level is
still moving at the end of that period (a machine warming up over days, a lubricant
ageing, a load creeping up), the level leaves the learned range days later with no fault
at all: every detector tried on IMS test 2 with injected drifts (LSTM autoencoder,
z-score, PCA) false-alarmed then, and counting hours of healthy data cannot see it.

The measurement, per feature: a straight line fitted over the **latest half** of the
healthy period (a run-in at the start has settled by then and is not where the level is
heading), its slope per day in two units:

- ``percent_per_day``: relative to the feature's mean over that half, for people;
- ``spread_per_day``: relative to the scatter around the line (its standard deviation),
  for the decision: a slope of 1 spread per day moves the level out of a range a few
  spreads wide within days.

``fit`` refuses the period when any feature *rises* by more than
:data:`DEFAULT_LIMIT_SPREAD_PER_DAY` spreads per day, unless the user accepts the drift
explicitly. A falling level is reported but not refused: settling after a run-in falls,
and the real healthy period of IMS test 2 falls by 1.4 spreads/day (bearing 2) without a
false alarm, while rises of 0.7 spreads/day already false-alarmed.
The limit and its evidence (the real healthy periods of IMS tests 1 and 2 pass; injected
drifts that false-alarm are refused): ``docs/training.md``, ``benchmarks/bench_condition.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: A rise above this many spreads per day over the latest half of the healthy period is refused.
#: Measured (``python -m benchmarks.bench_condition --drift``): the real healthy periods rise by
#: at most 0.28 (test 1) and do not rise at all (test 2); +1 %/day injected on test 2 is 0.73 and
#: false-alarms, +0.5 %/day is 0.32 and does not.
DEFAULT_LIMIT_SPREAD_PER_DAY = 0.5
#: Fewer snapshots than this in the latest half and the slope is too noisy to judge.
MIN_SNAPSHOTS = 24


@dataclass(frozen=True)
class FeatureDrift:
    """The trend of one feature over the latest half of the healthy period."""

    name: str
    percent_per_day: float
    spread_per_day: float
    days: float

    def describe(self) -> str:
        return (f"{self.name}: {self.percent_per_day:+.2f} %/day ({self.spread_per_day:+.2f} spreads/day "
                f"over the last {self.days:.1f} days)")


def measure_drift(timestamps: np.ndarray, X: np.ndarray, names: Sequence[str]) -> list[FeatureDrift]:
    """:class:`FeatureDrift` of each column of ``X`` ``(n, n_features)`` over the latest half of ``timestamps``.

    Empty when that half holds fewer than :data:`MIN_SNAPSHOTS` snapshots.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(names) or len(timestamps) != X.shape[0]:
        raise ValueError(f"X must be (n, {len(names)}) with n = {len(timestamps)} timestamps, got {X.shape}")
    days = (np.asarray(timestamps, dtype="datetime64[s]") - np.asarray(timestamps[0], dtype="datetime64[s]")
            ).astype(np.float64) / 86400.0
    late = days >= days[-1] / 2
    if late.sum() < MIN_SNAPSHOTS:
        return []  # too few to judge; fit's healthy-data warning already says the period is short
    t = days[late]
    design = np.column_stack([t - t.mean(), np.ones_like(t)])
    coefficients, *_ = np.linalg.lstsq(design, X[late], rcond=None)
    slope, mean = coefficients
    spread = (X[late] - design @ coefficients).std(axis=0)
    span = float(t[-1] - t[0])
    out = []
    for j, name in enumerate(names):
        percent = 100.0 * slope[j] / abs(mean[j]) if mean[j] != 0 else 0.0
        per_spread = slope[j] / spread[j] if spread[j] > 0 else 0.0
        out.append(FeatureDrift(str(name), float(percent), float(per_spread), span))
    return out


#: What ``fit`` does with a refused period: stop before training, write the model flagged
#: (``metadata.json`` ``drift.refused`` and the first warning), or write it with the drift accepted.
ON_DRIFT = ("refuse", "flag", "accept")


def drift_refusal(drifts: Sequence[FeatureDrift],
                  limit_spread_per_day: float = DEFAULT_LIMIT_SPREAD_PER_DAY) -> str | None:
    """Why this healthy period should not be learned (the drifting features and what to do), or None."""
    moving = [d for d in drifts if d.spread_per_day > limit_spread_per_day]
    if not moving:
        return None
    moving.sort(key=lambda d: -d.spread_per_day)
    lines = "\n  ".join(d.describe() for d in moving[:6])
    more = f"\n  ... and {len(moving) - 6} more" if len(moving) > 6 else ""
    return (f"the healthy period is not stationary: {len(moving)} feature(s) still rise by more than "
            f"{limit_spread_per_day} spreads/day over its latest half:\n  {lines}{more}\n"
            "A model of this period would false-alarm once the level leaves the range it learned. "
            "Keep learning until the level settles, leave the moving part out with --exclude, "
            "or accept the drift with --accept-drift (the threshold then has no margin for it).")

"""How much healthy data is enough? The measurement behind ``fit``'s healthy-data warning.

``python -m benchmarks.healthy_amount`` trains the default model (default rule and
debounce) on the first N snapshots of IMS test 2, for several N and 3 seeds, and
counts alarm onsets in the rest of the healthy period (up to 2004-02-16 03:12:39,
when bearing 1's degradation shows). ``train.fit.MIN_HEALTHY_WINDOWS`` is set from
this table (docs/training.md). A few minutes on 2 cores (15 fits, two at a time).
"""
from __future__ import annotations

import sys

import numpy as np

from benchmarks import fits
from edge_agent.features.table import format_timestamp, read_feature_table
from firmware_io.recordings import ims as datasets

HEALTHY_UNTIL = np.datetime64("2004-02-16T03:12:39")
SIZES = (48, 96, 144, 216, 288)
SEEDS = (0, 1, 2)


def run() -> str:
    stamps = read_feature_table(datasets.FEATURES_TEST2).timestamps
    keys = {(n, seed): fits.key(datasets.FEATURES_TEST2, format_timestamp(stamps[n - 1]), seed=seed)
            for n in SIZES for seed in SEEDS}
    fits.prefit(keys.values())
    lines = ["| healthy snapshots (hours) | seeds with false alarms | false alarm onsets per seed |",
             "|---|---|---|"]
    for n in SIZES:
        counts = []
        for seed in SEEDS:
            onsets = fits.fitted(*keys[(n, seed)]).scores.alarm_onsets()
            counts.append(int((onsets <= HEALTHY_UNTIL).sum()))
        hours = (stamps[n - 1] - stamps[0]) / np.timedelta64(1, "h")
        lines.append(f"| {n} ({hours:.0f} h) | {sum(c > 0 for c in counts)} of {len(SEEDS)} | "
                     f"{', '.join(map(str, counts))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(run())
    sys.exit(0)

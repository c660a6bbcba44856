"""Condition-monitoring features: their cost per snapshot, what they detect on IMS test 2, and drift at fit time.

Three measurements, each against its real data:

1. cost of each feature family on one real snapshot (20,480 x 4 int16), us and x real time,
   next to the kit's mean |x|;
2. detection on the packed full test 2 (raw, 984 snapshots; skipped with the reason when
   absent): feature set x decision rule, with a per-feature z-score detector (deterministic:
   no training seed), first alarm, false alarms before the first defective snapshot
   (2004-02-16 03:12:39), the margin at that snapshot, and the feature that rose most there,
   named as bearing and defect;
3. drift: linear ramps injected into the committed test-2 mean |x| table (synthetic:
   values x (1 + r x days since the first snapshot), on bearing 1 or on all channels),
   whether the z-score false-alarms on the ramp, and whether ``train.drift`` refuses it at fit time.

Run: ``python -m benchmarks.bench_condition [--quick]``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.baselines import ZScoreDetector
from benchmarks.harness import BenchResult, measure
from edge_agent.features.bearing import DEFECT_PARTS, IMS_BEARING, IMS_SHAFT_HZ
from edge_agent.features.condition import CONDITION_FEATURES, ConditionSettings, SnapshotAnalysis, defect_of
from edge_agent.features.registry import mean_abs
from edge_agent.features.table import FeatureTable, parse_timestamp, read_feature_table
from edge_agent.scoring.detection import debounce
from firmware_io.recordings import ims as datasets
from firmware_io.recordings.reader import iter_snapshots, load_packed
from train.drift import drift_refusal, measure_drift
from train.threshold import sustained_max

ONSET = "2004-02-16 03:12:39"
#: The two-level rule's immediate level: 1.5 x each feature's healthy excursion above its mean.
IMMEDIATE = 1.5
SETTINGS = ConditionSettings(bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ)
FEATURE_SETS = {
    "mean |x|": ("mean_abs",),
    "envelope peak/median (4 defects)": tuple(f"env_{d}_ptm" for d in DEFECT_PARTS),
    "mean |x| + envelope peak/median": ("mean_abs",) + tuple(f"env_{d}_ptm" for d in DEFECT_PARTS),
    "level + shape (rms, peak, crest, kurtosis)": ("rms", "peak", "crest_factor", "kurtosis"),
}


def features_of(counts: np.ndarray, scale: float, names: tuple[str, ...]) -> np.ndarray:
    """One snapshot's vector, for each feature, for each channel (the registry's order)."""
    analysis = SnapshotAnalysis(counts, scale, datasets.IMS_SAMPLE_RATE_HZ)
    return np.concatenate([mean_abs(counts, scale) if n == "mean_abs" else CONDITION_FEATURES[n].read(analysis, SETTINGS)
                           for n in names])


def condition_table(npz: Path, cache: Path) -> FeatureTable:
    """Every feature of every snapshot of the packed test 2, computed once and cached as a feature table."""
    names = ("mean_abs",) + tuple(CONDITION_FEATURES)
    if cache.exists():
        return read_feature_table(cache)
    rec = load_packed(npz)
    rows = np.array([features_of(rec.counts[i], rec.scale, names) for i in range(len(rec.counts))])
    channels = [f"Bearing {c}" for c in range(1, rec.counts.shape[2] + 1)]
    table = FeatureTable(rec.timestamps, [f"{ch} {n}" for n in names for ch in channels], rows)
    table.write(cache)
    return table


def _cost(quick: bool) -> tuple[dict, str]:
    counts = next(iter(iter_snapshots([datasets.RAW_TEST2_DIR]))).as_counts(datasets.IMS_SCALE)
    seconds = counts.shape[0] / datasets.IMS_SAMPLE_RATE_HZ
    families = {
        "mean |x| (the kit's)": lambda: mean_abs(counts, datasets.IMS_SCALE),
        "rms + peak + crest + kurtosis": lambda: features_of(counts, datasets.IMS_SCALE,
                                                             ("rms", "peak", "crest_factor", "kurtosis")),
        "velocity RMS 10-1000 Hz": lambda: features_of(counts, datasets.IMS_SCALE, ("velocity_rms",)),
        "envelope at 4 defects (12 features)": lambda: features_of(
            counts, datasets.IMS_SCALE, tuple(n for n in CONDITION_FEATURES if defect_of(n))),
        "all 18 features": lambda: features_of(counts, datasets.IMS_SCALE, ("mean_abs",) + tuple(CONDITION_FEATURES)),
    }
    figures, lines = {}, ["| features | time per snapshot | x real time |", "|---|---:|---:|"]
    for label, fn in families.items():
        m = measure(fn, repeats=3 if quick else 9)
        figures[label] = {"s": m.as_dict(), "x_real_time": seconds / m.median}
        lines.append(f"| {label} | {m.fmt()} | {seconds / m.median:,.0f}x |")
    return figures, "\n".join(lines)


def _detect(table: FeatureTable, names: tuple[str, ...], healthy: np.ndarray, onset: int, two_level: bool) -> dict:
    columns = [i for i, c in enumerate(table.channel_names) if c.split(" ", 2)[-1] in names]
    X = table.values[:, columns]
    detector = ZScoreDetector().fit(X[healthy])
    z = np.abs((X - detector.mean_) / detector.std_)
    score = z.max(axis=1)
    threshold = 1.2 * sustained_max(score[healthy], 3)
    alarm = debounce(score > threshold, 3)
    # two-level: each feature against its own healthy excursion (1.0 = the healthy maximum); above
    # IMMEDIATE of it the alarm comes at once (k = 1), otherwise the kit's k = 3 rule decides
    excursion = (X - detector.mean_) / (X[healthy].max(axis=0) - detector.mean_)
    immediate = IMMEDIATE
    if two_level:
        alarm = alarm | np.maximum.accumulate(excursion.max(axis=1) > immediate)
        score = excursion.max(axis=1)
        z = excursion
    onsets = np.flatnonzero(np.diff(np.concatenate([[0], alarm.astype(np.int8)])) == 1)
    first = onsets[onsets >= onset]
    top = int(np.argmax(z[onset]))
    column = table.channel_names[columns[top]]
    defect = defect_of(column.split(" ", 2)[-1])
    return {
        "first_alarm": str(table.timestamps[first[0]]) if len(first) else None,
        "false_alarms": int((onsets < onset).sum()),
        "margin_at_onset": float(score[onset] / (immediate if two_level else threshold)),
        "named_at_onset": f"{column.rsplit(' ', 1)[0].lower()}" + (f", {DEFECT_PARTS[defect]}" if defect else ""),
    }


def _detection(table: FeatureTable) -> tuple[dict, str]:
    healthy = table.timestamps <= parse_timestamp(datasets.TEST2_TRAIN_UNTIL)
    onset = int(np.flatnonzero(table.timestamps == parse_timestamp(ONSET))[0])
    figures, lines = {}, ["| features | rule | first alarm | false alarms before 03:12:39 | "
                          "score / alarm level at 03:12:39 | named at 03:12:39 |", "|---|---|---|---:|---:|---|"]
    for label, names in FEATURE_SETS.items():
        for rule, two_level in (("kit: 1.2 x sustained max, k = 3", False),
                                ("two-level: also at once above 1.5 x a feature's healthy excursion", True)):
            r = _detect(table, names, healthy, onset, two_level)
            figures[f"{label} / {rule}"] = r
            lines.append(f"| {label} | {rule} | {r['first_alarm']} | {r['false_alarms']} | "
                         f"{r['margin_at_onset']:.2f} | {r['named_at_onset']} |")
    return figures, "\n".join(lines)


def _drift() -> tuple[dict, str]:
    table = read_feature_table(datasets.FEATURES_TEST2)
    days = (table.timestamps - table.timestamps[0]) / np.timedelta64(1, "D")
    healthy = table.timestamps <= parse_timestamp(datasets.TEST2_TRAIN_UNTIL)
    before_onset = table.timestamps < parse_timestamp(ONSET)
    figures, lines = {}, ["| injected drift (synthetic) | max rise, spreads/day | z-score false-alarms | fit |",
                          "|---|---:|---|---|"]
    cases = [("none (real)", None, 0.0)] + [(f"+{r:g} %/day, {w}", w, r / 100)
                                           for w in ("bearing 1", "all channels") for r in (0.5, 1, 2, 5, 10)]
    for label, where, rate in cases:
        X = table.values.copy()
        if where == "bearing 1":
            X[:, 0] *= 1 + rate * days
        elif where:
            X *= (1 + rate * days)[:, None]
        detector = ZScoreDetector().fit(X[healthy])
        score = detector.score_samples(X)
        alarm = debounce(score > 1.2 * sustained_max(score[healthy], 3), 3)
        false_alarm = bool(alarm[before_onset & ~healthy].any())
        drifts = measure_drift(table.timestamps[healthy], X[healthy], table.channel_names)
        refused = drift_refusal(drifts) is not None
        rise = max(d.spread_per_day for d in drifts)
        figures[label] = {"max_spread_per_day": rise, "false_alarm": false_alarm, "refused": refused}
        lines.append(f"| {label} | {rise:+.2f} | {'yes' if false_alarm else 'no'} | "
                     f"{'refused' if refused else 'accepted'} |")
    t1 = read_feature_table(datasets.FEATURES_TEST1)
    keep = (t1.timestamps >= parse_timestamp("2003-10-29 00:00:00")) & \
           (t1.timestamps <= parse_timestamp("2003-11-15 23:59:59"))
    d1 = measure_drift(t1.timestamps[keep], t1.values[keep], t1.channel_names)
    figures["test 1 real"] = {"max_spread_per_day": max(d.spread_per_day for d in d1),
                              "refused": drift_refusal(d1) is not None}
    lines.append(f"| none (real test 1, 2003-10-29 .. 11-15, 8 channels) | "
                 f"{figures['test 1 real']['max_spread_per_day']:+.2f} | - | "
                 f"{'refused' if figures['test 1 real']['refused'] else 'accepted'} |")
    return figures, "\n".join(lines)


def run(quick: bool = False) -> BenchResult:
    figures: dict = {}
    figures["cost"], cost_md = _cost(quick)
    md = "Per-snapshot cost on one real test-2 snapshot (20,480 x 4 int16, 1.024 s of signal):\n\n" + cost_md + "\n\n"
    npz = datasets.full_test2_npz()
    if npz is None:
        md += f"Detection on raw test 2 skipped: {datasets.FULL_NPZ_MISSING}.\n\n"
    else:
        cache = Path(os.environ.get("BEARING_BENCH_OUT", tempfile.gettempdir())) / "condition_test2.csv"
        figures["detection"], det_md = _detection(condition_table(npz, cache))
        md += ("Detection on raw IMS test 2 (984 snapshots, trained until 2004-02-15 12:52:39), per-feature "
               "z-score (largest |z| over the chosen features and channels; deterministic, so one row stands "
               "for every seed):\n\n" + det_md + "\n\n")
    figures["drift"], drift_md = _drift()
    md += ("Drift at fit time (`train.drift`, limit +0.5 spreads/day over the latest half of the healthy period); "
           "the z-score column says whether the ramp false-alarms between the end of training and 03:12:39:\n\n"
           + drift_md + "\n")
    return BenchResult("condition", "Condition-monitoring features, detection and drift", figures, md)


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv).markdown)

"""Alarm levels on real recordings and on labelled synthetic scenarios injected into their healthy part.

For a trained model directory (``bearing-train fit``) and its feature table, the scenarios are applied to
the feature table *after* the commissioning period (synthetic: the recordings have no stopped machine, no
level step and no sensor dropout), the saved Keras model scores every snapshot, and the kit's own
judgement (:func:`edge_agent.scoring.judge.judge_series`, the device's code) decides states and levels:

- ``recording``: the table as recorded: first Alert and Danger;
- ``step +5/+10/+15 %``: one channel's level features x 1.05..1.15 from 12 h after commissioning to the
  defect onset (a re-mounted sensor, a changed load): must give 0 Alerts before the onset;
- ``drift +15 %``: the same channel rising linearly to +15 % by the onset;
- ``weekend stop``: 60 h at 1 % of the level (every feature of a level kind), then the machine restarts;
- ``dropout``: one channel at 2 % for 12 h.

Run: ``python -m benchmarks.bench_levels MODEL_DIR FEATURES.csv --onset "2004-02-16 03:12:39"``.
Prints one line per scenario: false Alerts before the onset, first Alert / Danger, states seen.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edge_agent.features.spec import FeatureSpec
from edge_agent.features.table import format_timestamp, parse_timestamp, read_feature_table
from edge_agent.scoring.baseline import LEVEL, kinds_of
from edge_agent.scoring.detection import make_windows, reconstruction_error
from edge_agent.scoring.diagnosis import far_over, feature_contributions
from edge_agent.scoring.judge import judge_series
from edge_agent.scoring.levels import Decision
from edge_agent.scoring.scaler import ScalerParams


def scenarios(X: np.ndarray, times: np.ndarray, spec: FeatureSpec, start: np.datetime64,
              onset: np.datetime64) -> dict[str, np.ndarray]:
    """Feature tables with one synthetic condition each, between ``start`` and ``onset``."""
    level_cols = np.array([k == LEVEL for k in kinds_of(spec)])
    ch0 = np.zeros(spec.n_features, bool)
    ch0[::spec.n_channels] = True  # the first channel's features
    during = (times >= start) & (times < onset)
    out = {"recording": X.copy()}
    for pct in (5, 10, 15):
        Y = X.copy()
        Y[np.ix_(during, level_cols & ch0)] *= 1 + pct / 100
        out[f"step +{pct} %"] = Y
    Y = X.copy()
    ramp = np.clip((times - start) / (onset - start), 0, 1)
    Y[:, level_cols & ch0] *= (1 + 0.15 * ramp)[:, None]
    Y[times >= onset][:, level_cols & ch0] = X[times >= onset][:, level_cols & ch0] * 1.15
    out["drift to +15 %"] = Y
    Y = X.copy()
    stop = during & (times < start + np.timedelta64(60, "h"))
    Y[np.ix_(stop, level_cols)] *= 0.01
    out["weekend stop (60 h at 1 %), restart"] = Y
    Y = X.copy()
    drop = during & (times < start + np.timedelta64(12, "h"))
    Y[np.ix_(drop, level_cols & ch0)] *= 0.02
    out["dropout of channel 1 (12 h)"] = Y
    return out


def run(model_dir: Path, table_path: Path, onset: str) -> list[dict]:
    import keras

    thr = json.loads((model_dir / "threshold.json").read_text())
    meta = json.loads((model_dir / "metadata.json").read_text())
    spec = FeatureSpec.from_dict(meta["feature_spec"])
    decision = Decision.from_threshold(thr, spec)
    model = keras.models.load_model(model_dir / "model.keras")
    scaler = ScalerParams.load(model_dir / "scaler.json")
    table = read_feature_table(table_path)
    times = table.timestamps
    until = parse_timestamp(meta["split"]["train_until"])
    onset_t = parse_timestamp(onset)
    start = until + np.timedelta64(12, "h")
    limits = np.asarray(thr["immediate"]["limits"]) if thr.get("immediate") else None
    rows = []
    for name, X in scenarios(table.values, times, spec, start, onset_t).items():
        w = make_windows(scaler.transform(X).astype(np.float32), spec.timesteps)
        rec = model.predict(w, batch_size=1024, verbose=0)
        err = np.concatenate([np.full(spec.timesteps - 1, np.nan), reconstruction_error(w, rec)])
        far = np.concatenate([np.zeros(spec.timesteps - 1, bool), far_over(feature_contributions(w, rec), limits)])
        over = np.nan_to_num(err) > thr["value"]
        state, level = judge_series(spec, decision, thr["debounce"], times, X, over, far, ~np.isnan(err))
        alert, danger = level != "normal", level == "danger"
        before = (times > until) & (times < onset_t)
        first = lambda m: format_timestamp(times[int(np.argmax(m))]) if m.any() else "never"  # noqa: E731
        rows.append({"scenario": name, "novel_before_onset": int((over & before).sum()),
                     "false_alerts": int((alert & before).sum()), "first_alert": first(alert & ~before & (times > until)),
                     "first_danger": first(danger & (times > until)),
                     "states": {s: int((state == s).sum()) for s in np.unique(state)}})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir", type=Path)
    p.add_argument("table", type=Path)
    p.add_argument("--onset", required=True, help="the first defective snapshot (scenarios end there)")
    a = p.parse_args(argv)
    for r in run(a.model_dir, a.table, a.onset):
        print(f"{r['scenario']:38s} novel before onset {r['novel_before_onset']:4d}  false Alerts {r['false_alerts']:3d}"
              f"  first Alert {r['first_alert']}  first Danger {r['first_danger']}  states {r['states']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

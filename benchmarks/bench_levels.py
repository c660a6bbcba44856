"""Alarm levels on real run-to-failure recordings, and on labelled synthetic scenarios injected into them.

One command, ``bearing-bench --only levels`` (or ``python -m benchmarks.bench_levels [--seeds 5] [--work DIR]``
for every row as JSON), trains the kit's default model
on each recording's commissioning period (``train.fit.fit_model_dir``, the same as ``bearing-train fit``) and
judges every snapshot with the device's own code (:func:`edge_agent.scoring.judge.judge_series`):

| recording | features | commissioning (what fit trains on) | defect |
|---|---|---|---|
| IMS test 2 (raw, ``../shared``) | mean \\|x\\| + envelope lines (``--bearing ims``) | until 2004-02-15 12:52:39 | bearing 1 outer race, first defective snapshot 2004-02-16 03:12:39 |
| IMS test 2 (committed table) | mean \\|x\\| | the same | the same |
| IMS test 1 (committed table) | mean \\|x\\|, 8 channels | 2003-10-29 .. 2003-11-15 (break-in left out) | bearings 3 and 4 at the end of the run |
| PRONOSTIA Bearing1_1, Bearing2_1 (``../shared``) | mean \\|x\\|, 2 channels, 25.6 kHz | the first 30 % of the run | run to failure (the end of the run) |

**What was tuned on what.** The limits (Alert +2 dB for levels, +6 dB for ratios; Danger +6 / +12 dB;
never below a feature's healthy scatter + a margin) were chosen on IMS test 2 (its healthy scatter and the
envelope line at the defect) and from the 15 % step requirement; IMS test 1 and both PRONOSTIA bearings were
not looked at before this benchmark ran: they are the held-out evidence for the limits. The margin was then
raised from 1 to 1.25 dB after PRONOSTIA 1_1's scenario run (a 15 % step alerted on a wide-scatter feature),
so those scenarios are no longer held-out evidence for the margin; IMS test 1's are.

Per recording the synthetic scenarios (labelled, the recordings have none of them) are injected into the
healthy part: they start right after commissioning (IMS) or 10 % of the run later (PRONOSTIA) and end at the
defect (IMS test 2) or, without a labelled onset, where the recording as recorded first leaves its commissioning
band on a level feature (its own wear has begun: PRONOSTIA 1_1 is +3 dB at mid-life), at most at 70 % of the run: level steps of +5/+10/+15 % on channel 1's level features, a drift to +15 %, a stop at 1 % of the
level (60 h or 60 % of the window, whichever is shorter; 30 % of it on PRONOSTIA) with its restart, and a
dropout of channel 1 at 2 % for as long. Each must give 0 Alerts inside it. Beside the kit, a **level rule without a model** (the Alert limit on the level
features alone, 3 in a row: what an "overall level over baseline" alarm in a vibration monitor does).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_agent.features.spec import FeatureSpec
from edge_agent.features.table import format_timestamp, parse_timestamp, read_feature_table
from benchmarks.harness import BenchResult
from edge_agent.scoring.baseline import LEVEL, kinds_of
from edge_agent.scoring.detection import debounce, make_windows, reconstruction_error
from edge_agent.scoring.diagnosis import far_over, feature_contributions
from edge_agent.scoring.judge import judge_series
from edge_agent.scoring.levels import Decision
from edge_agent.scoring.scaler import ScalerParams
from firmware_io.recordings import ims as datasets

ONSET_T2 = "2004-02-16 03:12:39"
T2_UNTIL = "2004-02-15 12:52:39"


@dataclass(frozen=True)
class Recording:
    name: str
    table: Path | None  # None: not available here (the reason is in ``missing``)
    train_until: str
    onset: str | None  # the first defective snapshot, when known; else the end of the run is the failure
    exclude: tuple[tuple[str, str], ...] = ()
    scenario_hours: float | None = 60.0  # the stop's length; None: 10 % of the run
    missing: str = ""


def recordings(work: Path) -> list[Recording]:
    """The recordings, ingested into ``work`` once (their feature tables are cached there)."""
    from train.ingest import ingest

    out: list[Recording] = []
    full = datasets.full_test2_npz()
    t2_env = work / "ims_test2_envelope.csv"
    if full is not None and not t2_env.exists():
        from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ
        from edge_agent.features.condition import WITH_BEARING_FEATURES, ConditionSettings
        ingest([full], t2_env, progress=False, features=WITH_BEARING_FEATURES,
               condition=ConditionSettings(bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ))
    out.append(Recording("IMS test 2, mean |x| + envelope", t2_env if full else None, T2_UNTIL, ONSET_T2,
                         missing="" if full else datasets.FULL_NPZ_MISSING))
    out.append(Recording("IMS test 2, mean |x|", datasets.FEATURES_TEST2, T2_UNTIL, ONSET_T2))
    out.append(Recording("IMS test 1, mean |x| (held out)", datasets.FEATURES_TEST1, "2003-11-15 23:59:59", None,
                         exclude=(("2003-10-22 00:00:00", "2003-10-28 23:59:59"),)))
    try:
        from firmware_io.recordings.pronostia import PRONOSTIA_READ_OPTIONS, pronostia_archive
    except ImportError:  # pragma: no cover - the recordings module is part of the kit
        pronostia_archive = None
    for bearing in ("1_1", "2_1"):
        archive = pronostia_archive(bearing) if pronostia_archive else None
        table = work / f"pronostia_{bearing}.csv"
        if archive is not None and not table.exists():
            import dataclasses
            ingest([archive], table, progress=False, names=("horizontal", "vertical"),
                   options=dataclasses.replace(PRONOSTIA_READ_OPTIONS, skip_bad=True))
        if archive is None:
            out.append(Recording(f"PRONOSTIA {bearing}, mean |x| (held out)", None, "", None,
                                 missing="../shared/data/pronostia is absent"))
            continue
        t = read_feature_table(table).timestamps
        until = format_timestamp(t[int(0.3 * len(t)) - 1])
        out.append(Recording(f"PRONOSTIA {bearing}, mean |x| (held out)", table, until, None, scenario_hours=None))
    return out


def scenarios(X: np.ndarray, times: np.ndarray, spec: FeatureSpec, start: np.datetime64, end: np.datetime64,
              stop_hours: float | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Feature tables with one synthetic condition each, and the mask of the snapshots it covers."""
    level_cols = np.array([k == LEVEL for k in kinds_of(spec)])
    ch0 = np.zeros(spec.n_features, bool)
    ch0[::spec.n_channels] = True  # channel 1's features
    during = (times >= start) & (times < end)
    out = {}
    for pct in (5, 10, 15):
        Y = X.copy()
        Y[np.ix_(during, level_cols & ch0)] *= 1 + pct / 100
        out[f"step +{pct} % on channel 1"] = (Y, during)
    Y = X.copy()
    ramp = np.clip((times - start) / (end - start), 0, 1)[:, None]
    Y[:, level_cols & ch0] *= np.where(during[:, None], 1 + 0.15 * ramp, 1.0)
    out["drift to +15 % on channel 1"] = (Y, during)
    # the stop ends inside the window, so that the restart (and its settle time) is judged too
    span = (end - start) * 0.3 if stop_hours is None else min(np.timedelta64(int(stop_hours * 3600), "s"),
                                                                 (end - start) * 0.6)
    Y = X.copy()
    stop = during & (times < start + span)
    Y[np.ix_(stop, level_cols)] *= 0.01
    out["stop at 1 %, then restart"] = (Y, during)
    Y = X.copy()
    Y[np.ix_(stop, level_cols & ch0)] *= 0.02
    out["dropout of channel 1 at 2 %"] = (Y, during)
    return out


def judge_model(model_dir: Path, X: np.ndarray, times: np.ndarray, model=None):
    """(state, level, over) of every snapshot of ``X`` with the model directory's Keras model and rules."""
    import keras

    thr = json.loads((model_dir / "threshold.json").read_text())
    spec = FeatureSpec.from_dict(json.loads((model_dir / "metadata.json").read_text())["feature_spec"])
    model = model or keras.models.load_model(model_dir / "model.keras")
    scaler = ScalerParams.load(model_dir / "scaler.json")
    w = make_windows(scaler.transform(X).astype(np.float32), spec.timesteps)
    rec = model.predict(w, batch_size=1024, verbose=0)
    pad = spec.timesteps - 1
    err = np.concatenate([np.full(pad, np.nan), reconstruction_error(w, rec)])
    limits = np.asarray(thr["immediate"]["limits"]) if thr.get("immediate") else None
    far = np.concatenate([np.zeros(pad, bool), far_over(feature_contributions(w, rec), limits)])
    over = np.nan_to_num(err) > thr["value"]
    state, level = judge_series(spec, Decision.from_threshold(thr, spec), thr["debounce"], times, X, over, far,
                                ~np.isnan(err))
    return state, level, over, model


def level_rule(model_dir: Path, X: np.ndarray) -> np.ndarray:
    """The baseline without a model: a level feature at its Alert limit (dB over the baseline), 3 in a row."""
    thr = json.loads((model_dir / "threshold.json").read_text())
    spec = FeatureSpec.from_dict(json.loads((model_dir / "metadata.json").read_text())["feature_spec"])
    decision = Decision.from_threshold(thr, spec)
    alert, _ = decision.levels.limits(decision.baseline)
    is_level = np.array([k == LEVEL for k in decision.baseline.kinds])
    over = ((decision.baseline.change_db(X) >= alert) & is_level).any(axis=1)
    return debounce(over, thr["debounce"])


def healthy_end(model_dir: Path, X: np.ndarray, times: np.ndarray, start: np.datetime64,
                latest: np.datetime64) -> np.datetime64:
    """The first snapshot after ``start`` where a level feature as recorded rose over the baseline by more than
    its own healthy scatter (the bearing's own change has begun there), or ``latest``."""
    thr = json.loads((model_dir / "threshold.json").read_text())
    spec = FeatureSpec.from_dict(json.loads((model_dir / "metadata.json").read_text())["feature_spec"])
    baseline = Decision.from_threshold(thr, spec).baseline
    is_level = np.array([k == LEVEL for k in baseline.kinds])
    left = ((baseline.change_db(X) > baseline.spread_db) & is_level).any(axis=1) & (times >= start) & (times < latest)
    return times[int(np.argmax(left))] if left.any() else latest


def hours(a: np.datetime64, b: np.datetime64) -> float:
    return float((b - a) / np.timedelta64(1, "s")) / 3600.0


def evaluate(rec: Recording, seed: int, work: Path) -> list[dict]:
    from train.fit import fit_model_dir

    table = read_feature_table(rec.table)
    spec_path = Path(str(rec.table) + ".spec.json")
    features = json.loads(spec_path.read_text()).get("features") if spec_path.exists() else None
    immediate = 1.75 if features and any(f.startswith("env_") for f in features) else None
    model_dir = work / f"{rec.table.stem}_seed{seed}"
    if not (model_dir / "threshold.json").exists():
        fit_model_dir(rec.table, model_dir, rec.train_until, seed=seed, exclude=rec.exclude, make_plots=False,
                      immediate=immediate, on_drift="accept")
    times, X = table.timestamps, table.values
    until = parse_timestamp(rec.train_until)
    end = times[-1]
    onset = parse_timestamp(rec.onset) if rec.onset else None
    after = times > until
    state, level, over, model = judge_model(model_dir, X, times)
    alert = (level != "normal") & after
    rule_recorded = level_rule(model_dir, X)
    rule = rule_recorded & after
    first = lambda m: times[int(np.argmax(m))] if m.any() else None  # noqa: E731
    fa, fd, fr = first(alert), first((level == "danger") & after), first(rule)
    false_alerts = int((alert & (times < onset)).sum()) if onset is not None else None
    onsets = int(np.sum(np.diff(np.r_[0, alert.astype(int)]) == 1))
    row = {"recording": rec.name, "seed": seed, "scenario": "as recorded",
           "first_alert": None if fa is None else format_timestamp(fa),
           "alert_lead_h": None if fa is None else round(hours(fa, end), 1),
           "first_danger": None if fd is None else format_timestamp(fd),
           "level_rule_lead_h": None if fr is None else round(hours(fr, end), 1),
           "alert_episodes": onsets, "false_alerts_before_onset": false_alerts,
           "stopped": int((state == "stopped").sum()), "sensor_fault": int((state == "sensor_fault").sum())}
    rows = [row]
    start = until + (np.timedelta64(10, "m") if rec.scenario_hours else (end - until) * 0.1)
    stop_end = onset if onset is not None else healthy_end(model_dir, X, times, start, until + (end - until) * 0.7)
    for name, (Y, during) in scenarios(X, times, FeatureSpec.from_dict(json.loads(
            (model_dir / "metadata.json").read_text())["feature_spec"]), start, stop_end, rec.scenario_hours).items():
        s, lv, ov, _ = judge_model(model_dir, Y, times, model)
        # false: an Alert inside the scenario where the recording as recorded had none (on a run to failure
        # without a labelled onset the window can hold real, rising wear: the recording's own alerts are not false)
        quiet = level == "normal"
        rows.append({"recording": rec.name, "seed": seed, "scenario": name,
                     "snapshots_inside": int(during.sum()), "novel_inside": int((ov & during).sum()),
                     "false_alerts": int(((lv != "normal") & during & quiet).sum()),
                     "level_rule_false": int((level_rule(model_dir, Y) & during & ~rule_recorded).sum()),
                     "states_inside": {str(k): int(((s == k) & during).sum()) for k in np.unique(s[during])}})
    return rows


def onset_changes(table_path: Path, until: str = T2_UNTIL, onset: str = ONSET_T2,
                  at: tuple[str, ...] = (ONSET_T2, "2004-02-16 03:32:39", "2004-02-16 06:12:39")) -> list[str]:
    """docs/training.md's table: each feature's rise in dB over the median of the healthy period (the baseline
    fit writes), while healthy, after training before the defect, and at the given snapshots."""
    from edge_agent.scoring.baseline import Baseline

    table = read_feature_table(table_path)
    spec_path = Path(str(table_path) + ".spec.json")
    spec = FeatureSpec.from_dict(json.loads(spec_path.read_text())) if spec_path.exists() else None
    healthy = table.timestamps <= parse_timestamp(until)
    baseline = Baseline.fit(spec, table.values[healthy]) if spec else None
    db = baseline.change_db(table.values) if baseline else None
    before = ~healthy & (table.timestamps < parse_timestamp(onset))
    lines = [f"{'feature':28} {'healthy rise':>12} {'before defect':>13} " + " ".join(f"{t[5:]:>15}" for t in at)]
    for j, name in enumerate(table.channel_names):
        row = [table.timestamps == parse_timestamp(t) for t in at]
        lines.append(f"{name:28} {baseline.spread_db[j]:+12.2f} {db[before, j].max():+13.2f} "
                     + " ".join(f"{db[r, j][0]:+15.2f}" for r in row))
    return lines


def evaluate_all(seeds: int, work: Path, echo: bool = False) -> tuple[list[dict], list[str]]:
    """Every row of every available recording (IMS test 2 over ``seeds`` seeds, the others one), and the
    recordings skipped here with the reason."""
    rows, skipped = [], []
    for rec in recordings(work):
        if rec.table is None:
            skipped.append(f"{rec.name}: {rec.missing}")
            continue
        for seed in range(seeds if rec.name.startswith("IMS test 2") else 1):
            for r in evaluate(rec, seed, work):
                rows.append(r)
                if echo:
                    print(json.dumps(r), flush=True)
    return rows, skipped


def summarise(rows: list[dict], skipped: list[str]) -> BenchResult:
    """The RESULTS.md section: per recording the first Alert and Danger over the seeds, the lead time against the
    level rule measured in the same run, and per scenario the false Alerts; the issue's targets as goals."""
    recorded = [r for r in rows if r["scenario"] == "as recorded"]
    names = list(dict.fromkeys(r["recording"] for r in recorded))
    cell = lambda name: name.replace("|", "\\|")  # noqa: E731  (mean |x| inside a Markdown table)
    lines = ["| recording | seeds | first Alert (each seed) | first Danger | Alert lead, h | level rule lead, h "
             "| false Alerts before the onset |", "|---|---|---|---|---|---|---|"]
    goals: dict[str, bool] = {}
    for name in names:
        mine = [r for r in recorded if r["recording"] == name]
        alerts = sorted({r["first_alert"] or "never" for r in mine})
        dangers = sorted({r["first_danger"] or "never" for r in mine})
        leads = [r["alert_lead_h"] for r in mine if r["alert_lead_h"] is not None]
        rule = sorted({r["level_rule_lead_h"] for r in mine}, key=lambda v: (v is None, v))
        false = [r["false_alerts_before_onset"] for r in mine]
        lines.append(f"| {cell(name)} | {len(mine)} | {', '.join(alerts)} | {', '.join(dangers)} | "
                     f"{', '.join(f'{v:g}' for v in sorted(set(leads))) or 'none'} | "
                     f"{', '.join('none' if v is None else f'{v:g}' for v in rule)} | "
                     f"{'n/a (no labelled onset)' if false[0] is None else max(false)} |")
        if name.startswith("IMS test 2") and "envelope" in name:
            goals[f"{name}: first Alert at the first defective snapshot ({ONSET_T2}) for every seed"] = all(
                r["first_alert"] == ONSET_T2 for r in mine)
        if name.startswith("IMS test 2"):
            goals[f"{name}: no Alert before the defect"] = all(r["false_alerts_before_onset"] == 0 for r in mine)
        if name.startswith("PRONOSTIA"):
            goals[f"{name}: an Alert before the end of life"] = all(r["first_alert"] is not None for r in mine)
    scen = [r for r in rows if r["scenario"] != "as recorded"]
    lines += ["", "Synthetic, labelled scenarios injected after commissioning (false Alerts inside each, summed over "
              "seeds; the level rule's beside it):", "",
              "| scenario | " + " | ".join(map(cell, names)) + " |", "|---|" + "---|" * len(names)]
    sizes = [next((str(r["snapshots_inside"]) for r in scen if r["recording"] == name), "-") for name in names]
    lines.append("| snapshots in the healthy window | " + " | ".join(sizes) + " |")
    for scenario in dict.fromkeys(r["scenario"] for r in scen):
        cells = []
        for name in names:
            mine = [r for r in scen if r["recording"] == name and r["scenario"] == scenario]
            empty = not mine or all(r["snapshots_inside"] == 0 for r in mine)  # no healthy part to inject into
            cells.append("-" if empty else
                         f"{sum(r['false_alerts'] for r in mine)} ({sum(r['level_rule_false'] for r in mine)})")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    goals["0 false Alerts in every no-defect scenario, on every recording"] = all(r["false_alerts"] == 0
                                                                               for r in scen)
    lines += ["", "Cells: the kit's false Alerts (the level rule's in brackets); '-': the recording left its "
              "commissioning band before the window began (no healthy part to inject into). The limits were chosen "
              "on IMS test 2; IMS test 1 and PRONOSTIA are held out for them, but the 1.25 dB margin was set after "
              "PRONOSTIA 1_1's scenarios (see the module docstring)."]
    lines += [f"- skipped: {s}" for s in skipped]
    return BenchResult("levels", "Alarm levels on run-to-failure recordings and labelled scenarios",
                       figures={"rows": rows, "skipped": skipped}, markdown="\n".join(lines), goals=goals)


def run(quick: bool = False) -> BenchResult:
    """For ``bearing-bench``: 5 seeds on IMS test 2 (1 when quick); the tables and models in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench-levels-") as work:
        rows, skipped = evaluate_all(1 if quick else 5, Path(work))
    return summarise(rows, skipped)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="training seeds for IMS test 2 (others: 1); default 5")
    p.add_argument("--work", type=Path, default=None, help="where tables and models are kept (default: a temp dir)")
    p.add_argument("--json", type=Path, default=None, help="write every row here too")
    p.add_argument("--changes-only", action="store_true",
                   help="print only each feature's rise in dB over the IMS test 2 baseline around the defect "
                        "(docs/training.md's table; no training)")
    a = p.parse_args(argv)
    work = a.work or Path(tempfile.mkdtemp(prefix="bench-levels-"))
    work.mkdir(parents=True, exist_ok=True)
    if a.changes_only:
        rec = recordings(work)[0]
        if rec.table is None:
            print(f"{rec.name}: skipped: {rec.missing}")
            return 0
        print("\n".join(onset_changes(rec.table)))
        return 0
    rows, skipped = evaluate_all(a.seeds, work, echo=True)
    result = summarise(rows, skipped)
    print(result.markdown)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    missed = [goal for goal, met in result.goals.items() if not met]
    for goal in missed:
        print(f"goal missed: {goal}")
    return 1 if missed else 0  # as bearing-bench: 1 = ran, and a goal was missed


if __name__ == "__main__":
    raise SystemExit(main())

"""``bearing-train report MODEL_DIR [--recording SOURCE...]``: what a model directory says, in a dozen lines.

``fit`` prints the same summary when it finishes, so a user sees at once the
threshold, the first alarm and whether the healthy period stayed quiet. With the
raw recording the model's table was ingested from, the snapshots in alarm are also
diagnosed from the physics (:mod:`edge_agent.diagnosis.offline`, the device's code)
against the commissioning baseline a bundle of this model would carry
(:func:`train.physics_baseline.build`), and the first one's envelope spectrum is
drawn against it (a PNG: defect frequencies and harmonics marked, the named lines circled).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from train import model_dir
from train.threshold import load_threshold


def configure(p: argparse.ArgumentParser) -> None:
    from train.ingest_cli import add_recording_options

    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help="a directory written by 'bearing-train fit'")
    g = p.add_argument_group("the physics diagnosis of the snapshots in alarm (docs/diagnosis.md)")
    g.add_argument("--recording", nargs="+", default=None, metavar="SOURCE",
                   help="the raw recording the model's feature table was ingested from (any form ingest reads)")
    g.add_argument("--bearing", default=None, metavar="ims|N,d,D,ANGLE",
                   help="the bearing, when the model was ingested without --bearing")
    g.add_argument("--shaft-rpm", type=float, default=None, help="nominal shaft speed, with --bearing")
    g.add_argument("--baseline-snapshots", type=int, default=None, metavar="N",
                   help="commissioning baseline: the first N snapshots of the healthy period (default 20, as "
                        "bearing-convert --physics-baseline stores it)")
    g.add_argument("--plot", type=Path, default=None, metavar="PNG",
                   help="where to draw the first alarming snapshot's envelope spectrum (default: "
                        "MODEL_DIR/envelope_spectrum_first_alarm.png)")
    add_recording_options(p)


def summary(path: str | Path) -> str:
    """The human summary of a model directory (reads only its JSON files and scores.csv)."""
    d = Path(path)
    meta = model_dir.read_json(d, model_dir.METADATA)
    thr = load_threshold(d / model_dir.THRESHOLD)
    s, tr, res = meta["split"], meta["training"], meta["result"]
    onsets = res["alarm_onsets"]
    false = [t for t in onsets if t <= s["train_until"]]
    plots = model_dir.plot_names(d)
    lines = [
        f"model directory   {d}",
        f"data              {meta['data']['path']} ({meta['data']['n_snapshots']} snapshots, "
        f"{meta['data']['first']} .. {meta['data']['last']}, sha256 {meta['data']['sha256'][:12]}...)",
        f"channels          {', '.join(meta['feature_spec']['channel_names'])}",
        f"healthy period    until {s['train_until']}: {s['n_healthy_snapshots']} snapshots "
        f"({s['n_train']} train, {s['n_validation']} validation), {s['n_test']} after",
        f"model             timesteps {meta['timesteps']}, {tr['n_parameters']} parameters, seed {meta['seed']}, "
        f"{tr['epochs']} epochs, batch {tr['batch_size']}",
        f"training          {meta['training_seconds']:.1f} s, final loss {tr['final_loss']:.4f}, "
        f"validation loss {tr['final_val_loss']:.4f}" if tr["final_val_loss"] is not None else
        f"training          {meta['training_seconds']:.1f} s, final loss {tr['final_loss']:.4f}",
        f"threshold         {thr['value']:.6g} ({thr['rule']}; {thr.get('description', '')})",
        f"first alarm       {res['first_alarm'] or 'none'}",
        f"alarm onsets      {len(onsets)}" + (f": {', '.join(onsets[:5])}{' ...' if len(onsets) > 5 else ''}" if onsets else ""),
        f"false alarms      {len(false)} in the healthy period" + (f" ({', '.join(false[:5])})" if false else ""),
        f"files             {', '.join(model_dir.FILES)}; plots: {', '.join(plots) or 'none'}",
    ]
    levels = thr.get("levels")
    if levels:  # the alarm levels (issue 20); older model directories have none
        idx = next(i for i, line in enumerate(lines) if line.startswith("first alarm"))
        lines.insert(idx, f"alarm levels      novel AND risen over the commissioning baseline: Alert at +"
                          f"{levels['alert_db_level']:g} dB (levels) / +{levels['alert_db_ratio']:g} dB (ratios), Danger "
                          f"at +{levels['danger_db_level']:g} / +{levels['danger_db_ratio']:g} dB; 'first alarm' is the "
                          "first Alert")
    recon = meta.get("reconstruction")
    if recon:  # older model directories have no such measurement
        tried = ", ".join(f"{t['seed']} ({'collapsed' if t['collapsed'] else 'learned'})" for t in recon["seeds_tried"])
        verdict = "learned" if recon["learned"] else "DID NOT LEARN (collapsed to a constant output)"
        lines.insert(6, f"reconstruction    {verdict}: output spread {min(recon['spread_ratio']):.2g}-"
                        f"{max(recon['spread_ratio']):.2g} of the input's, error {recon['error_vs_median']:.2f} x "
                        f"the distance to the healthy median; seeds tried: {tried}")
    if s.get("excluded"):
        lines.insert(4, f"excluded          {s['n_excluded_snapshots']} snapshots in "
                        + ", ".join(f"{a} .. {b}" for a, b in s["excluded"]))
    lines += [f"WARNING           {w}" for w in meta.get("warnings", [])]
    return "\n".join(lines)


def physics(path: str | Path, sources: list[str], options=None, bearing=None, shaft_hz: float | None = None,
            snapshots: int | None = None, plot: Path | None = None) -> list[str]:
    """Lines on the physics diagnosis of the model's snapshots in alarm, read from ``sources``; the first one's
    envelope spectrum drawn to ``plot`` (default: in the model directory)."""
    import numpy as np

    from train.physics_baseline import DEFAULT_SNAPSHOTS, build
    from edge_agent.diagnosis import bundle_section
    from edge_agent.diagnosis.offline import alarming, diagnose_alarms, summary as physics_summary
    from edge_agent.features.spec import FeatureSpec
    from edge_agent.features.table import parse_timestamp
    from edge_agent.scoring.scores import ScoreTable
    from train.diagnose import iter_recording
    from train.diagnose_plot import plot_envelope_spectrum

    d = Path(path)
    meta = model_dir.read_json(d, model_dir.METADATA)
    spec = FeatureSpec.from_dict(meta["feature_spec"])
    made = build(sources, spec, parse_timestamp(meta["split"]["train_until"]), options, bearing, shaft_hz,
                 snapshots or DEFAULT_SNAPSHOTS)  # the baseline a bundle of this model would carry
    carried = bundle_section.read({bundle_section.SECTION: made.section}, {bundle_section.BASELINE_FILE: made.file_bytes},
                                  spec)
    alarms = alarming(ScoreTable.read(d / "scores.csv"))
    recorded = ((r.snapshot.timestamp, r.snapshot.physical()) for r in iter_recording(sources, options))
    found = list(diagnose_alarms(carried, spec.sample_rate_hz, spec.channel_names, alarms, recorded))
    b = carried.baseline
    lines = [f"physics baseline  {b.n_snapshots} snapshots {carried.first} .. {carried.last} (the healthy start)"]
    lines += physics_summary(found, len(alarms))
    if found:
        first = found[0]
        out = plot or d / "envelope_spectrum_first_alarm.png"
        plot_envelope_spectrum(first.values, spec.sample_rate_hz, first.result, first.result.channel_index, out,
                               f"{str(np.datetime64(first.time, 's')).replace('T', ' ')} [{first.level}] "
                               f"{first.result.channel}", b)
        lines.append(f"  its envelope spectrum against the baseline -> {out}")
    return lines


def run(args: argparse.Namespace) -> int:
    print(summary(args.model_dir))
    if args.recording:
        from train.ingest_cli import parse_bearing, read_options

        bearing, shaft_hz = parse_bearing(args.bearing, args.shaft_rpm) if args.bearing else (None, None)
        for line in physics(args.model_dir, args.recording, read_options(args), bearing, shaft_hz,
                            args.baseline_snapshots, args.plot):
            print(line)
    return 0

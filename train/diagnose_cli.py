"""``bearing-train diagnose SOURCE... --bearing N,d,D,ANGLE --shaft-rpm RPM [--baseline SOURCE...] [--json]``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    from train.ingest_cli import add_recording_options

    p.add_argument("sources", nargs="+", metavar="SOURCE", help="recordings, in any form ingest reads "
                   "(docs/recordings.md)")
    p.add_argument("--bearing", required=True, metavar="ims|N,d,D,ANGLE",
                   help="'ims' (Rexnord ZA-2115 at 2000 rpm) or rolling elements, element diameter, pitch diameter "
                        "(same unit), contact angle in degrees")
    p.add_argument("--shaft-rpm", type=float, default=None, help="nominal shaft speed (default with --bearing ims: 2000)")
    p.add_argument("--baseline", nargs="+", default=None, metavar="SOURCE",
                   help="healthy recording(s) of the same machine, rate and snapshot length: lines are also "
                        "measured against its mean spectrum (dB over baseline)")
    p.add_argument("--baseline-snapshots", type=int, default=None, metavar="N",
                   help="use only the first N snapshots of the baseline")
    p.add_argument("--alarms", type=Path, default=None, metavar="MODEL_DIR|SCORES_CSV",
                   help="diagnose only the snapshots in alarm in this score table (a model directory's scores.csv, "
                        "or 'bearing-agent score' output), matched by time to the second; their level is printed")
    p.add_argument("--channel", default=None, metavar="NAME|N",
                   help="read only this channel (its name, e.g. 'Bearing 1', or 1-based number); default: every "
                        "channel, the one with the strongest evidence reported")
    p.add_argument("--sensor-unit", choices=("g", "m/s2"), default="g",
                   help="unit of the recorded values, for the velocity in mm/s (default g)")
    p.add_argument("--plot", type=Path, default=None, metavar="DIR",
                   help="write the envelope spectrum of every snapshot that names a part (and of the last one) "
                        "as DIR/<n>_<part>.png: against the baseline, defect frequencies marked, named lines circled")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per snapshot and line: time, source, part, confidence, evidence")
    add_recording_options(p)


def run(args: argparse.Namespace) -> int:
    from train.diagnose import alarming_times, diagnose_recording, read_baseline, time_text, velocity
    from train.ingest_cli import parse_bearing, read_options

    bearing, shaft_hz = parse_bearing(args.bearing, args.shaft_rpm)
    options = read_options(args)
    baseline = read_baseline(args.baseline, options, args.baseline_snapshots) if args.baseline else None

    def on_skip(path, why):
        print(f"skipped {path}: {why}", file=sys.stderr)

    import numpy as np

    from edge_agent.features.condition import STANDARD_GRAVITY_M_S2

    to_m_s2 = STANDARD_GRAVITY_M_S2 if args.sensor_unit == "g" else 1.0
    names = tuple(n.strip() for n in args.channel_names.split(",")) if args.channel_names else None
    alarms = alarming_times(args.alarms) if args.alarms is not None else None
    counts: dict[str, int] = {}
    last = None
    for k, (recorded, result) in enumerate(diagnose_recording(args.sources, bearing, shaft_hz, options, baseline,
                                                              on_skip, args.channel, names, alarms)):
        when = time_text(recorded.snapshot.timestamp)
        counts[result.part] = counts.get(result.part, 0) + 1
        values = recorded.snapshot.physical()
        channel = result.channel_index
        level = velocity(values, recorded.sample_rate_hz, channel, to_m_s2)
        alarm = {} if alarms is None else {"alarm": alarms[np.datetime64(recorded.snapshot.timestamp, "s")]}
        if args.json:
            extra = {} if level is None else {"velocity_rms_mm_s": round(level[0], 3), "iso_zone": level[1]}
            extra.update(alarm)
            print(json.dumps({"time": when, "source": recorded.snapshot.source, **result.to_dict(), **extra}),
                  flush=True)
        else:
            speed = "" if level is None else f"  {level[0]:.2f} mm/s (ISO 10816-3 zone {level[1]})"
            flag = f"  [{alarm['alarm']}]" if alarm else ""
            print(f"{when}{flag}  {result.part:<15} {result.confidence:4.2f}  {result.summary()}{speed}", flush=True)
        if args.plot is not None and result.part != "none":
            _plot(args.plot, k, when, values, recorded.sample_rate_hz, result, channel, baseline)
        last = (k, when, values, recorded.sample_rate_hz, result, channel)
    if args.plot is not None and last is not None and last[4].part == "none":
        _plot(args.plot, *last, baseline)
    if alarms is not None and not counts:
        print(f"bearing-train diagnose: none of the {len(alarms)} snapshots in alarm in {args.alarms} is in the "
              "recording (times are matched to the second)", file=sys.stderr)
    if not args.json:
        print("named: " + ", ".join(f"{part} {n}" for part, n in sorted(counts.items(), key=lambda kv: -kv[1])),
              file=sys.stderr)
    return 0


def _plot(folder: Path, k: int, when: str, values, rate: float, result, channel: int, baseline) -> None:
    from train.diagnose_plot import plot_envelope_spectrum

    plot_envelope_spectrum(values, rate, result, channel, folder / f"{k:05d}_{result.part}.png",
                           f"{when} {result.channel}", baseline)

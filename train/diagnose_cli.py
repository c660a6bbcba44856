"""``bearing-train diagnose SOURCE... --bearing N,d,D,ANGLE --shaft-rpm RPM [--baseline SOURCE...] [--json]``."""
from __future__ import annotations

import argparse
import json
import sys


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
    p.add_argument("--channel", default=None, metavar="NAME|N",
                   help="read only this channel (its name, e.g. 'Bearing 1', or 1-based number); default: every "
                        "channel, the one with the strongest evidence reported")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per snapshot and line: time, source, part, confidence, evidence")
    add_recording_options(p)


def run(args: argparse.Namespace) -> int:
    from train.diagnose import diagnose_recording, read_baseline, time_text
    from train.ingest_cli import parse_bearing, read_options

    bearing, shaft_hz = parse_bearing(args.bearing, args.shaft_rpm)
    options = read_options(args)
    baseline = read_baseline(args.baseline, options, args.baseline_snapshots) if args.baseline else None

    def on_skip(path, why):
        print(f"skipped {path}: {why}", file=sys.stderr)

    counts: dict[str, int] = {}
    for recorded, result in diagnose_recording(args.sources, bearing, shaft_hz, options, baseline, on_skip,
                                                  args.channel):
        when = time_text(recorded.snapshot.timestamp)
        counts[result.part] = counts.get(result.part, 0) + 1
        if args.json:
            print(json.dumps({"time": when, "source": recorded.snapshot.source, **result.to_dict()}), flush=True)
        else:
            print(f"{when}  {result.part:<15} {result.confidence:4.2f}  {result.summary()}", flush=True)
    if not args.json:
        print("named: " + ", ".join(f"{part} {n}" for part, n in sorted(counts.items(), key=lambda kv: -kv[1])),
              file=sys.stderr)
    return 0

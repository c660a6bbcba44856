"""``bearing-agent score``: score a feature table with a bundle, through the device's own decision path.

It runs the table through :func:`edge_agent.scoring.scorer.score_table` and
writes ``timestamp,error,over_threshold,alarm``, the columns of the training
step's ``scores.csv``, so the two can be compared row by row before the
bundle is deployed.

``python -m edge_agent.cli.score score|check-bundle ...`` is a standalone
entry with only these two subcommands: the tflite-runtime environment
(:mod:`convert.tflite_env`) runs it without the other agent subcommands.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np

from edge_agent.cli.bundle_options import add_bundle_options


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", required=True, help="bundle directory or .tar.gz (from bearing-convert)")
    p.add_argument("table", help="feature table CSV (timestamp,<channel>,...)")
    p.add_argument("-o", "--output", required=True, help="scores CSV to write")
    p.add_argument("--recording", nargs="+", default=None, metavar="SOURCE",
                   help="the raw recording the table was computed from (IMS files or folders, packed npz): the "
                        "snapshots in alarm are diagnosed from the physics against the bundle's commissioning "
                        "envelope spectrum, as the device does (other forms: bearing-train diagnose --alarms)")
    p.add_argument("--physics-json", default=None, metavar="PATH",
                   help="with --recording: one JSON object per diagnosed snapshot (time, level, part, confidence, "
                        "evidence), as bearing-train diagnose --json writes them")
    add_bundle_options(p)


def run(args: argparse.Namespace) -> int:
    from edge_agent.features.table import format_timestamp, read_feature_table
    from edge_agent.scoring.bundle import load_bundle
    from edge_agent.scoring.diagnosis import diagnose
    from edge_agent.scoring.scorer import score_table_with_contributions

    bundle = load_bundle(args.bundle, variant=args.variant, runtime=args.runtime)
    table = read_feature_table(args.table)
    scores, contributions = score_table_with_contributions(bundle, table)
    scores.write(args.output)
    n_over, n_alarm = int(scores.over_threshold.sum()), int(scores.alarm.sum())
    n_scored = int(np.isfinite(scores.error).sum())
    first = scores.first_alarm()
    first_text = format_timestamp(first) if first is not None else "never"
    print(f"scored {n_scored} of {len(table)} snapshots with {bundle.variant} on {bundle.runtime} "
          f"(bundle {bundle.bundle_id}): {n_over} over threshold {bundle.threshold:.6g}, "
          f"{n_alarm} in alarm, first alarm {first_text} -> {args.output}")
    if scores.alarm.any():  # where the error is when the alarm comes: the bearing, and the defect if the spec can tell
        i = int(np.flatnonzero(scores.alarm)[0])
        d = diagnose(bundle.spec, contributions[i])
        print(f"at the first alarm {format_timestamp(scores.timestamps[i])}: {d.text()} "
              f"({100 * d.channel_share:.0f} % of the error; the autoencoder's: where its error is)")
    if args.recording:
        _physics(bundle, scores, args.recording, args.physics_json)
    if n_scored == 0:  # a table of no decision must not pass for one with no alarm (a script checks the exit code)
        print(f"bearing-agent score: nothing could be scored: no snapshot of {args.table} got a finite error "
              f"(a table shorter than the model's {bundle.spec.timesteps} timesteps, or values the model cannot take, "
              "e.g. far outside the training range); exit code 1", file=sys.stderr)
        return 1
    return 0


def _physics(bundle, scores, sources: list[str], json_path: str | None) -> None:
    """The physics diagnosis of the snapshots in alarm, read from the raw recording (the device's code)."""
    from edge_agent.diagnosis.bundle_section import missing_reason
    from edge_agent.diagnosis.offline import alarming, diagnose_alarms, summary
    from edge_agent.strict_json import dumps
    from firmware_io.recordings.reader import RecordingError, iter_snapshots

    if bundle.physics is None:
        print(f"physics diagnosis: {missing_reason(bundle.spec)}")
        return
    alarms = alarming(scores)
    snapshots = ((s.timestamp, s.physical()) for s in iter_snapshots(sources))
    try:
        found = list(diagnose_alarms(bundle.physics, bundle.spec.sample_rate_hz, bundle.spec.channel_names, alarms,
                                     snapshots))
    except ValueError as exc:  # a recording of another rate, length or channel count than the bundle's
        raise RecordingError(f"{', '.join(sources)}: {exc}: give the recording the table was computed from") from None
    for line in summary(found, len(alarms)):
        print(line)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as fh:
            for d in found:
                fh.write(dumps({"time": str(d.time).replace("T", " "), "level": d.level, **d.result.to_dict()})
                         + "\n")
        print(f"  each diagnosed snapshot -> {json_path}")


def main(argv: Sequence[str] | None = None) -> int:
    """The standalone entry: ``score`` and ``check-bundle`` only, as ``bearing-agent`` defines them."""
    from edge_agent.cli.main import SUBCOMMANDS
    from firmware_io.cli_support import main_with_subcommands

    bundle_commands = {name: SUBCOMMANDS[name] for name in ("score", "check-bundle")}
    return main_with_subcommands("edge_agent.cli.score", "score or check a bundle with the device's code",
                                 bundle_commands, argv)


if __name__ == "__main__":
    sys.exit(main())

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
              f"({100 * d.channel_share:.0f} % of the error)")
    if n_scored == 0:  # a table of no decision must not pass for one with no alarm (a script checks the exit code)
        print(f"bearing-agent score: nothing could be scored: no snapshot of {args.table} got a finite error "
              f"(a table shorter than the model's {bundle.spec.timesteps} timesteps, or values the model cannot take, "
              "e.g. far outside the training range); exit code 1", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The standalone entry: ``score`` and ``check-bundle`` only, as ``bearing-agent`` defines them."""
    from edge_agent.cli.main import SUBCOMMANDS
    from firmware_io.cli_support import main_with_subcommands

    bundle_commands = {name: SUBCOMMANDS[name] for name in ("score", "check-bundle")}
    return main_with_subcommands("edge_agent.cli.score", "score or check a bundle with the device's code",
                                 bundle_commands, argv)


if __name__ == "__main__":
    sys.exit(main())

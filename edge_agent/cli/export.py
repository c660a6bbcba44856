"""``bearing-agent export``: the journal's features as a feature table, for retraining.

The selection is :func:`edge_agent.export.journal_features`; this prints
what was written and the ``bearing-train fit`` options that carry the
stream's sample rate and snapshot length into the new bundle. ``--scores`` writes the same
snapshots' scoring columns beside it (:func:`edge_agent.export.write_scores`).
"""
from __future__ import annotations

import argparse

from edge_agent.cli.journal_options import add_journal_options, journal_from_args
from edge_agent.export import ExportError, journal_features, parse_utc_time, write_scores


def _when(text: str) -> float:
    """argparse shows an ArgumentTypeError's message as is (a ValueError only as 'invalid value')."""
    try:
        return parse_utc_time(text)
    except ExportError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def configure(p: argparse.ArgumentParser) -> None:
    add_journal_options(p)
    p.add_argument("--since", type=_when, help="first snapshot time to export (UTC), default: all")
    p.add_argument("--until", type=_when, help="export snapshots before this time (UTC)")
    p.add_argument("--device", help="only snapshots from this device id")
    p.add_argument("--exclude-alarms", action="store_true",
                   help="leave out snapshots taken while an alarm or a sensor fault was shown")
    p.add_argument("-o", "--output", required=True, help="feature table CSV to write")
    p.add_argument("--scores", metavar="CSV", help="also write what the model said about the same snapshots: error, "
                   "threshold, over/alarm, state, inference time, where the error is, the diagnosis and the error "
                   "per feature")


def run(args: argparse.Namespace) -> int:
    journal = journal_from_args(args)
    try:
        export = journal_features(journal, since=args.since, until=args.until, device_id=args.device,
                                  exclude_alarms=args.exclude_alarms)
    finally:
        journal.close()
    table, rate, length = export.table, export.sample_rate_hz, export.samples_per_snapshot
    table.write(args.output)
    stamps = table.timestamp_strings()
    print(f"wrote {len(table)} snapshots x {len(table.channel_names)} channels ({stamps[0]} .. {stamps[-1]}) "
          f"to {args.output}")
    if args.scores:
        write_scores(export, args.scores)
        diagnosed = sum(r["diagnosis"] is not None for r in export.rows)
        print(f"wrote their scores ({sum(r['error'] is not None for r in export.rows)} scored, {diagnosed} with a "
              f"diagnosis) to {args.scores}")
    if export.dropped:
        print(f"note: {export.dropped} snapshots shared a second with the previous one and were left out "
              "(the table has one-second timestamps)")
    # The CSV holds features only: the stream they came from must reach the bundle's spec,
    # or the agent refuses the new bundle on reload.
    spec = f"--sample-rate {rate}" + (f" --snapshot-length {length}" if length else "")
    print(f"recorded at {rate} Hz{f', {length} samples a snapshot' if length else ''}: "
          f"train with 'bearing-train fit {args.output} {spec} --train-until ... --out ...'")
    return 0

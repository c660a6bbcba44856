"""``bearing-agent export``: the journal's features as a feature table, for retraining.

The selection is :func:`edge_agent.export.select`, streamed to the CSV by
:func:`edge_agent.export.write_export`; this prints what was written and the
``bearing-train fit`` options that carry the stream's sample rate and snapshot
length into the new bundle. ``--scores`` writes the same snapshots' scoring
columns beside it. ``-o -`` writes the table to standard output (the messages go to standard error).
"""
from __future__ import annotations

import argparse
import functools
import sys

from edge_agent.cli.journal_options import add_journal_options, journal_from_args
from edge_agent.export import OutputError, check_output, select, write_export
from firmware_io.time_text import FORMS, TimeTextError, parse_time, unix_seconds


def _when(text: str) -> float:
    """argparse shows an ArgumentTypeError's message as is (a ValueError only as 'invalid value')."""
    try:
        return unix_seconds(parse_time(text))
    except TimeTextError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def configure(p: argparse.ArgumentParser) -> None:
    add_journal_options(p)
    p.add_argument("--since", type=_when, help=f"first snapshot time to export, {FORMS}; default: all")
    p.add_argument("--until", type=_when, help="export snapshots before this time (the same forms)")
    p.add_argument("--device", help="only snapshots from this device id")
    p.add_argument("--exclude-alarms", action="store_true",
                   help="leave out snapshots taken while an alarm or a sensor fault was shown")
    p.add_argument("-o", "--output", required=True,
                   help="feature table CSV to write (a regular file in an existing directory; - for standard output)")
    p.add_argument("--scores", metavar="CSV", help="also write what the model said about the same snapshots: error, "
                   "threshold, over/alarm, state, inference time, where the error is, the diagnosis and the error "
                   "per feature")


def run(args: argparse.Namespace) -> int:
    for path in (args.output, args.scores):  # refused before the journal is read
        if path is not None:
            check_output(path)
    if args.scores == "-" or (args.scores and args.scores == args.output):
        raise OutputError("--scores needs a file of its own (the feature table goes to -o)")
    journal = journal_from_args(args)
    try:
        selection = select(journal, since=args.since, until=args.until, device_id=args.device,
                           exclude_alarms=args.exclude_alarms)
        written = write_export(selection, args.output, args.scores)
    finally:
        journal.close()
    # With -o - the table is standard output: what this says goes to standard error.
    say = functools.partial(print, file=sys.stderr if args.output == "-" else sys.stdout)
    say(f"wrote {written.rows} snapshots x {len(selection.columns)} features ({written.first} .. {written.last}) "
        f"to {'standard output' if args.output == '-' else args.output}")
    if args.scores:
        say(f"wrote their scores ({written.scored} scored, {written.diagnosed} with a diagnosis) to {args.scores}")
    if selection.dropped:
        say(f"note: {selection.dropped} snapshots shared a second with the previous one and were left out "
            "(the table has one-second timestamps)")
    # The CSV holds features only: the stream they came from must reach the bundle's spec,
    # or the agent refuses the new bundle on reload.
    rate, length = selection.sample_rate_hz, selection.samples_per_snapshot
    spec = f"--sample-rate {rate}" + (f" --snapshot-length {length}" if length else "")
    table = "table.csv" if args.output == "-" else args.output
    say(f"recorded at {rate} Hz{f', {length} samples a snapshot' if length else ''}: "
        f"train with 'bearing-train fit {table} {spec} --train-until ... --out ...'")
    return 0

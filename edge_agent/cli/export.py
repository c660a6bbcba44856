"""``bearing-agent export``: the journal's features as a feature table, for retraining.

This is how a user retrains on their own machine's healthy data: run the
agent (in learning mode, or scoring), export a period the machine was known
to be healthy, and give the CSV to ``bearing-train fit``. The CSV is the
training step's own format (:class:`edge_agent.features.table.FeatureTable`).
"""
from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timezone

import numpy as np

from edge_agent.features.table import FeatureTable
from edge_agent.journal import Journal
from edge_agent.cli.status import _journal_args, open_journal_or_report

log = logging.getLogger(__name__)


class ExportError(ValueError):
    """Nothing sensible to export; the message says what to change."""


def parse_when(text: str) -> float:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM[:SS]`` (UTC) -> unix seconds."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS' (UTC)")


def configure_export(p: argparse.ArgumentParser) -> None:
    _journal_args(p)
    p.add_argument("--since", type=parse_when, help="first snapshot time to export (UTC), default: all")
    p.add_argument("--until", type=parse_when, help="export snapshots before this time (UTC)")
    p.add_argument("--device", help="only snapshots from this device id")
    p.add_argument("--exclude-alarms", action="store_true",
                   help="leave out snapshots taken while an alarm or a sensor fault was shown")
    p.add_argument("-o", "--output", required=True, help="feature table CSV to write")


def journal_features(journal: Journal, *, since: float | None = None, until: float | None = None,
                     device_id: str | None = None, exclude_alarms: bool = False) -> tuple[FeatureTable, int, int]:
    """The selected snapshots as a table, how many rows were dropped for a repeated second, the sample rate."""
    rows = journal.snapshots(since=since, until=until, device_id=device_id)
    if exclude_alarms:
        rows = [r for r in rows if r["state"] not in ("alarm", "fault")]
    if not rows:
        raise ExportError("no recorded snapshots match (check --since/--until/--device, or let the agent run longer)")
    layouts = {(r["device_id"], tuple(r["channel_names"] or ()), r["sample_rate_hz"]) for r in rows}
    if len({(names, rate) for _, names, rate in layouts}) > 1:
        listing = "; ".join(f"device {d!r}: {list(n)} at {r} Hz" for d, n, r in sorted(layouts))
        raise ExportError(f"the selected snapshots come from streams with different channels or rates ({listing}); "
                          "a model learns one kind of stream: pick one with --device or a time range")
    _, names, rate = next(iter(layouts))
    names = list(names)
    # The table's timestamps have one-second resolution and must increase strictly.
    stamps, values, dropped = [], [], 0
    for r in sorted(rows, key=lambda r: r["time"]):
        second = np.datetime64(int(r["time"]), "s")
        if stamps and second <= stamps[-1]:
            dropped += 1
            continue
        stamps.append(second)
        values.append(r["features"])
    table = FeatureTable(np.array(stamps, dtype="datetime64[s]"), names, np.array(values, dtype=np.float64))
    return table, dropped, int(rate)


def main_export(args: argparse.Namespace) -> int:
    journal = open_journal_or_report(args, "export")
    if journal is None:
        return 2
    try:
        table, dropped, rate = journal_features(journal, since=args.since, until=args.until,
                                                device_id=args.device, exclude_alarms=args.exclude_alarms)
        length = journal.get_state("samples_per_snapshot")
    except ExportError as exc:
        print(f"bearing-agent export: {exc}", file=sys.stderr)
        return 1
    finally:
        journal.close()
    table.write(args.output)
    stamps = table.timestamp_strings()
    first, last = stamps[0], stamps[-1]
    print(f"wrote {len(table)} snapshots x {len(table.channel_names)} channels ({first} .. {last}) to {args.output}")
    if dropped:
        print(f"note: {dropped} snapshots shared a second with the previous one and were left out "
              "(the table has one-second timestamps)")
    # The CSV holds features only: the stream they came from must reach the bundle's spec,
    # or the agent refuses the new bundle on reload.
    spec = f"--sample-rate {rate}" + (f" --snapshot-length {length}" if length else "")
    print(f"recorded at {rate} Hz{f', {length} samples a snapshot' if length else ''}: "
          f"train with 'bearing-train fit {args.output} {spec} --train-until ... --out ...'")
    return 0

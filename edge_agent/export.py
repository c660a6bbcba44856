"""The journal's recorded features as a feature table, for retraining on this machine's own data.

This is how a user retrains on their own machine: run the agent (in learning
mode, or scoring), export a period the machine was known to be healthy, and
give the CSV to ``bearing-train fit`` with the stream's sample rate and
snapshot length (the CSV holds features only; the agent refuses a bundle
whose spec does not match the live stream). The CSV is the training step's own
format (:class:`edge_agent.features.table.FeatureTable`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from edge_agent.features.table import FeatureTable
from edge_agent.journal import Journal
from firmware_io.errors import BearingEdgeError

#: Accepted by :func:`parse_utc_time`, most precise first.
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S")


class ExportError(BearingEdgeError, ValueError):
    """Nothing sensible to export; the message says what to change."""

    #: Like grep finding nothing: the journal was read, but no rows fit the selection.
    exit_code = 1


def parse_utc_time(text: str) -> float:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM[:SS]`` (UTC) -> unix seconds."""
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    raise ExportError(f"{text!r} is not a date: use YYYY-MM-DD or 'YYYY-MM-DD HH:MM:SS' (UTC)")


@dataclass(frozen=True)
class JournalExport:
    """The selected snapshots as a feature table, and the stream they were recorded from."""

    table: FeatureTable
    #: rows left out because they fell in the same second as the previous one
    dropped: int
    sample_rate_hz: int
    #: samples per channel in a snapshot, as the agent last journaled it (None: never journaled)
    samples_per_snapshot: int | None


def journal_features(journal: Journal, *, since: float | None = None, until: float | None = None,
                     device_id: str | None = None, exclude_alarms: bool = False) -> JournalExport:
    """The snapshots recorded in ``since <= time < until`` (UTC unix seconds), optionally of one device.

    ``exclude_alarms`` leaves out snapshots taken while an alarm or a sensor
    fault was shown. Raises :class:`ExportError` when nothing matches, or when
    the selection mixes streams of different channels or sample rates (a model
    learns one kind of stream).
    """
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
    # The table's timestamps have one-second resolution and must increase strictly.
    stamps, values, dropped = [], [], 0
    for r in sorted(rows, key=lambda r: r["time"]):
        second = np.datetime64(int(r["time"]), "s")
        if stamps and second <= stamps[-1]:
            dropped += 1
            continue
        stamps.append(second)
        values.append(r["features"])
    table = FeatureTable(np.array(stamps, dtype="datetime64[s]"), list(names), np.array(values, dtype=np.float64))
    return JournalExport(table, dropped, int(rate), journal.get_state("samples_per_snapshot"))

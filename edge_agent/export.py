"""The journal's recorded features as a feature table, for retraining on this machine's own data.

This is how a user retrains on their own machine: run the agent (in learning
mode, or scoring), export a period the machine was known to be healthy, and
give the CSV to ``bearing-train fit`` with the stream's sample rate and
snapshot length (the CSV holds features only; the agent refuses a bundle
whose spec does not match the live stream). The CSV is the training step's own
format (:class:`edge_agent.features.table.FeatureTable`).

What the model said about the same snapshots (error, threshold, decisions, the
inference time, the error per feature and the diagnosis: the journal's scoring
columns) goes to a second CSV, :func:`write_scores`: a feature table holds features
only, so ``fit`` never takes an error column for a feature.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.atomic import atomic_output
from edge_agent.features.table import FeatureTable, format_timestamp
from edge_agent.journal import Journal
from edge_agent.journal.reader import feature_names
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
    #: the journal rows behind the table's rows, in the same order (their scoring columns: :func:`write_scores`)
    rows: tuple[dict[str, Any], ...] = ()
    #: the names of each row's contributions (the scoring bundle's feature names when the journal has them)
    contribution_names: tuple[str, ...] = ()


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
    stamps, values, kept, dropped = [], [], [], 0
    for r in sorted(rows, key=lambda r: r["time"]):
        second = np.datetime64(int(r["time"]), "s")
        if stamps and second <= stamps[-1]:
            dropped += 1
            continue
        stamps.append(second)
        values.append(r["features"])
        kept.append(r)
    # Named by the scoring bundle's features when the journal has them ("Bearing 1 env_bpfo_ptm": a spec
    # of several features per channel); the default mean |x| spec's names are the bare channel names.
    columns = feature_names(kept[-1], journal.feature_names_by_bundle()) if len(values[-1]) != len(names) else names
    table = FeatureTable(np.array(stamps, dtype="datetime64[s]"), list(columns), np.array(values, dtype=np.float64))
    return JournalExport(table, dropped, int(rate), journal.get_state("samples_per_snapshot"), tuple(kept),
                         tuple(columns))


#: The scores CSV's columns before the contributions (one ``<feature> contribution`` column each).
SCORE_COLUMNS = ("timestamp", "error", "threshold", "over_threshold", "alarm", "state", "bundle_id", "latency_ms",
                 "inference_s", "top_channel", "top_share", "diagnosis")


def write_scores(export: JournalExport, path: str | Path) -> None:
    """The exported snapshots' scoring columns as a CSV (atomically), one row per feature-table row.

    Empty cells where the journal has nothing: an unscored snapshot, or a row journaled
    before schema version 2 (no inference time, contributions or diagnosis).
    """
    names = [f"{n} contribution" for n in export.contribution_names]

    def cell(value: Any) -> str:
        if value is None:
            return ""
        return repr(float(value)) if isinstance(value, float) else str(value)

    with atomic_output(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([*SCORE_COLUMNS, *names])
        for stamp, r in zip(export.table.timestamps, export.rows):
            contributions = r["contributions"] if r["contributions"] and len(r["contributions"]) == len(names) \
                else [None] * len(names)
            writer.writerow([format_timestamp(stamp), *(cell(r[c]) for c in SCORE_COLUMNS[1:]),
                             *(cell(v) for v in contributions)])

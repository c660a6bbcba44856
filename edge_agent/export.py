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

Rows are streamed from the journal to the CSV, one batch in memory at a time
(a year's 500,000 rows read as a list took 1 GB: a Pi 3 has 1 GB), and the
output must be a regular file (or ``-``, standard output): a device node, a
symbolic link or a directory is refused, and no missing directory is created.
"""
from __future__ import annotations

import csv
import os
import stat
import sys
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np

from edge_agent.atomic import atomic_output
from edge_agent.features.table import FeatureTable, format_timestamp
from edge_agent.journal import Journal
from edge_agent.journal.reader import feature_names
from firmware_io.errors import BearingEdgeError

class ExportError(BearingEdgeError, ValueError):
    """Nothing sensible to export; the message says what to change."""

    #: Like grep finding nothing: the journal was read, but no rows fit the selection.
    exit_code = 1


class OutputError(ExportError):
    """An ``-o`` / ``--scores`` target that must not be written: a usage error."""

    exit_code = 2


@dataclass
class Selection:
    """The snapshots an export reads: checked against the journal (one kind of stream), not read yet."""

    journal: Journal
    since: float | None
    until: float | None
    device_id: str | None
    exclude_states: tuple[str, ...]
    #: the feature columns (the scoring bundle's feature names, or the channel names)
    columns: tuple[str, ...]
    sample_rate_hz: int
    #: samples per channel in a snapshot, as the agent last journaled it (None: never journaled)
    samples_per_snapshot: int | None
    #: rows left out because they fell in the same second as the previous one (counted by :meth:`rows`)
    dropped: int = field(default=0)

    def rows(self) -> Iterator[tuple[np.datetime64, dict[str, Any]]]:
        """(second, journal row) in time order, one per second (the table's timestamps must increase strictly)."""
        previous = None
        for r in self.journal.iter_snapshots(since=self.since, until=self.until, device_id=self.device_id,
                                             exclude_states=self.exclude_states):
            second = np.datetime64(int(r["time"]), "s")
            if previous is not None and second <= previous:
                self.dropped += 1
                continue
            if len(r["features"]) != len(self.columns):
                raise ExportError(f"the snapshot of {format_timestamp(second)} has {len(r['features'])} features, "
                                  f"the newest selected {len(self.columns)}: the range spans bundles with different "
                                  "features; export one bundle's period (--since/--until)")
            previous = second
            yield second, r


def select(journal: Journal, *, since: float | None = None, until: float | None = None,
           device_id: str | None = None, exclude_alarms: bool = False) -> Selection:
    """The snapshots recorded in ``since <= time < until`` (UTC unix seconds), optionally of one device.

    ``exclude_alarms`` leaves out snapshots taken while an alarm or a sensor
    fault was shown. Raises :class:`ExportError` when nothing matches, or when
    the selection mixes streams of different channels or sample rates (a model
    learns one kind of stream).
    """
    exclude = ("alarm", "fault") if exclude_alarms else ()
    where = dict(since=since, until=until, device_id=device_id, exclude_states=exclude)
    layouts = journal.snapshot_layouts(**where)
    if not layouts:
        raise ExportError("no recorded snapshots match (check --since/--until/--device, or let the agent run longer)")
    if len({(names, rate) for _, names, rate in layouts}) > 1:
        listing = "; ".join(f"device {d!r}: {list(n)} at {r} Hz" for d, n, r in sorted(layouts, key=str))
        raise ExportError(f"the selected snapshots come from streams with different channels or rates ({listing}); "
                          "a model learns one kind of stream: pick one with --device or a time range")
    _, names, rate = layouts[0]
    newest = next(journal.iter_snapshots(**where, newest_first=True, batch=1))
    # Named by the scoring bundle's features when the journal has them ("Bearing 1 env_bpfo_ptm": a spec
    # of several features per channel); the default mean |x| spec's names are the bare channel names.
    columns = (feature_names(newest, journal.feature_names_by_bundle()) if len(newest["features"]) != len(names)
               else list(names))
    return Selection(journal, since, until, device_id, exclude, tuple(columns), int(rate),
                     journal.get_state("samples_per_snapshot"))


@dataclass(frozen=True)
class JournalExport:
    """The selected snapshots as a feature table in memory (small selections: tests, notebooks)."""

    table: FeatureTable
    #: rows left out because they fell in the same second as the previous one
    dropped: int
    sample_rate_hz: int
    #: samples per channel in a snapshot, as the agent last journaled it (None: never journaled)
    samples_per_snapshot: int | None


def journal_features(journal: Journal, **selection: Any) -> JournalExport:
    """:func:`select` (same keywords), read into one :class:`FeatureTable`."""
    sel = select(journal, **selection)
    rows = list(sel.rows())
    table = FeatureTable(np.array([s for s, _ in rows], dtype="datetime64[s]"), list(sel.columns),
                         np.array([r["features"] for _, r in rows], dtype=np.float64).reshape(len(rows), -1))
    return JournalExport(table, sel.dropped, sel.sample_rate_hz, sel.samples_per_snapshot)


#: The scores CSV's columns before the contributions (one ``<feature> contribution`` column each). ``state`` is
#: what the LED showed (normal / alarm / fault / learning), as before; ``machine_state`` (running / stopped /
#: starting / sensor_fault) and ``level`` (normal / alert / danger) are the judgement's (empty in older journals).
SCORE_COLUMNS = ("timestamp", "error", "threshold", "over_threshold", "alarm", "state", "bundle_id", "latency_ms",
                 "inference_s", "top_channel", "top_share", "diagnosis", "machine_state", "level")


@dataclass(frozen=True)
class Written:
    """What :func:`write_export` wrote."""

    rows: int
    first: str
    last: str
    #: rows with an error (scored), and with a diagnosis
    scored: int
    diagnosed: int


def write_export(selection: Selection, output: str, scores: str | None = None) -> Written:
    """Stream the selected rows to the feature table ``output`` (``-``: standard output) and, with ``scores``,
    their scoring columns to a second CSV (:data:`SCORE_COLUMNS`, then one ``<feature> contribution``
    column each; empty cells where the journal has nothing: an unscored snapshot, or a row journaled
    before schema version 2). Files are written atomically: a failure leaves any previous file untouched."""
    contributions = [f"{n} contribution" for n in selection.columns]
    n, first, last, scored, diagnosed = 0, "", "", 0, 0
    with ExitStack() as stack:
        table = csv.writer(stack.enter_context(_output(output)), lineterminator="\n")
        table.writerow(["timestamp", *selection.columns])
        score_csv = csv.writer(stack.enter_context(_output(scores)), lineterminator="\n") if scores else None
        if score_csv:
            score_csv.writerow([*SCORE_COLUMNS, *contributions])
        for second, r in selection.rows():
            stamp = format_timestamp(second)
            table.writerow([stamp, *(repr(float(v)) for v in r["features"])])
            if score_csv:
                shares = r["contributions"] if r["contributions"] and len(r["contributions"]) == len(contributions) \
                    else [None] * len(contributions)
                score_csv.writerow([stamp, *(_cell(r.get(c)) for c in SCORE_COLUMNS[1:]), *(_cell(v) for v in shares)])
            n, first, last = n + 1, first or stamp, stamp
            scored += r["error"] is not None
            diagnosed += r["diagnosis"] is not None
    return Written(n, first, last, scored, diagnosed)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def check_output(path: str) -> None:
    """Refuse an output that is not a (new or existing) regular file in an existing directory, saying why."""
    if path == "-":
        return
    target = Path(path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:  # a name too long, a component that is a file
        raise OutputError(f"-o {path}: cannot write there ({exc.strerror}); name a CSV file, or - for "
                          "standard output") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else "a directory" if stat.S_ISDIR(st.st_mode)
                else "a device or other special file")
        raise OutputError(f"-o {path}: is {kind}, not a regular file; name a CSV file (a new one, or one to "
                          "replace), or - for standard output")
    parent = target.parent
    if not parent.is_dir():
        raise OutputError(f"-o {path}: the directory {parent} does not exist; create it first (mkdir -p {parent})")


@contextmanager
def _output(path: str) -> Iterator[IO[str]]:
    """The text file to write ``path`` through (``-``: standard output, never closed here)."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    check_output(path)
    try:
        with atomic_output(path, "w", encoding="utf-8", newline="") as fh:
            yield fh
    except OSError as exc:
        raise OutputError(f"-o {path}: cannot write it ({exc.strerror or exc}); nothing was replaced") from None

"""The journal's writes: snapshot rows with the state they leave behind, events, state, counters, requests.

A mixin of :class:`~edge_agent.journal.database.Journal` (it uses the
connection ``self.db`` and ``self.transaction()``). The agent writes through
:class:`~edge_agent.journal.agent_journal.AgentJournal`, which keeps these
writes in memory while the file cannot take them.
"""
from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from edge_agent.journal.outbox import ALL_IDS, cursor

#: Done requests kept (the newest): what ``ack`` and the page queued, for a later look.
MAX_REQUESTS = 1000

if TYPE_CHECKING:
    from edge_agent.scoring.diagnosis import Diagnosis


@dataclass(frozen=True)
class SnapshotRow:
    """One snapshot as the journal keeps it; the last three are None when it was not scored."""

    time: float
    first_index: int
    stream_id: int | None
    features: list[float]
    error: float | None
    threshold: float | None
    over_threshold: bool | None
    alarm: bool | None
    state: str
    bundle_id: str | None
    latency_ms: float | None
    #: the model's invoke(s) alone, seconds (``Score.inference_s``)
    inference_s: float | None = None
    #: the error per feature, in the bundle spec's feature order (``Score.contributions``)
    contributions: Sequence[float] | None = None
    #: where the error is (``Score.diagnosis``); journaled in words only when the snapshot is over
    #: the threshold or in alarm (:func:`diagnosis_text`)
    diagnosis: "Diagnosis | None" = None
    #: running / stopped / starting / sensor_fault (``Score.state``); None in learning mode
    machine_state: str | None = None
    #: normal / alert / danger after this snapshot (``Score.level``); None when no bundle scored it
    level: str | None = None


class JournalWrites:
    """Every write to the journal (a mixin: ``self.db`` is the connection)."""

    db: sqlite3.Connection  # and ``self.transaction()``: both Journal's

    def stream_id(self, device_id: str, firmware_version: str, sample_rate_hz: int, n_channels: int,
                  scale: float, channel_names: list[str]) -> int:
        key = (device_id, firmware_version, sample_rate_hz, n_channels, float(scale), json.dumps(channel_names))
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO streams (device_id, firmware_version, sample_rate_hz, n_channels,"
                       " scale, channel_names, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?)", (*key, time.time()))
            return db.execute("SELECT id FROM streams WHERE device_id=? AND firmware_version=? AND "
                              "sample_rate_hz=? AND n_channels=? AND scale=? AND channel_names=?",
                              key).fetchone()[0]

    def record_snapshot(self, row: SnapshotRow, *, state: dict[str, Any] | None = None,
                        counters: dict[str, int] | None = None) -> None:
        """The snapshot, the state it leaves behind and the counters, in one transaction."""
        with self.transaction() as db:
            insert_snapshot(db, row)
            put_state(db, state or {})
            put_counters(db, counters or {})

    def event(self, kind: str, detail: str = "", bundle_id: str | None = None,
              when: float | None = None) -> None:
        insert_event(self.db, kind, detail, bundle_id, when)

    def set_state(self, **values: Any) -> None:
        with self.transaction() as db:
            put_state(db, values)

    def set_counters(self, counters: dict[str, int]) -> None:
        with self.transaction() as db:
            put_counters(db, counters)

    def request(self, kind: str, source: str, *, coalesce: bool = False) -> int:
        """Queue a command for the running agent (it polls about every 0.5 s).

        ``coalesce`` (acknowledgements): while one of ``kind`` is pending, another adds nothing (its id is
        returned): a flood of 40,000 acks was 40,000 rows and seconds of "database is locked" for the agent.
        """
        if coalesce:
            row = self.db.execute("SELECT id FROM requests WHERE kind = ? AND done IS NULL LIMIT 1", (kind,)).fetchone()
            if row is not None:
                return int(row[0])
        cur = self.db.execute("INSERT INTO requests (time, kind, source) VALUES (?, ?, ?)",
                              (time.time(), kind, source))
        return int(cur.lastrowid)

    def take_requests(self) -> list[tuple[int, str, str]]:
        """Pending requests, marked done in the same transaction."""
        # The agent polls this every housekeeping tick: a cheap read first, the write
        # transaction only when something is queued.
        if self.db.execute("SELECT 1 FROM requests WHERE done IS NULL LIMIT 1").fetchone() is None:
            return []
        with self.transaction() as db:
            rows = db.execute("SELECT id, kind, source FROM requests WHERE done IS NULL ORDER BY id").fetchall()
            if rows:
                db.execute("UPDATE requests SET done=? WHERE done IS NULL", (time.time(),))
        return [(int(i), k, s) for i, k, s in rows]

    def prune(self, retention_days: float, max_snapshots: int, now: float | None = None) -> int:
        """Delete rows past the retention limit; returns the number of snapshot rows deleted.

        Age counts from when a row was journaled, not from the snapshot's own
        time (a replayed recording from 2004 is not "old" on the day it is replayed),
        and back from the row journaled last (or ``now`` if earlier), so a wall clock
        that stepped ahead deletes nothing and the newest row always stays. What was
        deleted is journaled as a ``pruned`` event.
        Once a publisher keeps a cursor here, rows it has not sent yet are kept
        past their age (a broker away for longer than the retention loses
        nothing); only the ``max_snapshots`` limit deletes them, and then the
        loss is counted (``outbox_dropped``) and journaled (``outbox_overflow``).
        """
        now = time.time() if now is None else now
        with self.transaction() as db:
            # Age is measured back from the row journaled last, never beyond it: started with the clock
            # 400 days ahead, the first prune deleted every earlier row (issue 21 #4). The newest row is
            # never older than this, so a prune by age never deletes everything either.
            newest = db.execute("SELECT recorded FROM snapshots ORDER BY id DESC LIMIT 1").fetchone()
            reference = now if newest is None else min(now, float(newest[0]))
            cutoff = reference - retention_days * 86400.0
            sent = cursor(db, "snapshot")
            aged = db.execute("DELETE FROM snapshots WHERE recorded < ? AND id <= ?",
                              (cutoff, ALL_IDS if sent is None else sent)).rowcount
            over = "(SELECT id FROM snapshots ORDER BY id DESC LIMIT 1 OFFSET ?)"
            dropped = 0 if sent is None else db.execute(
                f"SELECT COUNT(*) FROM snapshots WHERE id > ? AND id <= {over}", (sent, max_snapshots)).fetchone()[0]
            counted = db.execute(f"DELETE FROM snapshots WHERE id <= {over}", (max_snapshots,)).rowcount
            n = aged + counted
            sent_events = cursor(db, "event")
            events = db.execute("DELETE FROM events WHERE time < ? AND id <= ?",
                                (cutoff, ALL_IDS if sent_events is None else sent_events)).rowcount
            # events and requests by count too, sent or not: a flood must not grow the journal without bound
            events += db.execute("DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 "
                                 "OFFSET ?)", (max_snapshots,)).rowcount
            db.execute("DELETE FROM requests WHERE done IS NOT NULL AND done < ?", (cutoff,))
            db.execute("DELETE FROM requests WHERE done IS NOT NULL AND id <= (SELECT id FROM requests ORDER BY id "
                       "DESC LIMIT 1 OFFSET ?)", (MAX_REQUESTS,))
            if n or events:  # what retention deleted, and by which rule: a gap in the history is explained
                insert_event(db, "pruned", f"{aged} snapshot rows and {events} events journaled before "
                             f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(cutoff))} UTC ([journal] retention_days "
                             f"= {retention_days:g}, counted back from the newest row), {counted} snapshot rows over "
                             f"[journal] max_snapshots = {max_snapshots}")
            if dropped:
                add_to_counter(db, "outbox_dropped", dropped)
                insert_event(db, "outbox_overflow", f"{dropped} snapshot rows deleted before they were published: "
                             f"the journal reached [journal] max_snapshots = {max_snapshots} while the broker "
                             "was away")
        return n


def insert_snapshot(db: sqlite3.Connection, row: SnapshotRow, recorded: float | None = None) -> None:
    """One snapshot row. The contributions are a JSON list in the spec's feature order, like ``features``
    beside it: one column read with the row (the publisher, the page), about 20 bytes a feature, where a
    table of (snapshot, feature, value) rows would cost an index and a join for every reader."""
    where = row.diagnosis
    db.execute(
        "INSERT INTO snapshots (time, first_index, stream_id, features, error, threshold, over_threshold, alarm,"
        " state, bundle_id, latency_ms, recorded, inference_s, contributions, top_channel, top_share, diagnosis,"
        " machine_state, level) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (row.time, row.first_index, row.stream_id, json.dumps([float(v) for v in row.features]),
         row.error, row.threshold, _opt_int(row.over_threshold), _opt_int(row.alarm),
         row.state, row.bundle_id, row.latency_ms, time.time() if recorded is None else recorded,
         row.inference_s, _json_floats(row.contributions), where.channel if where else None,
         where.channel_share if where else None, diagnosis_text(row), row.machine_state, row.level))


def diagnosis_text(row: SnapshotRow) -> str | None:
    """"bearing 1, outer race": only for a snapshot over the threshold or in alarm.

    Where the error of a healthy snapshot sits is noise spread over the channels
    (``top_channel`` keeps it); naming a bearing and a defect for it would tell a
    maintenance engineer something the model does not say; nor for a snapshot whose error no channel
    stands out in (``Diagnosis.clear``: a dead or stopped signal spreads it evenly).
    """
    if row.diagnosis is None or not row.diagnosis.clear or not (row.over_threshold or row.alarm):
        return None
    return row.diagnosis.text()


def _json_floats(values: Sequence[float] | None) -> str | None:
    """A JSON list of floats; NaN or infinity (a model that cannot decide) as null, which JSON can hold."""
    if values is None:
        return None
    return json.dumps([float(v) if math.isfinite(v) else None for v in values])


def insert_event(db: sqlite3.Connection, kind: str, detail: str = "", bundle_id: str | None = None,
                 when: float | None = None) -> None:
    db.execute("INSERT INTO events (time, kind, detail, bundle_id) VALUES (?, ?, ?, ?)",
               (time.time() if when is None else when, kind, detail, bundle_id))


def put_state(db: sqlite3.Connection, values: dict[str, Any]) -> None:
    now = time.time()
    db.executemany("INSERT INTO state (key, value, updated) VALUES (?, ?, ?) ON CONFLICT(key) DO "
                   "UPDATE SET value=excluded.value, updated=excluded.updated",
                   [(k, json.dumps(v), now) for k, v in values.items()])


def put_counters(db: sqlite3.Connection, counters: dict[str, int]) -> None:
    db.executemany("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO "
                   "UPDATE SET value=excluded.value", [(k, int(v)) for k, v in counters.items()])


def add_to_counter(db: sqlite3.Connection, name: str, increase: int) -> None:
    """Add to a counter that no agent run owns (a count of losses, kept across runs)."""
    db.execute("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) "
               "DO UPDATE SET value = value + excluded.value", (name, int(increase)))


def _opt_int(v: bool | None) -> int | None:
    return None if v is None else int(bool(v))

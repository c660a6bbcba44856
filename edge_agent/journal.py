"""The agent's durable journal: one SQLite file in WAL mode.

Everything the agent decided is written here, so that a maintenance engineer
can later ask "what did it see, with which model, and why did it alarm?":

* ``snapshots``: every scored (or, in learning mode, recorded) snapshot:
  time, first sample index, the stream it came from, features, error,
  threshold, over-threshold, debounced alarm, displayed state, the bundle that
  scored it, and the latency from its last byte to the outputs;
* ``events``: start, stop, bundle loaded / rejected, alarm raised /
  acknowledged / cleared, sensor fault begin / end, frames lost, restart;
* ``counters``: cumulative counts across restarts (frames, bytes, losses);
* ``state``: the scorer's history and the alarm latch, written in the same
  transaction as the snapshot they belong to, so a restart (even after
  ``kill -9`` or a power cut) resumes exactly where the journal ends;
* ``requests``: commands from other processes (``bearing-agent ack``);
* ``outbox_cursor``: how far ``bearing-agent publish`` got on each stream
  (``snapshot``, ``event``): the id of the last row the broker acknowledged.
  The journal is the publisher's outbox, so retention keeps rows past a cursor.

WAL mode lets ``bearing-agent status`` read while the agent writes;
``synchronous=FULL`` makes each committed row survive a power cut.
"""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from firmware_io.errors import BearingEdgeError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS streams (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL, firmware_version TEXT NOT NULL, sample_rate_hz INTEGER NOT NULL,
    n_channels INTEGER NOT NULL, scale REAL NOT NULL, channel_names TEXT NOT NULL,
    first_seen REAL NOT NULL,
    UNIQUE (device_id, firmware_version, sample_rate_hz, n_channels, scale, channel_names));
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,              -- snapshot time, unix seconds UTC
    first_index INTEGER NOT NULL,    -- device sample index of its first sample
    stream_id INTEGER REFERENCES streams(id),
    features TEXT NOT NULL,          -- JSON list, one float per channel (physical units)
    error REAL, threshold REAL, over_threshold INTEGER, alarm INTEGER,  -- NULL: not scored
    state TEXT NOT NULL,             -- normal / alarm / fault / learning after this snapshot
    bundle_id TEXT,                  -- the bundle that scored it (NULL in learning mode)
    latency_ms REAL,                 -- last byte read -> outputs set
    recorded REAL NOT NULL);         -- wall clock when journaled (retention; differs from time in replays)
CREATE INDEX IF NOT EXISTS snapshots_time ON snapshots (time);
CREATE INDEX IF NOT EXISTS snapshots_recorded ON snapshots (recorded);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
    bundle_id TEXT);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL, done REAL);
CREATE TABLE IF NOT EXISTS outbox_cursor (topic TEXT PRIMARY KEY, last_id INTEGER NOT NULL, updated REAL NOT NULL);
"""


class JournalError(BearingEdgeError, RuntimeError):
    """A journal that cannot be opened or is from an incompatible version."""


@dataclass(frozen=True)
class SnapshotRow:
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


class Journal:
    """One connection, used by one thread at a time (the agent's loop, or a CLI command)."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise JournalError(f"{self.path}: no journal here (is the agent configured with another "
                               "[journal] path? pass --journal or --config)")
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise JournalError(f"{self.path}: cannot create the journal's directory ({exc}); "
                                   "set [journal] path to a writable place") from None
        try:
            self.db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            # 512 KiB of page cache, not SQLite's 2 MiB: the hourly prune scans a year's rows and
            # would fill the default cache, +1.8 MiB resident for the agent's life; same speed.
            self.db.execute("PRAGMA cache_size=-512")
            self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc} (is the file writable by "
                               "this user, and a SQLite database?)") from None
        if row is None:
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise JournalError(f"{self.path}: journal schema version {row[0]}, this agent writes "
                               f"{SCHEMA_VERSION}; move the old journal aside")

    @classmethod
    def open_readonly(cls, path: str | Path) -> "Journal":
        """A reader that cannot write (``mode=ro``): the status page's connection.

        It never creates the file or the schema, so a page opened before the agent
        ever ran says so instead of leaving an empty journal behind. A WAL reader
        still needs the ``-shm`` file beside the journal (the agent creates it; the
        reader must be allowed to open it read-write: see docs/status_page.md).
        """
        self = cls.__new__(cls)
        self.path = Path(path)
        if not self.path.is_file():
            raise JournalError(f"{self.path}: no journal here yet (start the agent: it creates it)")
        try:
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0,
                                      isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA cache_size=-512")
            row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: cannot read the journal: {exc} (readable by this user, with its "
                               "-wal and -shm files? see docs/status_page.md)") from None
        if row is None or int(row[0]) != SCHEMA_VERSION:
            self.db.close()
            raise JournalError(f"{self.path}: journal schema version {row and row[0]}, this reader knows "
                               f"{SCHEMA_VERSION}")
        return self

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- writing --------------------------------------------------------------
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
            db.execute(
                "INSERT INTO snapshots (time, first_index, stream_id, features, error, threshold,"
                " over_threshold, alarm, state, bundle_id, latency_ms, recorded) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (row.time, row.first_index, row.stream_id, json.dumps([float(v) for v in row.features]),
                 row.error, row.threshold, _opt_int(row.over_threshold), _opt_int(row.alarm),
                 row.state, row.bundle_id, row.latency_ms, time.time()))
            self._put_state(db, state or {})
            self._put_counters(db, counters or {})

    def event(self, kind: str, detail: str = "", bundle_id: str | None = None,
              when: float | None = None) -> None:
        self.db.execute("INSERT INTO events (time, kind, detail, bundle_id) VALUES (?, ?, ?, ?)",
                        (time.time() if when is None else when, kind, detail, bundle_id))

    def set_state(self, **values: Any) -> None:
        with self.transaction() as db:
            self._put_state(db, values)

    def set_counters(self, counters: dict[str, int]) -> None:
        with self.transaction() as db:
            self._put_counters(db, counters)

    @staticmethod
    def _put_state(db: sqlite3.Connection, values: dict[str, Any]) -> None:
        now = time.time()
        db.executemany("INSERT INTO state (key, value, updated) VALUES (?, ?, ?) ON CONFLICT(key) DO "
                       "UPDATE SET value=excluded.value, updated=excluded.updated",
                       [(k, json.dumps(v), now) for k, v in values.items()])

    @staticmethod
    def _put_counters(db: sqlite3.Connection, counters: dict[str, int]) -> None:
        db.executemany("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO "
                       "UPDATE SET value=excluded.value", [(k, int(v)) for k, v in counters.items()])

    def request(self, kind: str, source: str) -> int:
        """Queue a command for the running agent (it polls about every 0.5 s)."""
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
        time (a replayed recording from 2004 is not "old" on the day it is replayed).
        Once a publisher keeps a cursor here, rows it has not sent yet are kept
        past their age (a broker away for longer than the retention loses
        nothing); only the ``max_snapshots`` limit deletes them, and then the
        loss is counted (``outbox_dropped``) and journaled (``outbox_overflow``).
        """
        cutoff = (time.time() if now is None else now) - retention_days * 86400.0
        with self.transaction() as db:
            sent = _cursor(db, "snapshot")
            n = db.execute("DELETE FROM snapshots WHERE recorded < ? AND id <= ?",
                           (cutoff, _ALL if sent is None else sent)).rowcount
            over = "(SELECT id FROM snapshots ORDER BY id DESC LIMIT 1 OFFSET ?)"
            dropped = 0 if sent is None else db.execute(
                f"SELECT COUNT(*) FROM snapshots WHERE id > ? AND id <= {over}", (sent, max_snapshots)).fetchone()[0]
            n += db.execute(f"DELETE FROM snapshots WHERE id <= {over}", (max_snapshots,)).rowcount
            sent_events = _cursor(db, "event")
            db.execute("DELETE FROM events WHERE time < ? AND id <= ?",
                       (cutoff, _ALL if sent_events is None else sent_events))
            if sent_events is not None:  # unsent events are kept, but not without bound
                db.execute("DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 "
                           "OFFSET ?)", (max_snapshots,))
            db.execute("DELETE FROM requests WHERE done IS NOT NULL AND done < ?", (cutoff,))
            if dropped:
                db.execute("INSERT INTO counters (name, value) VALUES ('outbox_dropped', ?) ON CONFLICT(name) "
                           "DO UPDATE SET value = value + excluded.value", (dropped,))
                db.execute("INSERT INTO events (time, kind, detail) VALUES (?, 'outbox_overflow', ?)",
                           (time.time(), f"{dropped} snapshot rows deleted before they were published: the "
                            f"journal reached [journal] max_snapshots = {max_snapshots} while the broker was away"))
        return n

    # -- the publisher's outbox cursor ------------------------------------------
    def outbox_cursor(self, topic: str) -> int:
        """The id of the last ``topic`` row (``snapshot`` or ``event``) the broker acknowledged; 0 = none."""
        return _cursor(self.db, topic) or 0

    def set_outbox_cursor(self, topic: str, last_id: int) -> None:
        self.db.execute("INSERT INTO outbox_cursor (topic, last_id, updated) VALUES (?, ?, ?) ON CONFLICT(topic) "
                        "DO UPDATE SET last_id=excluded.last_id, updated=excluded.updated",
                        (topic, int(last_id), time.time()))

    def count_after(self, topic: str, after_id: int) -> int:
        """How many ``snapshot`` or ``event`` rows have an id above ``after_id`` (a publisher's backlog)."""
        table = {"snapshot": "snapshots", "event": "events"}[topic]
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table} WHERE id > ?", (after_id,)).fetchone()[0])

    def events_after(self, after_id: int, limit: int) -> list[dict[str, Any]]:
        """Events with an id above ``after_id``, oldest first, at most ``limit``."""
        cur = self.db.execute("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    # -- reading --------------------------------------------------------------
    def get_state(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def state_updated(self, key: str) -> float | None:
        row = self.db.execute("SELECT updated FROM state WHERE key=?", (key,)).fetchone()
        return None if row is None else float(row[0])

    def counters(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT name, value FROM counters ORDER BY name").fetchall())

    def snapshots(self, *, since: float | None = None, until: float | None = None,
                  last: int | None = None, device_id: str | None = None,
                  after_id: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Snapshot rows (oldest first) with their stream's device and channel names.

        ``after_id`` and ``limit``: the next rows after a cursor, a bounded batch at a time.
        """
        sql = ("SELECT s.*, st.device_id, st.channel_names, st.sample_rate_hz FROM snapshots s "
               "LEFT JOIN streams st ON st.id = s.stream_id WHERE 1=1")
        args: list[Any] = []
        if after_id is not None:
            sql += " AND s.id > ?"
            args.append(after_id)
        if since is not None:
            sql += " AND s.time >= ?"
            args.append(since)
        if until is not None:
            sql += " AND s.time < ?"
            args.append(until)
        if device_id is not None:
            sql += " AND st.device_id = ?"
            args.append(device_id)
        sql += " ORDER BY s.id DESC" if last else " ORDER BY s.id"
        if last or limit:
            sql += f" LIMIT {int(last or limit)}"
        cur = self.db.execute(sql, args)
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        for r in rows:
            r["features"] = json.loads(r["features"])
            r["channel_names"] = json.loads(r["channel_names"]) if r["channel_names"] else None
        return rows[::-1] if last else rows

    def snapshot_buckets(self, since: float, until: float, n_buckets: int, n_features: int) -> list[dict[str, Any]]:
        """Snapshots from ``since`` to ``until`` (inclusive) summed up into at most ``n_buckets`` equal time slices.

        A year of rows is half a million: the page gets a few hundred points instead.
        Each slice keeps what a chart must not lose: the highest error of *every*
        snapshot in it (a one-snapshot spike stays visible) and whether any was in
        alarm. Feature means come from every k-th snapshot (at least 4 per slice),
        because decoding the JSON features of a whole year costs seconds on a Pi.
        One aggregate query per slice, each an index range scan: a single GROUP BY
        would sort the whole range first (time and memory the page does not have).
        """
        n_buckets = max(1, n_buckets)
        width = (until - since) / n_buckets
        rows_in_range = self.db.execute("SELECT COUNT(*) FROM snapshots WHERE time >= ? AND time <= ?",
                                        (since, until)).fetchone()[0]
        k = max(1, rows_in_range // (n_buckets * 4))
        feats = "".join(f", AVG(CASE WHEN id % {k} = 0 THEN json_extract(features, '$[{i}]') END)"
                        for i in range(n_features))
        sql = ("SELECT MIN(time), MAX(time), COUNT(*), MAX(error), MIN(error), MAX(threshold), "
               f"MAX(state = 'alarm'), MAX(over_threshold){feats} FROM snapshots WHERE time >= ? AND time < ?")
        out = []
        for b in range(n_buckets):
            lo = since + b * width
            hi = until + 1e-6 if b == n_buckets - 1 else since + (b + 1) * width  # the last slice holds `until`
            r = self.db.execute(sql, (lo, hi)).fetchone()
            if not r[2]:
                continue
            if k > 1 and all(v is None for v in r[8:]):  # a sparse slice the sampling missed: take its rows
                r = r[:8] + self.db.execute(sql.replace(f"id % {k} = 0", "1"), (lo, hi)).fetchone()[8:]
            out.append({"t0": r[0], "t1": r[1], "n": r[2], "error_max": r[3], "error_min": r[4], "threshold": r[5],
                        "alarm": bool(r[6]), "over": bool(r[7]), "features": list(r[8:])})
        return out

    def healthy_levels(self, n_features: int, limit: int = 500) -> list[float | None]:
        """Mean of each feature over the first ``limit`` snapshots under the threshold (or recorded
        while learning): the machine's healthy level, that a page compares today's features with."""
        feats = ", ".join(f"AVG(json_extract(features, '$[{i}]'))" for i in range(n_features))
        row = self.db.execute(f"SELECT {feats} FROM (SELECT features FROM snapshots WHERE "
                              "COALESCE(over_threshold, 0) = 0 AND state IN ('normal', 'learning') "
                              "ORDER BY id LIMIT ?)", (limit,)).fetchone()
        return list(row)

    def state_runs(self, state: str, since: float, until: float) -> list[tuple[float, float]]:
        """(first, last) snapshot time of each uninterrupted run of ``state`` from ``since`` to ``until``.

        A run starts at a row whose predecessor (id - 1: ids only grow, and retention
        deletes from the oldest end) is not in ``state``, and ends at one whose
        successor is not; only the rows in ``state`` are looked up, by primary key.
        """
        def edges(neighbour: str) -> list[float]:
            return [float(t) for (t,) in self.db.execute(
                f"SELECT s.time FROM snapshots s LEFT JOIN snapshots n ON n.id = s.id {neighbour} 1 "
                "WHERE s.time >= ? AND s.time <= ? AND s.state = ? AND (n.state IS NOT ? OR n.time > ? OR n.time < ?) "
                "ORDER BY s.id", (since, until, state, state, until, since)).fetchall()]

        return list(zip(edges("-"), edges("+")))

    def snapshot_time_at(self, recorded: float) -> float | None:
        """The time of the last snapshot journaled at or before the wall-clock ``recorded``.

        Events carry wall-clock times, snapshots their own (a replay of 2004 data is
        journaled today): this places an event on the snapshots' time axis.
        """
        row = self.db.execute("SELECT time FROM snapshots WHERE recorded <= ? ORDER BY recorded DESC LIMIT 1",
                              (recorded,)).fetchone()
        return None if row is None else float(row[0])

    def snapshot_range(self) -> tuple[float, float, int] | None:
        """(first time, last time, count) of the journaled snapshots, or None when there are none."""
        # Three queries: each of MIN and MAX alone is one index lookup, together with COUNT a table scan.
        first = self.db.execute("SELECT MIN(time) FROM snapshots").fetchone()[0]
        if first is None:
            return None
        last = self.db.execute("SELECT MAX(time) FROM snapshots").fetchone()[0]
        return float(first), float(last), int(self.db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0])

    def events(self, *, last: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM events", []
        if kind:
            sql += " WHERE kind = ?"
            args.append(kind)
        cur = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, last))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()][::-1]


def format_time(t: float) -> str:
    """A journal time (unix seconds) as ``YYYY-MM-DD HH:MM:SS`` UTC, the feature tables' format."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


#: An id above every row: "no cursor" deletes by age alone, as before publishers existed.
_ALL = 2**63 - 1


def _cursor(db: sqlite3.Connection, topic: str) -> int | None:
    row = db.execute("SELECT last_id FROM outbox_cursor WHERE topic=?", (topic,)).fetchone()
    return None if row is None else int(row[0])


def _opt_int(v: bool | None) -> int | None:
    return None if v is None else int(bool(v))

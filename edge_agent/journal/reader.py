"""The journal's queries: what ``status``, ``export``, the status page and the publisher read.

A mixin of :class:`~edge_agent.journal.database.Journal`; nothing here writes,
so every method works on a read-only connection
(:meth:`~edge_agent.journal.database.Journal.open_readonly`).
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Iterator

from edge_agent.journal.schema import SNAPSHOT_COLUMNS_V2

#: The names of the snapshot columns version 2 added: a row read from a version-1 journal gets them as None.
V2_COLUMNS = tuple(column.split()[0] for column in SNAPSHOT_COLUMNS_V2)

class JournalReads:
    """Every query of the journal (a mixin: ``self.db`` is the connection)."""

    db: sqlite3.Connection

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
        sql, args = _snapshot_query(since=since, until=until, device_id=device_id, after_id=after_id)
        sql += " ORDER BY s.id DESC" if last else " ORDER BY s.id"
        if last or limit:
            sql += f" LIMIT {int(last or limit)}"
        cur = self.db.execute(sql, args)
        names = [d[0] for d in cur.description]
        rows = [_decode(dict(zip(names, r))) for r in cur.fetchall()]
        return rows[::-1] if last else rows

    def iter_snapshots(self, *, since: float | None = None, until: float | None = None,
                       device_id: str | None = None, exclude_states: tuple[str, ...] = (),
                       newest_first: bool = False, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Snapshot rows in time order (then id), like :meth:`snapshots` but one batch in memory at a time:
        ``export`` of a year's 500,000 rows as a list took 1 GB."""
        sql, args = _snapshot_query(since=since, until=until, device_id=device_id, exclude_states=exclude_states)
        cur = self.db.execute(sql + (" ORDER BY s.time DESC, s.id DESC" if newest_first else " ORDER BY s.time, s.id"),
                              args)
        names = [d[0] for d in cur.description]
        while rows := cur.fetchmany(batch):
            for r in rows:
                yield _decode(dict(zip(names, r)))

    def snapshot_layouts(self, *, since: float | None = None, until: float | None = None,
                         device_id: str | None = None,
                         exclude_states: tuple[str, ...] = ()) -> list[tuple[str | None, tuple[str, ...], int | None]]:
        """The distinct (device id, channel names, sample rate) of the selected snapshots' streams."""
        sql, args = _snapshot_query(since=since, until=until, device_id=device_id, exclude_states=exclude_states,
                                    columns="DISTINCT st.device_id, st.channel_names, st.sample_rate_hz")
        return [(d, tuple(json.loads(n)) if n else (), r) for d, n, r in self.db.execute(sql, args).fetchall()]

    def feature_names_by_bundle(self) -> dict[str, list[str]]:
        """``{bundle id: feature names}`` of the bundle scoring now (journaled with the scorer's state), so a
        reader can name the entries of the ``features`` and ``contributions`` lists of that bundle's rows."""
        scorer = self.get_state("scorer") or {}
        names = scorer.get("feature_names")
        return {scorer["bundle_id"]: list(names)} if names and scorer.get("bundle_id") else {}

    def latest_diagnosis(self) -> dict[str, Any] | None:
        """The newest snapshot with a diagnosis in words (id, time, diagnosis, top_channel, top_share), or None.

        One lookup in the partial index ``snapshots_diagnosed``, however long ago the last one was;
        None in a version-1 journal, which has no diagnosis column. The version is read again each
        time (a primary-key lookup): a reader opened before the agent migrated the journal sees
        the diagnosis as soon as the migration is committed, without reopening.
        """
        (version,) = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if int(version) < 2:
            return None
        cur = self.db.execute("SELECT id, time, diagnosis, top_channel, top_share FROM snapshots "
                              "WHERE diagnosis IS NOT NULL ORDER BY id DESC LIMIT 1")
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row))

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

    def last_snapshot_id_before(self, recorded: float) -> int:
        """The id of the last snapshot journaled (wall clock) before ``recorded``; 0 when none was."""
        row = self.db.execute("SELECT MAX(id) FROM snapshots WHERE recorded < ?", (recorded,)).fetchone()
        return int(row[0] or 0)

    def timings_after(self, after_id: int, limit: int) -> list[tuple[int, float | None, float | None]]:
        """(id, latency_ms, inference_s) of the snapshots after ``after_id``, oldest first: what the
        metrics' histograms observe, without decoding each row's features."""
        columns = "id, latency_ms, inference_s" if self.schema_version >= 2 else "id, latency_ms, NULL"
        return self.db.execute(f"SELECT {columns} FROM snapshots WHERE id > ? ORDER BY id LIMIT ?",
                               (after_id, limit)).fetchall()

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


def _snapshot_query(*, since: float | None = None, until: float | None = None, device_id: str | None = None,
                    after_id: int | None = None, exclude_states: tuple[str, ...] = (),
                    columns: str = "s.*, st.device_id, st.channel_names, st.sample_rate_hz") -> tuple[str, list[Any]]:
    """The SELECT of snapshots with their stream, filtered (no ORDER BY), and its arguments."""
    sql = f"SELECT {columns} FROM snapshots s LEFT JOIN streams st ON st.id = s.stream_id WHERE 1=1"
    args: list[Any] = []
    for clause, value in ((" AND s.id > ?", after_id), (" AND s.time >= ?", since),
                          (" AND s.time < ?", until), (" AND st.device_id = ?", device_id)):
        if value is not None:
            sql += clause
            args.append(value)
    if exclude_states:
        sql += f" AND s.state NOT IN ({', '.join('?' * len(exclude_states))})"
        args.extend(exclude_states)
    return sql, args


def _decode(r: dict[str, Any]) -> dict[str, Any]:
    """A snapshot row as read: its JSON columns decoded, the version-2 columns present."""
    r["features"] = json.loads(r["features"])
    r["channel_names"] = json.loads(r["channel_names"]) if r["channel_names"] else None
    for column in V2_COLUMNS:  # a version-1 journal (read, never migrated, by a reader) has none of them
        r.setdefault(column, None)
    if r["contributions"] is not None:
        r["contributions"] = json.loads(r["contributions"])
    return r


def format_time(t: float) -> str:
    """A journal time (unix seconds) as ``YYYY-MM-DD HH:MM:SS`` UTC, the feature tables' format."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def feature_names(row: dict[str, Any], by_bundle: dict[str, list[str]] | None = None) -> list[str]:
    """Names for a row's features (and contributions): its bundle's feature names when known
    (``by_bundle``, :meth:`JournalReads.feature_names_by_bundle`: "Bearing 1 env_bpfo_ptm"), else its
    stream's channel names, or ``feature_1..N`` if neither fits."""
    n = len(row["features"])
    names = (by_bundle or {}).get(row.get("bundle_id") or "")
    if names and len(names) == n:
        return list(names)
    names = row.get("channel_names") or []
    return list(names) if len(names) == n else [f"feature_{i + 1}" for i in range(n)]

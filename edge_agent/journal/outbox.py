"""The publisher's outbox cursor: how far ``bearing-agent publish`` got on each stream of rows.

``outbox_cursor`` holds, per topic (``snapshot``, ``event``), the id of the
last row the broker acknowledged. The journal is the publisher's outbox, so
retention (:meth:`~edge_agent.journal.writer.JournalWrites.prune`) keeps
rows past a cursor. A mixin of :class:`~edge_agent.journal.database.Journal`.
"""
from __future__ import annotations

import sqlite3
import time
from typing import Any

#: An id above every row: "no cursor" deletes by age alone, as before publishers existed.
ALL_IDS = 2**63 - 1

_TABLES = {"snapshot": "snapshots", "event": "events"}


class OutboxCursor:
    """The publisher's cursor and backlog queries (a mixin: ``self.db`` is the connection)."""

    db: sqlite3.Connection

    def outbox_cursor(self, topic: str) -> int:
        """The id of the last ``topic`` row (``snapshot`` or ``event``) the broker acknowledged; 0 = none."""
        return cursor(self.db, topic) or 0

    def set_outbox_cursor(self, topic: str, last_id: int) -> None:
        self.db.execute("INSERT INTO outbox_cursor (topic, last_id, updated) VALUES (?, ?, ?) ON CONFLICT(topic) "
                        "DO UPDATE SET last_id=excluded.last_id, updated=excluded.updated",
                        (topic, int(last_id), time.time()))

    def count_after(self, topic: str, after_id: int) -> int:
        """How many ``snapshot`` or ``event`` rows have an id above ``after_id`` (a publisher's backlog)."""
        table = _TABLES[topic]
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table} WHERE id > ?", (after_id,)).fetchone()[0])

    def events_after(self, after_id: int, limit: int) -> list[dict[str, Any]]:
        """Events with an id above ``after_id``, oldest first, at most ``limit``."""
        cur = self.db.execute("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def cursor(db: sqlite3.Connection, topic: str) -> int | None:
    """The cursor of ``topic``, or None when no publisher ever set one."""
    row = db.execute("SELECT last_id FROM outbox_cursor WHERE topic=?", (topic,)).fetchone()
    return None if row is None else int(row[0])

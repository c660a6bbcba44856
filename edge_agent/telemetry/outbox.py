"""The journal as the publisher's outbox: rows after a persistent cursor, sent in order, acknowledged in order.

The cursor (``outbox_cursor`` in the journal) is the id of the last row the
broker acknowledged. It only moves over a contiguous run of acknowledged
rows, so a crash of the publisher, of the broker or of the network between
"sent" and "acknowledged" means that row is sent again: at least once,
never lost. The journal, not paho's in-memory queue, is the durable store.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from edge_agent.journal import Journal
from edge_agent.journal.writer import put_state

#: The journal streams a publisher follows, each with its own cursor.
STREAMS = ("snapshot", "event")

#: Cursor writes are fsynced; at a few hundred acknowledgements a second one write per
#: second is enough (a crash re-sends at most that second's rows, which ``seq`` deduplicates).
CURSOR_WRITE_S = 1.0


#: The ``state`` key naming the broker (and client id) the cursors belong to.
BROKER_STATE = "publisher_broker"


def claim_cursors(journal: Journal, broker: str) -> bool:
    """Make the journal's cursors this ``broker``'s (``host:port client_id``); True when they were another's.

    A cursor says what one broker acknowledged: after a run against a test or a wrong broker, the
    right one would otherwise never receive the history. When the broker (or client id) differs from
    the one the cursors were moved for, they go back to the start: the new broker gets every row the
    journal still has (``seq`` lets a consumer drop what it already had).
    """
    previous = journal.get_state(BROKER_STATE)
    if previous == broker:
        return False
    moved = previous is not None and any(journal.outbox_cursor(s) for s in STREAMS)
    with journal.transaction():
        if moved:
            for stream in STREAMS:
                journal.db.execute("UPDATE outbox_cursor SET last_id = 0, updated = ? WHERE topic = ?",
                                   (time.time(), stream))
        put_state(journal.db, {BROKER_STATE: broker})
    return moved


class Outbox:
    """One stream's rows after the cursor; :meth:`take` hands out the next ones, :meth:`acknowledged` retires them."""

    def __init__(self, journal: Journal, stream: str, window: int) -> None:
        if stream not in STREAMS:
            raise ValueError(f"unknown outbox stream {stream!r}; one of {STREAMS}")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.journal = journal
        self.stream = stream
        self.window = window
        #: id of the last acknowledged row (what the journal's cursor says, or will at the next write)
        self.cursor_ = journal.outbox_cursor(stream)
        self._written = self.cursor_
        self._last_write = 0.0
        # Written at once (even unchanged): from now on retention keeps what this publisher has not sent.
        journal.set_outbox_cursor(stream, self.cursor_)
        self._in_flight: OrderedDict[int, bool] = OrderedDict()  # row id -> acknowledged
        self._next_after = self.cursor_

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def take(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` next rows (never more than the window allows in flight), marked as sent."""
        n = min(limit, self.window - len(self._in_flight))
        if n <= 0:
            return []
        if self.stream == "snapshot":
            rows = self.journal.snapshots(after_id=self._next_after, limit=n)
        else:
            rows = self.journal.events_after(self._next_after, n)
        for row in rows:
            self._in_flight[row["id"]] = False
            self._next_after = row["id"]
        return rows

    def acknowledged(self, row_id: int) -> None:
        """The broker has the row; the cursor moves over every acknowledged row at the front."""
        if row_id in self._in_flight:
            self._in_flight[row_id] = True
        while self._in_flight and next(iter(self._in_flight.values())):
            self.cursor_, _ = self._in_flight.popitem(last=False)

    def rewind(self) -> None:
        """The connection is gone: what was in flight is sent again after the next connect."""
        self._in_flight.clear()
        self._next_after = self.cursor_

    def save(self, force: bool = False) -> None:
        """Write the cursor if it moved (at most every ``CURSOR_WRITE_S`` unless ``force``)."""
        now = time.monotonic()
        if self.cursor_ != self._written and (force or now - self._last_write >= CURSOR_WRITE_S):
            self.journal.set_outbox_cursor(self.stream, self.cursor_)
            self._written, self._last_write = self.cursor_, now

    def backlog(self) -> int:
        """Rows not yet acknowledged by the broker."""
        return self.journal.count_after(self.stream, self.cursor_)

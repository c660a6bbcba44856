"""The agent's own connection to its journal: one agent per journal, and writes that never stop the agent.

A journal can fail while the agent runs: the disk fills up (the WAL grows
about 20 KB a snapshot), another process holds the write lock, the file turns
read-only or its pages are corrupted. None of that may stop the scoring or
turn an alarm off, so :class:`AgentJournal`'s writes never raise a journal error:

* what cannot be written waits in memory, in order: snapshot rows and events
  in a bounded queue (:data:`MAX_PENDING`; when it is full the oldest is
  dropped and counted in ``journal_rows_dropped``), the latest state and
  counters beside it, and all of it goes in **one** transaction once the
  journal takes writes again (tried at most every :data:`RETRY_S`, and at every
  write), with a ``journal_fault_begin`` and a ``journal_fault_end`` event;
* :attr:`AgentJournal.fault` says why meanwhile: the agent shows it as a fault
  (fast blink; an alarm stays an alarm and keeps its relay), and the log says
  it once when it begins and once when it ends.

When the journal works, a snapshot row, the state it leaves behind and the
counters are still one transaction, written before the next snapshot: the
``kill -9`` guarantee is unchanged.

:meth:`AgentJournal.open` takes the journal's lock (:mod:`~edge_agent.journal.lock`)
before any row is written, and refuses a journal this user cannot write
(:mod:`~edge_agent.journal.access`): both end the agent with exit status 75,
which the unit's ``Restart=on-failure`` retries (a journal left read-only,
a second agent that stops later) where a refused configuration (2) is not.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from pathlib import Path
from typing import Any

from edge_agent.journal.access import write_problem
from edge_agent.journal.database import Journal
from edge_agent.journal.lock import JournalLock
from edge_agent.journal.schema import JournalUnavailable
from edge_agent.journal.writer import SnapshotRow, add_to_counter, insert_event, insert_snapshot, put_counters, put_state

log = logging.getLogger("edge_agent")

#: Snapshot rows and events kept in memory while the journal cannot take them (about 0.5 KB each).
MAX_PENDING = 5000
#: How often a failing journal is tried again when nothing else is written.
RETRY_S = 5.0
#: How long one write waits for another process's lock: the loop also reads the serial stream, so a
#: lock held longer (15 s) becomes a journal fault instead of a stalled loop.
AGENT_BUSY_TIMEOUT_S = 0.5


class AgentJournal(Journal):
    """A :class:`Journal` that holds the journal's lock until :meth:`close` and whose writes never raise."""

    lock: JournalLock

    @classmethod
    def open(cls, path: str | Path) -> "AgentJournal":
        """Create or open the journal at ``path`` for the agent (raises JournalError, JournalUnavailable).

        The lock is taken right after the connection is open (which writes nothing to an existing
        journal but the tables added within its version) and before any row.
        """
        problem = write_problem(Path(path)) if Path(path).is_file() else None
        if problem:
            raise JournalUnavailable(f"{path}: the agent cannot write its journal: {problem}")
        self = cls(path, busy_timeout_s=AGENT_BUSY_TIMEOUT_S)
        try:
            self.lock = JournalLock(self.path).acquire()
        except BaseException:
            self.db.close()
            raise
        self._pending: deque[tuple[str, Any, float]] = deque()  # ("snapshot" | "event", what, when)
        self._state: dict[str, Any] = {}
        self._counters: dict[str, int] = {}
        self.dropped = 0  # rows dropped from the full queue in this run
        self._dropped_unjournaled = 0  # ... not yet added to the journal's journal_rows_dropped
        self._failing: tuple[str, float] | None = None  # (error, since: unix seconds) while writes fail
        self._next_try = 0.0
        return self

    @property
    def fault(self) -> str | None:
        """Why the journal cannot be written now (the agent shows it as a fault), or None."""
        if self._failing is None:
            return None
        return f"journal cannot be written ({self._failing[0]}); rows wait in memory"

    @property
    def pending(self) -> int:
        """Snapshot rows and events waiting in memory."""
        return len(self._pending)

    # -- the writes: queued, then written at once if the journal takes them --------------
    def record_snapshot(self, row: SnapshotRow, *, state: dict[str, Any] | None = None,
                        counters: dict[str, int] | None = None) -> None:
        self._queue("snapshot", row)
        self._state.update(state or {})
        self._counters.update(counters or {})
        self.write_pending()

    def event(self, kind: str, detail: str = "", bundle_id: str | None = None, when: float | None = None) -> None:
        self._queue("event", (kind, detail, bundle_id), when)
        self.write_pending()

    def set_state(self, **values: Any) -> None:
        self._state.update(values)
        self.write_pending()

    def set_counters(self, counters: dict[str, int]) -> None:
        self._counters.update(counters)
        self.write_pending()

    def stream_id(self, *args, **kwargs) -> int | None:  # type: ignore[override]
        """The stream's id, or None while the journal fails (its rows are then journaled without it)."""
        try:
            return super().stream_id(*args, **kwargs)
        except sqlite3.Error as exc:
            self._failed(exc)
            return None

    def take_requests(self) -> list[tuple[int, str, str]]:
        """Pending requests; none while the journal fails (they stay queued in it for later)."""
        try:
            return super().take_requests()
        except sqlite3.Error as exc:
            self._failed(exc)
            return []

    def prune(self, retention_days: float, max_snapshots: int, now: float | None = None) -> int:
        """Retention, skipped while the journal fails (the next hourly prune catches up)."""
        if self._failing is not None:
            return 0
        try:
            return super().prune(retention_days, max_snapshots, now)
        except sqlite3.Error as exc:
            self._failed(exc)
            return 0

    def write_pending(self, *, force: bool = False) -> bool:
        """Write everything waiting, in one transaction; False (and kept) if the journal refuses it.

        While the journal fails, a write is tried at most every :data:`RETRY_S` unless ``force``.
        """
        if self._failing is not None and not force and time.monotonic() < self._next_try:
            return False
        if not (self._pending or self._state or self._counters):
            return True
        try:
            with self.transaction() as db:
                for what, item, when in self._pending:
                    if what == "snapshot":
                        insert_snapshot(db, item, recorded=when)
                    else:
                        insert_event(db, *item, when=when)
                if self._failing is not None:
                    insert_event(db, "journal_fault_end", self._recovery())
                put_state(db, self._state)
                put_counters(db, self._counters)
                if self._dropped_unjournaled:
                    add_to_counter(db, "journal_rows_dropped", self._dropped_unjournaled)
        except sqlite3.Error as exc:
            self._failed(exc)
            return False
        if self._failing is not None:
            log.warning("journal writable again: %s", self._recovery())
            self._failing = None
        self._pending.clear()
        self._state, self._counters, self._dropped_unjournaled = {}, {}, 0
        return True

    def close(self) -> None:
        """One last try to write what waits (the stop event among it); what cannot be written is logged as lost."""
        try:
            if not self.write_pending(force=True):
                log.error("journal: %d rows (the stop event among them) could not be written and are lost; "
                          "the next start journals a restart", len(self._pending))
            super().close()
        finally:
            self.lock.release()

    # -- the failure ------------------------------------------------------------------------
    def _queue(self, what: str, item: Any, when: float | None = None) -> None:
        if len(self._pending) >= MAX_PENDING:
            # Full: the oldest event goes before any snapshot row (a flood of ack_ignored evicted
            # snapshot rows, issue 21 #5); only a queue of snapshot rows alone loses its oldest.
            oldest_event = next((k for k, (kind, _, _) in enumerate(self._pending) if kind == "event"), 0)
            del self._pending[oldest_event]
            self.dropped += 1
            self._dropped_unjournaled += 1
        self._pending.append((what, item, time.time() if when is None else when))

    def _failed(self, exc: sqlite3.Error) -> None:
        self._next_try = time.monotonic() + RETRY_S
        if self._failing is not None:
            return  # logged when it began: once per state change
        self._failing = (f"{type(exc).__name__}: {exc}", time.time())
        log.error("journal write failed (%s): the agent keeps scoring and showing the alarm state; up to %d "
                  "rows wait in memory and are written when the journal works again", self._failing[0], MAX_PENDING)
        self._queue("event", ("journal_fault_begin", f"journal cannot be written: {self._failing[0]}", None))

    def _recovery(self) -> str:
        error, since = self._failing or ("", time.time())
        rows = sum(what == "snapshot" for what, _, _ in self._pending)
        return (f"after {time.time() - since:.0f} s ({error}): {rows} snapshot rows and {len(self._pending) - rows} "
                f"events written from memory, {self.dropped} rows dropped in this run")

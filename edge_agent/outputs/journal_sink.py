"""The journal as an output: each snapshot row with the state it leaves behind, each event.

The row, the scorer's history, the alarm latch, the heartbeat and the
counters go into one transaction (:meth:`~edge_agent.journal.Journal.record_snapshot`),
so a restart, even after ``kill -9`` or a power cut, resumes the model's
window and the latch exactly where the last journaled snapshot left them.
The sink asks the agent for that state (``persisted_state``) at the moment
it writes the row, so the two can never be from different snapshots. The row
carries the score's inference time, error per feature and diagnosis
(:class:`~edge_agent.journal.SnapshotRow`); the journal writes them in words
and JSON (:func:`~edge_agent.journal.writer.insert_snapshot`), NULL for a
snapshot that was not scored.

The agent opens and closes the journal itself (it also reads its state at
start, takes requests and prunes it): this sink only writes to it. The
journal is the agent's :class:`~edge_agent.journal.agent_journal.AgentJournal`,
whose writes never raise: while the file cannot take them (disk full, locked,
corrupted) the rows wait in its bounded memory queue and the agent shows a fault.
"""
from __future__ import annotations

from typing import Any, Callable

from edge_agent.journal import Journal, SnapshotRow
from edge_agent.outputs.sink import Event, Shown

#: ``() -> (state, counters)``: what a snapshot leaves behind, journaled with it.
PersistedState = Callable[[], tuple[dict[str, Any], dict[str, int]]]


class JournalSink:
    """Writes snapshot rows (with their state, atomically) and events to the agent's journal."""

    def __init__(self, journal: Journal, persisted_state: PersistedState) -> None:
        self.journal = journal
        self.persisted_state = persisted_state

    def on_snapshot(self, row: SnapshotRow) -> None:
        state, counters = self.persisted_state()
        self.journal.record_snapshot(row, state=state, counters=counters)

    def on_event(self, event: Event) -> None:
        self.journal.event(event.kind, event.detail, event.bundle_id, when=event.time)

    def on_state(self, state: Shown) -> None:
        """Nothing: the latch is journaled with each snapshot, at each flush and on an acknowledgement."""

    def close(self) -> None:
        """Nothing: the agent owns the journal and closes it after its last write."""

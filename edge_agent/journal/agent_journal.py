"""The agent's own connection to its journal: one agent per journal.

:meth:`AgentJournal.open` takes the journal's lock (:mod:`~edge_agent.journal.lock`)
before anything is written, so a second ``bearing-agent run`` on the same
journal stops with the first one's pid instead of writing a false
``restart``, ``start`` and ``stop`` into its journal.
"""
from __future__ import annotations

from pathlib import Path

from edge_agent.journal.database import Journal
from edge_agent.journal.lock import JournalLock


class AgentJournal(Journal):
    """A :class:`Journal` that holds the journal's lock until :meth:`close`."""

    lock: JournalLock

    @classmethod
    def open(cls, path: str | Path) -> "AgentJournal":
        """Create or open the journal at ``path`` for the agent (raises JournalError, JournalUnavailable).

        The lock is taken right after the connection is open (which writes nothing to an existing
        journal but the tables added within its version) and before any row.
        """
        self = cls(path)
        try:
            self.lock = JournalLock(self.path).acquire()
        except BaseException:
            self.db.close()
            raise
        return self

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.lock.release()

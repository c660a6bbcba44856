"""One agent per journal: an exclusive lock on ``<journal>.lock``, held for the agent's life.

Two agents on one journal write each other's ``restart``, ``start`` and
``stop`` events, and their snapshot rows interleave. SQLite's own locks last a
transaction, not a process, so the agent takes an ``flock`` on a file beside
the journal and keeps it until it closes the journal. The kernel drops an
``flock`` when its process dies, ``kill -9`` included: a stale lock file never
blocks a restart. The holder writes its pid into the file, so a second agent
can say which process to stop.

``bearing-agent publish`` takes a lock of its own the same way
(``<journal>.publish.lock``, :data:`PUBLISHER`): two publishers on one
journal sent every row twice and took each other's broker session.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from edge_agent.journal.schema import JournalUnavailable


#: who takes a lock -> (lock file suffix, what the holder is, how to stop it)
AGENT = (".lock", "another agent", "systemctl stop bearing-agent, or kill {pid}")
PUBLISHER = (".publish.lock", "another publisher", "stop its service or terminal, or kill {pid}")


class JournalLock:
    """The lock on ``<journal>.lock`` (``role``: :data:`AGENT` or :data:`PUBLISHER`); :meth:`acquire` raises
    :class:`JournalUnavailable` naming the holder."""

    def __init__(self, journal_path: str | Path, role: tuple[str, str, str] = AGENT) -> None:
        self.journal_path = Path(journal_path)
        self.path = Path(f"{journal_path}{role[0]}")
        self.role = role
        self._fd: int | None = None

    def acquire(self) -> "JournalLock":
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalUnavailable(f"{self.path}: cannot create the journal's lock file ({exc.strerror}); "
                                     "the journal's directory must be writable by the agent's user") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            _, who, stop = self.role
            raise JournalUnavailable(f"{self.journal_path}: {who} (pid {holder}) is using this journal; stop it "
                                     f"first ({stop.format(pid=holder)}), or give this one its own --journal") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let the next agent in (the pid stays in the file: harmless, the lock is what counts)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

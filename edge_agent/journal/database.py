"""The journal file: open it (to write, or read-only), run a transaction, close it.

:class:`Journal` is one connection, used by one thread at a time (the agent's
loop, or a CLI command); its writes (:mod:`~edge_agent.journal.writer`),
queries (:mod:`~edge_agent.journal.reader`) and the publisher's cursor
(:mod:`~edge_agent.journal.outbox`) are mixins, one module per job.

WAL mode lets ``bearing-agent status`` read while the agent writes;
``synchronous=FULL`` makes each committed row survive a power cut.
"""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from edge_agent.journal.outbox import OutboxCursor
from edge_agent.journal.reader import JournalReads
from edge_agent.journal.schema import JournalError, JournalUnavailable, check_schema
from edge_agent.journal.writer import JournalWrites

#: How long a write waits for another process's write lock (``ack``, the publisher's cursor) before failing.
BUSY_TIMEOUT_S = 10.0


class Journal(JournalWrites, JournalReads, OutboxCursor):
    """One connection to the journal at ``path``.

    ``create`` (the agent, tests): create the file and its tables when there
    are none. Without it (``bearing-agent ack``, the publisher) the file must
    already be a journal; nothing is created. Either way a file of another
    schema version, or not a journal at all, is refused before anything is written.
    """

    def __init__(self, path: str | Path, *, create: bool = True, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise JournalError(f"{self.path}: no journal here (is the agent configured with another "
                               "[journal] path? pass --journal or --config)")
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise JournalUnavailable(f"{self.path}: cannot create the journal's directory ({exc}); "
                                   "set [journal] path to a writable place") from None
            if not self.path.exists():
                _create_whole(self.path, busy_timeout_s)
        try:
            self.db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None,
                                      check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            raise _open_error(self.path, exc) from None
        try:
            #: the file's schema version (the agent migrates to the newest; readers read it as it is)
            self.schema_version = check_schema(self.db, self.path, create=create)  # before any write
            if create:  # the agent: corrupted pages found now are a clear refusal, not a fault hours later
                _refuse_if_corrupted(self.db, self.path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            # 512 KiB of page cache, not SQLite's 2 MiB: the hourly prune scans a year's rows and
            # would fill the default cache, +1.8 MiB resident for the agent's life; same speed.
            self.db.execute("PRAGMA cache_size=-512")
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise _open_error(self.path, exc) from None
        except JournalError:
            self.db.close()
            raise

    @classmethod
    def open_readonly(cls, path: str | Path) -> "Journal":
        """A reader that cannot write (``mode=ro``): ``status``, the status page.

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
            self._connect_readonly("mode=ro")
        except sqlite3.DatabaseError as exc:
            if not _on_read_only_medium(self.path):
                raise JournalError(f"{self.path}: cannot read the journal: {exc} (readable by this user, with its "
                                   "-wal and -shm files? see docs/status_page.md)") from None
            # An SD card from a failed Pi, mounted read-only: SQLite cannot create the -shm file a WAL
            # reader needs. Nothing can change the file there, so it may be read as immutable, unless
            # a -wal file holds rows the main file does not have yet (immutable would not see them).
            wal = Path(f"{self.path}-wal")
            if wal.is_file() and wal.stat().st_size > 0:
                raise JournalError(
                    f"{self.path}: the journal is on a read-only medium and its -wal file holds rows not yet in "
                    f"the main file, which cannot be read in place: copy both to a writable place (cp -p {self.path} "
                    f"{wal} /tmp/) and pass --journal /tmp/{self.path.name}") from None
            try:
                self._connect_readonly("immutable=1")
            except sqlite3.DatabaseError as exc2:
                raise JournalError(f"{self.path}: cannot read the journal on its read-only medium: {exc2}") from None
        return self

    def _connect_readonly(self, flag: str) -> None:
        """Open ``self.path`` with the URI ``flag`` and check its schema (raises sqlite3.DatabaseError, JournalError)."""
        self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?{flag}", uri=True, timeout=5.0,
                                  isolation_level=None, check_same_thread=False)
        try:
            self.db.execute("PRAGMA cache_size=-512")
            self.schema_version = check_schema(self.db, self.path, create=False)  # 1 or 2: never migrated here
        except BaseException:
            self.db.close()
            raise

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; on any failure, the commit's included, roll back.

        A failed COMMIT (disk full) leaves SQLite's transaction open: without the
        rollback every later ``BEGIN`` would fail, long after the disk has room again.
        """
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the original error says what went wrong
            raise

    def close(self) -> None:
        self.db.close()


def _on_read_only_medium(path: Path) -> bool:
    """Whether ``path`` lies on a filesystem mounted read-only (``mount -o ro``, a write-protected card)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


#: SQLite's name for a journal whose pages are damaged (``sqlite3.Error.sqlite_errorname``). A file
#: without SQLite's header (``SQLITE_NOTADB``) is more often a wrong ``--journal`` path than a damaged
#: journal, so it gets its own message (:func:`_open_error`).
CORRUPTED = ("SQLITE_CORRUPT",)


def _corrupted(path: Path, detail: str) -> JournalError:
    """A damaged journal: for good (exit 2, not retried), and the agent deletes no data, so the user moves it."""
    return JournalError(f"{path}: the journal is corrupted ({detail}). The agent deletes no data: move it aside "
                        f"(mv {path} {path}.corrupt, with its -wal and -shm files if any) and start the agent again, "
                        f"which creates a new journal; 'sqlite3 {path}.corrupt .recover' gets back what is readable")


def _refuse_if_corrupted(db: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check``: every page of the file is read once, at the agent's start only (a year's
    500,000 rows, 51 MB: 1.4-1.8 s on the 2-core x86 desktop, file in the page cache; more from an SD card)."""
    problems = [r[0] for r in db.execute("PRAGMA quick_check(2)")]
    if problems != ["ok"]:  # e.g. "*** in database main ***\nPage 38: btreeInitPage() returns error code 11"
        raise _corrupted(path, "SQLite's quick_check: " + " ".join(" ".join(problems).split()))


def _open_error(path: Path, exc: sqlite3.DatabaseError | OSError) -> JournalError:
    """Why the journal did not open: for now (locked, not writable, I/O: :class:`JournalUnavailable`,
    which the unit retries) or for good (not a SQLite file at all: retrying would not help)."""
    name = getattr(exc, "sqlite_errorname", None)
    if name in CORRUPTED:
        return _corrupted(path, str(exc))
    if name == "SQLITE_NOTADB":
        return JournalError(f"{path}: cannot open the journal: {exc}: check that the path names the agent's "
                            f"journal; if this file was one, its header is destroyed: move it aside "
                            f"(mv {path} {path}.corrupt) and start the agent again, which creates a new journal")
    cls = JournalUnavailable if isinstance(exc, (sqlite3.OperationalError, OSError)) else JournalError
    return cls(f"{path}: cannot open the journal: {exc} (is the file writable by this user, and a SQLite database?)")


def _create_whole(path: Path, busy_timeout_s: float) -> None:
    """Create a new journal beside ``path`` and link it into place whole.

    A reader (``status``, the page, the publisher, a test) that opens the path while the agent
    creates it then sees no file or a complete journal, never an empty SQLite file or half a
    schema. ``os.link`` fails if another creator was first: its journal is kept.
    """
    temp = path.with_name(f"{path.name}.creating-{os.getpid()}")
    try:
        db = sqlite3.connect(temp, timeout=busy_timeout_s, isolation_level=None)
        try:
            check_schema(db, temp, create=True)
            db.execute("PRAGMA journal_mode=WAL")  # stored in the file: every later connection uses it
        finally:
            db.close()  # the last connection: SQLite checkpoints and removes the -wal file
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: the rename is atomic too, only not exclusive
            if not path.exists():
                os.replace(temp, path)
    except (OSError, sqlite3.DatabaseError) as exc:
        raise _open_error(path, exc) from None
    finally:
        for leftover in (temp, temp.with_name(temp.name + "-wal"), temp.with_name(temp.name + "-shm"),
                         temp.with_name(temp.name + "-journal")):
            leftover.unlink(missing_ok=True)

"""The journal's tables, and the check that a file is a journal this code can use.

The version check comes **before** anything is created: a journal from a
newer agent, or some other program's SQLite file, is refused with what it is,
never "upgraded" by ``CREATE TABLE IF NOT EXISTS`` into a mixture of both
(``status`` once created the tables in a version-2 journal and then failed
with "no such column: time").

Version 2 added five columns to ``snapshots`` (the model's inference time, the
error per feature, where the error is and its share, and the diagnosis in words:
see :data:`SNAPSHOT_COLUMNS_V2`). The error per feature is a JSON list in the
spec's feature order beside ``features``, not a table of its own: every reader
reads it with the row, at no index or join (see ``writer.insert_snapshot``). The agent migrates a version-1 journal in place
when it opens it (:func:`migrate`: ``ALTER TABLE ... ADD COLUMN`` in one
transaction, the old rows keep NULL there); version 3 added the machine state and the
level (:data:`SNAPSHOT_COLUMNS_V3`), migrated the same way. A read-only command reads every
version and never migrates (a version-1 journal simply has no diagnosis yet).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from firmware_io.errors import BearingEdgeError

SCHEMA_VERSION = 3
#: What a read-only command reads: this version, and the older ones it can read without writing.
READABLE_VERSIONS = (1, 2, 3)

#: The snapshot columns version 2 added, as ``ALTER TABLE snapshots ADD COLUMN`` takes them (all NULL-able:
#: the rows of a migrated version-1 journal, and unscored snapshots, have none).
SNAPSHOT_COLUMNS_V2 = (
    "inference_s REAL",      # the model's invoke(s) for this snapshot, seconds (NULL: not scored)
    "contributions TEXT",    # JSON list: the error per feature, in the bundle spec's feature order
    "top_channel TEXT",      # the channel whose features carry most of the error, and its share of it
    "top_share REAL",
    "diagnosis TEXT",        # "bearing 1, outer race": only on snapshots over the threshold or in alarm
)
#: The snapshot columns version 3 added: the two facts every snapshot carries beside its score (issue 20).
SNAPSHOT_COLUMNS_V3 = (
    "machine_state TEXT",    # running / stopped / starting / sensor_fault (NULL: before version 3, or learning)
    "level TEXT",            # normal / alert / danger after this snapshot (NULL: not scored by a bundle)
)
#: What each version added, for :func:`migrate`.
COLUMNS_ADDED = {2: SNAPSHOT_COLUMNS_V2, 3: SNAPSHOT_COLUMNS_V3}

#: The latest diagnosis is one index lookup, however few snapshots have one (``status``, the page, MQTT state).
DIAGNOSIS_INDEX = "CREATE INDEX IF NOT EXISTS snapshots_diagnosed ON snapshots (id) WHERE diagnosis IS NOT NULL;"

SCHEMA = """
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
    recorded REAL NOT NULL,          -- wall clock when journaled (retention; differs from time in replays)
    {v2_columns},                -- version 2: see SNAPSHOT_COLUMNS_V2
    {v3_columns});               -- version 3: see SNAPSHOT_COLUMNS_V3
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
""".replace("{v2_columns}", ", ".join(SNAPSHOT_COLUMNS_V2)).replace("{v3_columns}", ", ".join(SNAPSHOT_COLUMNS_V3)) \
    + DIAGNOSIS_INDEX


class JournalError(BearingEdgeError, RuntimeError):
    """A journal that cannot be opened or is from an incompatible version."""


class JournalUnavailable(JournalError):
    """The agent's journal cannot be used *now* (another agent holds it, it is not writable, the disk
    refuses it): a condition that can end, so the agent exits with 75 (``EX_TEMPFAIL``), which the
    unit's ``Restart=on-failure`` retries, unlike the 2 of a refused config or bundle."""

    exit_code = 75


def check_schema(db: sqlite3.Connection, path: Path, *, create: bool) -> int:
    """Refuse a file that is not a journal this code can use; create the tables in an empty one.

    Returns the journal's schema version. Only with ``create`` (the agent) is
    anything written: the schema in an empty database (no tables at all), the
    migration of a version-1 journal (:func:`migrate`), and the tables added
    within a version since a journal was created. Without it (a read-only
    command) any of :data:`READABLE_VERSIONS` is accepted as it is: nothing is written.
    """
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        if not create:
            raise JournalError(f"{path}: an empty SQLite file, not a journal yet (start the agent: it creates it)")
        # One transaction: a reader opening the journal meanwhile sees no tables or all of them, never
        # "meta, streams" (which is not a journal). Idempotent, should another creator have been first.
        try:
            db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} INSERT OR IGNORE INTO meta VALUES "
                             f"('schema_version', '{SCHEMA_VERSION}'); COMMIT;")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return SCHEMA_VERSION
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() if "meta" in tables else None
    if row is None:
        raise JournalError(f"{path}: a SQLite file but not a bearing-agent journal (tables: "
                           f"{', '.join(sorted(tables))}); point [journal] path or --journal at the agent's journal")
    version = parse_version(row[0], path)
    if version not in READABLE_VERSIONS:
        newer = "a newer" if version > SCHEMA_VERSION else "an older"
        raise JournalError(f"{path}: journal schema version {version}, written by {newer} agent; this one "
                           f"knows version {SCHEMA_VERSION}: use the matching bearing-edge version, or move "
                           "the journal aside and let the agent start a new one")
    if not create:
        return version
    if version < SCHEMA_VERSION:
        migrate(db, path)
    db.executescript(SCHEMA)  # the migration within a version: tables added since (outbox_cursor)
    return SCHEMA_VERSION


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """An older version -> this one in place: each later version's snapshot columns (NULL in the old rows),
    the diagnosis index, the version.

    One ``BEGIN IMMEDIATE`` transaction: a reader sees the version-1 journal or the
    version-2 one, never columns without the version; a failure (disk full) leaves
    version 1 as it was, and the next start tries again. The version is read again
    inside the transaction, so a second agent starting at the same moment (the
    journal's lock is taken after this) does not add the columns twice.
    """
    try:
        db.execute("BEGIN IMMEDIATE")
        (value,) = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = parse_version(value, path)
        if version < SCHEMA_VERSION:
            for added in range(version + 1, SCHEMA_VERSION + 1):
                for column in COLUMNS_ADDED[added]:
                    db.execute(f"ALTER TABLE snapshots ADD COLUMN {column}")
            db.execute(DIAGNOSIS_INDEX)
            db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def parse_version(value: object, path: Path) -> int:
    """The ``schema_version`` as an int; anything but a plain decimal integer is refused with a message."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit():
        raise JournalError(f"{path}: journal schema_version is {value!r}, not an integer: the file was "
                           "not written by bearing-agent (or was edited); move it aside")
    return int(text)

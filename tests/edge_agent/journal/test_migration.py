"""Journal schema version 2 (issues 12 and 14): the agent migrates a version-1 journal in place at start;
a read-only command reads version 1 as it is, never writes it, and shows no diagnosis for it."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edge_agent.cli import main as cli
from edge_agent.journal import AgentJournal, Journal, JournalError, SnapshotRow
from edge_agent.journal.schema import SCHEMA_VERSION, SNAPSHOT_COLUMNS_V2, SNAPSHOT_COLUMNS_V3
from edge_agent.scoring.diagnosis import Diagnosis

#: The version-1 schema exactly as bearing-edge wrote it before version 2 (edge_agent/journal/schema.py at
#: e58b93c): a test journal made with it is what a device in the field holds.
V1_SCHEMA = """
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


def v1_journal(path: Path, n_rows: int = 3) -> Path:
    """A version-1 journal with ``n_rows`` scored snapshots, written by the old schema's SQL."""
    db = sqlite3.connect(path)
    db.executescript(f"{V1_SCHEMA} INSERT INTO meta VALUES ('schema_version', '1');")
    db.execute("INSERT INTO streams (device_id, firmware_version, sample_rate_hz, n_channels, scale, channel_names,"
               " first_seen) VALUES ('dev', 'fw', 20000, 2, 0.001, ?, 0)", (json.dumps(["Bearing 1", "Bearing 2"]),))
    for i in range(n_rows):
        db.execute("INSERT INTO snapshots (time, first_index, stream_id, features, error, threshold, over_threshold,"
                   " alarm, state, bundle_id, latency_ms, recorded) VALUES (?, ?, 1, ?, ?, 0.5, ?, 0, 'normal',"
                   " 'b1', 1.5, ?)", (1e9 + i, i * 20480, json.dumps([0.1 + i, 0.2]), 0.4 + 0.1 * i, int(i > 1), 1e9 + i))
    db.execute("PRAGMA journal_mode=WAL")
    db.commit()
    db.close()
    return path


def columns(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [r[1] for r in db.execute("PRAGMA table_info(snapshots)")]
    finally:
        db.close()


def scored_row(t: float, over: bool, diagnosis: Diagnosis | None) -> SnapshotRow:
    return SnapshotRow(time=t, first_index=0, stream_id=1, features=[1.0, 2.0], error=0.9 if over else 0.1,
                       threshold=0.5, over_threshold=over, alarm=over, state="alarm" if over else "normal",
                       bundle_id="b2", latency_ms=1.0, inference_s=0.00042, contributions=(0.6, float("nan")),
                       diagnosis=diagnosis)


def test_the_agent_migrates_a_version_1_journal_in_place_and_keeps_its_rows(tmp_path):
    path = v1_journal(tmp_path / "j.sqlite")
    new_columns = [c.split()[0] for c in SNAPSHOT_COLUMNS_V2 + SNAPSHOT_COLUMNS_V3]  # 1 -> 3 in one step
    assert not set(new_columns) & set(columns(path))
    journal = AgentJournal.open(path)
    try:
        assert journal.schema_version == SCHEMA_VERSION == 3
        old = journal.snapshots()
        assert [r["first_index"] for r in old] == [0, 20480, 40960] and old[2]["over_threshold"] == 1
        assert all(r[c] is None for r in old for c in new_columns)  # the old rows: NULL in the new columns
        assert journal.latest_diagnosis() is None
        journal.record_snapshot(scored_row(2e9, True, Diagnosis("Bearing 1", 0.72, "bpfo")))
        journal.record_snapshot(scored_row(2e9 + 1, False, Diagnosis("Bearing 2", 0.55, None)))
        new = journal.snapshots(last=2)
    finally:
        journal.close()
    assert columns(path)[-len(new_columns):] == new_columns
    assert new[0]["inference_s"] == 0.00042 and new[0]["contributions"] == [0.6, None]  # NaN -> null
    assert (new[0]["top_channel"], new[0]["top_share"], new[0]["diagnosis"]) == ("Bearing 1", 0.72,
                                                                                 "bearing 1, outer race")
    assert new[1]["top_channel"] == "Bearing 2" and new[1]["diagnosis"] is None  # under the threshold: no words
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    plan = " ".join(str(r) for r in db.execute("EXPLAIN QUERY PLAN SELECT id FROM snapshots WHERE diagnosis IS "
                                               "NOT NULL ORDER BY id DESC LIMIT 1"))
    db.close()
    assert "snapshots_diagnosed" in plan  # the latest diagnosis is an index lookup, not a scan
    reader = Journal.open_readonly(path)
    assert reader.latest_diagnosis()["diagnosis"] == "bearing 1, outer race"
    reader.close()
    AgentJournal.open(path).close()  # a second start: already version 2, nothing added twice
    assert columns(path).count("diagnosis") == 1


def test_a_failed_migration_leaves_version_1_as_it_was(tmp_path):
    """The columns and the version change in one transaction: a failure half-way leaves nothing."""
    path = v1_journal(tmp_path / "j.sqlite")
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE snapshots ADD COLUMN top_share REAL")  # the 4th of the 5 ALTERs will fail
    db.commit()
    db.close()
    before = columns(path)
    with pytest.raises(JournalError, match="cannot open the journal: duplicate column name: top_share"):
        Journal(path)
    assert columns(path) == before
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    db.close()


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["export", "-o", "out.csv"],
                                     ["export", "-o", "out.csv", "--scores", "scores.csv"]])
def test_read_only_commands_read_a_version_1_journal_without_writing_it(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    path = v1_journal(tmp_path / "j.sqlite")
    before = (columns(path), path.read_bytes())
    assert cli.main([*command, "--journal", str(path)]) == 0
    out = capsys.readouterr().out
    assert (columns(path), path.read_bytes()) == before  # not migrated, not a byte changed
    if command == ["status"]:
        assert "diagnosis" not in out.lower() and "0.6" in out  # the old rows, and no diagnosis line
    if "--scores" in command:  # the old rows' scores, and empty cells where version 1 has no column
        lines = (tmp_path / "scores.csv").read_text().splitlines()
        assert lines[0].split(",")[:12] == ["timestamp", "error", "threshold", "over_threshold", "alarm", "state",
                                            "bundle_id", "latency_ms", "inference_s", "top_channel", "top_share",
                                            "diagnosis"]
        assert len(lines) == 4 and lines[3].split(",")[1:9] == [repr(0.4 + 0.1 * 2), "0.5", "1", "0", "normal",
                                                                "b1", "1.5", ""]


def test_a_read_only_journal_of_version_1_reads_as_rows_without_the_new_values(tmp_path):
    path = v1_journal(tmp_path / "j.sqlite")
    reader = Journal.open_readonly(path)
    try:
        assert reader.schema_version == 1
        rows = reader.snapshots()
        assert len(rows) == 3 and all(r["contributions"] is None and r["diagnosis"] is None for r in rows)
        assert reader.latest_diagnosis() is None
    finally:
        reader.close()


def test_a_reader_opened_before_the_migration_sees_the_diagnosis_after_it(tmp_path):
    """The publisher or the page may have the version-1 journal open when the agent starts and migrates it."""
    path = v1_journal(tmp_path / "j.sqlite")
    reader = Journal.open_readonly(path)
    try:
        assert reader.latest_diagnosis() is None
        agent = AgentJournal.open(path)
        agent.record_snapshot(scored_row(2e9, True, Diagnosis("Bearing 1", 0.72, "bpfo")))
        agent.close()
        assert reader.latest_diagnosis()["diagnosis"] == "bearing 1, outer race"
        assert reader.snapshots(last=1)[0]["contributions"] == [0.6, None]
    finally:
        reader.close()


def test_a_version_after_this_one_is_still_refused(tmp_path):
    path = v1_journal(tmp_path / "j.sqlite")
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    for open_it in (Journal, Journal.open_readonly):
        with pytest.raises(JournalError, match=f"schema version {SCHEMA_VERSION + 1}, written by a newer agent"):
            open_it(path)

"""Issue 11 #7: the agent's journal writes never raise; what the file cannot take waits in memory, bounded,
and is written in order once it can; a journal the agent cannot write at start is refused for the unit to retry."""
from __future__ import annotations

import sqlite3
import time

import pytest

from edge_agent.journal import agent_journal
from edge_agent.journal.agent_journal import AgentJournal
from edge_agent.journal.schema import JournalUnavailable
from edge_agent.journal.writer import SnapshotRow
from tests.filesystems import fill, remount, small_tmpfs


def row(k: int) -> SnapshotRow:
    return SnapshotRow(time=1.7e9 + k, first_index=k * 1024, stream_id=None, features=[0.1 * k, 0.2], error=0.5,
                       threshold=0.3, over_threshold=True, alarm=k >= 2, state="normal", bundle_id="b1",
                       latency_ms=1.0)


@pytest.fixture
def retry_at_once(monkeypatch):
    monkeypatch.setattr(agent_journal, "RETRY_S", 0.0)


def kinds(j: AgentJournal) -> list[str]:
    return [e["kind"] for e in j.events(last=100)]


def test_a_write_lock_held_by_another_process_delays_the_rows_but_loses_none(tmp_path, retry_at_once):
    j = AgentJournal.open(tmp_path / "j.sqlite")
    other = sqlite3.connect(j.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock (for 15 s in the issue)
    started = time.monotonic()
    for k in range(3):
        j.record_snapshot(row(k), state={"alarm": {"latched": k >= 2}}, counters={"frames_ok": k})
    j.event("alarm_raised", "over the threshold")
    assert time.monotonic() - started < 3 * agent_journal.AGENT_BUSY_TIMEOUT_S + 2  # waits briefly, never 10 s
    assert "database is locked" in j.fault and j.pending == 5  # 3 rows, the event, journal_fault_begin
    assert j.snapshots() == [] and j.take_requests() == [] and j.prune(1, 1) == 0  # none raises
    other.execute("ROLLBACK")
    other.close()
    j.set_state(heartbeat={"time": time.time()})  # the next write (the flush) takes everything
    assert j.fault is None and j.pending == 0
    assert [r["first_index"] for r in j.snapshots()] == [0, 1024, 2048]
    assert kinds(j) == ["journal_fault_begin", "alarm_raised", "journal_fault_end"]
    assert j.get_state("alarm") == {"latched": True} and j.counters() == {"frames_ok": 2}
    assert "3 snapshot rows and 2 events written from memory, 0 rows dropped" in j.events(last=1)[0]["detail"]
    j.close()


def test_the_memory_queue_is_bounded_and_what_it_drops_is_counted(tmp_path, retry_at_once, monkeypatch):
    monkeypatch.setattr(agent_journal, "MAX_PENDING", 4)
    j = AgentJournal.open(tmp_path / "j.sqlite")
    other = sqlite3.connect(j.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    for k in range(8):
        j.record_snapshot(row(k))
    assert j.pending == 4 and j.dropped == 5  # 8 rows + journal_fault_begin, 4 kept: the newest
    other.execute("ROLLBACK")
    other.close()
    j.set_state(heartbeat={"time": time.time()})
    assert [r["first_index"] for r in j.snapshots()] == [k * 1024 for k in range(4, 8)]
    assert j.counters()["journal_rows_dropped"] == 5
    j.close()


def test_a_full_disk_keeps_the_rows_in_memory_until_there_is_room(tmp_path, retry_at_once):
    with small_tmpfs(tmp_path / "fs") as fs:
        j = AgentJournal.open(fs / "j.sqlite")
        j.record_snapshot(row(0))
        filler = fill(fs)
        for k in range(1, 40):  # the WAL needs new pages: SQLITE_FULL
            j.record_snapshot(row(k), state={"scorer": {"k": k}})
        assert j.fault is not None and "full" in j.fault
        filler.unlink()
        j.event("alarm_raised", "over the threshold")
        assert j.fault is None
        assert [r["first_index"] for r in j.snapshots()] == [k * 1024 for k in range(40)]
        assert j.get_state("scorer") == {"k": 39}
        assert kinds(j)[-3:] == ["journal_fault_begin", "alarm_raised", "journal_fault_end"]
        j.close()


def test_a_read_only_journal_is_refused_at_start_for_the_unit_to_retry(tmp_path):
    with small_tmpfs(tmp_path / "fs") as fs:
        AgentJournal.open(fs / "j.sqlite").close()
        remount(fs, "ro")  # (a filesystem cannot be remounted read-only under an open writer: at start only)
        try:
            with pytest.raises(JournalUnavailable, match="the agent cannot write its journal") as refused:
                AgentJournal.open(fs / "j.sqlite")
            assert refused.value.exit_code == 75  # not 2: Restart=on-failure retries it
        finally:
            remount(fs, "rw")
        j = AgentJournal.open(fs / "j.sqlite")  # writable again: the retry starts
        j.record_snapshot(row(0))
        assert j.fault is None and len(j.snapshots()) == 1
        j.close()

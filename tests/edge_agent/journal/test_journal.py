"""The journal: WAL mode, state and counters with each snapshot, requests between processes, retention."""
from __future__ import annotations

import time

import pytest

from edge_agent.journal import Journal, SnapshotRow


def row(t, first_index, **kw):
    base = dict(time=t, first_index=first_index, stream_id=None, features=[0.1, 0.2], error=None,
                threshold=None, over_threshold=None, alarm=None, state="normal", bundle_id="b1", latency_ms=1.0)
    return SnapshotRow(**{**base, **kw})


def test_journal_wal_state_requests_and_retention(tmp_path):
    j = Journal(tmp_path / "sub" / "j.sqlite")
    assert j.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    sid = j.stream_id("dev", "fw", 20000, 2, 0.001, ["a", "b"])
    assert j.stream_id("dev", "fw", 20000, 2, 0.001, ["a", "b"]) == sid
    for k in range(5):
        j.record_snapshot(row(1e9 + k, k * 10, stream_id=sid, error=0.5 + k), state={"scorer": {"k": k}},
                          counters={"frames_ok": k})
    assert j.get_state("scorer") == {"k": 4} and j.counters() == {"frames_ok": 4}
    rows = j.snapshots(last=2)
    assert [r["first_index"] for r in rows] == [30, 40] and rows[0]["channel_names"] == ["a", "b"]
    # another process (bearing-agent ack) queues a request while the agent holds the journal
    other = Journal(tmp_path / "sub" / "j.sqlite", create=False)
    other.request("ack", "command line")
    other.close()
    assert [(k, s) for _, k, s in j.take_requests()] == [("ack", "command line")]
    assert j.take_requests() == []
    # retention: by row count, and by age since journaled (not the snapshot's own time)
    assert j.prune(retention_days=365, max_snapshots=3) == 2
    assert len(j.snapshots()) == 3
    j.db.execute("UPDATE snapshots SET recorded = recorded - 2 * 86400")  # journaled two days ago
    j.record_snapshot(row(1e9 + 5, 50, stream_id=sid))  # and one now
    assert j.prune(retention_days=1, max_snapshots=100) == 3
    assert [r["first_index"] for r in j.snapshots()] == [50]
    j.close()
    with pytest.raises(Exception, match="no journal here"):
        Journal(tmp_path / "nothing.sqlite", create=False)


def test_a_reader_never_sees_a_journal_being_created(tmp_path):
    """The agent creates its journal whole: a reader polling the path meanwhile finds no file or a
    complete journal, never an empty SQLite file (which it would refuse as "not a journal yet")."""
    import threading

    from edge_agent.journal.schema import JournalError

    paths = [tmp_path / f"journal-{i}.sqlite" for i in range(30)]
    opened, errors, stop = [], [], threading.Event()

    def poll():
        while not stop.is_set():
            for path in paths:
                if path.exists():
                    try:
                        Journal(path, create=False).close()
                        opened.append(path)
                    except JournalError as exc:
                        errors.append(str(exc))

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for path in paths:
            Journal(path).close()
    finally:
        stop.set()
        reader.join(10)
    assert errors == []
    assert opened  # the reader did look at journals while they were created
    assert not list(tmp_path.glob("*.creating-*"))


@pytest.mark.parametrize("step_days", [400, -400])
def test_a_wall_clock_step_never_prunes_the_history(tmp_path, step_days):
    """Issue 21 #4: started with the clock 400 days ahead, the first prune deleted every earlier row and
    event; rows journaled while it was 400 days behind were deleted at the next normal start."""
    j = Journal(tmp_path / "j.sqlite")
    sid = j.stream_id("dev", "fw", 20000, 2, 0.001, ["a", "b"])
    for k in range(5):
        j.record_snapshot(row(1e9 + k, k, stream_id=sid))
        j.event("start", f"run {k}")
    stepped = time.time() + step_days * 86400
    # the agent starts with the stepped clock: its first prune, then rows journaled with that clock
    assert j.prune(retention_days=365, max_snapshots=500_000, now=stepped) == 0
    j.db.execute("UPDATE snapshots SET recorded = ? WHERE id = (SELECT MAX(id) FROM snapshots)", (stepped,))
    j.record_snapshot(row(1e9 + 5, 5, stream_id=sid))
    j.db.execute("UPDATE snapshots SET recorded = ? WHERE id = (SELECT MAX(id) FROM snapshots)", (stepped,))
    # the next start, with the clock right again
    assert j.prune(retention_days=365, max_snapshots=500_000) == 0
    assert len(j.snapshots()) == 6 and len(j.events(last=100, kind="start")) == 5
    assert j.events(last=100, kind="pruned") == []  # nothing deleted, nothing to explain
    j.close()

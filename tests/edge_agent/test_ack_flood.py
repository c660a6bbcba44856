"""A flood of acknowledgements (issue 21 #5): 40,000 junk messages on cmd/ack in 40 s were one journal row each,
locked the agent's writes for up to 24 s, evicted snapshot rows from its memory queue in favour of
``ack_ignored`` events and grew the journal by 15,438 requests and 12,201 events.

Each layer now bounds it: one pending ack at a time in the journal, one acknowledgement per loop tick,
one ``ack_ignored`` a minute, events evicted before snapshot rows, requests and events capped by count,
and the publisher lets one MQTT ack a second through (tests/edge_agent/telemetry/test_broker_refusals.py).
"""
from __future__ import annotations

import sqlite3
import time

from edge_agent.alarms.acks import Acknowledgements
from edge_agent.alarms.alarm_state import AlarmState
from edge_agent.journal import Journal, agent_journal
from edge_agent.journal.agent_journal import AgentJournal
from edge_agent.journal.writer import MAX_REQUESTS, SnapshotRow
from edge_agent.status import acknowledge


def row(k: int) -> SnapshotRow:
    return SnapshotRow(time=1.7e9 + k, first_index=k, stream_id=None, features=[0.1], error=0.1, threshold=0.3,
                       over_threshold=False, alarm=False, state="normal", bundle_id="b1", latency_ms=1.0)


def pending_acks(path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM requests WHERE kind = 'ack' AND done IS NULL").fetchone()[0]
    finally:
        db.close()


def test_a_thousand_acks_queue_one_request(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    for k in range(1000):
        acknowledge(j, f"flood {k}")
    assert pending_acks(j.path) == 1
    assert [kind for _, kind, _ in j.take_requests()] == ["ack"]
    acknowledge(j, "after the agent took it")  # a new one once the pending one is taken
    assert pending_acks(j.path) == 1
    j.close()


def test_acks_at_once_are_one_acknowledgement_and_ignored_ones_one_event_a_minute():
    acks = Acknowledgements()
    for k in range(3):
        acks.add(f"button {k}")
    taken = acks.take([(1, "ack", "mqtt a"), (2, "rebaseline", "{}"), (3, "ack", "mqtt b")])
    assert taken == ["button 0 (and 4 more at once)"]
    alarm = AlarmState()
    events = [e for k in range(500) for e in alarm.acknowledge(f"junk {k}")]
    assert events == [("ack_ignored", "acknowledge from junk 0: no unacknowledged alarm")]


def test_a_full_memory_queue_drops_events_before_snapshot_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(agent_journal, "RETRY_S", 0.0)
    monkeypatch.setattr(agent_journal, "MAX_PENDING", 10)
    j = AgentJournal.open(tmp_path / "j.sqlite")
    other = sqlite3.connect(j.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the journal locked: rows wait in memory
    for k in range(5):
        j.record_snapshot(row(k))
        for _ in range(20):
            j.event("ack_ignored", "acknowledge from junk: no unacknowledged alarm")
    other.execute("ROLLBACK")
    other.close()
    j.set_state(heartbeat={"time": time.time()})
    assert [r["first_index"] for r in j.snapshots()] == [0, 1, 2, 3, 4]  # every snapshot row kept
    j.close()


def test_requests_and_events_are_capped_by_count(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    for k in range(MAX_REQUESTS + 200):
        j.request("ack", f"k {k}")
    j.take_requests()  # all done
    for k in range(300):
        j.event("ack_ignored", "junk")
    j.record_snapshot(row(0))
    j.prune(retention_days=365, max_snapshots=100)
    assert j.db.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == MAX_REQUESTS
    assert j.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] <= 101  # 100 and the prune's own
    j.close()

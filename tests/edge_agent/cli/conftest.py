"""Journals written the way the agent writes them, for the journal-reading subcommands."""
from __future__ import annotations

import time

import pytest

from edge_agent.journal import Journal, SnapshotRow


def row(t, first_index, **kw) -> SnapshotRow:
    base = dict(time=t, first_index=first_index, stream_id=None, features=[0.1, 0.2], error=None,
                threshold=None, over_threshold=None, alarm=None, state="normal", bundle_id="b1", latency_ms=1.0)
    return SnapshotRow(**{**base, **kw})


@pytest.fixture
def scored_journal(tmp_path):
    """Three scored snapshots of device pump-7 (x, y at 20 kHz) 600 s apart, a fourth in the same
    second as the third, a fresh heartbeat and a start event."""
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    sid = j.stream_id("pump-7", "fw", 20000, 2, 0.001, ["x", "y"])
    for k in range(3):
        j.record_snapshot(row(1.7e9 + 600 * k, k * 20480, stream_id=sid, features=[0.1 * k, 0.2],
                              error=0.01 * k, threshold=0.5, over_threshold=False, alarm=False),
                          state={"heartbeat": {"time": time.time(), "pid": 1, "mode": "scoring",
                                               "display": "normal", "port": "/dev/ttyACM0"}})
    j.record_snapshot(row(1.7e9 + 600 * 2 + 0.5, 3 * 20480, stream_id=sid))  # same second: left out
    j.event("start", "test")
    j.close()
    return path

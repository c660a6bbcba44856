"""A journal written through the agent's own Journal API, with known alarm runs, and the page served in a thread."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge_agent.journal import Journal, SnapshotRow
from edge_agent.web.server import StatusServer

T0 = 1_076_581_959.0  # 2004-02-12 10:32:39 UTC
STEP = 600.0
THRESHOLD = 0.3
#: state per snapshot: two alarm runs (rows 10-14 and 30-31), the rest normal
STATES = ["alarm" if 10 <= k < 15 or 30 <= k < 32 else "normal" for k in range(40)]


def write_journal(path: Path, device_id: str = "board-1", *, running: bool = True) -> Journal:
    j = Journal(path)
    sid = j.stream_id(device_id, "1.0", 20000, 2, 0.001, ["Bearing 1", "Bearing 2"])
    j.event("start", "pid 1")
    j.event("bundle_loaded", f"b-1 from /x: variant float32, threshold {THRESHOLD}, debounce 3, T=1")
    for k, state in enumerate(STATES):
        err = 5.0 if state == "alarm" else 0.1 + 0.001 * k
        if k == 20:
            err = 9.0  # a one-snapshot spike, over the threshold but not debounced into an alarm
        j.record_snapshot(
            SnapshotRow(T0 + STEP * k, k * 20480, sid, [0.06, 0.3 if state == "alarm" else 0.07], err, THRESHOLD,
                        err > THRESHOLD, state == "alarm", state, "b-1", 1.0),
            state={"heartbeat": {"time": time.time(), "pid": 1, "started": time.time(), "mode": "scoring",
                                 "bundle_id": "b-1", "bundle_path": None, "port": "/dev/x", "connected": True,
                                 "display": state, "fault": None, "device_id": device_id,
                                 **({} if running else {"stopped": True})},
                   "alarm": {"condition": state == "alarm", "latched": state == "alarm", "acknowledged": False}},
            counters={"frames_ok": 10 * k, "bad_checks": 1})
        if k in (10, 30):
            j.event("alarm_raised", "debounced reconstruction error over the threshold")
    return j


@pytest.fixture
def journal_path(tmp_path) -> Path:
    path = tmp_path / "journal.sqlite"
    write_journal(path).close()
    return path


@contextmanager
def served(journal: Path, **kwargs):
    """The real server on a free 127.0.0.1 port, in a thread; yields its base URL."""
    server = StatusServer(("127.0.0.1", 0), journal, **kwargs)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)

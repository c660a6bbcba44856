"""Journal rows written the way the agent writes them, without an agent or a model. No tests here."""
from __future__ import annotations

import threading
import time

from edge_agent.journal import Journal, SnapshotRow
from edge_agent.scoring.diagnosis import Diagnosis

CHANNELS = ["Bearing 1", "Bearing 2"]


def fill(journal_path, n: int, start: int = 0) -> None:
    """``n`` scored snapshot rows and a fresh heartbeat, as the agent writes them."""
    j = Journal(journal_path)
    try:
        stream = j.stream_id("test-board", "1.0", 20000, 2, 1.0, CHANNELS)
        for k in range(start, start + n):
            error = 0.1 * k  # bearing 1 carries three quarters of it: the diagnosis once over the threshold
            j.record_snapshot(SnapshotRow(1_076_581_959.0 + 600 * k, 20480 * k, stream, [0.06 + k / 1e3, 0.07],
                                          error, 0.3, error > 0.3, False, "normal", "bundle-1", 1.2,
                                          inference_s=0.0004, contributions=(1.5 * error, 0.5 * error),
                                          diagnosis=Diagnosis("Bearing 1", 0.75)),
                              state={"heartbeat": heartbeat()})
        j.event("start", "test")
    finally:
        j.close()


def heartbeat(**changes) -> dict:
    return {"time": time.time(), "pid": 1, "mode": "scoring", "bundle_id": "bundle-1", "display": "normal",
            "fault": None, "alarm_latched": False, "alarm_acknowledged": False, **changes}


class Writer:
    """Appends one row every ``period`` seconds, like an agent scoring, until closed."""

    def __init__(self, path, period: float = 0.05) -> None:
        self.path, self.period = path, period
        self.n = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            fill(self.path, 1, start=self.n)
            self.n += 1
            self.stop.wait(self.period)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)

"""The publisher against a real Mosquitto, on a journal written here row by row (no agent, no model).

What the issue asks of the outbox: every row arrives, in order, after broker
and publisher restarts; failures name the broker and the fix and are retried
with back-off; acknowledgements from the broker reach the journal; Home
Assistant gets its discovery configs again when it says ``online``.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

import pytest

from edge_agent.config import parse_config
from edge_agent.journal import Journal, SnapshotRow
from edge_agent.telemetry.publisher import Publisher
from tests.agent_fixtures import wait_for
from tests.edge_agent.telemetry.mosquitto import Mosquitto, Subscriber, check_snapshot_stream

CHANNELS = ["Bearing 1", "Bearing 2"]


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def fill(journal_path, n: int, start: int = 0) -> None:
    """``n`` scored snapshot rows and a fresh heartbeat, as the agent writes them."""
    j = Journal(journal_path)
    try:
        stream = j.stream_id("test-board", "1.0", 20000, 2, 1.0, CHANNELS)
        for k in range(start, start + n):
            j.record_snapshot(SnapshotRow(1_076_581_959.0 + 600 * k, 20480 * k, stream, [0.06 + k / 1e3, 0.07],
                                          0.1 * k, 0.3, 0.1 * k > 0.3, False, "normal", "bundle-1", 1.2),
                              state={"heartbeat": heartbeat()})
        j.event("start", "test")
    finally:
        j.close()


def heartbeat(**changes) -> dict:
    return {"time": time.time(), "pid": 1, "mode": "scoring", "bundle_id": "bundle-1", "display": "normal",
            "fault": None, "alarm_latched": False, "alarm_acknowledged": False, **changes}


def config_for(tmp_path, broker, node="node-a", **mqtt):
    return parse_config({"journal": {"path": str(tmp_path / "journal.sqlite")},
                         "mqtt": broker.mqtt_section(node, **mqtt)}, "<test>")


class Running:
    """The publisher in a thread of the test process."""

    def __init__(self, config) -> None:
        self.publisher = Publisher(config)
        self.thread = threading.Thread(target=self.publisher.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.publisher.stop()
        self.thread.join(15)
        assert not self.thread.is_alive()


def journal_ids(path) -> set[int]:
    j = Journal(path, create=False)
    try:
        return {r["id"] for r in j.snapshots()}
    finally:
        j.close()


def test_every_row_arrives_in_order_with_its_seq(tmp_path, broker):
    fill(tmp_path / "journal.sqlite", 30)
    sub = Subscriber(broker, ["bearing-edge/#"])
    run = Running(config_for(tmp_path, broker, batch_size=7))
    try:
        wait_for(lambda: len(sub.on("bearing-edge/node-a/snapshot")) >= 30, 20, "30 snapshot messages")
        wait_for(lambda: sub.on("bearing-edge/node-a/event"), 10, "the event")
        wait_for(lambda: sub.on("bearing-edge/node-a/availability"), 10, "availability")
    finally:
        run.close()
        sub.close()
    figures = check_snapshot_stream(sub.on("bearing-edge/node-a/snapshot"), journal_ids(tmp_path / "journal.sqlite"))
    assert figures["duplicates"] == 0  # nothing was lost in between: nothing sent twice
    first = sub.on("bearing-edge/node-a/snapshot")[0].json()
    assert first["features"] == {"Bearing 1": 0.06, "Bearing 2": 0.07}
    assert first["time"] == "2004-02-12T10:32:39Z" and first["time_unix"] == 1_076_581_959.0
    assert first["over_threshold"] is False and first["latency_s"] == pytest.approx(0.0012)
    assert [m.payload for m in sub.on("bearing-edge/node-a/availability")][-1] == b"offline"  # clean stop
    state = sub.on("bearing-edge/node-a/state")[-1].json()
    assert state["last_snapshot_seq"] == 30 and state["error"] == pytest.approx(2.9)
    j = Journal(tmp_path / "journal.sqlite", create=False)
    assert j.outbox_cursor("snapshot") == 30 and j.outbox_cursor("event") == 1
    j.close()

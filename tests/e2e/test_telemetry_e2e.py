"""End to end: bearing-replay -> bearing-agent run -> journal -> bearing-agent publish -> a real Mosquitto.

The agent and the publisher run as processes with one agent.toml, as on a
Pi. The broker is killed, paused and misconfigured around a replay of the
25 bundled IMS snapshots; what the journal holds must reach a persistent
subscriber, and the agent must not notice the broker at all.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import pytest

from benchmarks.mosquitto import Mosquitto, Subscriber, check_snapshot_stream
from edge_agent.journal import Journal
from tests.agent_fixtures import HeldReplay, ReplayThread, bundle_dir, raw_test2_files, wait_for
from tests.conftest import require_executable
from tests.support.logged_process import LoggedProcess

N = 20480
NODE = "pump-1"
SNAPSHOT, AVAILABILITY = f"bearing-edge/{NODE}/snapshot", f"bearing-edge/{NODE}/availability"


@pytest.fixture(scope="module")
def bundle() -> Path:
    return bundle_dir()


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker", require=require_executable).start()
    yield b
    b.stop()


class Node:
    """One machine: an agent.toml, ``bearing-agent run`` and ``bearing-agent publish`` on a pty replay."""

    def __init__(self, tmp: Path, broker: Mosquitto, bundle: Path, **mqtt) -> None:
        self.tmp, self.link, self.journal = tmp, tmp / "ttyBEARING", tmp / "journal.sqlite"
        section = broker.mqtt_section(NODE, **mqtt)
        self.config = tmp / "agent.toml"
        self.config.write_text(
            f'[agent]\nbundle = "{bundle}"\ninterval_s = 0.0\n'
            f'[serial]\nport = "{self.link}"\nread_timeout_s = 0.05\nreconnect_initial_s = 0.05\nreconnect_max_s = 0.2\n'
            '[gpio]\npin_factory = "mock"\n'
            f'[journal]\npath = "{self.journal}"\n'
            "[mqtt]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in section.items()))
        self.agent: LoggedProcess | None = None
        self.publisher: LoggedProcess | None = None

    def start_agent(self) -> None:
        self.agent = LoggedProcess([sys.executable, "-m", "edge_agent.cli.main", "run", "--config", str(self.config)],
                                   self.tmp / "agent.log")

    def start_publisher(self) -> None:
        # a test can read what it said so far and wait for it
        self.publisher = LoggedProcess([sys.executable, "-m", "edge_agent.cli.main", "publish", "--config",
                                        str(self.config)], self.tmp / "publisher.log")

    def publisher_output(self) -> str:
        return self.publisher.output()

    def stop_agent(self) -> None:
        self.agent.stop(timeout=20)

    def stop_publisher(self) -> str:
        return self.publisher.stop(timeout=20)

    def close(self) -> None:
        for p in (self.agent, self.publisher):
            if p is not None:
                p.kill()

    def rows(self) -> list[dict]:
        if not self.journal.exists():
            return []
        j = Journal(self.journal, create=False)
        try:
            return j.snapshots()
        finally:
            j.close()


@pytest.mark.slow
def test_broker_killed_mid_replay_every_journal_row_arrives(tmp_path, broker, bundle):
    node = Node(tmp_path, broker, bundle)
    sub = Subscriber(broker, [f"bearing-edge/{NODE}/#"])  # persistent session: the broker saves it
    # A kill -9 keeps only what the broker had saved: without this wait a quick machine killed it before
    # its first autosave, the session died with it, and what came before the subscriber was back was lost.
    broker.wait_for_autosave()
    # The stream (speed 0) is held before snapshots 10 and 15: the broker dies with 10 rows journaled,
    # 5 more are journaled while it is dead, the rest after it is back, whatever the machine's speed.
    replay = HeldReplay(raw_test2_files(), node.link, hold_before=(10, 15))
    try:
        node.start_agent()
        node.start_publisher()
        wait_for(lambda: len(node.rows()) == 10, 120, "10 snapshots journaled")
        wait_for(lambda: len(sub.on(SNAPSHOT)) >= 10, 60, "10 snapshots on the broker")
        broker.kill()
        killed_at, dead_since = len(node.rows()), time.monotonic()
        replay.release()
        wait_for(lambda: len(node.rows()) == 15, 120, "5 snapshots journaled while the broker is dead")
        time.sleep(max(0.0, 5.0 - (time.monotonic() - dead_since)))  # restarted 5 s later (the case)
        dead_s = time.monotonic() - dead_since
        broker.start()
        replay.release()
        wait_for(replay.finished.is_set, 120, "the replay to finish")
        wait_for(lambda: node.rows() and node.rows()[-1]["first_index"] == 24 * N, 60, "the 25th snapshot")
        # the agent stops (clean stop) and comes back: availability follows it
        node.stop_agent()
        wait_for(lambda: [m.payload for m in sub.on(AVAILABILITY)][-1:] == [b"offline"], 20, "offline")
        node.start_agent()
        wait_for(lambda: [m.payload for m in sub.on(AVAILABILITY)][-1:] == [b"online"], 30, "online again")
        rows = node.rows()
        expected = {r["id"] for r in rows}
        arrived = lambda: {m.json()["seq"] for m in sub.on(SNAPSHOT)}  # noqa: E731
        wait_for(lambda: arrived() >= expected, 30,
                 lambda: f"every row on the broker (journal rows missing there: {sorted(expected - arrived())})")
        node.stop_agent()
        out = node.stop_publisher()
    finally:
        replay.close()
        node.close()
        sub.close()
    assert len(rows) == 25 and [r["first_index"] for r in rows] == [k * N for k in range(25)]
    assert killed_at == 10  # the broker really was down mid-replay: rows 11-15 were journaled without it
    figures = check_snapshot_stream(sub.on(SNAPSHOT), expected)
    by_seq = {m.json()["seq"]: m.json() for m in sub.on(SNAPSHOT)}
    for r in rows:  # what arrived is the journal's row
        assert by_seq[r["id"]]["error"] == r["error"] and by_seq[r["id"]]["alarm"] == (
            None if r["alarm"] is None else bool(r["alarm"]))
        assert list(by_seq[r["id"]]["features"].values()) == r["features"]
    availability = [m.payload for m in sub.on(AVAILABILITY)]
    assert b"offline" in availability[availability.index(b"online"):]
    assert "connection lost" in out and out.count("connected to broker") >= 2
    print(f"\nbroker killed after {killed_at} rows, restarted {dead_s:.1f} s later after 5 more: "
          f"{figures['received']} snapshot messages "
          f"for {len(expected)} rows ({figures['duplicates']} QoS 1 duplicates); availability {availability}")


@pytest.mark.slow
def test_wrong_password_the_agent_scores_on_and_the_publisher_says_why(tmp_path, broker, bundle):
    (tmp_path / "wrong").write_text("wrong\n")
    node = Node(tmp_path, broker, bundle, password_file=str(tmp_path / "wrong"))
    replay = ReplayThread(raw_test2_files(), node.link, speed=0).start()
    try:
        node.start_publisher()
        node.start_agent()
        wait_for(lambda: replay.stats is not None, 90, "the replay to finish")
        wait_for(lambda: len(node.rows()) == 25, 20, "all 25 snapshots scored")
        # retried, with back-off: a quick machine finishes the replay before the third attempt, so wait for it
        wait_for(lambda: node.publisher_output().count("refused user 'edge'") >= 3, 120, "three refused attempts")
        node.stop_agent()
        out = node.stop_publisher()
    finally:
        replay.close()
        node.close()
    assert f"broker 127.0.0.1:{broker.port} refused user 'edge'" in out
    assert out.count("refused user 'edge'") >= 3  # retried, with back-off
    j = Journal(node.journal, create=False)
    assert j.outbox_cursor("snapshot") == 0  # nothing acknowledged: all 25 still to send
    assert j.count_after("snapshot", 0) == 25
    j.close()


@pytest.mark.slow
def test_broker_stopped_60s_during_a_replay_changes_nothing_for_the_agent(tmp_path, broker, bundle):
    node = Node(tmp_path, broker, bundle, keepalive_s=10)
    sub = Subscriber(broker, [SNAPSHOT])  # subscribed (SUBACK) when it returns
    # 25 snapshots over ~80 s: 5 before the pause, ~18 during the 60 s, the rest after
    replay = ReplayThread(raw_test2_files(), node.link, speed=0.32).start()
    try:
        node.start_agent()
        node.start_publisher()
        wait_for(lambda: len(node.rows()) >= 5, 60, "5 snapshots")
        wait_for(lambda: len(sub.on(SNAPSHOT)) >= 5, 20, "5 on the broker")
        broker.pause()
        paused_from, t0 = node.rows()[-1]["id"], time.monotonic()
        time.sleep(60)
        paused_until = node.rows()[-1]["id"]
        broker.resume()
        print(f"\nbroker SIGSTOPped {time.monotonic() - t0:.1f} s")
        wait_for(lambda: replay.stats is not None, 60, "the replay to finish")
        wait_for(lambda: len(node.rows()) == 25, 20, "all 25 snapshots")
        expected = {r["id"] for r in node.rows()}
        wait_for(lambda: {m.json()["seq"] for m in sub.on(SNAPSHOT)} >= expected, 120, "every row after the pause")
        node.stop_agent()
        node.stop_publisher()
    finally:
        broker.resume()
        replay.close()
        node.close()
        sub.close()
    rows = node.rows()
    assert [r["first_index"] for r in rows] == [k * N for k in range(25)]  # not one snapshot lost by the agent
    before = [r["latency_ms"] for r in rows if r["id"] <= paused_from]
    during = [r["latency_ms"] for r in rows if paused_from < r["id"] <= paused_until]
    assert len(during) >= 12
    med_before, med_during = statistics.median(before), statistics.median(during)
    print(f"last byte -> alarm: median {med_before:.2f} ms before the pause ({len(before)} rows), "
          f"{med_during:.2f} ms during it ({len(during)} rows, max {max(during):.2f} ms)")
    assert med_during <= max(2 * med_before, med_before + 2.0)
    assert med_during <= 20.0  # the goal for this latency
    check_snapshot_stream(sub.on(SNAPSHOT), expected)

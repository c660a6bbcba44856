"""A broker that refuses, stalls or floods the publisher (issue 21, items 6, 7, 11), against a real Mosquitto.

Nothing the broker did not take may move the cursor; a broker that stops
acknowledging is left and reconnected to; a huge ``cmd/ack`` message never
reaches the publisher's memory.
"""
from __future__ import annotations

import logging
import signal
import time

from benchmarks.mosquitto import USER, Mosquitto, Subscriber, check_snapshot_stream
from edge_agent.journal import Journal
from tests.agent_fixtures import wait_for
from tests.conftest import require_executable
from tests.edge_agent.telemetry.fake_agent import fill
from tests.edge_agent.telemetry.test_publisher import Running, config_for, journal_ids

#: The docs' ACL with a one-character mismatch: the user may write node-b's topics, the publisher is node-a.
WRONG_ACL = f"""user {USER}
topic read bearing-edge/node-a/snapshot
topic read bearing-edge/node-a/event
topic readwrite bearing-edge/node-b/#
"""
RIGHT_ACL = f"user {USER}\ntopic readwrite bearing-edge/node-a/#\n"


def cursor(path, stream: str = "snapshot") -> int:
    j = Journal(path, create=False)
    try:
        return j.outbox_cursor(stream)
    finally:
        j.close()


def warnings(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


def test_publishes_refused_by_the_acl_keep_the_cursor_and_say_the_fix(tmp_path, caplog):
    """Item 6: with MQTT 3.1.1 Mosquitto acknowledged ACL-refused publishes and the cursor moved past them."""
    broker = Mosquitto(tmp_path / "broker", require=require_executable, acl=WRONG_ACL).start()
    journal = tmp_path / "journal.sqlite"
    fill(journal, 25)
    sub = Subscriber(broker, ["bearing-edge/node-a/snapshot"])
    run = None
    try:
        with caplog.at_level(logging.INFO, logger="edge_agent.telemetry"):
            run = Running(config_for(tmp_path, broker, discovery_prefix=""))
            wait_for(lambda: len(warnings(caplog, "refused to take a message")) >= 2, 30, "two refusals")
        assert cursor(journal) == 0 and cursor(journal, "event") == 0  # nothing delivered: nothing passed
        assert not sub.on("bearing-edge/node-a/snapshot")
        refusal = warnings(caplog, "refused to take a message")[0]
        assert f"let user '{USER}' write bearing-edge/node-a/" in refusal and "ACL" in refusal
        delays = [float(w.rsplit("retrying in ", 1)[1].split()[0]) for w in warnings(caplog, "refused to take")]
        assert delays[1] > delays[0]  # backing off, not reconnecting as fast as it can
        # The ACL fixed (and reloaded): every row arrives, none was lost while refused.
        (broker.folder / "acl").write_text(RIGHT_ACL)
        broker.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: cursor(journal) == 25, 60, lambda: f"the cursor at 25 (it is {cursor(journal)})")
        wait_for(lambda: len(sub.on("bearing-edge/node-a/snapshot")) >= 25, 20, "25 snapshots at the subscriber")
        check_snapshot_stream(sub.on("bearing-edge/node-a/snapshot"), journal_ids(journal))
    finally:
        if run is not None:
            run.close()
        sub.close()
        broker.stop()


def test_a_broker_that_stops_acknowledging_is_left_and_reconnected_to(tmp_path, caplog):
    """Item 7: a broker that took the connection but acknowledged nothing stalled the publisher silently."""
    broker = Mosquitto(tmp_path / "broker", require=require_executable).start()
    journal = tmp_path / "journal.sqlite"
    fill(journal, 5)
    sub = Subscriber(broker, ["bearing-edge/node-a/snapshot"])
    run = None
    try:
        with caplog.at_level(logging.INFO, logger="edge_agent.telemetry"):
            run = Running(config_for(tmp_path, broker, keepalive_s=5))
            wait_for(lambda: cursor(journal) == 5, 20, "the first rows delivered")
            broker.pause()  # SIGSTOP: the kernel keeps the connection, nothing is acknowledged
            fill(journal, 5, start=5)
            wait_for(lambda: warnings(caplog, "unacknowledged"), 30, "the stalled-broker warning")
            assert not run.publisher.connected
            broker.resume()
        wait_for(lambda: cursor(journal) == 10, 60, "every row once the broker answers again")
        wait_for(lambda: len(sub.on("bearing-edge/node-a/snapshot")) >= 10, 20, "10 snapshots at the subscriber")
        assert "for over 5 s ([mqtt] keepalive_s)" in warnings(caplog, "unacknowledged")[0]
    finally:
        broker.resume()
        if run is not None:
            run.close()
        sub.close()
        broker.stop()


def test_a_huge_ack_message_never_reaches_the_publisher(tmp_path):
    """Item 11: cmd/ack messages of any size were held in memory (five of 50 MB: 30 -> 183 MB)."""
    broker = Mosquitto(tmp_path / "broker", require=require_executable).start()
    journal = tmp_path / "journal.sqlite"
    fill(journal, 1)
    sub = Subscriber(broker, ["bearing-edge/node-a/availability"])
    run = Running(config_for(tmp_path, broker))

    def requests() -> list[tuple[str, str]]:
        j = Journal(journal, create=False)
        try:
            return j.db.execute("SELECT kind, source FROM requests").fetchall()
        finally:
            j.close()

    try:
        wait_for(lambda: sub.on("bearing-edge/node-a/availability"), 20, "the publisher online")
        wait_for(lambda: cursor(journal) == 1, 20, "the row delivered (subscriptions made)")
        sub.client.publish("bearing-edge/node-a/cmd/ack", b"x" * 1_000_000, qos=1).wait_for_publish(10)
        sub.client.publish("bearing-edge/node-a/cmd/ack", b"ack", qos=1).wait_for_publish(10)
        wait_for(lambda: requests(), 20, "the small acknowledgement in the journal")
        assert requests() == [("ack", "mqtt bearing-edge/node-a/cmd/ack")]  # the 1 MB one was never delivered
        assert run.publisher.connected
    finally:
        run.close()
        sub.close()
        broker.stop()


def test_a_new_broker_gets_the_history_the_first_one_had(tmp_path, caplog):
    """Item 9: the cursor was per journal: after a run against a test broker the right one never got the history."""
    journal = tmp_path / "journal.sqlite"
    fill(journal, 5)
    first = Mosquitto(tmp_path / "test-broker", require=require_executable).start()
    try:
        run = Running(config_for(tmp_path, first))
        try:
            wait_for(lambda: cursor(journal) == 5, 30, "5 rows at the first broker")
        finally:
            run.close()
    finally:
        first.stop()
    right = Mosquitto(tmp_path / "right-broker", require=require_executable).start()
    sub = Subscriber(right, ["bearing-edge/node-a/snapshot"])
    try:
        with caplog.at_level(logging.WARNING, logger="edge_agent.telemetry"):
            run = Running(config_for(tmp_path, right))
            try:
                wait_for(lambda: len(sub.on("bearing-edge/node-a/snapshot")) >= 5, 30, "the history at the new broker")
                wait_for(lambda: cursor(journal) == 5, 30, "the cursor at 5 again")
            finally:
                run.close()
        check_snapshot_stream(sub.on("bearing-edge/node-a/snapshot"), journal_ids(journal))
        assert warnings(caplog, "cursor was for another broker")
        # The same broker again: nothing is sent twice.
        run = Running(config_for(tmp_path, right))
        try:
            wait_for(lambda: run.publisher.connected, 30, "connected again")
            time.sleep(1.0)
        finally:
            run.close()
        assert len(sub.on("bearing-edge/node-a/snapshot")) == 5
    finally:
        sub.close()
        right.stop()


def test_a_flood_on_cmd_ack_reaches_the_journal_as_one_request_a_second(tmp_path):
    """Item 5: 40,000 junk messages on cmd/ack were 40,000 journal rows, each a synchronous write."""
    broker = Mosquitto(tmp_path / "broker", require=require_executable).start()
    journal = tmp_path / "journal.sqlite"
    fill(journal, 1)
    sub = Subscriber(broker, ["bearing-edge/node-a/availability"])
    run = Running(config_for(tmp_path, broker))

    def requests() -> int:
        j = Journal(journal, create=False)
        try:
            return j.db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        finally:
            j.close()

    try:
        wait_for(lambda: cursor(journal) == 1, 20, "the publisher connected and subscribed")
        started = time.monotonic()
        for k in range(2000):
            sub.client.publish("bearing-edge/node-a/cmd/ack", b"junk %d" % k, qos=0)
        sub.client.publish("bearing-edge/node-a/cmd/ack", b"last", qos=1).wait_for_publish(20)
        wait_for(lambda: requests() >= 1, 20, "the first acknowledgement queued")
        time.sleep(1.0)
        seconds = time.monotonic() - started
        # one pending at a time, at most one a second: a handful of rows, not 2,000
        assert requests() <= seconds / 1.0 + 2, (requests(), seconds)
    finally:
        run.close()
        sub.close()
        broker.stop()

"""The publisher against a real Mosquitto, on a journal written here row by row (no agent, no model).

What the issue asks of the outbox: every row arrives, in order, after broker
and publisher restarts; failures name the broker and the fix and are retried
with back-off; acknowledgements from the broker reach the journal; Home
Assistant gets its discovery configs again when it says ``online``.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
import time

import pytest

from benchmarks.mosquitto import Mosquitto, Subscriber, check_snapshot_stream
from edge_agent.config import parse_config
from edge_agent.journal import Journal, SnapshotRow
from edge_agent.telemetry.publisher import Publisher
from tests.agent_fixtures import wait_for
from tests.conftest import require_executable
from tests.support.logged_process import LoggedProcess
from tests.edge_agent.telemetry.fake_agent import Writer, fill


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker", require=require_executable).start()
    yield b
    b.stop()


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
    assert first["inference_s"] == pytest.approx(0.0004) and first["diagnosis"] is None  # under the threshold
    last = sub.on("bearing-edge/node-a/snapshot")[-1].json()
    assert last["contributions"] == {"Bearing 1": pytest.approx(1.5 * 2.9), "Bearing 2": pytest.approx(0.5 * 2.9)}
    assert last["top_channel"] == {"name": "Bearing 1", "share": 0.75} and last["diagnosis"] == "bearing 1"
    assert [m.payload for m in sub.on("bearing-edge/node-a/availability")][-1] == b"offline"  # clean stop
    state = sub.on("bearing-edge/node-a/state")[-1].json()
    assert state["last_snapshot_seq"] == 30 and state["error"] == pytest.approx(2.9)
    assert state["top_channel"] == {"name": "Bearing 1", "share": 0.75}
    assert state["diagnosis"] == {"text": "bearing 1", "channel": "Bearing 1", "share": 0.75, "seq": 30,
                                  "time": "2004-02-12T15:22:39Z", "time_unix": 1_076_581_959.0 + 600 * 29}
    j = Journal(tmp_path / "journal.sqlite", create=False)
    assert j.outbox_cursor("snapshot") == 30 and j.outbox_cursor("event") == 1
    j.close()


def test_broker_killed_and_restarted_loses_no_row(tmp_path, broker):
    journal = tmp_path / "journal.sqlite"
    fill(journal, 1)
    sub = Subscriber(broker, ["bearing-edge/node-a/snapshot"])  # persistent session, saved by the broker
    broker.wait_for_autosave()  # the subscription is in the file a kill -9 leaves
    run = Running(config_for(tmp_path, broker))
    writer = Writer(journal)
    try:
        wait_for(lambda: len(sub.on("bearing-edge/node-a/snapshot")) >= 20, 20, "20 messages before the kill")
        broker.kill()
        wait_for(lambda: not run.publisher.connected, 10, "the publisher to notice")
        time.sleep(5)
        broker.start()
        time.sleep(1)
        writer.close()
        expected = journal_ids(journal)
        wait_for(lambda: {m.json()["seq"] for m in sub.on("bearing-edge/node-a/snapshot")} >= expected, 30,
                 "every journal row on the broker after the restart")
    finally:
        writer.close()
        run.close()
        sub.close()
    figures = check_snapshot_stream(sub.on("bearing-edge/node-a/snapshot"), expected)
    assert len(expected) >= 40  # rows were written while the broker was dead
    assert figures["duplicates"] <= Publisher(config_for(tmp_path, broker)).config.mqtt.batch_size


def publisher_cmd(tmp_path, broker, node="node-a") -> list[str]:
    cfg = tmp_path / "publish.toml"
    m = broker.mqtt_section(node)
    cfg.write_text("[mqtt]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') if not isinstance(v, bool) else
                                        f"{k} = {str(v).lower()}\n" for k, v in m.items())
                   + f'[journal]\npath = "{tmp_path / "journal.sqlite"}"\n')
    return [sys.executable, "-m", "edge_agent.cli.main", "publish", "--config", str(cfg)]


def test_publisher_killed_and_restarted_loses_no_row(tmp_path, broker):
    journal = tmp_path / "journal.sqlite"
    fill(journal, 1)
    sub = Subscriber(broker, ["bearing-edge/node-a/#"])
    writer = Writer(journal)
    first = LoggedProcess(publisher_cmd(tmp_path, broker), tmp_path / "first.log")
    second = None
    try:
        wait_for(lambda: len(sub.on("bearing-edge/node-a/snapshot")) >= 15, 30, "15 messages")
        first.kill()
        first.wait(10)
        # no clean stop: the broker publishes the last will
        wait_for(lambda: [m.payload for m in sub.on("bearing-edge/node-a/availability")][-1:] == [b"offline"], 30,
                 "the last will")
        time.sleep(1)
        second = LoggedProcess(publisher_cmd(tmp_path, broker), tmp_path / "second.log")
        time.sleep(1)
        writer.close()
        expected = journal_ids(journal)
        wait_for(lambda: {m.json()["seq"] for m in sub.on("bearing-edge/node-a/snapshot")} >= expected, 30,
                 "every row after the restart")
        wait_for(lambda: [m.payload for m in sub.on("bearing-edge/node-a/availability")][-1:] == [b"online"], 10,
                 "online again")
    finally:
        writer.close()
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.stop(timeout=20)
        sub.close()
    check_snapshot_stream(sub.on("bearing-edge/node-a/snapshot"), expected)


def run_until_logged(tmp_path, broker, caplog, text: str, **mqtt) -> list[str]:
    """Run the publisher with a bad setting until it has logged ``text`` three times; the warnings."""
    fill(tmp_path / "journal.sqlite", 3)
    caplog.set_level(logging.INFO, logger="edge_agent.telemetry")
    run = Running(config_for(tmp_path, broker, **mqtt))
    try:
        wait_for(lambda: sum(text in r.getMessage() for r in caplog.records) >= 3, 30, f"3 x {text!r}")
        assert not run.publisher.connected
    finally:
        run.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]
    delays = [float(w.rsplit("retrying in ", 1)[1].split()[0]) for w in warnings]
    assert delays[:3] == [0.2, 0.4, 0.8]  # back-off doubles ([mqtt] reconnect_initial_s = 0.2)
    return warnings


def test_wrong_password_names_the_user_and_the_fix(tmp_path, broker, caplog):
    (tmp_path / "wrong").write_text("not-the-password\n")
    warnings = run_until_logged(tmp_path, broker, caplog, "refused user 'edge'", password_file=str(tmp_path / "wrong"))
    assert f"broker 127.0.0.1:{broker.port} refused user 'edge'" in warnings[0]
    assert "check [mqtt] username and the password in [mqtt] password_file" in warnings[0]


def test_unreachable_broker_names_host_port_and_keys(tmp_path, broker, caplog):
    from benchmarks.mosquitto import free_port

    port = free_port()  # nothing listens there
    warnings = run_until_logged(tmp_path, broker, caplog, "connection refused", port=port)
    assert f"broker 127.0.0.1:{port}: connection refused" in warnings[0] and "check [mqtt] host and port" in warnings[0]


def test_tls_with_the_wrong_ca_says_which_ca(tmp_path, broker, caplog):
    from benchmarks.mosquitto import make_ca

    other_ca, _ = make_ca(tmp_path, "other-ca", require_executable)
    warnings = run_until_logged(tmp_path, broker, caplog, "TLS certificate is not trusted",
                                port=broker.tls_port, tls_ca=str(other_ca))
    assert f"broker 127.0.0.1:{broker.tls_port} (TLS): its TLS certificate is not trusted" in warnings[0]
    assert f"[mqtt] tls_ca = {other_ca} is the CA that signed the broker's certificate" in warnings[0]


def test_tls_with_the_right_ca_publishes(tmp_path, broker):
    fill(tmp_path / "journal.sqlite", 5)
    sub = Subscriber(broker, ["bearing-edge/node-a/snapshot"])
    run = Running(config_for(tmp_path, broker, port=broker.tls_port, tls_ca=str(broker.ca[0])))
    try:
        wait_for(lambda: len(sub.on("bearing-edge/node-a/snapshot")) == 5, 20, "5 messages over TLS")
    finally:
        run.close()
        sub.close()


def test_ack_from_the_broker_is_queued_like_the_command_line(tmp_path, broker):
    journal = tmp_path / "journal.sqlite"
    fill(journal, 1)
    sub = Subscriber(broker, ["bearing-edge/node-a/availability"])
    # A retained ack (someone's mistake) reaches every new subscription: it must not acknowledge at each connect.
    sub.client.publish("bearing-edge/node-a/cmd/ack", b"ack", qos=1, retain=True).wait_for_publish(5)
    run = Running(config_for(tmp_path, broker))
    try:
        wait_for(lambda: sub.on("bearing-edge/node-a/availability"), 20, "the publisher online")
        time.sleep(0.5)
        sub.client.publish("bearing-edge/node-a/cmd/ack", b"ack", qos=1).wait_for_publish(5)

        def requests():
            j = Journal(journal, create=False)
            try:
                return j.db.execute("SELECT kind, source FROM requests").fetchall()
            finally:
                j.close()

        wait_for(lambda: requests(), 10, "the request in the journal")
        time.sleep(0.5)
        assert requests() == [("ack", "mqtt bearing-edge/node-a/cmd/ack")]  # the retained one is ignored
        # a re-baseline over the same ACL: queued with who and why; a command without a reason is not
        sub.client.publish("bearing-edge/node-a/cmd/rebaseline", b'{"by": "alice"}', qos=1).wait_for_publish(5)
        sub.client.publish("bearing-edge/node-a/cmd/rebaseline", json.dumps(
            {"reason": "bearing 1 replaced", "by": "alice"}).encode(), qos=1).wait_for_publish(5)
        wait_for(lambda: len(requests()) == 2, 10, "the re-baseline in the journal")
        kind, source = requests()[1]
        assert kind == "rebaseline" and json.loads(source) == {"by": "alice", "reason": "bearing 1 replaced"}
    finally:
        sub.client.publish("bearing-edge/node-a/cmd/ack", b"", qos=1, retain=True).wait_for_publish(5)
        run.close()
        sub.close()


def test_home_assistant_discovery_and_its_birth_message(tmp_path, broker):
    fill(tmp_path / "journal.sqlite", 2)
    sub = Subscriber(broker, ["homeassistant/#"])
    run = Running(config_for(tmp_path, broker, discovery_form="entity"))  # the device form: test_discovery.py
    try:
        wait_for(lambda: len(sub.messages) >= 12, 20, "12 discovery configs")
        first = len(sub.messages)
        sub.client.publish("homeassistant/status", b"online", qos=1).wait_for_publish(5)
        wait_for(lambda: len(sub.messages) >= 2 * first, 10, "the configs sent again after HA's birth message")
        later = Subscriber(broker, ["homeassistant/#"], client_id="later", persistent=False)
        wait_for(lambda: len(later.messages) >= 12, 10, "the retained configs for a later subscriber")
        later.close()
    finally:
        run.close()
        sub.close()
    assert all(m.retain for m in later.messages)
    configs = {m.topic: m.json() for m in sub.messages if m.topic.endswith("/config") and m.payload}
    assert set(configs) == {
        "homeassistant/binary_sensor/node-a/alarm/config", "homeassistant/binary_sensor/node-a/sensor_fault/config",
        "homeassistant/sensor/node-a/error/config", "homeassistant/sensor/node-a/threshold/config",
        "homeassistant/sensor/node-a/diagnosis/config", "homeassistant/button/node-a/acknowledge/config",
        "homeassistant/sensor/node-a/feature_bearing_1/config", "homeassistant/sensor/node-a/feature_bearing_2/config",
        "homeassistant/binary_sensor/node-a/running/config", "homeassistant/sensor/node-a/level/config",
        "homeassistant/sensor/node-a/bundle/config", "homeassistant/sensor/node-a/deploy/config"}
    # issue 20 #7: the fault entity reads the fault field (a fault while an alarm is latched stays visible)
    assert "value_json.fault" in configs["homeassistant/binary_sensor/node-a/sensor_fault/config"]["value_template"]
    alarm = configs["homeassistant/binary_sensor/node-a/alarm/config"]
    assert alarm["device_class"] == "problem" and alarm["state_topic"] == "bearing-edge/node-a/state"
    assert alarm["availability"][0]["topic"] == "bearing-edge/node-a/availability"
    assert alarm["device"]["identifiers"] == ["bearing_edge_node-a"] and alarm["origin"]["name"] == "bearing-edge"
    assert len({c["unique_id"] for c in configs.values()}) == len(configs) == 12
    feature = configs["homeassistant/sensor/node-a/feature_bearing_1/config"]
    assert feature["unit_of_measurement"] == "g" and feature["state_class"] == "measurement"
    assert feature["value_template"] == "{{ value_json.features['Bearing 1'] }}"
    assert configs["homeassistant/button/node-a/acknowledge/config"]["command_topic"] == "bearing-edge/node-a/cmd/ack"
    diagnosis = configs["homeassistant/sensor/node-a/diagnosis/config"]
    assert diagnosis["state_topic"] == "bearing-edge/node-a/state" and "value_json.diagnosis.text" in diagnosis[
        "value_template"]

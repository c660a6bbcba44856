"""The journal as the outbox: the cursor moves only over acknowledged rows; retention keeps unsent rows."""
from __future__ import annotations

import time

import pytest

from edge_agent.config import ConfigError, parse_config
from edge_agent.journal import Journal
from edge_agent.telemetry import payloads
from edge_agent.telemetry.outbox import Outbox
from edge_agent.telemetry.topics import Topics, safe_id
from tests.edge_agent.telemetry.fake_agent import fill


@pytest.fixture
def journal(tmp_path):
    for k in range(10):  # 10 snapshot rows and 10 events
        fill(tmp_path / "j.sqlite", 1, start=k)
    j = Journal(tmp_path / "j.sqlite")
    yield j
    j.close()


def test_cursor_moves_only_over_a_contiguous_run_of_acknowledged_rows(journal):
    box = Outbox(journal, "snapshot", window=4)
    rows = box.take(100)
    assert [r["id"] for r in rows] == [1, 2, 3, 4]  # the window bounds what is in flight
    assert box.take(100) == []
    box.acknowledged(2)
    assert box.cursor_ == 0  # row 1 is not acknowledged yet
    box.acknowledged(1)
    assert box.cursor_ == 2 and box.in_flight == 2
    assert [r["id"] for r in box.take(100)] == [5, 6]
    box.rewind()  # connection lost: 3..6 go again
    assert [r["id"] for r in box.take(100)] == [3, 4, 5, 6]
    box.save(force=True)
    assert Journal(journal.path, create=False).outbox_cursor("snapshot") == 2
    assert box.backlog() == 8


def test_a_restarted_outbox_resumes_after_the_saved_cursor(journal):
    box = Outbox(journal, "event", window=10)
    for r in box.take(3):
        box.acknowledged(r["id"])
    box.save(force=True)
    again = Outbox(journal, "event", window=10)
    assert again.cursor_ == 3 and again.take(1)[0]["id"] == 4


def age_all_rows(journal, days: float = 400.0) -> None:
    """Every row journaled ``days`` ago (retention counts back from the newest row, so a row journaled
    now follows: a clock set ahead would not age anything)."""
    journal.db.execute("UPDATE snapshots SET recorded = recorded - ?", (days * 86400,))
    journal.db.execute("UPDATE events SET time = time - ?", (days * 86400,))


def test_prune_keeps_unpublished_rows_past_their_age(journal, tmp_path):
    Outbox(journal, "snapshot", window=10)  # a publisher exists: cursor 0, nothing sent
    Outbox(journal, "event", window=10)
    age_all_rows(journal)
    fill(tmp_path / "j.sqlite", 1, start=10)  # id 11, journaled now (and its event)
    assert journal.prune(retention_days=365, max_snapshots=1000) == 0
    assert len(journal.snapshots()) == 11 and len(journal.events(last=100)) == 11
    journal.set_outbox_cursor("snapshot", 6)
    journal.set_outbox_cursor("event", 4)
    assert journal.prune(retention_days=365, max_snapshots=1000) == 6  # only the sent ones
    assert [r["id"] for r in journal.snapshots()] == [7, 8, 9, 10, 11]
    assert [e["id"] for e in journal.events(last=100) if e["kind"] != "pruned"] == [5, 6, 7, 8, 9, 10, 11]
    assert "outbox_dropped" not in journal.counters()


def test_prune_over_the_row_limit_deletes_unsent_rows_and_says_so(journal):
    journal.set_outbox_cursor("snapshot", 2)
    assert journal.prune(retention_days=365, max_snapshots=5) == 5  # ids 1..5 go; 3, 4, 5 were never sent
    assert [r["id"] for r in journal.snapshots()] == [6, 7, 8, 9, 10]
    assert journal.counters()["outbox_dropped"] == 3
    overflow = journal.events(kind="outbox_overflow")
    assert len(overflow) == 1 and overflow[0]["detail"].startswith("3 snapshot rows deleted before they were published")


def test_without_a_publisher_retention_is_unchanged(journal, tmp_path):
    age_all_rows(journal)
    fill(tmp_path / "j.sqlite", 1, start=10)
    assert journal.prune(retention_days=365, max_snapshots=1000) == 10
    assert [e["kind"] for e in journal.events(last=100)] == ["start", "pruned"]


def test_payloads_are_strict_json_with_utc_times():
    assert payloads.iso_utc(1_076_581_959.0) == "2004-02-12T10:32:39Z"
    assert payloads.iso_utc(1_076_581_959.25) == "2004-02-12T10:32:39.250Z"
    assert payloads.encode({"error": float("nan"), "x": [float("inf")]}) == b'{"error":null,"x":[null]}'
    row = {"features": [1.0, 2.0, 3.0], "channel_names": ["a", "b"]}
    assert payloads.feature_names(row) == ["feature_1", "feature_2", "feature_3"]  # names that do not fit


def test_topics_and_ids():
    t = Topics("bearing-edge", "pump-3", "homeassistant")
    assert t.snapshot == "bearing-edge/pump-3/snapshot" and t.cmd_ack == "bearing-edge/pump-3/cmd/ack"
    assert t.discovery("sensor", "error") == "homeassistant/sensor/pump-3/error/config"
    assert safe_id("Pump 3 (north).plant") == "Pump_3_north_plant"
    with pytest.raises(ValueError, match="set \\[mqtt\\] node_id"):
        safe_id("...")


@pytest.mark.parametrize("mqtt, message", [
    ({"node_id": "pump 3"}, "[mqtt] node_id must be empty (the host name) or only letters, digits, _ and -"),
    ({"qos": 2}, "[mqtt] qos must be 0 or 1"),
    ({"port": 0}, "[mqtt] port must be a TCP port 1..65535"),
    ({"topic_prefix": "plant/#"}, "[mqtt] topic_prefix must be a topic level without #, +"),
    ({"tls_certfile": "c.pem"}, "[mqtt] tls_certfile and tls_keyfile go together, and need tls_ca"),
    ({"passwd": "x"}, "unknown key [mqtt] passwd"),
])
def test_bad_mqtt_settings_are_refused_with_the_key(mqtt, message):
    with pytest.raises(ConfigError) as info:
        parse_config({"mqtt": mqtt}, "agent.toml")
    assert message in str(info.value)


def test_bad_metrics_settings_are_refused_with_the_key():
    with pytest.raises(ConfigError, match=r'\[metrics\] textfile must be empty \(off\) or a path ending in ".prom"'):
        parse_config({"metrics": {"textfile": "/var/lib/node_exporter/bearing.txt"}}, "agent.toml")

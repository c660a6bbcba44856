"""Home Assistant discovery in both documented forms, checked against the schema (issue 21 #12a).

The schema below is Home Assistant's MQTT discovery documentation
(https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery), as of the
device-based form (2024.12): what a config must contain for Home Assistant to
accept it, per form. Abbreviated and full key names are both accepted there.
"""
from __future__ import annotations

import re

from edge_agent.telemetry import payloads

from benchmarks.mosquitto import Subscriber
from edge_agent.config import parse_config
from edge_agent.telemetry.discovery import discovery_messages
from edge_agent.telemetry.topics import Topics
from tests.agent_fixtures import wait_for
from tests.edge_agent.telemetry.fake_agent import fill
from tests.edge_agent.telemetry.test_publisher import Running, broker, config_for  # noqa: F401 (the fixture)

PLATFORMS = {"binary_sensor", "sensor", "button", "switch", "number", "select", "text", "event", "update"}
ID = re.compile(r"^[a-zA-Z0-9_-]+$")
#: per platform: the option a component cannot work without
NEEDS = {"binary_sensor": "state_topic", "sensor": "state_topic", "button": "command_topic"}


def first(config: dict, *names: str):
    return next((config[n] for n in names if n in config), None)


def check_component(platform: str, config: dict, where: str) -> None:
    assert platform in PLATFORMS, f"{where}: unknown platform {platform!r}"
    assert first(config, "unique_id", "uniq_id"), f"{where}: no unique_id"
    needed = NEEDS.get(platform)
    assert needed is None or first(config, needed, {"state_topic": "stat_t", "command_topic": "cmd_t"}[needed]), \
        f"{where}: a {platform} needs {needed}"


def check_entity_form(topic: str, config: dict) -> None:
    parts = topic.split("/")
    assert len(parts) in (4, 5) and parts[-1] == "config", topic
    assert all(ID.match(p) for p in parts[1:-1]), f"{topic}: ids must be [a-zA-Z0-9_-]"
    check_component(parts[1], config, topic)
    device = first(config, "device", "dev")
    assert device and (first(device, "identifiers", "ids") or first(device, "connections", "cns")), topic
    origin = first(config, "origin", "o")
    assert origin is None or first(origin, "name"), f"{topic}: origin needs a name"


def check_device_form(topic: str, config: dict) -> None:
    parts = topic.split("/")
    assert len(parts) == 4 and parts[1] == "device" and parts[-1] == "config" and ID.match(parts[2]), topic
    device, origin, components = first(config, "dev", "device"), first(config, "o", "origin"), \
        first(config, "cmps", "components")
    assert device and first(device, "ids", "identifiers"), f"{topic}: dev with ids is required"
    assert origin and first(origin, "name"), f"{topic}: o with a name is required"
    assert components and isinstance(components, dict), f"{topic}: cmps is required"
    for cid, component in components.items():
        assert ID.match(cid), f"{topic}: component id {cid!r}"
        check_component(first(component, "p", "platform"), component, f"{topic} cmps.{cid}")
    ids = [first(c, "unique_id", "uniq_id") for c in components.values()]
    assert len(set(ids)) == len(ids), f"{topic}: unique_ids repeat"


def topics_for(form: str) -> tuple[Topics, dict]:
    config = parse_config({"mqtt": {"node_id": "pump-7", "discovery_form": form}}, "<test>")
    topics = Topics.from_config(config.mqtt)
    return topics, discovery_messages(topics, ["Bearing 1", "Bearing 2"], "g", form)


def test_the_device_form_is_one_valid_config_and_clears_the_entity_configs():
    topics, messages = topics_for("device")
    configs = {t: c for t, c in messages.items() if c is not None}
    assert list(configs) == ["homeassistant/device/pump-7/config"]
    check_device_form(*next(iter(configs.items())))
    cmps = configs["homeassistant/device/pump-7/config"]["cmps"]
    assert cmps["alarm"]["p"] == "binary_sensor" and cmps["acknowledge"]["command_topic"] == topics.cmd_ack
    assert cmps["feature_bearing_1"]["value_template"] == "{{ value_json.features['Bearing 1'] }}"
    cleared = [t for t, c in messages.items() if c is None]
    assert len(cleared) == len(cmps) and "homeassistant/sensor/pump-7/error/config" in cleared
    assert list(messages).index(cleared[-1]) < list(messages).index("homeassistant/device/pump-7/config")


def test_the_entity_form_is_valid_and_clears_the_device_config():
    _, messages = topics_for("entity")
    assert messages.pop("homeassistant/device/pump-7/config") is None  # cleared first
    assert len(messages) == 12  # 10 entities and a feature per channel
    for topic, config in messages.items():
        check_entity_form(topic, config)


def test_the_device_config_reaches_a_subscriber_retained(tmp_path, broker):
    fill(tmp_path / "journal.sqlite", 2)
    run = Running(config_for(tmp_path, broker))
    try:
        wait_for(lambda: run.publisher.published["snapshot"] >= 2, 30, "the rows published")
        later = Subscriber(broker, ["homeassistant/#"], client_id="ha", persistent=False)
        try:
            wait_for(lambda: later.on("homeassistant/device/node-a/config"), 10, "the retained device config")
            config = later.on("homeassistant/device/node-a/config")[-1].json()
        finally:
            later.close()
    finally:
        run.close()
    check_device_form("homeassistant/device/node-a/config", config)
    assert config["availability"][0]["topic"] == "bearing-edge/node-a/availability"
    assert {"feature_bearing_1", "feature_bearing_2", "alarm", "acknowledge", "bundle", "deploy"} <= set(config["cmps"])


def test_every_state_entity_reads_fields_the_state_message_has_and_the_deploy_is_one():
    """The templates read ``value_json.<field>``: a field the state message does not carry is an entity that stays
    ``unknown`` in Home Assistant. Checked against a real state message during a deploy's probation (issue 22 #5:
    the slot, the bundle id and the probation, as the page and status show them)."""
    deploy = {"slot": "b", "phase": "probation", "deployed_bundle_id": "d2", "deployed_slot": "b",
              "previous_bundle_id": "a1", "by": "bob", "since": 1.7e9, "why": None,
              "probation": {"running_snapshots": 1, "snapshots_needed": 3, "hours": 0.1, "hours_needed": 0,
                            "disagreements": 0, "on_alarm": "rollback"}}
    state = payloads.state_message(running=True, heartbeat={"bundle_id": "d2", "deploy": deploy}, last_row=None,
                                   counters={})
    assert state["bundle_id"] == "d2" and state["slot"] == "b" and state["deploy"]["probation"]["snapshots_needed"] == 3
    topics, messages = topics_for("entity")
    read = {}
    for topic, config in messages.items():
        if config and config.get("state_topic") == topics.state:
            templates = config["value_template"] + config.get("json_attributes_template", "")
            read[topic.split("/")[-2]] = set(re.findall(r"value_json\.(\w+)", templates))
    assert read["bundle"] == {"bundle_id", "slot"} and read["deploy"] == {"deploy"}
    for object_id, fields in read.items():
        assert fields <= set(state), f"{object_id} reads {fields - set(state)}, which the state message lacks"
    bundle, deploy_entity = (messages[topics.discovery("sensor", k)] for k in ("bundle", "deploy"))
    assert bundle["json_attributes_topic"] == deploy_entity["json_attributes_topic"] == topics.state
    assert bundle["entity_category"] == deploy_entity["entity_category"] == "diagnostic"

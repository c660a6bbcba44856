"""Home Assistant MQTT discovery: retained configs that make each node a device with its entities.

Follows Home Assistant's documented discovery schema: one config per entity
on ``<discovery_prefix>/<component>/<node_id>/<object_id>/config``, ids in
``[a-zA-Z0-9_-]``, a ``unique_id``, the shared ``device`` block (so the
entities group under one device), an ``origin`` block, and availability
wired to the node's availability topic. Entities read the retained ``state``
message (and the ``snapshot`` message for per-channel features), so Home
Assistant shows the last values as soon as it subscribes.
"""
from __future__ import annotations

from importlib import metadata
from typing import Any

from edge_agent.telemetry.topics import Topics, safe_id


def package_version() -> str:
    try:
        return metadata.version("bearing-edge")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def discovery_configs(topics: Topics, channel_names: list[str], feature_unit: str) -> dict[str, dict[str, Any]]:
    """Config topic -> payload for every entity of this node (empty when discovery is off)."""
    if not topics.discovery_prefix:
        return {}
    node = topics.node_id
    version = package_version()
    common = {
        "availability": [{"topic": topics.availability, "payload_available": "online",
                          "payload_not_available": "offline"}],
        "device": {"identifiers": [f"bearing_edge_{node}"], "name": f"Bearing monitor {node}",
                   "manufacturer": "bearing-edge", "model": "bearing-edge agent", "sw_version": version},
        "origin": {"name": "bearing-edge", "sw_version": version},
    }

    def entity(component: str, object_id: str, name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        return topics.discovery(component, object_id), {
            "name": name, "unique_id": f"bearing_edge_{node}_{object_id}",
            **common, **fields}

    state = topics.state
    entities = [
        entity("binary_sensor", "alarm", "Bearing alarm", state_topic=state, device_class="problem",
               value_template="{{ 'ON' if value_json.alarm_latched else 'OFF' }}"),
        entity("binary_sensor", "sensor_fault", "Sensor fault", state_topic=state, device_class="problem",
               # the fault field, not the shown state: a fault is a fact of its own, also while an alarm is latched
               value_template="{{ 'ON' if value_json.fault else 'OFF' }}"),
        entity("binary_sensor", "running", "Machine running", state_topic=state, device_class="running",
               value_template="{{ 'ON' if value_json.machine_state == 'running' else 'OFF' }}"),
        entity("sensor", "level", "Alarm level", state_topic=state, icon="mdi:alert",
               value_template="{{ value_json.level or 'unknown' }}"),
        entity("sensor", "error", "Reconstruction error", state_topic=state, state_class="measurement",
               value_template="{{ value_json.error }}"),
        entity("sensor", "threshold", "Alarm threshold", state_topic=state, state_class="measurement",
               value_template="{{ value_json.threshold }}", entity_category="diagnostic"),
        entity("sensor", "diagnosis", "Diagnosis", state_topic=state, icon="mdi:stethoscope",
               value_template="{{ value_json.diagnosis.text if value_json.diagnosis else 'none' }}"),
        entity("button", "acknowledge", "Acknowledge alarm", command_topic=topics.cmd_ack, payload_press="ack"),
    ]
    for name in channel_names:
        key = name.replace("\\", "\\\\").replace("'", "\\'")
        entities.append(entity("sensor", f"feature_{safe_id(name).lower()}", name, state_topic=topics.snapshot,
                               state_class="measurement", unit_of_measurement=feature_unit,
                               value_template=f"{{{{ value_json.features['{key}'] }}}}"))
    return dict(entities)

"""Home Assistant MQTT discovery: retained configs that make each node a device with its entities.

Two documented forms (``[mqtt] discovery_form``):

* ``device`` (the default; Home Assistant 2024.12 and later): one config per
  node on ``<discovery_prefix>/device/<node_id>/config`` with the device
  (``dev``), the origin (``o``) and every entity as a component (``cmps``,
  each with its platform ``p`` and a ``unique_id``). The per-entity configs an
  earlier version left retained are cleared (an empty retained message each),
  so Home Assistant does not show every entity twice;
* ``entity``: one config per entity on
  ``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` with the
  shared ``device`` block, for older Home Assistant and openHAB (which does not
  read the device form yet).

Ids are in ``[a-zA-Z0-9_-]``, availability is wired to the node's availability
topic, and entities read the retained ``state`` message (and the ``snapshot``
message for per-channel features), so Home Assistant shows the last values as
soon as it subscribes.
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


def discovery_messages(topics: Topics, channel_names: list[str], feature_unit: str,
                       form: str = "device") -> dict[str, dict[str, Any] | None]:
    """Config topic -> payload to publish retained, in ``form``; None = an empty message (clears that config)."""
    entities = discovery_configs(topics, channel_names, feature_unit)
    if not entities:
        return {}
    device = device_config(topics, entities)
    if form == "entity":  # a device config an earlier run left retained is cleared first
        return {**{topic: None for topic in device}, **entities}
    return {**{topic: None for topic in entities}, **device}


def device_config(topics: Topics, entities: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The per-entity configs as one device-based config: ``{<prefix>/device/<node_id>/config: payload}``."""
    first = next(iter(entities.values()))
    components = {}
    for topic, config in entities.items():
        platform, object_id = topic.split("/")[-4], topic.split("/")[-2]
        components[object_id] = {"p": platform, **{k: v for k, v in config.items()
                                                  if k not in ("device", "origin", "availability")}}
    device = first["device"]
    payload = {"dev": {"ids": device["identifiers"], "name": device["name"], "mf": device["manufacturer"],
                       "mdl": device["model"], "sw": device["sw_version"]},
               "o": {"name": first["origin"]["name"], "sw": first["origin"]["sw_version"]},
               "availability": first["availability"], "cmps": components}
    return {f"{topics.discovery_prefix}/device/{topics.node_id}/config": payload}


def discovery_configs(topics: Topics, channel_names: list[str], feature_unit: str) -> dict[str, dict[str, Any]]:
    """Config topic -> payload for every entity of this node, in the per-entity form (empty when discovery is off)."""
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
        # which bundle decides, from which slot, and the last bearing-agent deploy (its phase; the rest, with the
        # probation's progress, as attributes): an automation can tell a plant that a new model is on probation
        entity("sensor", "bundle", "Model bundle", state_topic=state, icon="mdi:package-variant-closed",
               entity_category="diagnostic", value_template="{{ value_json.bundle_id or 'none' }}",
               json_attributes_topic=state, json_attributes_template="{{ {'slot': value_json.slot} | tojson }}"),
        entity("sensor", "deploy", "Bundle deploy", state_topic=state, icon="mdi:update", entity_category="diagnostic",
               value_template="{{ value_json.deploy.phase if value_json.deploy else 'none' }}",
               json_attributes_topic=state, json_attributes_template="{{ (value_json.deploy or {}) | tojson }}"),
        entity("button", "acknowledge", "Acknowledge alarm", command_topic=topics.cmd_ack, payload_press="ack"),
    ]
    for name in channel_names:
        key = name.replace("\\", "\\\\").replace("'", "\\'")
        entities.append(entity("sensor", f"feature_{safe_id(name).lower()}", name, state_topic=topics.snapshot,
                               state_class="measurement", unit_of_measurement=feature_unit,
                               value_template=f"{{{{ value_json.features['{key}'] }}}}"))
    return dict(entities)

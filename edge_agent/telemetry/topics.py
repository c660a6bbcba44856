"""The MQTT topics of one node: a documented interface that other tools subscribe to.

``<topic_prefix>/<node_id>/availability`` (retained ``online`` / ``offline``),
``.../state`` (retained), ``.../snapshot``, ``.../event`` and ``.../cmd/ack``
(the broker side's acknowledge button); Home Assistant's discovery configs live
under ``<discovery_prefix>/<component>/<node_id>/<object_id>/config``.
"""
from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from edge_agent.config import MqttSection

#: What Home Assistant accepts in node and object ids (and a safe MQTT topic level).
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")


def safe_id(text: str) -> str:
    """``text`` reduced to ``[a-zA-Z0-9_-]`` (runs of anything else become one ``_``)."""
    reduced = _UNSAFE.sub("_", text).strip("_")
    if not reduced:
        raise ValueError(f"{text!r} has no letter or digit to make an id from; set [mqtt] node_id")
    return reduced


def default_node_id() -> str:
    """The host name without its domain, reduced to ``[a-zA-Z0-9_-]`` (``pump-3.plant.local`` -> ``pump-3``)."""
    return safe_id(socket.gethostname().split(".")[0])


@dataclass(frozen=True)
class Topics:
    prefix: str
    node_id: str
    discovery_prefix: str = ""

    @classmethod
    def from_config(cls, mqtt: MqttSection) -> "Topics":
        return cls(mqtt.topic_prefix, mqtt.node_id or default_node_id(), mqtt.discovery_prefix)

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.node_id}"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def snapshot(self) -> str:
        return f"{self.base}/snapshot"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def cmd_ack(self) -> str:
        return f"{self.base}/cmd/ack"

    @property
    def cmd_rebaseline(self) -> str:
        """``{"reason": "...", "by": "..."}`` or ``{"undo": true}``: a re-baseline (the same ACL as ``cmd/ack``)."""
        return f"{self.base}/cmd/rebaseline"

    @property
    def ha_status(self) -> str:
        """Where Home Assistant announces ``online`` after it starts: the cue to resend discovery."""
        return f"{self.discovery_prefix}/status"

    def discovery(self, component: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node_id}/{object_id}/config"

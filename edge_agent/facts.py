"""The facts the kit exposes about a node, decided once for every reader: status, the page, MQTT, metrics.

Sensor fault, machine state and alarm are independent facts, each shown on its own: an alarm latched at
Danger does not hide a sensor fault that began after it (the LED can show one thing, every other reader
shows both). The readers used to derive these from the LED's word (``state == 'fault'``) and from the
newest row; they disagreed (Home Assistant said no fault while Prometheus said 1), so they all call
:func:`node_facts` now. Only the journal's heartbeat, its last row and its latest diagnosis go in: this
module imports nothing heavy (``bearing-agent web`` keeps its memory budget).
"""
from __future__ import annotations

from typing import Any

from edge_agent.scoring.level_names import LEVELS

#: fact -> what it means (the docs, the API and the MQTT state payload use these names)
FACTS: dict[str, str] = {
    "machine_state": "running, stopped, starting or sensor_fault: the last snapshot's class (none before any)",
    "level": "normal, alert or danger: the level the last judged snapshot left",
    "alarm_latched": "an alarm was raised and is not yet ended (needs an acknowledgement and a clear condition)",
    "alarm_acknowledged": "the latched alarm was acknowledged (the buzzer is silent)",
    "alarm_level": "the highest level of the latched alarm (none without one)",
    "fault": "why the sensor is in fault now, in words (none without a fault), whatever the alarm",
    "diagnosis": "the latched alarm's diagnosis (the snapshot that raised it), else the newest clear one",
    "dominant_diagnosis": "the diagnosis most snapshots of the latched alarm had",
    "rebaseline": "a re-baseline in progress: since, by whom, why (none otherwise)",
    "baseline_change": "the last running snapshot's largest rise over the commissioning baseline and over the "
                       "active one, in dB, with the feature: information, not an alarm",
    "bundle_id": "the bundle the agent runs (none in learning mode)",
    "slot": "the slot (a or b) the running bundle was deployed to by bearing-agent deploy (none: not deployed so)",
    "deploy": "the last bearing-agent deploy: phase (loading, probation, committed, rolled_back, rejected), the "
              "deployed and the previous bundle, why, and during probation its progress (none before any deploy)",
}

#: what Prometheus shows for a level: its rank, normal lowest
LEVEL_NUMBER = {name: rank for rank, name in enumerate(LEVELS)}


def node_facts(heartbeat: dict[str, Any] | None, last_row: dict[str, Any] | None,
               latest_diagnosis: dict[str, Any] | None = None,
               baseline_state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The :data:`FACTS` from what the journal holds (heartbeat, the last snapshot row, the newest diagnosed
    row as ``Journal.latest_diagnosis`` gives it, and the agent's journaled baseline state)."""
    hb, last = heartbeat or {}, last_row or {}
    latched = bool(hb.get("alarm_latched"))
    diagnosis = hb.get("alarm_diagnosis") if latched and hb.get("alarm_diagnosis") else \
        (latest_diagnosis or {}).get("diagnosis")
    learning = (baseline_state or {}).get("learning")
    deploy = hb.get("deploy") if isinstance(hb.get("deploy"), dict) else {}
    return {
        "machine_state": last.get("machine_state"),
        "level": hb.get("level") or last.get("level"),
        "alarm_latched": latched,
        "alarm_acknowledged": latched and bool(hb.get("alarm_acknowledged")),
        "alarm_level": hb.get("alarm_level") if latched else None,
        "fault": hb.get("fault") or None,
        "diagnosis": diagnosis,
        "dominant_diagnosis": hb.get("alarm_dominant_diagnosis") if latched else None,
        "rebaseline": learning if isinstance(learning, dict) else None,
        "baseline_change": hb.get("baseline_change") if isinstance(hb.get("baseline_change"), dict) else None,
        "bundle_id": hb.get("bundle_id"),
        "slot": deploy.get("slot"),
        "deploy": deploy if deploy.get("phase") else None,
    }

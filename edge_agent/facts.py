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

from edge_agent.deploy.names import PHASES, SLOT_NAMES
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
    "slot": f"the slot ({' or '.join(SLOT_NAMES)}) the running bundle was deployed to by bearing-agent deploy (none: not deployed so)",
    "deploy": f"the last bearing-agent deploy: phase ({', '.join(PHASES)}), the "
              "deployed and the previous bundle, why, and during probation its progress (none before any deploy)",
    "velocity": "the last running snapshot's RMS velocity 10-1000 Hz per channel in mm/s and its ISO 10816-3 zone "
                "(A-D) for the configured machine group and foundation (none before a running snapshot)",
    "physics_diagnosis": "the failing part named from the physics of the bearing (the squared envelope spectrum of "
                         "the newest alarming snapshot against the commissioning baseline): part, confidence, "
                         "channel, evidence; or why there is none. Separate from 'diagnosis', the autoencoder's "
                         "'which channel carries the error'",
}

#: The journal state keys the agent's after-outputs readings are kept under (edge_agent.diagnosis.on_alarm).
PHYSICS_STATE, SPECTRUM_STATE, VIBRATION_STATE = "physics", "physics_spectrum", "vibration"


def condition_states(journal: Any) -> dict[str, Any]:
    """``physics`` and ``vibration`` as :func:`node_facts` takes them, read from a journal's state."""
    return {"physics": journal.get_state(PHYSICS_STATE), "vibration": journal.get_state(VIBRATION_STATE)}

#: what Prometheus shows for a level: its rank, normal lowest
LEVEL_NUMBER = {name: rank for rank, name in enumerate(LEVELS)}


def node_facts(heartbeat: dict[str, Any] | None, last_row: dict[str, Any] | None,
               latest_diagnosis: dict[str, Any] | None = None,
               baseline_state: dict[str, Any] | None = None, physics: dict[str, Any] | None = None,
               vibration: dict[str, Any] | None = None) -> dict[str, Any]:
    """The :data:`FACTS` from what the journal holds (heartbeat, the last snapshot row, the newest diagnosed
    row as ``Journal.latest_diagnosis`` gives it, the agent's journaled baseline state, and the after-outputs
    readings :func:`condition_states` reads)."""
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
        "velocity": _velocity(vibration),
        "physics_diagnosis": _physics(physics),
    }


def _velocity(vibration: Any) -> dict[str, Any] | None:
    if not isinstance(vibration, dict) or not isinstance(vibration.get("mm_s"), list):
        return None
    return {k: vibration.get(k) for k in ("time", "channels", "mm_s", "zones", "worst_zone", "machine_group",
                                          "foundation", "limits_mm_s", "class")}


def _physics(physics: Any) -> dict[str, Any] | None:
    """The diagnosis (``part`` is None while no alarming snapshot was diagnosed), or why there is none."""
    if not isinstance(physics, dict):
        return None
    if not physics.get("available"):
        return {"available": False, "part": None, "why_not": physics.get("why_not")}
    return {"available": True, "why_not": None,
            **{k: physics.get(k) for k in ("part", "confidence", "channel", "text", "time", "level", "line",
                                           "shaft_hz")}}

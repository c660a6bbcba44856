"""Journal rows as MQTT messages: JSON in UTF-8, times as ISO 8601 UTC and as unix seconds.

Each snapshot and event message carries ``seq``, the row's id in the journal:
ids only grow, so a consumer deduplicates QoS 1 redeliveries by it and can
tell a gap from a duplicate. ``docs/telemetry.md`` shows a message of each kind
from a real run.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from edge_agent.facts import node_facts
from edge_agent.journal.reader import feature_names  # noqa: F401 (the payloads' names; tests use it from here)
from edge_agent.strict_json import dumps


def iso_utc(t: float | None) -> str | None:
    """Unix seconds as ``2004-02-12T10:32:39Z`` (milliseconds only when the time has them)."""
    if t is None:
        return None
    spec = "seconds" if float(t).is_integer() else "milliseconds"
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec=spec).replace("+00:00", "Z")


def _opt_bool(v: Any) -> bool | None:
    return None if v is None else bool(v)


def top_channel(row: dict[str, Any]) -> dict[str, Any] | None:
    """``{"name": "Bearing 1", "share": 0.72}``: the channel with most of a scored row's error, else None."""
    name = row.get("top_channel")
    return None if name is None else {"name": name, "share": row.get("top_share")}


def snapshot_message(row: dict[str, Any], by_bundle: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """One journaled snapshot (a row of :meth:`Journal.snapshots`); ``by_bundle`` names its features.

    ``contributions`` (the error per feature, named like ``features``), ``top_channel``,
    ``diagnosis`` and ``inference_s`` are null for a snapshot that was not scored, and for
    the rows of a journal from before schema version 2.
    """
    latency_ms = row.get("latency_ms")
    contributions = row.get("contributions")
    names = feature_names(row, by_bundle)
    return {
        "seq": row["id"],
        "time": iso_utc(row["time"]), "time_unix": row["time"],
        "first_index": row["first_index"],
        "device_id": row.get("device_id"),
        "features": dict(zip(names, row["features"])),
        "error": row["error"], "threshold": row["threshold"],
        "over_threshold": _opt_bool(row["over_threshold"]), "alarm": _opt_bool(row["alarm"]),
        "state": row["state"], "bundle_id": row["bundle_id"],
        # the machine state (running / stopped / starting / sensor_fault) and the level (normal / alert / danger);
        # "state" stays what the LED shows (normal / alarm / fault / learning), as before
        "machine_state": row.get("machine_state"), "level": row.get("level"),
        "latency_s": None if latency_ms is None else latency_ms / 1000.0,
        "inference_s": row.get("inference_s"),
        "contributions": None if contributions is None else dict(zip(names, contributions)),
        "top_channel": top_channel(row),
        "diagnosis": row.get("diagnosis"),
        "recorded": iso_utc(row["recorded"]),
    }


def event_message(row: dict[str, Any]) -> dict[str, Any]:
    """One journaled event (a row of :meth:`Journal.events_after`)."""
    return {"seq": row["id"], "time": iso_utc(row["time"]), "time_unix": row["time"], "kind": row["kind"],
            "detail": row["detail"], "bundle_id": row["bundle_id"]}


#: The journal counters a state message carries (the rest stay in ``bearing-agent status``).
STATE_COUNTERS = ("snapshots_scored", "snapshots_recorded", "snapshots_discarded_gap", "bad_checks",
                  "frames_missing", "missing_samples", "disconnects", "starts", "outbox_dropped")


def diagnosis_message(diagnosis: dict[str, Any] | None) -> dict[str, Any] | None:
    """The newest diagnosis (a :meth:`Journal.latest_diagnosis` row): words, channel, share, and the
    snapshot it belongs to (compare its ``seq`` with ``last_snapshot_seq`` to tell if it is current)."""
    if diagnosis is None:
        return None
    return {"text": diagnosis["diagnosis"], "channel": diagnosis.get("top_channel"),
            "share": diagnosis.get("top_share"), "seq": diagnosis.get("id"), "time": iso_utc(diagnosis.get("time")),
            "time_unix": diagnosis.get("time")}


def state_message(*, running: bool, heartbeat: dict[str, Any], last_row: dict[str, Any] | None,
                  counters: dict[str, int], diagnosis: dict[str, Any] | None = None,
                  baseline_state: dict[str, Any] | None = None, physics: dict[str, Any] | None = None,
                  vibration: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the node shows now: retained, so a dashboard that connects later sees it at once.

    ``top_channel`` is where the last scored snapshot's error is (every scored snapshot has
    one); ``diagnosis`` (:func:`diagnosis_message`) is the newest snapshot over the threshold
    or in alarm, named in words, and stays until a newer one replaces it. ``physics`` and ``vibration`` (the
    journal's after-outputs readings, :func:`edge_agent.facts.condition_states`) become the ``physics_diagnosis``
    and ``velocity`` facts.
    """
    last = last_row or {}
    scored = last.get("error") is not None
    facts = node_facts(heartbeat, last_row, diagnosis, baseline_state, physics, vibration)
    if facts["diagnosis"] and (diagnosis or {}).get("diagnosis") != facts["diagnosis"]:
        # a latched alarm shows its own diagnosis (the snapshot that raised it), not the newest row's
        diagnosis = {"diagnosis": facts["diagnosis"]}
    return {
        "agent_running": running,
        "state": heartbeat.get("display") if running else "stopped",
        # the facts every reader shows (edge_agent.facts), by their names; the diagnosis travels as an object
        **{name: value for name, value in facts.items() if name != "diagnosis"},
        "error": last.get("error") if scored else None,
        "threshold": last.get("threshold") if scored else None,
        "over_threshold": _opt_bool(last.get("over_threshold")),
        "top_channel": top_channel(last) if scored else None,
        "diagnosis": diagnosis_message(diagnosis),
        "bundle_id": heartbeat.get("bundle_id"),
        "mode": heartbeat.get("mode"),
        "last_snapshot_seq": last.get("id"),
        "last_snapshot_time": iso_utc(last.get("time")), "last_snapshot_time_unix": last.get("time"),
        "heartbeat_time": iso_utc(heartbeat.get("time")),
        "counters": {k: int(counters.get(k, 0)) for k in STATE_COUNTERS},
    }


def encode(message: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, strict (``allow_nan=False``) so every consumer can parse it."""
    return dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


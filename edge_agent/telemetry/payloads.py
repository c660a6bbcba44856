"""Journal rows as MQTT messages: JSON in UTF-8, times as ISO 8601 UTC and as unix seconds.

Each snapshot and event message carries ``seq``, the row's id in the journal:
ids only grow, so a consumer deduplicates QoS 1 redeliveries by it and can
tell a gap from a duplicate. ``docs/telemetry.md`` shows a message of each kind
from a real run.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any


def iso_utc(t: float | None) -> str | None:
    """Unix seconds as ``2004-02-12T10:32:39Z`` (milliseconds only when the time has them)."""
    if t is None:
        return None
    spec = "seconds" if float(t).is_integer() else "milliseconds"
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec=spec).replace("+00:00", "Z")


def feature_names(row: dict[str, Any]) -> list[str]:
    """Names for a row's features: its stream's channel names, or ``feature_1..N`` if they do not fit."""
    names = row.get("channel_names") or []
    n = len(row["features"])
    return list(names) if len(names) == n else [f"feature_{i + 1}" for i in range(n)]


def _opt_bool(v: Any) -> bool | None:
    return None if v is None else bool(v)


def snapshot_message(row: dict[str, Any]) -> dict[str, Any]:
    """One journaled snapshot (a row of :meth:`Journal.snapshots`)."""
    latency_ms = row.get("latency_ms")
    return {
        "seq": row["id"],
        "time": iso_utc(row["time"]), "time_unix": row["time"],
        "first_index": row["first_index"],
        "device_id": row.get("device_id"),
        "features": dict(zip(feature_names(row), row["features"])),
        "error": row["error"], "threshold": row["threshold"],
        "over_threshold": _opt_bool(row["over_threshold"]), "alarm": _opt_bool(row["alarm"]),
        "state": row["state"], "bundle_id": row["bundle_id"],
        "latency_s": None if latency_ms is None else latency_ms / 1000.0,
        "recorded": iso_utc(row["recorded"]),
    }


def event_message(row: dict[str, Any]) -> dict[str, Any]:
    """One journaled event (a row of :meth:`Journal.events_after`)."""
    return {"seq": row["id"], "time": iso_utc(row["time"]), "time_unix": row["time"], "kind": row["kind"],
            "detail": row["detail"], "bundle_id": row["bundle_id"]}


#: The journal counters a state message carries (the rest stay in ``bearing-agent status``).
STATE_COUNTERS = ("snapshots_scored", "snapshots_recorded", "snapshots_discarded_gap", "bad_checks",
                  "frames_missing", "missing_samples", "disconnects", "starts", "outbox_dropped")


def state_message(*, running: bool, heartbeat: dict[str, Any], last_row: dict[str, Any] | None,
                  counters: dict[str, int]) -> dict[str, Any]:
    """What the node shows now: retained, so a dashboard that connects later sees it at once."""
    last = last_row or {}
    scored = last.get("error") is not None
    return {
        "agent_running": running,
        "state": heartbeat.get("display") if running else "stopped",
        "alarm_latched": bool(heartbeat.get("alarm_latched")),
        "alarm_acknowledged": bool(heartbeat.get("alarm_acknowledged")),
        "fault": heartbeat.get("fault"),
        "error": last.get("error") if scored else None,
        "threshold": last.get("threshold") if scored else None,
        "over_threshold": _opt_bool(last.get("over_threshold")),
        "bundle_id": heartbeat.get("bundle_id"),
        "mode": heartbeat.get("mode"),
        "last_snapshot_seq": last.get("id"),
        "last_snapshot_time": iso_utc(last.get("time")), "last_snapshot_time_unix": last.get("time"),
        "heartbeat_time": iso_utc(heartbeat.get("time")),
        "counters": {k: int(counters.get(k, 0)) for k in STATE_COUNTERS},
    }


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they travel as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def encode(message: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, strict (``allow_nan=False``) so every consumer can parse it."""
    return json.dumps(_finite(message), separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")

"""What the status page's JSON API answers: the journal read, summed up and explained in plain words.

Every function here takes a read-only :class:`~edge_agent.journal.Journal`
and returns plain dicts ready for ``json.dumps``; the HTTP side lives in
:mod:`edge_agent.web.server`. Nothing here imports numpy: a page that polls
every two seconds must stay a small process beside the agent.

Times: a snapshot's ``time`` is when it was *recorded* (a replay of 2004 data
keeps 2004); events carry the wall clock. The timeline therefore ends at the
snapshot journaled last (by row, not the largest time: a row from a clock that
was ahead must not hide the rows after it), not at "now", and events are placed
on it at the snapshot journaled just before them.
"""
from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

from edge_agent.facts import PHYSICS_STATE, SPECTRUM_STATE
from edge_agent.journal import Journal, JournalError
from edge_agent.status import collect_status, diagnosis_words
from edge_agent.strict_json import finite

#: Timeline ranges the page offers: name -> seconds back from the newest snapshot (None = everything).
RANGES = {"24h": 86400.0, "7d": 7 * 86400.0, "all": None}
#: Points per timeline: a laptop-wide chart has about this many pixels; more would only cost time.
DEFAULT_POINTS = 600
MAX_POINTS = 2000
#: Rows per page of ``/api/snapshots``.
MAX_SNAPSHOT_ROWS = 5000
#: Events placed on the timeline and listed.
TIMELINE_EVENTS = 200

#: What each counter means, for a technician rather than a developer.
COUNTER_HELP = {
    "bytes_in": "bytes read from the serial link",
    "frames_ok": "frames that arrived with good checks",
    "bad_checks": "frames dropped because a check failed (noise or a loose cable)",
    "frames_missing": "frames the device sent that never arrived (gaps in the sequence numbers)",
    "missing_samples": "samples lost in those gaps; a snapshot with a gap is discarded, never scored",
    "resyncs": "times the decoder had to search for the start of the next frame",
    "bytes_skipped": "bytes thrown away while searching for a frame start",
    "seq_gaps": "jumps in the frame sequence numbers",
    "index_rewinds": "times the device's sample counter went backwards (it restarted)",
    "malformed": "frames with good checks but an impossible content",
    "unknown_frames": "frames of a type this agent does not know (newer firmware?)",
    "snapshots_completed": "whole snapshots assembled from the stream",
    "snapshots_scored": "snapshots scored by the model",
    "snapshots_recorded": "snapshots recorded without a score (learning mode, or filling the model's history)",
    "snapshots_discarded_gap": "snapshots thrown away because samples were missing",
    "snapshots_skipped_cadence": "snapshots skipped on purpose: only one per scoring interval is taken",
    "samples_before_info": "samples that arrived before the device described its stream (ignored)",
    "samples_rejected_stream": "samples ignored because the stream does not match the model",
    "samples_rejected_channels": "samples ignored because their frame had another channel count than the stream",
    "samples_rejected_index": "samples ignored because their index was beyond 2^63 (a broken sample counter)",
    "reconnects": "times the serial device came back after it vanished",
    "disconnects": "times the serial device vanished (unplugged, reset, cable)",
    "starts": "times the agent has started with this journal",
    "device_uptime_ms": "the sensor board's own uptime, in milliseconds",
    "device_adc_overruns": "the sensor board could not read its converter in time",
    "device_tx_overruns": "the sensor board could not send fast enough and dropped data",
    "device_frames_sent": "frames the sensor board says it sent",
    "device_errors": "errors the sensor board reported",
}

#: What each event means.
EVENT_HELP = {
    "start": "the agent started",
    "stop": "the agent stopped cleanly",
    "restart": "the agent had not stopped cleanly (crash or power cut) and resumed from the journal",
    "bundle_loaded": "a model bundle was loaded and is scoring",
    "bundle_rejected": "a new bundle was refused; the previous one keeps scoring",
    "bundle_changed_on_disk": "the running bundle's files changed on disk; it keeps running the verified copy",
    "alarm_raised": "the error stayed over the threshold long enough: alarm raised and latched",
    "alarm_acknowledged": "someone acknowledged the alarm: the buzzer is silenced",
    "alarm_condition_cleared": "the error is back under the threshold, but the alarm stays latched until acknowledged",
    "alarm_cleared": "the alarm ended: acknowledged and the error back under the threshold",
    "ack_ignored": "an acknowledgement arrived with no unacknowledged alarm",
    "sensor_fault_begin": "the sensor stopped delivering good data: scores cannot be trusted",
    "sensor_fault_end": "good data again: the sensor fault ended",
    "device_lost": "the serial device vanished",
    "device_connected": "the serial device is connected",
    "frames_lost": "frames were lost or damaged on the serial link",
    "stream_mismatch": "the sensor's stream does not match the model (channels, rate or burst length): not scoring",
    "learning_ended": "learning mode ended: a bundle was loaded and scores from now on",
    "journal_fault_begin": "the journal stopped taking writes (disk full, locked, damaged): rows wait in memory",
    "journal_fault_end": "the journal takes writes again: the rows that waited are written",
    "pruned": "journal retention deleted old rows (how many, and by which rule, in the detail)",
    "crash": "an error ended the agent's loop (see its log); the next start resumes from the journal",
    "physics_diagnosis": "the failing part named from the alarming snapshot's envelope spectrum against the "
                         "commissioning baseline (a vibration analysis, separate from the alarm's novelty score)",
}

STATE_WORDS = {"normal": "Normal", "alarm": "Alarm", "fault": "Sensor fault", "learning": "Learning",
               "unknown": "No data yet"}


def open_journal(path: str | Path) -> Journal:
    """The journal, read-only (raises :class:`JournalError` saying what is missing)."""
    return Journal.open_readonly(path)


def no_journal(path: str | Path, problem: str) -> dict[str, Any]:
    """The status answer when there is no journal to read (yet, or readable)."""
    if Path(path).exists():  # there is one, and the problem says why it cannot be read: starting an agent would not help
        hint = "the journal exists but cannot be read: the line above says why and what to do"
    else:
        hint = ("start the agent (sudo systemctl start bearing-agent, or bearing-agent run --config agent.toml): "
                "it creates the journal, and this page fills in by itself")
    return {"journal": {"path": str(path), "ok": False, "problem": problem, "hint": hint}}


def status(journal: Journal) -> dict[str, Any]:
    """Everything the page's header and panels show, from the journal as it is now."""
    core = collect_status(journal, last=1)
    heartbeat, last = core["agent"], (core["snapshots"] or [None])[-1]
    bundle = _bundle(journal, heartbeat)
    return finite({  # a non-finite error or feature in the journal travels as null, never as a refused answer
        "journal": {"path": str(journal.path), "ok": True},
        "generated": time.time(),
        "agent": {"running": core["running"], "ever_started": bool(heartbeat),
                  "stopped_cleanly": bool(heartbeat.get("stopped")),
                  "heartbeat_age_s": core["heartbeat_age_s"], "pid": heartbeat.get("pid"),
                  "mode": heartbeat.get("mode"), "started": heartbeat.get("started"), "port": heartbeat.get("port"),
                  "connected": heartbeat.get("connected")},
        "state": {**_state(journal, heartbeat, core["alarm"], last), "diagnosis": _diagnosis(core["diagnosis"], last,
                                                                                       core["facts"]),
                  "facts": core["facts"]},
        "bundle": bundle,
        "debounce_text": _debounce_text(bundle.get("debounce")),
        "stream": _stream(last),
        "last": _last_snapshot(last),
        "channels": _channels(journal, last, bundle.get("units")),
        "counters": [{"name": k, "value": v, "help": COUNTER_HELP.get(k, "")} for k, v in core["counters"].items()],
        "events": [_event(journal, e) for e in journal.events(last=15)],
    })


def timeline(journal: Journal, range_name: str = "24h", points: int = DEFAULT_POINTS) -> dict[str, Any]:
    """The error and feature series for one range, downsampled to ``points``, with alarm periods and events."""
    if range_name not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}, got {range_name!r}")
    points = max(10, min(int(points), MAX_POINTS))
    extent = journal.snapshot_range()
    if extent is None:
        return {"range": range_name, "start": None, "end": None, "buckets": [], "alarm_periods": [],
                "events": [], "channel_names": [], "rows": 0}
    first, newest, _ = extent
    span = RANGES[range_name]
    last = journal.snapshots(last=1)[0]
    # 24 h and 7 d end at the snapshot journaled last, not at the largest time: one row journaled
    # while the clock was a year ahead, or a replay's 2004 rows after live ones, would otherwise
    # leave every later row outside the view for as long as the difference (issue 21 #16).
    end = newest if span is None else last["time"]
    start = first if span is None else max(first, end - span)
    names = last["channel_names"] or [f"ch{i + 1}" for i in range(len(last["features"]))]
    buckets = journal.snapshot_buckets(start, end, points, len(names))
    events = []
    for e in journal.events(last=TIMELINE_EVENTS):
        at = journal.snapshot_time_at(e["time"])
        at = first if at is None else at  # journaled before any snapshot (the first start): at the beginning
        if start <= at <= end:
            events.append(_event(journal, e, at))
    return {"range": range_name, "start": start, "end": end, "channel_names": names,
            "rows": sum(b["n"] for b in buckets), "buckets": finite(buckets),
            "alarm_periods": [{"start": a, "end": b} for a, b in journal.state_runs("alarm", start, end)],
            "events": events}


def spectrum(journal: Journal) -> dict[str, Any]:
    """The envelope spectrum of the newest physics diagnosis against the commissioning baseline (what the
    page's vibration card draws), or ``{"spectrum": null, "why": ...}`` when there is none to draw."""
    drawn = journal.get_state(SPECTRUM_STATE)
    physics = journal.get_state(PHYSICS_STATE) or {}
    if not isinstance(drawn, dict):
        why = physics.get("why_not") or ("no alarming snapshot has been diagnosed since the bundle was loaded"
                                         if physics else "the agent has not diagnosed a snapshot yet")
        return {"spectrum": None, "why": why}
    if physics.get("bundle_id") is not None and physics.get("time") != drawn.get("time"):
        return {"spectrum": None, "why": "the spectrum journaled is not the newest diagnosis's"}
    return {"spectrum": finite(drawn), "why": None}


def snapshots(journal: Journal, since: float | None, after_id: int | None, limit: int) -> dict[str, Any]:
    """Raw snapshot rows from ``since`` (or after the row ``after_id``), oldest first, a page at a time."""
    limit = max(1, min(int(limit), MAX_SNAPSHOT_ROWS))
    rows = journal.snapshots(since=since, after_id=after_id, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"rows": finite(rows), "more": more, "next_after_id": rows[-1]["id"] if rows else after_id}


def events(journal: Journal, last: int, kind: str | None = None) -> dict[str, Any]:
    """The last ``last`` events (oldest first), each with a plain-language line."""
    return {"events": [_event(journal, e) for e in journal.events(last=max(1, min(int(last), 1000)), kind=kind)]}


# -- the parts of the status ----------------------------------------------------------------

def _state(journal: Journal, heartbeat: dict, alarm: dict, last: dict | None) -> dict[str, Any]:
    """The one word in large type, what it means, and since when."""
    display = heartbeat.get("display") or (last["state"] if last else "unknown")
    out: dict[str, Any] = {"display": display, "word": STATE_WORDS.get(display, display),
                           "latched": bool(alarm.get("latched")), "acknowledged": bool(alarm.get("acknowledged")),
                           "condition": bool(alarm.get("condition")), "since": None, "since_clock": None}
    if display == "alarm":
        raised = journal.events(last=1, kind="alarm_raised")
        if raised:
            out["since"] = journal.snapshot_time_at(raised[0]["time"])
        if out["acknowledged"]:
            out["detail"] = "acknowledged: the buzzer is silenced; the alarm ends when the error is back under the threshold"
        elif out["condition"]:
            out["detail"] = "not acknowledged, and the error is still over the threshold"
        else:
            out["detail"] = "the error is back under the threshold, but the alarm stays latched until acknowledged"
    elif display == "fault":
        began = journal.events(last=1, kind="sensor_fault_begin")
        out["since_clock"] = began[0]["time"] if began else None
        out["detail"] = heartbeat.get("fault") or (began[0]["detail"] if began else "")
    elif display == "learning":
        extent = journal.snapshot_range()
        days = (extent[1] - extent[0]) / 86400.0 if extent else 0.0
        out["detail"] = (f"{days:.1f} days recorded ({extent[2] if extent else 0} snapshots); "
                         "retrain with bearing-agent export after at least 2 days of healthy running")
    elif display == "normal":
        out["detail"] = "the error is under the threshold"
    else:
        out["detail"] = "the agent has not journaled a snapshot yet"
    return out


def _diagnosis(diagnosis: dict | None, last: dict | None, facts: dict | None = None) -> dict[str, Any] | None:
    """The bearing and defect of the newest snapshot over the threshold, in words, for the state card.

    ``current``: it is the last snapshot's (else the card says when it was). None when the
    journal has none (never over the threshold, or a journal from before schema version 2).
    """
    if facts and facts.get("alarm_latched") and facts.get("diagnosis"):
        # a latched alarm shows its own diagnosis (the snapshot that raised it), not the newest row's
        most = facts.get("dominant_diagnosis")
        text = facts["diagnosis"] + (f" (most of the alarm's snapshots: {most})" if most and most != facts["diagnosis"]
                                     else "")
        return {"text": text, "time": None, "current": True, "alarm": True}
    if diagnosis is None:
        return None
    return {"text": diagnosis_words(diagnosis), "time": diagnosis["time"],
            "current": last is not None and diagnosis["id"] == last["id"]}


def _bundle(journal: Journal, heartbeat: dict) -> dict[str, Any]:
    """The bundle scoring now: id, when it was loaded, threshold, debounce and feature units."""
    loaded = journal.events(last=1, kind="bundle_loaded")
    out: dict[str, Any] = {"id": heartbeat.get("bundle_id"), "loaded": loaded[0]["time"] if loaded else None,
                           "threshold": None, "debounce": None, "units": None}
    if loaded:  # the agent writes "... threshold 0.302, debounce 3 ..." in every bundle_loaded event
        m = re.search(r"threshold ([0-9.eE+-]+), debounce (\d+)", loaded[0]["detail"])
        if m:
            out["threshold"], out["debounce"] = float(m.group(1)), int(m.group(2))
    manifest = _manifest(heartbeat.get("bundle_path"))
    if manifest and manifest.get("bundle_id") == out["id"]:
        spec = manifest.get("feature_spec") or {}
        out["units"] = spec.get("units")
        debounce = (manifest.get("threshold") or {}).get("debounce")
        out["debounce"] = int(debounce) if debounce else out["debounce"]
    return out


def _manifest(path: str | None) -> dict | None:
    """The bundle's manifest.json (a directory or the .tar.gz), or None when it cannot be read."""
    if not path:
        return None
    p = Path(path)
    try:
        if p.is_dir():
            return json.loads((p / "manifest.json").read_text(encoding="utf-8"))
        if not p.is_file():
            return None
    except (OSError, ValueError):
        return None
    import tarfile  # only for a .tar.gz bundle: its compression modules cost the page ~1 MiB otherwise

    try:
        with tarfile.open(p) as tar:
            member = next((m for m in tar.getmembers() if m.name.rsplit("/", 1)[-1] == "manifest.json"), None)
            handle = tar.extractfile(member) if member is not None else None
            return json.loads(handle.read()) if handle is not None else None
    except (OSError, ValueError, tarfile.TarError):
        return None


def _debounce_text(k: int | None) -> str:
    if not k:
        return "The alarm rule could not be read from the journal (no bundle loaded yet)."
    n = "snapshot" if k == 1 else f"{k} snapshots in a row"
    return (f"{n[0].upper()}{n[1:]} over the threshold raise the alarm; {n} under it end the condition. "
            "The alarm then stays latched (relay on) until someone acknowledges it, so an alarm at 3 a.m. "
            "is still there in the morning.")


def _stream(last: dict | None) -> dict[str, Any]:
    if last is None:
        return {"device_id": None, "sample_rate_hz": None, "channels": []}
    return {"device_id": last["device_id"], "sample_rate_hz": last["sample_rate_hz"],
            "channels": last["channel_names"] or []}


def _last_snapshot(last: dict | None) -> dict[str, Any] | None:
    if last is None:
        return None
    err, thr = last["error"], last["threshold"]
    return {"time": last["time"], "error": err, "threshold": thr, "over": bool(last["over_threshold"]),
            "ratio": err / thr if err is not None and thr else None, "state": last["state"]}


def _channels(journal: Journal, last: dict | None, units: str | None) -> dict[str, Any]:
    """Each channel's feature now against its healthy level, and which one moved most.

    Where the model's error is (its share per channel, the diagnosis) is on the state
    card; this names the channel whose *feature* moved most relative to its healthy
    level: for a mean |x| feature, the bearing whose vibration grew most.
    """
    if last is None:
        return {"units": units, "channels": [], "driver": None, "text": ""}
    names = last["channel_names"] or [f"ch{i + 1}" for i in range(len(last["features"]))]
    healthy = journal.healthy_levels(len(names))
    channels = []
    for name, value, ref in zip(names, last["features"], healthy):
        ratio = value / ref if ref else None
        channels.append({"name": name, "value": value, "healthy": ref, "ratio": ratio})
    moved = [c for c in channels if c["ratio"] is not None]
    driver = max(moved, key=lambda c: abs(math.log(c["ratio"])) if c["ratio"] > 0 else 0.0) if moved else None
    text = ""
    if driver is not None:
        others = max((c["ratio"] for c in moved if c is not driver), default=None)
        text = (f"{driver['name']} moved most from its healthy level: {driver['ratio']:.2f} x "
                f"({driver['value']:.4g} now, healthy {driver['healthy']:.4g})"
                + (f"; the others at most {others:.2f} x." if others is not None else "."))
        if last["error"] is not None and last["over_threshold"]:
            text = "Driving the error now: " + text
    return {"units": units, "channels": channels, "driver": driver["name"] if driver else None, "text": text}


def _event(journal: Journal, e: dict, at: float | None = None) -> dict[str, Any]:
    return {"time": e["time"], "at": at, "kind": e["kind"], "detail": e["detail"],
            "help": EVENT_HELP.get(e["kind"], "")}


__all__ = ["RANGES", "JournalError", "open_journal", "no_journal", "status", "timeline", "snapshots", "events",
           "spectrum"]

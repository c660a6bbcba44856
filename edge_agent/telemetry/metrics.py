"""Prometheus metrics of a node, fed from the journal: an HTTP endpoint or a node_exporter textfile.

Names follow Prometheus conventions: a ``bearing_edge_`` prefix, base units
(seconds), ``_total`` for counters. Counters come from the journal's own
cumulative counters (they survive agent restarts); the latency and inference
histograms are filled from the snapshot rows journaled since the agent's start
(read when this process starts, then every new row), so a publisher restart
rebuilds the same counts. Every
metric has a ``node`` label, so one Grafana dashboard shows a fleet.
``METRIC_NAMES`` lists every name exposed (the Grafana dashboard test checks
the dashboard against it).
"""
from __future__ import annotations

import threading
from typing import Any

from prometheus_client import (CollectorRegistry, Histogram, Info, disable_created_metrics, start_http_server,
                               write_to_textfile)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from edge_agent.facts import LEVEL_NUMBER, condition_states, node_facts
from edge_agent.journal import Journal
from edge_agent.telemetry.discovery import package_version

#: Last byte of a snapshot read -> outputs set; the goal is <= 20 ms, measured ~1 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0)

#: The model's invoke alone: ~0.1 ms for the float32 autoencoder on a desktop, a few ms on a Pi Zero; up to 1 s.
INFERENCE_BUCKETS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)

#: counter metric (without ``_total``) -> (help, journal counters summed into it)
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "bearing_edge_snapshots_scored": ("Snapshots scored by the model", ("snapshots_scored",)),
    "bearing_edge_snapshots_recorded": ("Snapshots recorded without a score (learning mode, filling the "
                                        "model's history)", ("snapshots_recorded",)),
    "bearing_edge_snapshots_discarded": ("Snapshots discarded because frames were missing",
                                         ("snapshots_discarded_gap",)),
    "bearing_edge_frames_bad": ("Frames that failed their check or were malformed", ("bad_checks", "malformed")),
    "bearing_edge_frames_missing": ("Frames missing from the sequence", ("frames_missing",)),
    "bearing_edge_samples_missing": ("Samples missing from the stream", ("missing_samples",)),
    "bearing_edge_serial_disconnects": ("Times the sensor's serial device went away", ("disconnects",)),
    "bearing_edge_outbox_dropped": ("Snapshot rows deleted by retention before they were published",
                                    ("outbox_dropped",)),
}

#: gauge metric -> help
GAUGES = {
    "bearing_edge_agent_up": "1 while the agent's heartbeat is fresh",
    "bearing_edge_error": "Reconstruction error of the last scored snapshot",
    "bearing_edge_threshold": "Alarm threshold of the loaded bundle",
    "bearing_edge_alarm": "1 while an alarm is latched",
    "bearing_edge_alarm_unacknowledged": "1 while a latched alarm is not acknowledged",
    "bearing_edge_fault": "1 while the sensor is in fault (whatever the alarm)",
    "bearing_edge_level": "Alarm level of the last judged snapshot: 0 normal, 1 alert, 2 danger",
    "bearing_edge_machine_running": "1 while the last snapshot's machine state is running (0 stopped, starting "
                                    "or sensor fault)",
    "bearing_edge_last_snapshot_timestamp_seconds": "Time of the last journaled snapshot (unix seconds)",
    "bearing_edge_outbox_backlog": "Journal rows not yet acknowledged by the MQTT broker, per stream",
    "bearing_edge_mqtt_connected": "1 while the publisher is connected to the MQTT broker",
}

#: per-channel gauges of the after-outputs readings (edge_agent.diagnosis.on_alarm) -> help
CONDITION_GAUGES = {
    "bearing_edge_velocity_rms_mm_s": "RMS velocity 10-1000 Hz of the last running snapshot, mm/s, per channel",
    "bearing_edge_iso_zone": "ISO 10816-3 zone of that velocity, per channel: 1 A, 2 B, 3 C, 4 D (for the "
                             "configured machine group and foundation)",
    "bearing_edge_physics_diagnosis": "Confidence (0-1) of the physics diagnosis of the newest alarming snapshot, "
                                      "labelled with the part named (none: no clear defect line) and its channel",
}
ZONE_NUMBER = {"A": 1, "B": 2, "C": 3, "D": 4}

#: every name a scrape can show (counters with _total, the histogram's series, the info metric)
METRIC_NAMES = frozenset(
    [f"{n}_total" for n in COUNTERS] + list(GAUGES) + list(CONDITION_GAUGES)
    + ["bearing_edge_build_info", "bearing_edge_mqtt_messages_total"]
    + [f"{h}{s}" for h in ("bearing_edge_alarm_latency_seconds", "bearing_edge_inference_seconds")
       for s in ("_bucket", "_sum", "_count")])


class TelemetryMetrics:
    """The registry of one node's metrics; :meth:`update` refreshes it from the journal."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        # No ``_created`` series: a second sample per counter that no dashboard here reads.
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=False)
        self.latency = Histogram("bearing_edge_alarm_latency_seconds",
                                 "A snapshot's last byte read -> alarm outputs set", ["node"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry).labels(node=node_id)
        self.inference = Histogram("bearing_edge_inference_seconds", "The model's invoke for one scored snapshot",
                                   ["node"], buckets=INFERENCE_BUCKETS, registry=self.registry).labels(node=node_id)
        self.build = Info("bearing_edge_build", "Software version and loaded bundle", ["node"],
                          registry=self.registry)
        self._families: list[Any] = []  # replaced whole by update(): a scrape never sees half an update
        self._after_id: int | None = None
        self._server = None
        self.registry.register(self)

    # prometheus_client's collector protocol
    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        return self._families

    def update(self, journal: Journal, *, heartbeat: dict[str, Any], running: bool, counters: dict[str, int],
               last_row: dict[str, Any] | None, backlog: dict[str, int], connected: bool | None,
               published: dict[str, int]) -> None:
        """Observe the rows journaled since the last update and rebuild the gauges and counters."""
        last_id = last_row["id"] if last_row else 0
        if self._after_id is None:
            # The histograms count the rows since the agent's start (its heartbeat says when), so a
            # publisher restart fills them again with the same rows instead of starting from zero, and
            # a row journaled just before this process read the journal is not missed. Without a
            # start time (an agent older than the heartbeat's "started"), from this process's start.
            started = heartbeat.get("started")
            self._after_id = (journal.last_snapshot_id_before(float(started))
                              if isinstance(started, (int, float)) else last_id)
        while self._after_id < last_id:
            rows = journal.timings_after(self._after_id, 5000)
            if not rows:
                break
            for _, latency_ms, inference_s in rows:
                if latency_ms is not None:
                    self.latency.observe(latency_ms / 1000.0)
                if inference_s is not None:  # scored rows only (None in learning mode and version-1 rows)
                    self.inference.observe(inference_s)
            self._after_id = rows[-1][0]
        node = [self.node_id]
        families: list[Any] = []
        for name, (text, sources) in COUNTERS.items():
            c = CounterMetricFamily(name, text, labels=["node"])
            c.add_metric(node, float(sum(counters.get(s, 0) for s in sources)))
            families.append(c)
        scored = last_row is not None and last_row["error"] is not None
        facts = node_facts(heartbeat, last_row, **condition_states(journal))
        values = {
            "bearing_edge_agent_up": float(running),
            "bearing_edge_error": last_row["error"] if scored else None,
            "bearing_edge_threshold": last_row["threshold"] if scored else None,
            "bearing_edge_alarm": float(bool(heartbeat.get("alarm_latched"))),
            "bearing_edge_alarm_unacknowledged": float(bool(heartbeat.get("alarm_latched"))
                                                       and not heartbeat.get("alarm_acknowledged")),
            "bearing_edge_fault": float(bool(facts["fault"])),
            "bearing_edge_level": None if facts["level"] is None else float(LEVEL_NUMBER.get(facts["level"], 0)),
            "bearing_edge_machine_running": None if facts["machine_state"] is None
            else float(facts["machine_state"] == "running"),
            "bearing_edge_last_snapshot_timestamp_seconds": last_row["time"] if last_row else None,
            "bearing_edge_mqtt_connected": None if connected is None else float(connected),
        }
        for name, value in values.items():
            if value is not None:  # no sample rather than a made-up 0
                g = GaugeMetricFamily(name, GAUGES[name], labels=["node"])
                g.add_metric(node, float(value))
                families.append(g)
        families += _condition_families(self.node_id, facts)
        g = GaugeMetricFamily("bearing_edge_outbox_backlog", GAUGES["bearing_edge_outbox_backlog"],
                              labels=["node", "stream"])
        for stream, n in backlog.items():
            g.add_metric([self.node_id, stream], float(n))
        families.append(g)
        m = CounterMetricFamily("bearing_edge_mqtt_messages", "Messages the broker acknowledged, per stream, "
                                "since the publisher started", labels=["node", "stream"])
        for stream, n in published.items():
            m.add_metric([self.node_id, stream], float(n))
        families.append(m)
        self.build.labels(node=self.node_id).info(
            {"version": package_version(), "bundle_id": str(heartbeat.get("bundle_id") or "")})
        self._families = families

    def write_textfile(self, path: str) -> None:
        """For node_exporter's textfile collector: written to a temporary file and renamed (atomic)."""
        write_to_textfile(path, self.registry)

    def serve(self, port: int, addr: str) -> int:
        """Start the HTTP endpoint in a daemon thread; returns the port (useful with port 0 in tests)."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self._server = server
        return server.server_address[1]

    def close(self) -> None:
        if self._server is not None:
            threading.Thread(target=self._server.shutdown, daemon=True).start()
            self._server.server_close()
            self._server = None


def _condition_families(node: str, facts: dict[str, Any]) -> list[Any]:
    """Velocity and its ISO zone per channel, and the physics diagnosis; no sample before there is one."""
    families: list[Any] = []
    velocity = facts.get("velocity")
    if velocity and len(velocity.get("channels") or []) == len(velocity.get("mm_s") or []):
        speed = GaugeMetricFamily("bearing_edge_velocity_rms_mm_s", CONDITION_GAUGES["bearing_edge_velocity_rms_mm_s"],
                                  labels=["node", "channel"])
        zone = GaugeMetricFamily("bearing_edge_iso_zone", CONDITION_GAUGES["bearing_edge_iso_zone"],
                                 labels=["node", "channel"])
        for name, mm_s, letter in zip(velocity["channels"], velocity["mm_s"], velocity.get("zones") or []):
            if isinstance(mm_s, (int, float)):
                speed.add_metric([node, str(name)], float(mm_s))
            if letter in ZONE_NUMBER:
                zone.add_metric([node, str(name)], float(ZONE_NUMBER[letter]))
        families += [speed, zone]
    physics = facts.get("physics_diagnosis") or {}
    if physics.get("part") and isinstance(physics.get("confidence"), (int, float)):
        g = GaugeMetricFamily("bearing_edge_physics_diagnosis", CONDITION_GAUGES["bearing_edge_physics_diagnosis"],
                              labels=["node", "part", "channel"])
        g.add_metric([node, str(physics["part"]), str(physics.get("channel") or "")], float(physics["confidence"]))
        families.append(g)
    return families

"""``bearing-agent publish``: follow the agent's journal and publish it to MQTT, with Prometheus metrics.

It runs as a process of its own beside ``bearing-agent run`` and only reads
the journal (plus its cursor and queued acknowledgements): a dead, slow or
black-holed broker can never delay reading, scoring or the GPIO alarm, and
either process can restart without losing a row (docs/telemetry.md).

One thread does everything, in this order, about every 50 ms: let paho read
and write the socket (its callbacks run here, so nothing needs a lock),
connect or back off, look at the journal every ``poll_s`` (availability,
state, discovery, metrics), and send the next rows after the cursor within
the in-flight window and the rate limit.
"""
from __future__ import annotations

import logging
import sqlite3
import ssl
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.config import Config
from edge_agent.journal import Journal, JournalError
from edge_agent.journal.lock import PUBLISHER, JournalLock
from edge_agent.status import agent_running, parse_rebaseline_command, queue_rebaseline
from edge_agent.facts import condition_states
from edge_agent.telemetry import payloads
from edge_agent.telemetry.broker import (CONNACK_TIMEOUT_S, BrokerSettings, connect_properties, explain_connect_error,
                                         explain_delivery_refusal, explain_no_connack, explain_refusal,
                                         explain_subscribe_refusal, new_client)
from edge_agent.telemetry.discovery import discovery_messages
from edge_agent.telemetry.metrics import TelemetryMetrics
from edge_agent.telemetry.outbox import STREAMS, Outbox, claim_cursors
from edge_agent.telemetry.topics import Topics

log = logging.getLogger("edge_agent.telemetry")

#: paho's network wait per step: how quickly an acknowledgement frees the window.
STEP_S = 0.05
#: At most one acknowledgement from the broker per this many seconds reaches the journal.
ACK_EVERY_S = 1.0
#: On a clean stop, how long to wait for the broker to take the retained ``offline``.
GOODBYE_S = 2.0


class RateLimit:
    """A token bucket: at most ``per_s`` messages a second on average, bursts up to ``burst``."""

    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s, self.burst = per_s, float(burst)
        self._tokens, self._t = float(burst), time.monotonic()

    def allowance(self) -> int:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._t) * self.per_s)
        self._t = now
        return int(self._tokens)

    def spend(self, n: int) -> None:
        self._tokens -= n


class Publisher:
    """The follower loop: :meth:`run` until :meth:`stop` (from a signal handler or another thread)."""

    def __init__(self, config: Config, *, metrics: TelemetryMetrics | None = None) -> None:
        self.config = config
        m = config.mqtt
        self.topics = Topics.from_config(m)
        self.settings = BrokerSettings.from_config(m, self.topics.node_id) if m.enabled else None
        self.metrics = metrics
        self.stop_event = threading.Event()
        self.connected = False
        #: the last connection problem, in words (None while connected)
        self.last_problem: str | None = None
        #: messages the broker acknowledged since start, per stream
        self.published = {s: 0 for s in STREAMS}
        self.journal: Journal | None = None
        self._outboxes: dict[str, Outbox] = {}
        self._client: mqtt.Client | None = None
        #: paho message id -> (stream and journal row id, or None for a retained message; topic; when sent),
        #: in the order sent: the first is the oldest unacknowledged
        self._mids: dict[int, tuple[tuple[str, int] | None, str, float]] = {}
        self._subscriptions: dict[int, str] = {}  # SUBSCRIBE message id -> topic
        self._delivered = False  # the broker acknowledged a message on this connection
        self._said: set[str] = set()  # explanations logged once per process
        self._drop_reason: str | None = None  # set by a callback; the loop drops the client after it
        self._connack_deadline = 0.0
        self._retry_at = 0.0
        self._backoff = m.reconnect_initial_s
        self._rate = RateLimit(m.max_rate_per_s, m.batch_size)
        self._sent: dict[str, Any] = {}  # what was last published on the retained topics
        self._last_poll = -float("inf")
        self._last_textfile = -float("inf")
        self._more = False
        self._lock: JournalLock | None = None
        self._last_ack, self._acks_dropped = -float("inf"), 0
        self._textfile_problem: str | None = None

    def stop(self) -> None:
        self.stop_event.set()

    # -- the loop -------------------------------------------------------------------
    def run(self) -> None:
        if not self._wait_for_journal():
            return
        try:  # one publisher per journal: two sent every row twice and took each other's broker session
            self._lock = JournalLock(self.journal.path, PUBLISHER).acquire()
        except JournalError:
            self.journal.close()
            raise
        if self.settings:
            broker = f"{self.settings.host}:{self.settings.port} {self.settings.client_id}"
            if claim_cursors(self.journal, broker):
                log.warning("this journal's cursor was for another broker or client id; %s gets the history "
                            "from the oldest row the journal keeps (seq tells a consumer what it already has)",
                            self.settings.where)
            self._outboxes = {s: Outbox(self.journal, s, self.config.mqtt.batch_size) for s in STREAMS}
        where = self.settings.where if self.settings else "no broker ([mqtt] enabled = false)"
        log.info("publishing node %s from %s to %s", self.topics.node_id, self.journal.path, where)
        try:
            while not self.stop_event.is_set():
                try:
                    self._step()
                except sqlite3.OperationalError as exc:  # the agent holds a long write: try again shortly
                    log.warning("journal busy (%s); retrying", exc)
                    self.stop_event.wait(self.config.mqtt.poll_s)
        finally:
            self._shutdown()

    def _wait_for_journal(self) -> bool:
        """The publisher may start before the agent has made its journal: wait for it."""
        path = self.config.journal.path
        said = False
        while not self.stop_event.is_set():
            try:
                self.journal = Journal(path, create=False)
            except JournalError as exc:
                if not said:
                    log.warning("waiting for the agent's journal: %s", exc)
                    said = True
                self.stop_event.wait(max(self.config.mqtt.poll_s, 1.0))
                continue
            return True
        return False

    def _step(self) -> None:
        now = time.monotonic()
        if self.settings and self._client is None and now >= self._retry_at:
            self._connect()
        if self._client is not None:
            self._client.loop(timeout=STEP_S)  # paho's callbacks run in here
            if self._drop_reason is None and not self.connected and time.monotonic() > self._connack_deadline:
                self._drop_reason = explain_no_connack(self.settings)
            if self._drop_reason is None and self.connected and self._mids:
                self._check_in_flight()
            if self._drop_reason is not None:
                self._drop_client(self._drop_reason)
        else:
            self.stop_event.wait(STEP_S)
        if time.monotonic() - self._last_poll >= self.config.mqtt.poll_s:
            self._last_poll = time.monotonic()
            self._poll()
            self._more = True
        if self.connected and self._more:
            self._send_rows()
        for outbox in self._outboxes.values():
            outbox.save()

    # -- connection -----------------------------------------------------------------
    def _connect(self) -> None:
        s = self.settings
        client = new_client(s, self.topics.availability)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.max_inflight_messages_set(self.config.mqtt.batch_size * len(STREAMS) + 16)  # our window rules
        try:
            client.connect(s.host, s.port, keepalive=s.keepalive_s, clean_start=True, properties=connect_properties())
        except (OSError, ssl.SSLError) as exc:
            self._failed(explain_connect_error(exc, s))
            return
        self._client, self._drop_reason = client, None
        self._connack_deadline = time.monotonic() + CONNACK_TIMEOUT_S

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._drop_reason = explain_refusal(reason_code, self.settings)
            return
        # The back-off is reset by the first acknowledged message, not here: a broker that takes the
        # connection but refuses every message (an ACL) must not be reconnected to five times a second.
        self.connected, self._delivered = True, False
        backlog = {s: o.backlog() for s, o in self._outboxes.items()}
        log.info("connected to %s; backlog: %d snapshots, %d events", self.settings.where,
                 backlog["snapshot"], backlog["event"])
        for topic in (self.topics.cmd_ack, self.topics.cmd_rebaseline,
                      *([self.topics.ha_status] if self.topics.discovery_prefix else [])):
            result, mid = client.subscribe(topic, qos=1)
            if result == mqtt.MQTT_ERR_SUCCESS:
                self._subscriptions[mid] = topic
        self._sent.clear()  # a new session: availability, state and discovery are sent again
        self._last_poll = -float("inf")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected:
            self._drop_reason = (f"{self.settings.where}: connection lost ({reason_code}); unacknowledged rows "
                                 "will be sent again")
        elif self._drop_reason is None:
            self._drop_reason = f"{self.settings.where}: connection closed before CONNACK ({reason_code})"

    def _drop_client(self, reason: str) -> None:
        client, self._client = self._client, None
        sock = client.socket()
        if sock is not None:
            sock.close()
        self.connected = False
        self._mids.clear()
        self._subscriptions.clear()
        for outbox in self._outboxes.values():
            outbox.rewind()
        if self._delivered:  # reconnect soon: the broker was taking messages a moment ago
            self._backoff = self.config.mqtt.reconnect_initial_s
        self._failed(reason)

    def _failed(self, reason: str) -> None:
        self.last_problem = reason
        log.warning("%s; retrying in %.1f s", reason, self._backoff)
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.config.mqtt.reconnect_max_s)

    # -- messages -------------------------------------------------------------------
    def _publish(self, topic: str, payload: bytes, *, retain: bool, track: tuple[str, int] | None = None) -> None:
        info = self._client.publish(topic, payload, qos=self.config.mqtt.qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return  # not connected any more: on_disconnect rewinds; the row is sent again after reconnect
        if info.is_published():  # QoS 0 may be written, and "published", within publish() itself
            if track is not None:
                self._acknowledged(*track)
        else:
            self._mids[info.mid] = (track, topic, time.monotonic())

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        track, topic, _ = self._mids.pop(mid, (None, "", 0.0))
        if reason_code.is_failure:
            # A PUBACK that refuses (MQTT 5): the broker does not have the message. The cursor stays
            # before it, the connection is dropped (what was in flight is sent again) and retried with
            # a growing back-off, the reason said once.
            if self._drop_reason is None:
                self._drop_reason = explain_delivery_refusal(reason_code, topic, self.settings)
            return
        self._delivered = True
        if track is not None:
            self._acknowledged(*track)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        topic = self._subscriptions.pop(mid, "?")
        for reason in reason_codes:
            if reason.is_failure:
                self._say_once(explain_subscribe_refusal(reason, topic, self.settings))

    def _say_once(self, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            log.warning("%s", text)

    def _check_in_flight(self) -> None:
        """A broker that took the connection but acknowledges nothing (stuck, overloaded) is left, not waited for."""
        timeout = self.config.mqtt.keepalive_s
        _, topic, sent = next(iter(self._mids.values()))
        if time.monotonic() - sent > timeout:
            self._drop_reason = (f"{self.settings.where}: {len(self._mids)} messages unacknowledged, the oldest "
                                 f"({topic}) for over {timeout} s ([mqtt] keepalive_s): the broker is stuck or "
                                 "overloaded; reconnecting, they will be sent again")

    def _acknowledged(self, stream: str, row_id: int) -> None:
        self._outboxes[stream].acknowledged(row_id)
        self.published[stream] += 1
        self._more = True

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic == self.topics.cmd_ack:
            if msg.retain:  # a retained ack would acknowledge again at every reconnect
                log.warning("ignored a retained message on %s: publish acknowledgements without retain", msg.topic)
                return
            now = time.monotonic()  # a flood on cmd/ack: one a second reaches the journal, the rest is counted
            if now - self._last_ack < ACK_EVERY_S:
                self._acks_dropped += 1
                return
            if self._acks_dropped:
                log.warning("%d more acknowledgements on %s within a second of another were not queued (at most "
                            "one a second)", self._acks_dropped, msg.topic)
            self._last_ack, self._acks_dropped = now, 0
            self.journal.request("ack", f"mqtt {msg.topic}", coalesce=True)
            log.info("acknowledgement from the broker (%s) queued for the agent", msg.topic)
        elif msg.topic == self.topics.cmd_rebaseline:
            self._rebaseline(msg)
        elif msg.topic == self.topics.ha_status and msg.payload == b"online":
            self._sent.pop("discovery", None)  # Home Assistant restarted: send discovery again
            self._last_poll = -float("inf")

    def _rebaseline(self, msg) -> None:
        """A re-baseline asked over MQTT: queued for the agent like ``bearing-agent rebaseline``, with who and why."""
        if msg.retain:  # a retained command would re-baseline again at every reconnect
            log.warning("ignored a retained message on %s: publish re-baseline commands without retain", msg.topic)
            return
        try:
            request = parse_rebaseline_command(msg.payload)
        except ValueError as exc:
            log.warning("ignored a re-baseline command on %s: %s", msg.topic, exc)
            return
        queue_rebaseline(self.journal, request["by"], request["reason"], undo=request["undo"])
        log.info("re-baseline from the broker (%s) queued for the agent", msg.topic)

    def _send_rows(self) -> None:
        self._more = False
        topics = {"snapshot": self.topics.snapshot, "event": self.topics.event}
        names = self.journal.feature_names_by_bundle()
        encode = {"snapshot": lambda row: payloads.snapshot_message(row, names), "event": payloads.event_message}
        for stream, outbox in self._outboxes.items():
            allowed = min(self._rate.allowance(), self.config.mqtt.batch_size)
            if allowed < 1:
                self._more = True
                return
            rows = outbox.take(allowed)
            for row in rows:
                self._publish(topics[stream], payloads.encode(encode[stream](row)), retain=False,
                              track=(stream, row["id"]))
            self._rate.spend(len(rows))
            self._more |= len(rows) == allowed

    def _poll(self) -> None:
        """The agent's heartbeat and last row: availability, state, discovery and metrics."""
        j = self.journal
        heartbeat = j.get_state("heartbeat") or {}
        running = agent_running(heartbeat)
        last = j.snapshots(last=1)
        last_row = last[0] if last else None
        counters = j.counters()
        if self.connected:
            self._retained("availability", self.topics.availability, b"online" if running else b"offline")
            state = payloads.state_message(running=running, heartbeat=heartbeat, last_row=last_row,
                                           counters=counters, diagnosis=j.latest_diagnosis(),
                                           baseline_state=j.get_state("baseline"), **condition_states(j))
            self._retained("state", self.topics.state, payloads.encode(state))
            channels = tuple(payloads.feature_names(last_row, j.feature_names_by_bundle())) if last_row else ()
            if self._sent.get("discovery") != channels:
                for topic, config in discovery_messages(self.topics, list(channels), self.config.mqtt.feature_unit,
                                                        self.config.mqtt.discovery_form).items():
                    self._publish(topic, b"" if config is None else payloads.encode(config), retain=True)
                self._sent["discovery"] = channels
        if self.metrics is not None:
            backlog = ({s: o.backlog() for s, o in self._outboxes.items()} if self._outboxes else
                       {s: j.count_after(s, j.outbox_cursor(s)) for s in STREAMS})
            self.metrics.update(j, heartbeat=heartbeat, running=running, counters=counters, last_row=last_row,
                                backlog=backlog, connected=self.connected if self.settings else None,
                                published=self.published)
            textfile = self.config.metrics.textfile
            if textfile and time.monotonic() - self._last_textfile >= self.config.metrics.textfile_interval_s:
                self._last_textfile = time.monotonic()
                self._write_textfile(textfile)

    def _write_textfile(self, path: str) -> None:
        """The metrics textfile; a failure (a full disk, a directory gone) is logged once and never stops MQTT."""
        try:
            self.metrics.write_textfile(path)
        except OSError as exc:
            problem = (f"[metrics] textfile = {path}: cannot write it ({exc.strerror or exc}); publishing goes on, "
                       "and the file is tried again every textfile_interval_s (is node_exporter's textfile "
                       "directory there and writable by this user?)")
            if problem != self._textfile_problem:
                log.warning("%s", problem)
            self._textfile_problem = problem
            return
        if self._textfile_problem is not None:
            log.info("[metrics] textfile = %s written again", path)
            self._textfile_problem = None

    def _retained(self, key: str, topic: str, payload: bytes) -> None:
        if self._sent.get(key) != payload:
            self._publish(topic, payload, retain=True)
            self._sent[key] = payload

    def _shutdown(self) -> None:
        client = self._client
        if client is not None and self.connected:
            info = client.publish(self.topics.availability, b"offline", qos=1, retain=True)
            deadline = time.monotonic() + GOODBYE_S
            while not info.is_published() and time.monotonic() < deadline and self.connected:
                client.loop(timeout=STEP_S)
            client.disconnect()
            client.loop(timeout=STEP_S)
        for outbox in self._outboxes.values():
            outbox.save(force=True)
        if self.metrics is not None:
            if self.config.metrics.textfile and self.journal is not None:
                self._write_textfile(self.config.metrics.textfile)
            self.metrics.close()
        if self.journal is not None:
            self.journal.close()
        if self._lock is not None:
            self._lock.release()
        log.info("publisher stopped")

"""The agent: serial bytes -> frames -> snapshots -> scores -> GPIO alarm + journal.

:class:`Agent` wires the pieces together and owns the one loop that runs
them, so every step happens in a known order in one thread:

1. :class:`~edge_agent.stream.serial_link.SerialLink` reads what is waiting (or
   reopens a vanished device with back-off);
2. :class:`~firmware_io.protocol.decoder.StreamDecoder` turns bytes into frames;
3. :class:`~edge_agent.stream.snapshots.SnapshotAssembler` turns frames into whole
   contiguous snapshots (a gap discards one, counted);
4. :func:`~edge_agent.features.registry.mean_abs` and
   :class:`~edge_agent.scoring.scorer.SnapshotScorer` score it (learning mode only
   records the features);
5. :class:`~edge_agent.alarms.alarm_state.AlarmState` latches the alarm and tracks
   sensor faults; :class:`~edge_agent.outputs.gpio.StatusOutputs` shows it;
6. :class:`~edge_agent.journal.Journal` records the snapshot together with
   the scorer history and the latch, so a restart resumes where it stopped.

Other threads only set flags: ``stop()`` (SIGTERM), ``request_reload()``
(SIGHUP), ``acknowledge()`` (the GPIO button). A new bundle is loaded and
validated in a helper thread while the loop keeps reading, and swapped in
by the loop between two snapshots: no sample is lost, no snapshot is scored
twice or by a half-loaded bundle.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from edge_agent.alarms.alarm_state import AlarmState
from edge_agent.config import Config
from edge_agent.features import registry
from edge_agent.journal import Journal, SnapshotRow, format_time
from edge_agent.outputs.gpio import StatusOutputs, make_pin_factory
from edge_agent.stream.serial_link import SerialLink
from edge_agent.stream.snapshots import Snapshot, SnapshotAssembler
from firmware_io.protocol.decoder import StreamDecoder
from firmware_io.protocol.frames import DeviceStatus, Samples, StreamInfo

log = logging.getLogger("edge_agent")

#: How often the loop checks faults, requests and a finished bundle load.
HOUSEKEEPING_S = 0.25
#: How often counters and the heartbeat are written when no snapshot writes them.
FLUSH_S = 10.0
#: Lost frames are summed into one ``frames_lost`` event at most this often (a noisy
#: cable must not fill the journal with an event every quarter second).
LOSS_REPORT_S = 5.0
#: How often old journal rows are pruned.
PRUNE_S = 3600.0
#: Raw feature vectors kept to prime a new bundle's history after a reload.
FEATURE_MEMORY = 64

DECODER_COUNTERS = ("bytes_in", "frames_ok", "bad_checks", "resyncs", "bytes_skipped", "seq_gaps",
                    "frames_missing", "missing_samples", "index_rewinds", "malformed", "unknown_frames")


class AgentError(RuntimeError):
    """The agent cannot start (bad bundle, unusable journal); the message says why."""


@dataclass
class _Loaded:
    """A bundle and its scorer, validated, ready to swap in."""

    bundle: Any
    scorer: Any


def load_scorer(path: str, variant: str, runtime: str) -> _Loaded:
    """Load and verify a bundle and build its scorer (raises BundleError / RuntimeUnavailable)."""
    from edge_agent.scoring.bundle import load_bundle
    from edge_agent.scoring.scorer import SnapshotScorer

    bundle = load_bundle(path, variant or None, runtime)
    return _Loaded(bundle, SnapshotScorer(bundle, runtime))


def spec_mismatch(spec, info: StreamInfo) -> str | None:
    """Why features from this stream are not what the bundle's model learned, or None."""
    problems = []
    if spec.n_channels != info.n_channels:
        problems.append(f"{info.n_channels} channels, the bundle expects {spec.n_channels} "
                        f"({', '.join(spec.channel_names)})")
    if spec.sample_rate_hz != info.sample_rate_hz:
        problems.append(f"{info.sample_rate_hz} Hz, the bundle expects {spec.sample_rate_hz} Hz")
    if problems:
        return f"stream from device {info.device_id!r} does not match the bundle: " + "; ".join(problems)
    return None


class Agent:
    """The long-running service; ``run()`` blocks until ``stop()``.

    Construction loads the bundle and opens the journal, so a bad bundle or
    journal fails here (with :class:`AgentError`) before anything runs.
    ``on_snapshot(row, agent)`` is called after each snapshot is journaled
    (tests read the mock pins there; the demo can print progress).
    """

    def __init__(self, config: Config, *, pin_factory=None,
                 on_snapshot: Callable[[SnapshotRow, "Agent"], None] | None = None) -> None:
        self.config = config
        self.learning = config.agent.learn
        self.on_snapshot = on_snapshot
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._acks: deque[str] = deque()
        self._loader: threading.Thread | None = None
        self._candidate: _Loaded | Exception | None = None
        self.loaded: _Loaded | None = None
        if not self.learning:
            try:
                self.loaded = load_scorer(config.agent.bundle, config.agent.variant, config.agent.runtime)
            except Exception as exc:  # BundleError, RuntimeUnavailable, OSError: all refuse to start
                raise AgentError(f"cannot load bundle {config.agent.bundle}: {exc}") from exc
        self.journal = Journal(config.journal.path)
        self.alarm = AlarmState(learning=self.learning)
        self.info: StreamInfo | None = None
        self.last_info: StreamInfo | None = None  # kept while the device is away: reloads are checked against it
        self.stream_id: int | None = None
        self.channel_names: list[str] = []
        self.stream_problem: str | None = None
        self.device_status: DeviceStatus | None = None
        self.recent_features: deque[np.ndarray] = deque(maxlen=FEATURE_MEMORY)
        self.decoder = StreamDecoder()
        self.assembler = SnapshotAssembler(self._snapshot_length(), config.agent.interval_s)
        self.link = SerialLink(config.serial.port, baudrate=config.serial.baudrate,
                               read_timeout_s=config.serial.read_timeout_s,
                               reconnect_initial_s=config.serial.reconnect_initial_s,
                               reconnect_max_s=config.serial.reconnect_max_s, on_change=self._on_link_change)
        self.session = {"snapshots_scored": 0, "snapshots_recorded": 0, "samples_before_info": 0,
                        "samples_rejected_stream": 0}
        self._counter_base = self.journal.counters()
        self._decoder_seen: dict[str, int] = {}
        self._decoder_totals = {name: 0 for name in DECODER_COUNTERS}
        self._restore()
        g = config.gpio
        try:
            factory = pin_factory if pin_factory is not None else make_pin_factory(g.pin_factory)
            self.outputs = StatusOutputs(led_pin=g.led_pin, buzzer_pin=g.buzzer_pin, relay_pin=g.relay_pin,
                                         relay_active_high=g.relay_active_high, ack_button_pin=g.ack_button_pin,
                                         on_ack=lambda: self.acknowledge("button"), pin_factory=factory)
        except Exception as exc:  # gpiozero: pin in use, no permission, no pin library
            self.journal.close()
            raise AgentError(f"cannot set up the GPIO pins (LED {g.led_pin}, buzzer {g.buzzer_pin}, relay "
                             f"{g.relay_pin}, button {g.ack_button_pin}): {type(exc).__name__}: {exc}; check the "
                             "[gpio] pins are distinct and free, the user is in the 'gpio' group, and python3-lgpio "
                             "is installed (or set [gpio] pin_factory = \"mock\")") from exc
        now = time.monotonic()
        self._last_valid = now  # the no-data timer starts at start-up
        self._bad_window: deque[tuple[float, int, int]] = deque()
        self._last_housekeeping = self._last_flush = self._last_loss_report = now
        self._last_prune = -PRUNE_S
        self._lost_reported = (0, 0)
        self.started = time.time()
        self._show()

    # -- control from other threads ----------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish (SIGTERM); ``run()`` returns after cleaning up."""
        self._stop.set()

    def request_reload(self) -> None:
        """Reload the bundle from its configured path (SIGHUP); the old one runs until the new one is valid."""
        self._reload.set()

    def acknowledge(self, source: str = "api") -> None:
        """Acknowledge a latched alarm (button, ``bearing-agent ack``); applied by the loop."""
        self._acks.append(source)

    def start(self) -> threading.Thread:
        """Run in a background thread (the demo and tests); ``stop()`` and ``join()`` it."""
        thread = threading.Thread(target=self.run, name="bearing-agent", daemon=True)
        thread.start()
        return thread

    # -- the loop --------------------------------------------------------------------
    def run(self) -> None:
        self._journal_start()
        try:
            while not self._stop.is_set():
                data = self.link.read()
                if data:
                    t_chunk = self.link.chunk_time
                    for frame in self.decoder.feed(data):
                        self._on_frame(frame, t_chunk)
                now = time.monotonic()
                if now - self._last_housekeeping >= HOUSEKEEPING_S:
                    self._housekeeping(now)
        finally:
            self._shutdown()

    def _on_frame(self, frame: object, t_chunk: float) -> None:
        if isinstance(frame, Samples):
            if self.info is None:
                self.session["samples_before_info"] += frame.n_samples  # scale unknown yet
                return
            if self.stream_problem:
                self.session["samples_rejected_stream"] += frame.n_samples
                return
            self._last_valid = time.monotonic()
            for snap in self.assembler.feed(frame):
                self._process(snap, t_chunk)
        elif isinstance(frame, StreamInfo):
            if frame != self.info:
                self._on_stream_info(frame)
        elif isinstance(frame, DeviceStatus):
            self.device_status = frame
        else:
            self.assembler.feed(frame)  # SnapshotMark

    # -- snapshots ---------------------------------------------------------------------
    def _process(self, snap: Snapshot, t_chunk: float) -> None:
        # A whole snapshot is valid data (_on_frame has just set _last_valid): end a fault now, not at
        # the next housekeeping, or a fast stream's first snapshot is journaled as "fault" (and left
        # out by export --exclude-alarms).
        self._update_fault(self._last_valid)
        features = registry.compute(self._spec(), snap.samples, self.info.scale)
        self.recent_features.append(features)
        score = None if self.loaded is None else self.loaded.scorer.score(features)
        events = self.alarm.update(score.alarm) if score is not None else []
        self._show()
        latency_ms = (time.perf_counter() - t_chunk) * 1000.0
        bundle_id = self.loaded.bundle.bundle_id if self.loaded else None
        row = SnapshotRow(
            time=snap.timestamp, first_index=snap.first_index, stream_id=self.stream_id,
            features=features.tolist(), error=score.error if score else None,
            threshold=score.threshold if score else None,
            over_threshold=score.over_threshold if score else None, alarm=score.alarm if score else None,
            state=self.alarm.display, bundle_id=bundle_id, latency_ms=latency_ms)
        self.session["snapshots_scored" if score is not None else "snapshots_recorded"] += 1
        self.journal.record_snapshot(row, state=self._state_to_persist(), counters=self.counters())
        for kind, detail in events:
            self._event(kind, detail)
        if score is not None:
            log.info("snapshot %d @ %s: error %.6g (threshold %.6g)%s -> %s", snap.first_index,
                     format_time(snap.timestamp), score.error, score.threshold,
                     " OVER" if score.over_threshold else "", self.alarm.display)
        else:
            log.info("snapshot %d @ %s: features %s (%s)", snap.first_index, format_time(snap.timestamp),
                     np.array2string(features, precision=5), "learning" if self.learning
                     else "filling the model's history")
        if self.on_snapshot is not None:
            self.on_snapshot(row, self)

    def _state_to_persist(self) -> dict[str, Any]:
        """What a snapshot changes: journaled with it. (The cadence's last snapshot time is the
        last journaled row's time; the snapshot length changes only at start and on a swap.)"""
        state: dict[str, Any] = {"alarm": self.alarm.to_dict(), "heartbeat": self.heartbeat()}
        if self.loaded is not None:
            state["scorer"] = self.loaded.scorer.state()
        return state

    def _persist_all_state(self) -> None:
        """At start and after a bundle swap: the per-snapshot state plus the snapshot length
        (``export`` tells ``bearing-train fit`` the length the features were computed over)."""
        self.journal.set_state(**self._state_to_persist(), samples_per_snapshot=self.assembler.length)

    def _prime_history(self, scorer, timesteps: int) -> None:
        """Feed ``scorer`` the last T-1 raw features, so it continues this machine's history."""
        if timesteps > 1:
            for features in list(self.recent_features)[-(timesteps - 1):]:
                scorer.score(features)

    def heartbeat(self) -> dict[str, Any]:
        """What ``bearing-agent status`` shows about the running agent."""
        return {
            "time": time.time(), "pid": os.getpid(), "started": self.started,
            "mode": "learning" if self.learning else "scoring",
            "bundle_id": self.loaded.bundle.bundle_id if self.loaded else None,
            "bundle_path": self.config.agent.bundle if self.loaded else None,
            "port": self.config.serial.port, "connected": self.link.connected,
            "display": self.alarm.display, "fault": self.alarm.fault,
            "alarm_latched": self.alarm.latched, "alarm_acknowledged": self.alarm.acknowledged,
            "device_id": self.info.device_id if self.info else None,
            "interval_s": self.config.agent.interval_s,
        }

    def counters(self) -> dict[str, int]:
        """Cumulative counters: this run's plus those journaled by earlier runs."""
        stats = self.decoder.stats
        for name in DECODER_COUNTERS:
            value = int(getattr(stats, name, 0))
            seen = self._decoder_seen.get(name, 0)
            self._decoder_totals[name] += value - seen if value >= seen else value
            self._decoder_seen[name] = value
        session = dict(self._decoder_totals)
        session.update(self.session)
        session["snapshots_completed"] = self.assembler.counts["completed"]
        session["snapshots_discarded_gap"] = self.assembler.counts["discarded_gap"]
        session["snapshots_skipped_cadence"] = self.assembler.counts["skipped_cadence"]
        session["reconnects"] = max(0, self.link.connects - 1)
        session["disconnects"] = self.link.disconnects
        out = {name: self._counter_base.get(name, 0) + v for name, v in session.items()}
        out["starts"] = self._counter_base.get("starts", 0) + 1
        if self.device_status is not None:  # the device's own counters: its latest values, not sums
            for name in ("uptime_ms", "adc_overruns", "tx_overruns", "frames_sent", "errors"):
                out[f"device_{name}"] = int(getattr(self.device_status, name))
        return out

    # -- the stream -----------------------------------------------------------------
    def _spec(self):
        """The features to compute: the bundle's spec (None in learning mode: the default features)."""
        return self.loaded.bundle.spec if self.loaded is not None else None

    def _snapshot_length(self) -> int:
        if self.loaded is not None:
            return self.loaded.bundle.spec.samples_per_snapshot
        return self.config.learning.samples_per_snapshot

    def _channel_names_for(self, info: StreamInfo) -> tuple[list[str], str | None]:
        if self.loaded is not None:
            return list(self.loaded.bundle.spec.channel_names), spec_mismatch(self.loaded.bundle.spec, info)
        names = list(self.config.learning.channel_names) or [f"ch{i + 1}" for i in range(info.n_channels)]
        if len(names) != info.n_channels:
            return names, (f"stream from device {info.device_id!r} has {info.n_channels} channels but "
                           f"[learning] channel_names lists {len(names)}: {names}")
        return names, None

    def _on_stream_info(self, info: StreamInfo) -> None:
        previous, self.info = self.info, info
        self.last_info = info
        if previous is not None and (previous.device_id, previous.n_channels, previous.sample_rate_hz) != (
                info.device_id, info.n_channels, info.sample_rate_hz):
            self.assembler.reset("the stream changed")
        self.channel_names, self.stream_problem = self._channel_names_for(info)
        self.stream_id = self.journal.stream_id(info.device_id, info.firmware_version, info.sample_rate_hz,
                                                info.n_channels, info.scale, self.channel_names)
        log.info("stream: device %r firmware %r, %d channels at %d Hz, scale %g per count",
                 info.device_id, info.firmware_version, info.n_channels, info.sample_rate_hz, info.scale)
        if self.stream_problem:
            log.error("%s; not scoring", self.stream_problem)
            self._event("stream_mismatch", self.stream_problem)

    def _on_link_change(self, connected: bool, reason: str) -> None:
        if connected:
            self._event("device_connected", reason)
            self._last_valid = time.monotonic()
        else:
            self._event("device_lost", reason)
            # A reopened device restarts its stream: forget partial bytes, a partial snapshot
            # and the stream description; the device sends StreamInfo again.
            self.decoder.reset()
            self.assembler.reset("the device disappeared")
            self.info = None
        self._update_fault(time.monotonic())

    # -- faults, requests, reloads, flushes -----------------------------------------------
    def _fault_reason(self, now: float) -> str | None:
        f = self.config.faults
        if not self.link.connected:
            return f"serial device {self.config.serial.port} not available"
        if self.stream_problem:
            return self.stream_problem
        silent = now - self._last_valid
        if silent > f.no_data_timeout_s:
            return f"no valid data for {silent:.0f} s (limit {f.no_data_timeout_s:g} s)"
        stats = self.decoder.stats
        bad = stats.bad_checks + stats.frames_missing
        self._bad_window.append((now, stats.frames_ok, bad))
        while self._bad_window and now - self._bad_window[0][0] > f.bad_frame_window_s:
            self._bad_window.popleft()
        _, ok0, bad0 = self._bad_window[0]
        d_ok, d_bad = stats.frames_ok - ok0, bad - bad0
        if d_bad > 0 and d_bad / max(1, d_ok + d_bad) > f.max_bad_frame_rate:
            return (f"{d_bad} of {d_ok + d_bad} frames bad or lost in the last {f.bad_frame_window_s:g} s "
                    f"(limit {f.max_bad_frame_rate:.0%})")
        return None

    def _update_fault(self, now: float) -> None:
        for kind, detail in self.alarm.set_fault(self._fault_reason(now)):
            (log.warning if kind.endswith("begin") else log.info)("%s: %s", kind.replace("_", " "), detail)
            self._event(kind, detail)
        self._show()

    def _housekeeping(self, now: float) -> None:
        self._last_housekeeping = now
        self._update_fault(now)
        if now - self._last_loss_report >= LOSS_REPORT_S:
            self._last_loss_report = now
            self._report_losses()
        while self._acks:
            self._apply_ack(self._acks.popleft())
        for _id, kind, source in self.journal.take_requests():
            if kind == "ack":
                self._apply_ack(source)
        self._reload_step()
        if now - self._last_flush >= FLUSH_S:
            self._last_flush = now
            self.journal.set_state(heartbeat=self.heartbeat(), alarm=self.alarm.to_dict())
            self.journal.set_counters(self.counters())
        if now - self._last_prune >= PRUNE_S:
            self._last_prune = now
            j = self.config.journal
            deleted = self.journal.prune(j.retention_days, j.max_snapshots)
            if deleted:
                log.info("journal retention: deleted %d old snapshot rows", deleted)

    def _apply_ack(self, source: str) -> None:
        for kind, detail in self.alarm.acknowledge(source):
            log.info("%s: %s", kind.replace("_", " "), detail)
            self._event(kind, detail)
        self.journal.set_state(alarm=self.alarm.to_dict())
        self._show()

    def _report_losses(self) -> None:
        stats = self.decoder.stats
        lost = (stats.frames_missing + stats.bad_checks, stats.missing_samples)
        if lost[0] > self._lost_reported[0] or lost[1] > self._lost_reported[1]:
            d_frames = lost[0] - self._lost_reported[0]
            d_samples = lost[1] - self._lost_reported[1]
            detail = f"{max(0, d_frames)} frames bad or missing, {max(0, d_samples)} samples missing"
            log.warning("frames lost: %s", detail)
            self._event("frames_lost", detail)
        self._lost_reported = lost

    def _reload_step(self) -> None:
        """Start a requested load in a helper thread; swap in a finished one (between snapshots)."""
        if self._reload.is_set() and self._loader is None:
            self._reload.clear()
            log.info("reloading bundle %s%s", self.config.agent.bundle,
                     " (learning mode: scoring starts if it is valid)" if self.learning else "")
            self._loader = threading.Thread(target=self._load_candidate, name="bundle-loader", daemon=True)
            self._loader.start()
        if self._loader is not None and not self._loader.is_alive():
            self._loader = None
            candidate, self._candidate = self._candidate, None
            self._swap(candidate)

    def _load_candidate(self) -> None:
        try:
            a = self.config.agent
            self._candidate = load_scorer(a.bundle, a.variant, a.runtime)
        except Exception as exc:  # any failure keeps the old bundle running
            self._candidate = exc

    def _swap(self, candidate: _Loaded | Exception | None) -> None:
        old_id = self.loaded.bundle.bundle_id if self.loaded else None
        problem = None
        if isinstance(candidate, Exception) or candidate is None:
            problem = f"cannot load {self.config.agent.bundle}: {candidate}"
        elif (self.info or self.last_info) is not None:
            # While the device is away (unplugged, between replays), check against the last stream seen.
            problem = spec_mismatch(candidate.bundle.spec, self.info or self.last_info)
        if problem:
            log.error("bundle reload rejected, still running %s: %s", old_id or "in learning mode", problem)
            self._event("bundle_rejected", problem)
            return
        # The new scorer continues the same machine's history: the last T-1 raw features.
        self._prime_history(candidate.scorer, candidate.bundle.spec.timesteps)
        self.loaded = candidate
        if self.learning:  # commissioning done: score from the next snapshot on, alarms live
            self.learning = self.alarm.learning = False
            self._event("learning_ended", f"scoring with {candidate.bundle.bundle_id}; set [agent] learn = false "
                                          "(or drop --learn) so that a restart keeps scoring")
            log.warning("learning mode ended by the reload; the configuration still asks for learning mode: "
                        "set [agent] learn = false (or drop --learn) so that a restart keeps scoring")
        self.assembler.set_length(candidate.bundle.spec.samples_per_snapshot)
        if self.info is not None:
            self._on_stream_info(self.info)  # channel names and the stream row of the new bundle
        detail = (f"{candidate.bundle.bundle_id} from {self.config.agent.bundle} "
                  f"(replaces {old_id or 'learning mode'}); "
                  f"threshold {candidate.bundle.threshold:.6g}, debounce {candidate.bundle.debounce}")
        log.info("bundle loaded: %s", detail)
        self._event("bundle_loaded", detail)
        self._persist_all_state()

    # -- start, restore, stop ---------------------------------------------------------------
    def _restore(self) -> None:
        """Take back the scorer history, the alarm latch and the cadence from the journal."""
        self.alarm.restore(self.journal.get_state("alarm", {}))
        rows = self.journal.snapshots(last=FEATURE_MEMORY)
        if rows:  # the cadence continues from the last snapshot taken
            self.assembler.last_timestamp = float(rows[-1]["time"])
        for r in rows:
            self.recent_features.append(np.asarray(r["features"], dtype=np.float64))
        if self.loaded is None:
            return
        saved = self.journal.get_state("scorer")
        scorer, spec = self.loaded.scorer, self.loaded.bundle.spec
        try:
            if saved:
                scorer.restore(saved)  # raw features and the debouncer: valid across a bundle update
            else:
                self._prime_history(scorer, spec.timesteps)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("journaled scorer history does not fit this bundle (%s): starting a fresh history", exc)

    def _journal_start(self) -> None:
        last = self.journal.events(last=1)
        if last and last[0]["kind"] != "stop":
            self._event("restart", f"the previous run ended without a clean stop (last event: "
                                   f"{last[0]['kind']}); resuming from the journal")
        mode = "learning" if self.learning else "scoring"
        self._event("start", f"pid {os.getpid()}, {mode} mode, port {self.config.serial.port}, "
                             f"interval {self.config.agent.interval_s:g} s, journal {self.journal.path}")
        log.info("bearing-agent started: %s mode, port %s, journal %s", mode, self.config.serial.port,
                 self.journal.path)
        if self.loaded is not None:
            b = self.loaded.bundle
            detail = (f"{b.bundle_id} from {self.config.agent.bundle}: variant {b.variant}, runtime "
                      f"{self.loaded.scorer.runtime}, threshold {b.threshold:.6g}, debounce {b.debounce}, "
                      f"T={b.spec.timesteps}")
            log.info("bundle loaded: %s", detail)
            self._event("bundle_loaded", detail)
        if self.alarm.latched:
            log.warning("an alarm latched before the restart is still active: acknowledge it to clear")
        self._persist_all_state()
        self.journal.set_counters(self.counters())

    def _shutdown(self) -> None:
        self.link.close()
        try:
            self._report_losses()
            self.journal.set_state(heartbeat={**self.heartbeat(), "stopped": True}, alarm=self.alarm.to_dict())
            self.journal.set_counters(self.counters())
            self._event("stop", "clean stop")
            log.info("bearing-agent stopped")
        finally:
            self.journal.close()
            self.outputs.close()

    def _event(self, kind: str, detail: str) -> None:
        self.journal.event(kind, detail, self.loaded.bundle.bundle_id if self.loaded else None)

    def _show(self) -> None:
        self.outputs.show(self.alarm.display, self.alarm.buzzer, self.alarm.relay)

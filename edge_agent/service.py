"""The agent: sensor boards -> snapshots -> features -> scores -> alarm -> sinks (GPIO, journal, log).

:class:`Agent` owns the one loop, so every step happens in a known order in one thread, and
delegates each job to a part: the boards (:mod:`edge_agent.stream.sensor_board`), health, acks and the latch
(:mod:`edge_agent.alarms`), sinks (:mod:`edge_agent.outputs.sink`), counters, reload, persistence, systemd's watchdog.
"""
from __future__ import annotations

import logging
import threading
import time
from functools import partial
from typing import Callable

from edge_agent import persistence
from edge_agent.persistence import AgentMemory, Running
from edge_agent.alarms.acks import Acknowledgements
from edge_agent.alarms.alarm_state import AlarmState
from edge_agent.alarms.rebaselining import REBASELINE, UNDO, Rebaselining
from edge_agent.alarms.health import Health, LossReport
from edge_agent.config import Config
from edge_agent.counters import Counters
from edge_agent.deploy.probation import DEPLOY, ROLLBACK, Probation
from edge_agent.deploy.slots import Slots
from edge_agent.diagnosis.on_alarm import DIAGNOSE_REQUEST, OnAlarm, VibrationClass
from edge_agent.features import registry
from edge_agent.journal import AgentJournal, SnapshotRow
from edge_agent.outputs.factory import SINK_FACTORIES, SinkContext, SinkFactory, build_sinks
from edge_agent.outputs.sink import Event, Shown, SinkError
from edge_agent.status import parse_request_source
from edge_agent.reload import (BundleReloader, LoadedBundle, ReloadResult, check_on_disk, check_start_version,
                               load_scorer)
from edge_agent.scoring.history import FeatureHistory
from edge_agent.stream.sensor_board import SensorBoard
from edge_agent.stream.snapshots import Snapshot
from edge_agent.watchdog import Watchdog
from firmware_io.errors import BearingEdgeError

log = logging.getLogger("edge_agent")

HOUSEKEEPING_S = 0.25  # how often faults, requests and a finished bundle load are checked
FLUSH_S = 10.0  # how often counters and the heartbeat are written when no snapshot writes them
LOSS_REPORT_S = 5.0  # lost frames are summed into one event at most this often (no event storm)
PRUNE_S = 3600.0  # how often old journal rows are pruned
DISK_CHECK_S = 5.0  # how often the running bundle's files are compared with what was verified (a stat each)


class AgentError(BearingEdgeError, RuntimeError):
    """The agent cannot start (bad bundle, unusable journal or pins); the message says why."""


class Agent:
    """The long-running service; ``run()`` blocks until ``stop()``. Construction loads the bundle, opens
    the journal and builds the sinks (``sink_factories``), so anything unusable fails here (:class:`AgentError`).
    ``on_snapshot(row, agent)`` runs after each snapshot went to the sinks (the tests and the demo use it).
    Other threads only set flags: ``stop()`` (SIGTERM), ``request_reload()`` (SIGHUP), ``acknowledge()``."""

    def __init__(self, config: Config, *, pin_factory=None,
                 on_snapshot: Callable[[SnapshotRow, "Agent"], None] | None = None,
                 sink_factories: tuple[SinkFactory, ...] | list[SinkFactory] = SINK_FACTORIES) -> None:
        self.config, self.learning, self.on_snapshot = config, config.agent.learn, on_snapshot
        self._stop, self.acks, self.watchdog = threading.Event(), Acknowledgements(), Watchdog()
        self.reloader = BundleReloader(config.agent)
        self.loaded: LoadedBundle | None = None
        if not self.learning:
            try:
                self.loaded = load_scorer(config.agent)
            except Exception as exc:  # BundleError, RuntimeUnavailable, OSError: all refuse to start
                raise AgentError(f"cannot load bundle {config.agent.bundle}: {exc}") from exc
        self.journal = AgentJournal.open(config.journal.path)  # one agent per journal: its lock, till close
        try:  # a signed bundle older than the one this journal ran last: refused
            self.reloader.version_floor = check_start_version(self.loaded, self.journal, config.agent)
        except BearingEdgeError as exc:
            self.journal.close()
            raise AgentError(f"cannot load bundle {config.agent.bundle}: {exc}") from exc
        self.alarm = AlarmState(learning=self.learning, relay_on=config.levels.relay_on,
                                buzzer_on=config.levels.buzzer_on)
        self.boards = [SensorBoard(config.serial, spec=self.loaded.bundle.spec if self.loaded else None,
                                   learning=config.learning, interval_s=config.agent.interval_s,
                                   burst_interval_s=config.agent.burst_interval_s, on_event=self._event,
                                   on_link_change=lambda: self._update_fault(time.monotonic()),
                                   register_stream=partial(persistence.register_stream, self.journal))]
        self.health, self.losses = Health(config.faults, self.boards), LossReport(self.boards)
        self.session = {"snapshots_scored": 0, "snapshots_recorded": 0}
        self.counters = Counters(self.journal.counters())
        self.history = FeatureHistory()  # of the machine: the scorer appends to it, a reloaded one continues it
        self._last_time: float | None = None  # the newest snapshot's time (a re-baseline learns from after it)
        #: the last running snapshot's largest rise over the commissioning and the active baseline (information)
        self.baseline_change: dict | None = None
        #: the last ``bearing-agent deploy``: its probation, commit or rollback (edge_agent.deploy)
        self.probation = Probation(self.journal, Slots(config.agent.bundle), config.deploy, self._event)
        self.memory = AgentMemory(self.journal, config, self.boards, self.alarm, self.counters, self.session,
                                  lambda: Running(self.loaded, self.learning, self.baseline_change,
                                                  self.probation.fact(self.loaded)))
        self.memory.restore(self.history, self.loaded.scorer if self.loaded else None)
        self.rebaselining = Rebaselining(self.journal, self._event, settle_hours=config.levels.rebaseline_hours,
                                         settle_snapshots=config.levels.rebaseline_snapshots)  # after restore
        self.rebaselining.attach(self.loaded.scorer if self.loaded else None)
        try:
            self.sinks = build_sinks(SinkContext(config, self.journal, self.memory.persisted_state,
                                                 self.acknowledge, pin_factory), sink_factories)
        except SinkError as exc:
            self.journal.close()
            raise AgentError(str(exc)) from exc
        #: velocity and the physics diagnosis, read after a snapshot's outputs are set (never before)
        self.on_alarm = OnAlarm(self.journal, self._event, VibrationClass(**vars(config.vibration)))
        self._last = dict.fromkeys(("housekeeping", "flush", "losses", "disk"), time.monotonic()) | {"prune": -PRUNE_S}
        self._show()

    def stop(self) -> None:
        """Ask the loop to finish (SIGTERM); ``run()`` returns after cleaning up."""
        self._stop.set()

    def request_reload(self) -> None:
        """Reload the bundle from its configured path (SIGHUP); the old one runs until the new one is valid."""
        self.reloader.request()

    def acknowledge(self, source: str = "api") -> None:
        """Acknowledge a latched alarm (button, ``bearing-agent ack``); applied by the loop."""
        self.acks.add(source)

    def start(self) -> threading.Thread:
        """Run in a background thread (the demo and tests); ``stop()`` and ``join()`` it."""
        thread = threading.Thread(target=self.run, name="bearing-agent", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        for kind, detail in self.memory.start_events():  # restart (after an unclean end), start, bundle
            self._event(kind, detail)
        for kind, detail in self.probation.at_start(self._bundle_id()):  # a probation this restart ended
            self._event(kind, detail)
        self.memory.persist_all()
        try:
            while not self._stop.is_set():
                for board in self.boards:
                    for snap in board.poll():
                        self._process(board, snap)
                now = time.monotonic()
                if self._due("housekeeping", now, HOUSEKEEPING_S):
                    self._housekeeping(now)
        finally:
            self._shutdown()

    def _process(self, board: SensorBoard, snap: Snapshot) -> None:
        # Valid data: end a fault now, or a fast stream's first snapshot is journaled as "fault".
        self._update_fault(board.last_valid)
        features = registry.compute(board.feature_spec, snap.samples, board.info.scale)
        if self.loaded is None:
            self.history.append(features)  # learning mode: no scorer yet; a reloaded one continues from here
            score = None
        else:  # the machine state first (stopped, starting, a sensor problem: never judged), then the level
            score = self.loaded.scorer.score(features, time_s=snap.timestamp, samples=snap.samples,
                                             scale=board.info.scale)
            if self.probation.in_probation:  # a deployed bundle: the old one judges the snapshot too
                score = self._on_probation(score, features, snap, board.info.scale)
        # a NaN error or a sensor problem seen in the samples (flat, dropout, clipping, DC offset): a fault,
        # begun or ended with this snapshot (not at the next housekeeping)
        fault = score.fault if score is not None else None
        if fault != self.health.scoring_fault:
            self.health.scoring_fault = fault
            self._update_fault(time.monotonic())
        judged = score is not None and score.state == "running" and score.fault is None
        events = self.alarm.update(score.alarm, score.level, _diagnosis_text(score), _why(score)) if judged else []
        self._last_time = snap.timestamp
        if score is not None:
            self.rebaselining.after_snapshot(snap.timestamp, score.state)
            if score.state == "running":
                self.baseline_change = self.rebaselining.change(features)
        self._show()
        row = SnapshotRow(
            time=snap.timestamp, first_index=snap.first_index, stream_id=board.stream_id,
            features=features.tolist(), error=score.error if score else None,
            threshold=score.threshold if score else None, over_threshold=score.over_threshold if score else None,
            alarm=score.alarm if score else None, state=self.alarm.display, bundle_id=self._bundle_id(),
            latency_ms=(time.perf_counter() - board.chunk_time) * 1000.0, inference_s=score and score.inference_s,
            contributions=score and score.contributions, diagnosis=score and score.diagnosis,
            machine_state=score.state if score else None, level=score.level if score else None)
        self.session["snapshots_scored" if score is not None else "snapshots_recorded"] += 1
        self.memory.update_counters()
        self.sinks.on_snapshot(row)
        for kind, detail in events:
            self._event(kind, detail)
        # Only now, the outputs set and the row journaled: velocity, and the physics diagnosis of an alarming snapshot.
        self.on_alarm.after_outputs(self.loaded.bundle if self.loaded else None, snap.samples, board.info.scale,
                                    snap.timestamp, score)
        if self.on_snapshot is not None:
            self.on_snapshot(row, self)

    def _update_fault(self, now: float) -> None:
        self.health.observe(now)
        self._transitions(self.alarm.set_fault(self.health.reason or self.journal.fault))  # journal: see AgentJournal

    def _due(self, what: str, now: float, period_s: float) -> bool:  # and restart its period
        if due := (now - self._last[what] >= period_s):
            self._last[what] = now
        return due

    def _housekeeping(self, now: float) -> None:
        self._update_fault(now)
        self.watchdog.ping(stalled=self.health.stalled)  # READY=1 once; no ping while scoring stalls
        if self._due("losses", now, LOSS_REPORT_S):
            self._report_losses()
        requests = self.journal.take_requests()
        for request_id, kind, source in requests:  # re-baseline and deploy requests: journaled by the parts
            if kind in (REBASELINE, UNDO):
                self.rebaselining.request(kind, source, self._last_time)
            elif kind == ROLLBACK and self.probation.in_probation:
                self._roll_back(f"by hand ({parse_request_source(source)[0]})", request_id)
            elif kind in (DEPLOY, ROLLBACK):
                folder = self.probation.take(request_id, kind, source, self.loaded)
                if folder is not None:  # a rollback by hand after a commit loads an older bundle on purpose
                    self.reloader.request_from(folder, floor=kind == DEPLOY)
                self.memory.flush()  # "loading" (or why not) shown now, not at the next flush
            elif kind == DIAGNOSE_REQUEST:  # bearing-agent diagnose: the next running snapshot, whatever its level
                self.on_alarm.request(source)
        for source in self.acks.take(requests):  # the latch is journaled at once: an ack survives a crash
            events = self.alarm.acknowledge(source)
            self.journal.set_state(alarm=self.alarm.to_dict())
            self._transitions(events)
        board = self.boards[0]
        result = self.reloader.poll(board.bundle_problem, learning=self.learning)
        if result is not None:
            self._swap_in(result)
        if self._due("disk", now, DISK_CHECK_S):
            check_on_disk(self.loaded, self._event)
        if self._due("flush", now, FLUSH_S):
            self.memory.flush()
        if self._due("prune", now, PRUNE_S):
            persistence.prune(self.journal, self.config.journal)

    def _swap_in(self, result: ReloadResult) -> None:
        """Apply a finished reload or deploy between two snapshots: swap the bundle in, or journal why not."""
        old = self.loaded
        if result.loaded is None:
            if result.requested_path:
                self.probation.rejected(result.problem, self._bundle_id())
                # the heartbeat carries the deploy fact to status, the page and MQTT: now, not at the next flush
                self.memory.flush()
                return
            log.error("bundle reload rejected, still running %s: %s", self._bundle_id() or "in learning mode",
                      result.problem)
            self._event("bundle_rejected", result.problem)
            return
        self._use(result.loaded, result.path)
        if not result.requested_path:
            self.reloader.swapped_in(result.loaded, self.journal)
            self.probation.cancelled(f"a reload (SIGHUP) loaded {result.path} during the probation")
        elif self.probation.begin(old, result.loaded):  # committed at once (a rollback by hand, learning mode)
            self.reloader.swapped_in(result.loaded, self.journal)
        self.memory.persist_all()

    def _on_probation(self, score, features, snap: Snapshot, scale: float):
        """Judge a snapshot on probation with the old bundle too: roll back (the old bundle's score of it stands:
        an alarm only the new bundle raised never reaches the outputs) or commit when the probation says so."""
        verdict = self.probation.observe(score, features, snap.timestamp, snap.samples, scale)
        if verdict is not None and verdict.action == "rollback":
            self._roll_back(verdict.why)
            return verdict.old_score
        if verdict is not None and verdict.action == "commit":
            self.probation.commit(verdict.why)
            self.reloader.swapped_in(self.loaded, self.journal)  # the floor moves only now
        return score

    def _roll_back(self, why: str, request_id: int | None = None) -> None:
        """Back to the bundle that ran before the deploy, kept loaded and judging during probation (``request_id``:
        the ``deploy --rollback`` that asked)."""
        new_id = self._bundle_id()
        self._install(self.probation.previous, prime=False)  # its window saw every snapshot of the probation
        self.probation.rolled_back(why, new_id, request_id)
        self.memory.persist_all()

    def _install(self, loaded: LoadedBundle, *, prime: bool = True) -> None:
        """Make ``loaded`` the running bundle: it continues the machine's history, with its own commissioning
        baseline, and the boards cut snapshots of its length."""
        loaded.scorer.continue_from(self.history, prime=prime)
        self.loaded = loaded
        self.rebaselining.attach(loaded.scorer)
        for board in self.boards:
            board.set_spec(loaded.bundle.spec)

    def _use(self, new: LoadedBundle, path: str) -> None:
        """Swap ``new`` in: it continues the machine's history, with its own commissioning baseline."""
        old_id = self._bundle_id()
        self._install(new)
        if self.learning:  # commissioning done: score from the next snapshot on, alarms live
            self.learning = self.alarm.learning = False
            advice = "set [agent] learn = false (or drop --learn) so that a restart keeps scoring"
            self._event("learning_ended", f"scoring with {new.bundle.bundle_id}; {advice}")
            log.warning("learning mode ended by the reload; the configuration still asks for learning mode: %s",
                        advice)
        b = new.bundle
        detail = (f"{b.bundle_id} from {path} "
                  f"(replaces {old_id or 'learning mode'}); threshold {b.threshold:.6g}, debounce {b.debounce}")
        log.info("bundle loaded: %s", detail)
        self._event("bundle_loaded", detail)

    def _report_losses(self) -> None:
        if detail := self.losses.take():
            log.warning("frames lost: %s", detail)
            self._event("frames_lost", detail)

    def _shutdown(self) -> None:
        self.watchdog.stopping()  # systemd: deactivating, not hung
        for board in self.boards:
            board.close()
        try:
            self._report_losses()
            self._event(*self.memory.flush_at_stop())  # "stop", or "crash" when an error ends the loop
            log.info("bearing-agent stopped")
        finally:
            self.sinks.close()
            self.journal.close()

    def _transitions(self, events: list[tuple[str, str]]) -> None:
        """Log and send a fault's or an acknowledgement's events, then show the new state."""
        for kind, detail in events:
            (log.warning if kind == "sensor_fault_begin" else log.info)("%s: %s", kind.replace("_", " "), detail)
            self._event(kind, detail)
        self._show()

    def _bundle_id(self) -> str | None:
        return self.loaded.bundle.bundle_id if self.loaded else None

    def _event(self, kind: str, detail: str) -> None:
        self.sinks.on_event(Event(kind, detail, self._bundle_id()))

    def _show(self) -> None:
        self.sinks.on_state(Shown(self.alarm.display, self.alarm.buzzer, self.alarm.relay,
                                  self.alarm.latched_level if self.alarm.latched else "normal"))


def _diagnosis_text(score) -> str | None:
    """The score's diagnosis in words when it is evidence (over the threshold, one channel standing out)."""
    d = score.diagnosis
    return d.text() if d is not None and d.clear and (score.over_threshold or score.alarm) else None


def _why(score) -> str:
    """Why a level was reached, in words, for the journal's alarm events."""
    sig = score.significance
    if sig is None:
        return "debounced reconstruction error over the threshold"
    return (f"reconstruction error {score.error:.4g} (threshold {score.threshold:.4g}) and {sig.feature} "
            f"{sig.change_db:+.1f} dB over the commissioning baseline")

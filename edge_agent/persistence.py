"""What the agent keeps across runs in its journal: taken back at start, written as it runs.

The journal is the agent's memory as well as a sink. At start the agent
takes back the alarm latch (an unacknowledged alarm survives a power cut),
the cadence (the next snapshot is due ``interval_s`` after the last one
journaled), the feature history and the scorer's window and debouncer
(:meth:`AgentMemory.restore`). While it runs, every snapshot row is journaled with
:meth:`AgentMemory.persisted_state` in one transaction (:mod:`edge_agent.outputs.journal_sink`),
and :meth:`AgentMemory.flush` writes the heartbeat, the latch and the counters when no
snapshot does. ``bearing-agent status`` reads the heartbeat (:meth:`AgentMemory.heartbeat`).
None of these writes raises when the journal fails (the journal is an
:class:`~edge_agent.journal.agent_journal.AgentJournal`: they wait in memory),
and :meth:`AgentMemory.flush_at_stop` never calls a run that an error ended a clean stop.

:class:`AgentMemory` is given the parts that live as long as the agent (journal, boards, latch,
counters) and asks ``now()`` for what changes (:class:`Running`: the bundle, the mode, the facts).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from edge_agent.liveness import stamp
from edge_agent.scoring.history import DEFAULT_DEPTH, FeatureHistory

if TYPE_CHECKING:
    from edge_agent.alarms.alarm_state import AlarmState
    from edge_agent.config import Config, JournalSection
    from edge_agent.counters import Counters
    from edge_agent.journal import AgentJournal, Journal
    from edge_agent.reload import LoadedBundle
    from edge_agent.scoring.scorer import SnapshotScorer
    from edge_agent.stream.sensor_board import SensorBoard
    from firmware_io.protocol.frames import StreamInfo

log = logging.getLogger("edge_agent")


@dataclass(frozen=True)
class Running:
    """What the agent runs now, as the heartbeat and the journaled state describe it."""

    loaded: "LoadedBundle | None"
    learning: bool
    #: the last running snapshot's largest rise over the commissioning and the active baseline (information)
    baseline_change: dict | None = None
    #: the running bundle's slot and the last ``bearing-agent deploy`` (``Probation.fact``)
    deploy: dict | None = None


class AgentMemory:
    """The agent's state in its journal: restored at start, written with every snapshot and when none comes."""

    def __init__(self, journal: "AgentJournal", config: "Config", boards: "list[SensorBoard]", alarm: "AlarmState",
                 counters: "Counters", session: dict[str, int], now: Callable[[], Running]) -> None:
        self.journal, self.config, self.boards, self.alarm = journal, config, boards, alarm
        self.counters, self.session, self.now = counters, session, now
        self.started = time.time()

    def restore(self, history: FeatureHistory, scorer: "SnapshotScorer | None") -> None:
        """Take back the alarm latch, the cadence, the feature history and the scorer's state."""
        journal = self.journal
        self.alarm.restore(journal.get_state("alarm", {}))
        rows = journal.snapshots(last=DEFAULT_DEPTH)
        for board in self.boards if rows else []:
            board.resume_cadence(float(rows[-1]["time"]))
        for r in rows:
            history.append(r["features"])
        if scorer is not None:
            resume_scorer(scorer, history, journal.get_state("scorer"))

    def start_events(self) -> list[tuple[str, str]]:
        """The events that open a run: a restart after an unclean end, the start, the bundle in use."""
        events = []
        last = self.journal.events(last=1)
        if last and last[0]["kind"] != "stop":
            events.append(("restart", f"the previous run ended without a clean stop (last event: "
                                      f"{last[0]['kind']}); resuming from the journal"))
        c, running = self.config, self.now()
        mode = "learning" if running.learning else "scoring"
        events.append(("start", f"pid {os.getpid()}, {mode} mode, port {c.serial.port}, "
                                f"interval {c.agent.interval_s:g} s, journal {self.journal.path}"))
        log.info("bearing-agent started: %s mode, port %s, journal %s", mode, c.serial.port, self.journal.path)
        if running.loaded is not None:
            b = running.loaded.bundle
            detail = (f"{b.bundle_id} from {c.agent.bundle}: variant {b.variant}, runtime "
                      f"{running.loaded.scorer.runtime}, threshold {b.threshold:.6g}, debounce {b.debounce}, "
                      f"T={b.spec.timesteps}")
            log.info("bundle loaded: %s", detail)
            events.append(("bundle_loaded", detail))
        if self.alarm.latched:
            log.warning("an alarm latched before the restart is still active: acknowledge it to clear")
        return events

    def heartbeat(self, running: Running | None = None) -> dict[str, Any]:
        """What ``bearing-agent status`` shows about the running agent (``running``: taken now if not given)."""
        board, alarm, running = self.boards[0], self.alarm, running or self.now()
        return {
            "time": time.time(), "pid": os.getpid(), "started": self.started,
            **stamp(),  # boot id and monotonic time: readers judge liveness without the wall clock (issue 21 #3)
            "mode": "learning" if running.learning else "scoring",
            "bundle_id": running.loaded.bundle.bundle_id if running.loaded else None,
            "bundle_path": self.config.agent.bundle if running.loaded else None,
            "port": self.config.serial.port, "connected": board.connected,
            "display": alarm.display, "fault": alarm.fault,
            "alarm_latched": alarm.latched, "alarm_acknowledged": alarm.acknowledged,
            # the latched alarm's own facts (issue 20): its level, the diagnosis of the snapshot that raised it and
            # the one most of its snapshots had; the newest row's words may be a dead or stopped snapshot's
            "level": alarm.level, "alarm_level": alarm.latched_level if alarm.latched else None,
            "alarm_diagnosis": alarm.diagnosis if alarm.latched else None,
            "alarm_dominant_diagnosis": alarm.dominant_diagnosis if alarm.latched else None,
            "baseline_change": running.baseline_change,
            "deploy": running.deploy,
            "device_id": board.info.device_id if board.info else None,
            "interval_s": self.config.agent.interval_s,
        }

    def persisted_state(self) -> tuple[dict[str, Any], dict[str, int]]:
        """What a snapshot leaves behind, journaled with its row: (state, counters). (The cadence's last
        snapshot time is the last row's time; the snapshot length changes only at start and on a swap.)"""
        running = self.now()  # once per snapshot: it reads the deploy fact
        state: dict[str, Any] = {"alarm": self.alarm.to_dict(), "heartbeat": self.heartbeat(running)}
        loaded = running.loaded
        if loaded is not None:
            state["scorer"] = loaded.scorer.state()
        return state, self.counters.totals()

    def persist_all(self) -> None:
        """At start and after a bundle swap: the per-snapshot state plus the snapshot length
        (``export`` tells ``bearing-train fit`` the length the features were computed over), and the counters."""
        self.journal.set_state(**self.persisted_state()[0], samples_per_snapshot=self.boards[0].assembler.length)
        self.update_counters()
        self.journal.set_counters(self.counters.totals())

    def flush(self, *, stopped: bool = False) -> None:
        """The heartbeat, the latch and the counters, when no snapshot writes them (and at the stop)."""
        self.update_counters()
        beat = self.heartbeat()
        self.journal.set_state(heartbeat={**beat, "stopped": True} if stopped else beat, alarm=self.alarm.to_dict())
        self.journal.set_counters(self.counters.totals())

    def flush_at_stop(self) -> tuple[str, str]:
        """The last flush, and the event that ends the run: ``stop`` for a clean stop, else ``crash``.

        Called from the loop's ``finally``: an exception on its way out (a bug) is
        not a clean stop, so the heartbeat is not marked stopped (``status`` says
        "not running") and the next start journals a ``restart``.
        """
        error = sys.exc_info()[1]
        self.flush(stopped=error is None)
        if error is not None:
            return "crash", f"the agent's loop ended on {type(error).__name__}: {error}"
        dropped = self.journal.dropped
        return "stop", "clean stop" + (f"; {dropped} journal rows were dropped while the journal could not be "
                                       "written" if dropped else "")

    def update_counters(self) -> None:
        """Bring the counters up to date with the boards' and the agent's own counts (before they are journaled)."""
        for k, board in enumerate(self.boards):
            self.counters.update(board.readings(), source=f"board{k}", latest=board.device_readings())
        self.counters.update(self.session)


def resume_scorer(scorer: "SnapshotScorer", history: FeatureHistory, saved: dict | None) -> None:
    """Continue the journaled window and debouncer (else prime the window from ``history``)."""
    try:
        if saved:
            scorer.restore(saved)  # raw features and the debouncer: valid across a bundle update
        scorer.continue_from(history, prime=not saved)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("journaled scorer history does not fit this bundle (%s): starting a fresh history", exc)
        scorer.continue_from(history, prime=False)


def prune(journal: "Journal", section: "JournalSection") -> None:
    """Delete journal rows past ``[journal]`` retention (hourly: the scan is not free)."""
    deleted = journal.prune(section.retention_days, section.max_snapshots)
    if deleted:
        log.info("journal retention: deleted %d old snapshot rows", deleted)


def register_stream(journal: "Journal", info: "StreamInfo", channel_names: list[str]) -> int:
    """The journal's id of a stream (a board's StreamInfo with the channel names it is recorded under)."""
    return journal.stream_id(info.device_id, info.firmware_version, info.sample_rate_hz, info.n_channels,
                             info.scale, channel_names)

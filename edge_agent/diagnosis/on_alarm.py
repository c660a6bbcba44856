"""What the agent reads from a snapshot *after* its outputs are set: velocity RMS and its ISO zone, and the
physics diagnosis of an alarming snapshot.

Neither decides anything: the LED, buzzer and relay follow the novelty score and its level, and the
agent's loop calls :meth:`OnAlarm.after_outputs` only once they are set and the snapshot's row is
journaled, so nothing here can delay an alarm (``tests/edge_agent/diagnosis/test_on_alarm.py`` proves the
order through the output sinks). What it finds goes to the journal's state, for every reader through
:mod:`edge_agent.facts`:

- ``vibration``: the last running snapshot's RMS velocity 10-1000 Hz per channel in mm/s and its
  ISO 10816-3 zone for the configured machine group and foundation (``[vibration]`` in agent.toml).
  Written when a zone changes and at most every :data:`VIBRATION_WRITE_S` otherwise.
- ``physics``: the physics diagnosis (:func:`edge_agent.diagnosis.physics.diagnose`) of the newest
  alarming snapshot: a running machine at Alert or Danger, the first snapshot of an alarm, then again
  when the level rises, else at most every :data:`MIN_INTERVAL_S` of the agent's own clock (a CPU budget: a
  replay at full speed or a burst sensor must not diagnose every second), or on request (the next running
  snapshot). A stopped or starting machine and a sensor fault are never diagnosed. A bundle
  that carries no bearing or commissioning envelope spectrum gets none, and the state says why.
- ``physics_spectrum``: that snapshot's squared envelope spectrum on the named channel against the
  commissioning baseline's, with every part's defect frequency and harmonics and the lines found (the page
  draws it).

Each diagnosis is also journaled as a ``physics_diagnosis`` event, with the level it was taken at.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from edge_agent.diagnosis.bundle_section import missing_reason
from edge_agent.diagnosis.physics import HARMONICS, LINE_DB, PhysicsDiagnosis, diagnose, spectrum_extent_hz, \
    squared_envelope_spectrum
from edge_agent.facts import PHYSICS_STATE, SPECTRUM_STATE, VIBRATION_STATE
from edge_agent.features.condition import (ISO_10816_3_BOUNDARIES_MM_S, VELOCITY_BAND_HZ, ConditionSettings,
                                           iso_zone, power_spectrum, to_physical, velocity_rms)
from edge_agent.scoring.levels import ALERT, DANGER, LEVELS
from edge_agent.scoring.machine_state import RUNNING

log = logging.getLogger("edge_agent")

EVENT = "physics_diagnosis"
#: The journal request (``bearing-agent diagnose``) for the physics diagnosis of the next running snapshot.
DIAGNOSE_REQUEST = "diagnose"
#: An alarm that lasts is diagnosed again at most this often (seconds of the agent's monotonic clock), or when its
#: level rises.
MIN_INTERVAL_S = 60.0
#: The velocity is journaled when a zone changes, else at most this often (seconds of the agent's clock).
VIBRATION_WRITE_S = 30.0
#: The page draws at most this many points of the spectrum (neighbouring bins merged, keeping the highest).
SPECTRUM_POINTS = 1500
#: What the ISO zone limits assume, in words, by the ``[vibration]`` keys.
MACHINE_CLASS_WORDS = {"group1": "group 1 (large machines, 300 kW - 50 MW)",
                       "group2": "group 2 (medium machines, 15 - 300 kW)"}


@dataclass(frozen=True)
class VibrationClass:
    """The ISO 10816-3 machine group and foundation whose zone limits apply (``[vibration]``)."""

    machine_group: str = "group2"
    foundation: str = "rigid"

    def __post_init__(self) -> None:
        if (self.machine_group, self.foundation) not in ISO_10816_3_BOUNDARIES_MM_S:
            raise ValueError(f"unknown ISO 10816-3 class {self.machine_group}/{self.foundation}; known: "
                             + ", ".join(f"{g}/{f}" for g, f in ISO_10816_3_BOUNDARIES_MM_S))

    @property
    def limits(self) -> tuple[float, float, float]:
        return ISO_10816_3_BOUNDARIES_MM_S[(self.machine_group, self.foundation)]

    def words(self) -> str:
        ab, bc, cd = self.limits
        return (f"ISO 10816-3 {MACHINE_CLASS_WORDS[self.machine_group]}, {self.foundation} foundation: "
                f"A/B {ab:g}, B/C {bc:g}, C/D {cd:g} mm/s")


class OnAlarm:
    """Velocity and physics diagnosis after the outputs; one per agent, following the bundle it is given."""

    def __init__(self, journal: Any, event: Callable[[str, str], None],
                 vibration: VibrationClass = VibrationClass(), min_interval_s: float = MIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.journal, self.event, self.vibration, self.min_interval_s = journal, event, vibration, min_interval_s
        self.clock = clock
        self._bundle_id: str | None = None
        self._physics = None  # the bundle's BundlePhysics, or None
        self._why_not: str | None = None  # why the bundle gets no physics diagnosis
        self._said_why_not = False
        self._velocity_ok = False
        self._to_m_s2 = 9.80665
        self._requested: str | None = None
        self._last: tuple[float, str] | None = None  # (the clock, level) at the last diagnosis
        self._zones: tuple[str, ...] | None = None
        self._vibration_written = -math.inf
        #: How many diagnoses ran (the ordering test reads it at the moment the outputs are set).
        self.diagnosed = 0

    def request(self, source: str = "request") -> None:
        """Diagnose the next running snapshot whatever its level (``bearing-agent diagnose``, the page)."""
        self._requested = source

    def after_outputs(self, bundle: Any, samples: np.ndarray, scale: float, time_s: float, score: Any) -> None:
        """One snapshot whose outputs are set: read velocity, and diagnose it if it alarms (see the module doc).
        Never raises: a failure is logged and journaled as an event, the agent keeps scoring."""
        if bundle is None or score is None:
            return
        try:
            self._follow(bundle)
            if score.state != RUNNING or score.fault is not None:
                return  # stopped, starting, a sensor problem: not the bearing's vibration
            due = self._due(self.clock(), score.level)
            if not (self._velocity_ok or due):
                return
            values = to_physical(samples, scale)
            if self._velocity_ok:
                self._velocity(values, bundle.spec, time_s)
            if due:
                self._diagnose(values, bundle.spec, time_s, score.level)
        except Exception as exc:  # a bug here must not stop the agent: it only informs
            log.exception("physics diagnosis failed")
            self.event(EVENT, f"failed: {type(exc).__name__}: {exc}")

    # -- the bundle --------------------------------------------------------------------------------------
    def _follow(self, bundle: Any) -> None:
        if bundle.bundle_id == self._bundle_id:
            return
        self._bundle_id, self._physics, self._last, self._said_why_not = bundle.bundle_id, bundle.physics, None, False
        spec = bundle.spec
        try:
            self._to_m_s2 = ConditionSettings.from_dict(spec.extra.get("condition")).to_m_s2
        except (TypeError, ValueError):
            self._to_m_s2 = 9.80665
        low, high = VELOCITY_BAND_HZ
        self._velocity_ok = spec.sample_rate_hz / 2 >= high and spec.sample_rate_hz / spec.samples_per_snapshot <= low
        self._why_not = None if self._physics is not None else missing_reason(spec)
        saved = self.journal.get_state(PHYSICS_STATE) or {}
        if saved.get("bundle_id") != bundle.bundle_id or not saved.get("available"):
            state = {"bundle_id": bundle.bundle_id, "available": self._physics is not None, "why_not": self._why_not}
            if self._physics is not None:
                state["baseline"] = {"snapshots": self._physics.baseline.n_snapshots, "first": self._physics.first,
                                     "last": self._physics.last}
            self.journal.set_state(**{PHYSICS_STATE: state})

    # -- velocity ----------------------------------------------------------------------------------------
    def _velocity(self, values: np.ndarray, spec: Any, time_s: float) -> None:
        mm_s = velocity_rms(*power_spectrum(values, spec.sample_rate_hz), to_m_s2=self._to_m_s2)
        zones = tuple(iso_zone(float(v), self.vibration.machine_group, self.vibration.foundation) for v in mm_s)
        now = time.monotonic()
        if zones == self._zones and now - self._vibration_written < VIBRATION_WRITE_S:
            return
        self._zones, self._vibration_written = zones, now
        self.journal.set_state(**{VIBRATION_STATE: {
            "time": time_s, "channels": list(spec.channel_names),
            "mm_s": [round(float(v), 4) for v in mm_s], "zones": list(zones), "worst_zone": max(zones),
            "machine_group": self.vibration.machine_group, "foundation": self.vibration.foundation,
            "limits_mm_s": list(self.vibration.limits), "class": self.vibration.words()}})

    # -- the physics diagnosis ---------------------------------------------------------------------------
    def _due(self, now: float, level: str) -> bool:
        if self._requested is not None:
            return True
        if level not in (ALERT, DANGER):
            self._last = None  # the alarm's condition ended: the next alarm is diagnosed at its first snapshot
            return False
        if self._last is None:
            return True
        at, was = self._last
        rose = LEVELS.index(level) > LEVELS.index(was)
        return rose or not 0 <= now - at < self.min_interval_s

    def _diagnose(self, values: np.ndarray, spec: Any, time_s: float, level: str) -> None:
        requested, self._requested = self._requested, None
        self._last = (self.clock(), level) if level in (ALERT, DANGER) else self._last
        why = f"requested ({requested})" if requested is not None else f"at {level.capitalize()}"
        if self._physics is None:
            if not self._said_why_not:
                self._said_why_not = True
                self.event(EVENT, f"{why}: {self._why_not}")
            return
        p = self._physics
        started = time.perf_counter()
        result = diagnose(values, spec.sample_rate_hz, p.bearing, p.shaft_hz, p.baseline, spec.channel_names)
        seconds = time.perf_counter() - started
        self.diagnosed += 1
        state = {"bundle_id": self._bundle_id, "available": True, "why_not": None,
                 "baseline": {"snapshots": p.baseline.n_snapshots, "first": p.first, "last": p.last},
                 **diagnosis_fact(result, time_s, level if requested is None else "request"), "seconds": round(seconds, 4)}
        self.journal.set_state(**{PHYSICS_STATE: state,
                                  SPECTRUM_STATE: spectrum_view(values, spec.sample_rate_hz, result, p, time_s)})
        self.event(EVENT, f"{why}: {result.part.replace('_', ' ')}, confidence {result.confidence:.2f}: "
                          f"{result.summary()}")


def diagnosis_fact(result: PhysicsDiagnosis, time_s: float, level: str) -> dict[str, Any]:
    """The diagnosis as the journal and every reader carry it: part, confidence, channel, evidence in words,
    and the named line's figures."""
    named = result.named
    line = named.harmonics[0] if named is not None and named.harmonics else None
    return {"time": time_s, "level": level, "part": result.part, "confidence": round(result.confidence, 3),
            "channel": result.channel, "text": result.summary(), "shaft_hz": round(result.shaft_hz, 3),
            "shaft_refined": result.shaft_refined,
            "line": None if line is None else {
                "expected_hz": round(named.defect_hz, 2), "found_hz": round(line.found_hz, 2),
                "db_over_floor": round(line.db_over_floor, 1),
                "db_over_baseline": None if line.db_over_baseline is None or not math.isfinite(line.db_over_baseline)
                else round(line.db_over_baseline, 1),
                "harmonics": sum(1 for h in named.harmonics if h.clear(LINE_DB))}}


def spectrum_view(values: np.ndarray, sample_rate_hz: float, result: PhysicsDiagnosis, physics: Any,
                  time_s: float) -> dict[str, Any]:
    """What the page draws: the diagnosed channel's squared envelope spectrum and the baseline's (dB, up to
    the highest frequency the diagnosis reads, merged to at most :data:`SPECTRUM_POINTS` points keeping each
    group's highest bin), every part's defect frequency and harmonics, and the lines found for the named part."""
    c = result.channel_index
    freqs, power = squared_envelope_spectrum(values[:, c:c + 1], sample_rate_hz)
    top = spectrum_extent_hz(physics.bearing, physics.shaft_hz)
    keep = (freqs > 0) & (freqs <= top)
    group = max(1, int(math.ceil(keep.sum() / SPECTRUM_POINTS)))

    def merged(p: np.ndarray) -> list[float | None]:
        p = p[keep]
        n = len(p) // group * group
        peaks = np.nanmax(p[:n].reshape(-1, group), axis=1) if n else p[:0]
        return [None if not np.isfinite(v) or v <= 0 else round(10 * math.log10(v), 1) for v in peaks]

    step = float(freqs[1] - freqs[0]) * group
    marks = [{"part": e.part, "harmonic": h, "hz": round(h * e.defect_hz, 2)}
             for e in result.evidence for h in range(1, HARMONICS + 1) if h * e.defect_hz <= top]
    named = result.named
    found = [] if named is None else [
        {"kind": line.kind, "order": line.order, "hz": round(line.found_hz, 2), "db_over_floor": round(line.db_over_floor, 1)}
        for line in named.lines if line.clear(LINE_DB)]
    return {"time": time_s, "channel": result.channel, "part": result.part, "start_hz": round(float(freqs[1]), 4),
            "step_hz": step, "snapshot_db": merged(power[:, 0]),
            "baseline_db": merged(physics.baseline.power[:, c]), "baseline_snapshots": physics.baseline.n_snapshots,
            "marks": marks, "found": found, "text": result.summary()}

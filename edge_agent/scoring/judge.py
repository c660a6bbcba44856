"""The judgement of one snapshot after the model: machine state first, then novel AND significant -> level.

:class:`Judge` holds the two stateful parts (the :class:`~edge_agent.scoring.machine_state.MachineState`
and the :class:`~edge_agent.scoring.levels.AlarmLevels`) and the bundle's frozen baseline. The scorer
calls :meth:`Judge.classify` before the model (a snapshot of a stopped machine never reaches it) and
:meth:`Judge.decide` after it; :func:`judge_series` runs the same two steps over a whole table for
``bearing-train fit``'s ``scores.csv``, so the desktop and the device cannot judge differently.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from edge_agent.features.spec import FeatureSpec
from edge_agent.scoring.baseline import overall_level_slice
from edge_agent.scoring.detection import Debouncer
from edge_agent.scoring.levels import (ALERT, DANGER, NORMAL, AlarmLevels, Decision, LevelRules, Significance,
                                       significance)
from edge_agent.scoring.machine_state import RUNNING, MachineRules, MachineState, StateVerdict


class Judge:
    """Machine state and level of a bundle's snapshots, in order; ``state()`` / ``restore()`` for restarts."""

    def __init__(self, spec: FeatureSpec, decision: Decision | None, debounce: int, *,
                 levels: LevelRules | None = None, machine: MachineRules | None = None) -> None:
        self.decision = decision
        self._level_slice = overall_level_slice(spec)
        self._debouncer = Debouncer(debounce)  # the old rule, for a bundle without a baseline
        if decision is not None:
            self.rules = levels or decision.levels
            self.alert_limits, self.danger_limits = self.rules.limits(decision.baseline)
            healthy = decision.baseline.median[self._level_slice] if self._level_slice is not None else None
            self.machine = MachineState(spec.channel_names, healthy, machine or decision.machine)
        else:
            self.rules = levels or LevelRules(enter=debounce, danger_enter=debounce, leave=debounce)
            self.machine = MachineState(spec.channel_names, None, machine or MachineRules())
        self.levels = AlarmLevels(self.rules)
        #: while a re-baseline learns (:mod:`edge_agent.scoring.rebaseline`): only Danger is raised
        self.danger_only = False

    def set_baseline(self, baseline) -> None:
        """Judge from now on against ``baseline`` (a re-baseline, or its undo): new limits, a new stopped floor."""
        if self.decision is None:
            raise ValueError("this bundle has no baseline (made before the levels): it cannot be re-baselined")
        self.decision = Decision(baseline, self.decision.levels, self.decision.machine)
        self.alert_limits, self.danger_limits = self.rules.limits(baseline)
        if self._level_slice is not None:
            self.machine.set_healthy_level(baseline.median[self._level_slice])

    @property
    def level(self) -> str:
        return self.levels.level

    def classify(self, features: np.ndarray, time_s: float | None, samples: np.ndarray | None = None,
                 scale: float = 1.0) -> StateVerdict:
        """The snapshot's machine state, from its overall level (features) and, live, its samples."""
        level = None if self._level_slice is None else np.asarray(features)[self._level_slice]
        return self.machine.classify(time_s, level, samples, scale)

    def decide(self, features: np.ndarray, over: bool, far: bool) -> tuple[str, Significance | None]:
        """The level after a running snapshot the model judged ``over`` the threshold (``far``: the
        two-level rule's first level), and how far it rose over the baseline."""
        if self.decision is None:  # an older bundle: the old rule; its alarm shown as danger (outputs as before)
            self.levels.level = DANGER if self._debouncer.update(over, far) else NORMAL
            return self.levels.level, None
        sig = significance(self.decision.baseline, self.alert_limits, self.danger_limits, features)
        novel = over or far
        target = DANGER if novel and sig.danger else ALERT if novel and sig.alert and not self.danger_only else NORMAL
        return self.levels.update(target, immediate=far and sig.alert and not self.danger_only), sig

    def state(self) -> dict[str, Any]:
        return {"debouncer": self._debouncer.state(), "levels": self.levels.state(), "machine": self.machine.state()}

    def restore(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state`, or from a scorer state journaled before the levels (its debouncer only)."""
        if "debouncer" in state:
            deb = Debouncer.from_state(state["debouncer"])
            self._debouncer = Debouncer.from_state({**deb.state(), "k": self._debouncer.k})
        else:
            deb = self._debouncer
        old_level = (DANGER if self.decision is None else ALERT) if deb.alarm else NORMAL
        self.levels.restore(state.get("levels") or {"level": old_level})
        self.machine.restore(state.get("machine") or {})


def judge_series(spec: FeatureSpec, decision: Decision | None, debounce: int, timestamps: np.ndarray,
                 features: np.ndarray, over: Sequence[bool], far: Sequence[bool] | None = None,
                 scored: Sequence[bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per snapshot of a whole table: the machine state and the level, exactly as the device decides them.

    ``over`` / ``far`` are the model's per-snapshot verdicts; ``scored`` False where no window ended
    (the first T-1 snapshots): those are classified but not judged.
    """
    judge = Judge(spec, decision, debounce)
    n = len(timestamps)
    far = np.zeros(n, dtype=bool) if far is None else np.asarray(far, dtype=bool)
    scored = np.ones(n, dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    times = np.asarray(timestamps).astype("datetime64[s]").astype(np.int64).astype(float)
    state, level = np.full(n, RUNNING, dtype=object), np.full(n, NORMAL, dtype=object)
    for i in range(n):
        verdict = judge.classify(features[i], float(times[i]))
        state[i] = verdict.state
        if verdict.state == RUNNING and scored[i]:
            judge.decide(features[i], bool(over[i]), bool(far[i]))
        level[i] = judge.level
    return state.astype(str), level.astype(str)

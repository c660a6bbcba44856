"""Score snapshots with a bundle: the one decision path of the device.

Per snapshot: physical features -> machine state (running, stopped, starting, sensor fault:
:mod:`edge_agent.scoring.machine_state`) -> for a running machine only: MinMax scaling (the bundle's
scaler) -> window of the last T -> TFLite model -> reconstruction error -> novel (over the
threshold)? -> significant (risen over the commissioning baseline, :mod:`edge_agent.scoring.levels`)?
-> the level: normal, alert or danger. ``bearing-agent score`` runs exactly this code over a feature
table, so what a user checks on the desktop is what the Pi does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from edge_agent.scoring.bundle import Bundle, BundleError
from edge_agent.scoring.detection import reconstruction_error
from edge_agent.scoring.diagnosis import Diagnosis, diagnose, far_over, feature_contributions
from edge_agent.scoring.history import FeatureHistory
from edge_agent.scoring.judge import Judge
from edge_agent.scoring.levels import NORMAL, Decision, LevelRules, Significance
from edge_agent.scoring.machine_state import RUNNING, SENSOR_FAULT, MachineRules, StateVerdict
from edge_agent.scoring.rebaseline import BaselineKeeper
from edge_agent.scoring.scores import ScoreTable

if TYPE_CHECKING:  # the offline paths import it when they run: the agent never reads a table
    from edge_agent.features.table import FeatureTable


@dataclass(frozen=True)
class Score:
    #: None for a snapshot that was not judged (the machine was not running)
    error: float | None
    threshold: float
    #: None when the model could not decide (``fault``) or did not judge: neither over nor under.
    over_threshold: bool | None
    #: the level is alert or danger (held over a snapshot that was not judged)
    alarm: bool
    #: The error per feature (spec.feature_names order), averaging to ``error``: where it is
    #: (:func:`edge_agent.scoring.diagnosis.diagnose` names the bearing and the defect).
    contributions: tuple[float, ...] = ()
    #: Why this snapshot could not be decided (a NaN or infinite error), else None; the agent shows it as a fault.
    fault: str | None = None
    #: The model's invoke alone, seconds (``time.perf_counter`` around it: what Prometheus' inference
    #: histogram shows; the agent's whole last-byte-to-outputs latency is timed around all of it).
    inference_s: float | None = None
    #: Where the error is: the bearing (and the defect, with envelope features); None without clear evidence.
    diagnosis: Diagnosis | None = None
    #: running, stopped, starting or sensor_fault (:mod:`edge_agent.scoring.machine_state`), and why
    state: str = RUNNING
    state_reason: str | None = None
    #: normal, alert or danger after this snapshot (:mod:`edge_agent.scoring.levels`)
    level: str = NORMAL
    #: the feature that rose most over the commissioning baseline (None: the bundle has no baseline)
    significance: Significance | None = None


#: A NaN compares False with any threshold: read as "not over", a broken model would keep the light green forever.
NOT_FINITE = ("the model's reconstruction error is not finite (NaN or inf): the bundle cannot decide; "
              "check the bundle with 'bearing-agent check-bundle' and reconvert it")


class SnapshotScorer:
    """Keeps the last T feature vectors and the debouncer; one :meth:`score` per snapshot."""

    def __init__(self, bundle: Bundle, runtime: str = "auto", *, levels: LevelRules | None = None,
                 machine: MachineRules | None = None) -> None:
        """``levels`` and ``machine`` override the bundle's rules (the device's ``[levels]`` / ``[machine]``)."""
        self.bundle = bundle
        self.runner = bundle.make_runner(runtime)
        self.timesteps = bundle.spec.timesteps
        self.n_features = bundle.spec.n_features
        #: Raw physical features, newest last; the agent's one history once it calls continue_from.
        self.history = FeatureHistory(self.timesteps)
        self._in_window = 0  # vectors in the window so far, up to T
        # The model's input, kept scaled in float32 and shifted by one row per snapshot: each
        # vector is scaled once when it arrives, not T times while it is in the window.
        self._window = np.zeros((1, self.timesteps, self.n_features), dtype=np.float32)
        try:  # the bundle's baseline and rules; checked here, when the bundle is loaded for scoring
            decision = Decision.from_threshold(bundle.manifest["threshold"], bundle.spec)
        except ValueError as exc:
            raise BundleError(f"{bundle.path}: manifest threshold: {exc}") from exc
        #: machine state and level (:mod:`edge_agent.scoring.judge`)
        self.judge = Judge(bundle.spec, decision, bundle.debounce, levels=levels, machine=machine)
        #: the commissioning baseline, the active one and the operator's re-baselines (None: an older bundle)
        self.baselines = None if decision is None else BaselineKeeper(decision.baseline, decision.baseline)

    @property
    def runtime(self) -> str:
        return self.runner.runtime

    def _check(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        if x.shape != (self.n_features,):
            raise ValueError(f"expected {self.n_features} features {list(self.bundle.spec.feature_names)}, "
                             f"got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"features must be finite, got {x.tolist()}")
        return x

    def _push(self, x: np.ndarray) -> None:
        """Append a checked vector to the history and its scaled float32 copy to the window."""
        self.history.append(x)
        self._shift_in(x)

    def _shift_in(self, x: np.ndarray) -> None:
        rows = self._window[0]
        if self.timesteps > 1:
            rows[:-1] = rows[1:]
        # The model sees float32, and the error compares it with what the model saw.
        rows[-1] = self.bundle.scaler.transform(x)
        self._in_window = min(self._in_window + 1, self.timesteps)

    def continue_from(self, history: FeatureHistory, *, prime: bool = True) -> None:
        """Append to ``history`` from now on: the agent's one history of the machine, which outlives
        a scorer (learning mode has none yet; a reload replaces it). With ``prime`` the window is
        filled from its newest T-1 vectors, so the next snapshot is scored with the machine's past."""
        if prime:
            vectors = [self._check(v) for v in history.last(self.timesteps - 1)]
            self._in_window = 0
            for x in vectors:
                self._shift_in(x)
        self.history = history

    def score(self, features: np.ndarray, *, time_s: float | None = None, samples: np.ndarray | None = None,
              scale: float = 1.0) -> Score | None:
        """Judge one snapshot's feature vector (its time in unix seconds, and its raw samples on the live
        stream); None while a running machine has not yet filled the first window of T snapshots."""
        x = self._check(features)
        verdict = self.judge.classify(x, time_s, samples, scale)
        # The model sees every snapshot, as in training (its windows are consecutive snapshots); only a
        # running machine's snapshot is judged for the alarm.
        self._push(x)
        if self._in_window < self.timesteps:
            return None if verdict.state == RUNNING else self._not_judged(verdict)
        started = time.perf_counter()
        reconstruction = self.runner(self._window)
        inference_s = time.perf_counter() - started
        error = float(reconstruction_error(self._window, reconstruction)[0])
        if not np.isfinite(error):  # a fault: the debouncer is not fed, the alarm stays as last decided
            per_feature = tuple(feature_contributions(self._window, reconstruction)[0].tolist())
            return Score(error, self.bundle.threshold, None, self.judge.level != NORMAL, per_feature, NOT_FINITE,
                         inference_s, level=self.judge.level)
        over = error > self.bundle.threshold
        per_feature = feature_contributions(self._window, reconstruction)[0]
        far = bool(far_over(per_feature, self.bundle.immediate_limits))
        diagnosis = diagnose(self.bundle.spec, per_feature)
        if verdict.state != RUNNING:  # journaled with its error, never judged, never named
            return self._not_judged(verdict, error, over, tuple(per_feature.tolist()), inference_s,
                                    replace(diagnosis, clear=False))
        level, sig = self.judge.decide(x, over, far)
        return Score(error, self.bundle.threshold, over, level != NORMAL, tuple(per_feature.tolist()), None,
                     inference_s, diagnosis, RUNNING, None, level, sig)

    def _not_judged(self, verdict: StateVerdict, error: float | None = None, over: bool | None = None,
                    contributions: tuple[float, ...] = (), inference_s: float | None = None,
                    diagnosis: Diagnosis | None = None) -> Score:
        """A snapshot of a stopped or starting machine, or with a sensor problem: journaled, never judged;
        the level stays where the running machine left it."""
        fault = verdict.reason if verdict.state == SENSOR_FAULT else None
        return Score(error, self.bundle.threshold, over, self.judge.level != NORMAL, contributions, fault,
                     inference_s, diagnosis, verdict.state, verdict.reason, self.judge.level)

    def state(self) -> dict:
        """What to journal so a restart resumes mid-window and mid-debounce."""
        return {
            "bundle_id": self.bundle.bundle_id,
            # what the journal's features and contributions lists are, for its readers (MQTT names them)
            "feature_names": list(self.bundle.spec.feature_names),
            "history": [v.tolist() for v in self.history.last(self.timesteps - 1)],
            **self.judge.state(),  # the debouncer, the level, the machine state
        }

    def restore(self, state: dict) -> None:
        """Resume from :meth:`state`. The history is raw features, so it survives a bundle update
        with the same features; the debouncer keeps its alarm across the restart."""
        history = [self._check(v) for v in state.get("history", [])][-(self.timesteps - 1):] if self.timesteps > 1 else []
        self.history.clear()
        self._in_window = 0
        for x in history:
            self._push(x)
        self.judge.restore(state)


def score_table(bundle: Bundle, table: FeatureTable, runtime: str = "auto") -> ScoreTable:
    """Score a whole feature table offline through :class:`SnapshotScorer` (the device's path)."""
    return score_table_with_contributions(bundle, table, runtime)[0]


def score_table_with_contributions(bundle: Bundle, table: FeatureTable,
                                   runtime: str = "auto") -> tuple[ScoreTable, np.ndarray]:
    """:func:`score_table`, and each snapshot's :attr:`Score.contributions` (NaN rows where unscored)."""
    expected = list(bundle.spec.feature_names)
    ordered = table.in_column_order(expected)
    if ordered is None:
        raise BundleError(f"feature table channels {table.channel_names} differ from the bundle's "
                         f"{expected} (the same names, in any order)")
    table = ordered
    scorer = SnapshotScorer(bundle, runtime)
    n = len(table)
    error, over, alarm = np.full(n, np.nan), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    state, level = np.full(n, RUNNING, dtype=object), np.full(n, NORMAL, dtype=object)
    contributions = np.full((n, bundle.spec.n_features), np.nan)
    times = table.timestamps.astype("datetime64[s]").astype(np.int64).astype(float)
    for i, features in enumerate(table.values):
        s = scorer.score(features, time_s=float(times[i]))
        if s is not None:
            state[i], level[i], alarm[i] = s.state, s.level, s.alarm
            if s.error is not None:
                error[i], over[i] = s.error, bool(s.over_threshold)
                contributions[i] = s.contributions
    return ScoreTable(table.timestamps.copy(), error, over, alarm, state=state.astype(str),
                      level=level.astype(str)), contributions

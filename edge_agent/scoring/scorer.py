"""Score snapshots with a bundle: the one decision path of the device.

Per snapshot: physical features -> MinMax scaling (the bundle's scaler) ->
window of the last T -> TFLite model -> reconstruction error -> over the
threshold? -> debounced alarm. ``bearing-agent score`` runs exactly this code
over a feature table, so what a user checks on the desktop is what the Pi does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edge_agent.scoring.bundle import Bundle, BundleError
from edge_agent.scoring.detection import Debouncer, reconstruction_error
from edge_agent.scoring.diagnosis import Diagnosis, diagnose, far_over, feature_contributions
from edge_agent.scoring.history import FeatureHistory
from edge_agent.scoring.scores import ScoreTable

if TYPE_CHECKING:  # the offline paths import it when they run: the agent never reads a table
    from edge_agent.features.table import FeatureTable


@dataclass(frozen=True)
class Score:
    error: float
    threshold: float
    #: None when the model could not decide (``fault``): neither over nor under.
    over_threshold: bool | None
    alarm: bool
    #: The error per feature (spec.feature_names order), averaging to ``error``: where it is
    #: (:func:`edge_agent.scoring.diagnosis.diagnose` names the bearing and the defect).
    contributions: tuple[float, ...] = ()
    #: Why this snapshot could not be decided (a NaN or infinite error), else None; the agent shows it as a fault.
    fault: str | None = None
    #: The model's invoke alone, seconds (``time.perf_counter`` around it: what Prometheus' inference
    #: histogram shows; the agent's whole last-byte-to-outputs latency is timed around all of it).
    inference_s: float | None = None
    #: Where the error is: the bearing (and the defect, with envelope features); None when not decided.
    diagnosis: Diagnosis | None = None


#: A NaN compares False with any threshold: read as "not over", a broken model would keep the light green forever.
NOT_FINITE = ("the model's reconstruction error is not finite (NaN or inf): the bundle cannot decide; "
              "check the bundle with 'bearing-agent check-bundle' and reconvert it")


class SnapshotScorer:
    """Keeps the last T feature vectors and the debouncer; one :meth:`score` per snapshot."""

    def __init__(self, bundle: Bundle, runtime: str = "auto") -> None:
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
        self._debouncer = Debouncer(bundle.debounce)

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

    def score(self, features: np.ndarray) -> Score | None:
        """Score one snapshot's feature vector; None until T snapshots have been seen."""
        self._push(self._check(features))
        if self._in_window < self.timesteps:
            return None
        started = time.perf_counter()
        reconstruction = self.runner(self._window)
        inference_s = time.perf_counter() - started
        error = float(reconstruction_error(self._window, reconstruction)[0])
        if not np.isfinite(error):  # a fault: the debouncer is not fed, the alarm stays as last decided
            per_feature = tuple(feature_contributions(self._window, reconstruction)[0].tolist())
            return Score(error, self.bundle.threshold, None, self._debouncer.alarm, per_feature, NOT_FINITE,
                         inference_s)
        over = error > self.bundle.threshold
        per_feature = feature_contributions(self._window, reconstruction)[0]
        alarm = self._debouncer.update(over, bool(far_over(per_feature, self.bundle.immediate_limits)))
        return Score(error, self.bundle.threshold, over, alarm, tuple(per_feature.tolist()), None, inference_s,
                     diagnose(self.bundle.spec, per_feature))

    def state(self) -> dict:
        """What to journal so a restart resumes mid-window and mid-debounce."""
        return {
            "bundle_id": self.bundle.bundle_id,
            # what the journal's features and contributions lists are, for its readers (MQTT names them)
            "feature_names": list(self.bundle.spec.feature_names),
            "history": [v.tolist() for v in self.history.last(self.timesteps - 1)],
            "debouncer": self._debouncer.state(),
        }

    def restore(self, state: dict) -> None:
        """Resume from :meth:`state`. The history is raw features, so it survives a bundle update
        with the same features; the debouncer keeps its alarm across the restart."""
        history = [self._check(v) for v in state.get("history", [])][-(self.timesteps - 1):] if self.timesteps > 1 else []
        deb = Debouncer.from_state(state["debouncer"])
        self.history.clear()
        self._in_window = 0
        for x in history:
            self._push(x)
        self._debouncer = Debouncer.from_state({**deb.state(), "k": self.bundle.debounce})


def score_table(bundle: Bundle, table: FeatureTable, runtime: str = "auto") -> ScoreTable:
    """Score a whole feature table offline through :class:`SnapshotScorer` (the device's path)."""
    return score_table_with_contributions(bundle, table, runtime)[0]


def score_table_with_contributions(bundle: Bundle, table: FeatureTable,
                                   runtime: str = "auto") -> tuple[ScoreTable, np.ndarray]:
    """:func:`score_table`, and each snapshot's :attr:`Score.contributions` (NaN rows where unscored)."""
    expected = list(bundle.spec.feature_names)
    if list(table.channel_names) != expected:
        raise BundleError(f"feature table channels {table.channel_names} differ from the bundle's "
                         f"{expected} (same names, same order)")
    scorer = SnapshotScorer(bundle, runtime)
    n = len(table)
    error, over, alarm = np.full(n, np.nan), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    contributions = np.full((n, bundle.spec.n_features), np.nan)
    for i, features in enumerate(table.values):
        s = scorer.score(features)
        if s is not None:
            error[i], over[i], alarm[i] = s.error, bool(s.over_threshold), s.alarm
            contributions[i] = s.contributions
    return ScoreTable(table.timestamps.copy(), error, over, alarm), contributions

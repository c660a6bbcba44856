"""Alert and Danger: an alarm means the snapshot is novel AND the change is significant.

*Novel*: the autoencoder's reconstruction error is over the bundle's threshold (or, with the
two-level rule, one feature's error is far over its healthy maximum: ``far``). *Significant*: some
feature rose over the frozen commissioning baseline (:mod:`edge_agent.scoring.baseline`) by at least
its limit in dB. Two levels, each entered after ``enter`` snapshots in a row and left after
``leave`` in a row (the debounce every alarm had): a single noisy snapshot wakes nobody, and one
quiet snapshot in a failing bearing does not switch the light off.

The default limits, and why (docs/training.md, "Alarm levels", has the measurements):

- **levels** (mean |x|, RMS, velocity): Alert at +2 dB (x1.26), Danger at +6 dB (x2). ISO 20816-1
  calls a change of 25 % of the zone B/C boundary significant whether the level rose or not;
  +2 dB is the smallest round figure above a harmless 15 % step (+1.2 dB, the kit's requirement)
  plus the healthy IMS channels' own scatter (at most +0.7 dB). A doubled overall level is the
  field's common "act now" rule.
- **ratios** (the envelope's defect lines over its median, crest factor, kurtosis): Alert at +6 dB,
  Danger at +12 dB. A defect line must double over its baseline height to be called a line; on
  IMS test 2 the healthy lines wander by up to +5 to +8.6 dB on their own, which the per-feature
  floor below covers.
- every limit is at least the feature's own healthy scatter (``spread_db``) plus ``margin_db``
  (1.25 dB): a feature that moved by +5 dB while healthy cannot make an alarm by moving +5 dB again,
  nor by a harmless 15 % step (+1.21 dB) on top of its healthiest peak. (It was 1 dB until the
  held-out PRONOSTIA run showed the arithmetic: a feature with a wide healthy scatter sat at its
  limit minus 1 dB, and a 15 % step crossed it. Bundles keep the margin they were made with.)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from edge_agent.scoring.baseline import LEVEL, Baseline
from edge_agent.scoring.level_names import ALERT, DANGER, LEVELS, NORMAL, rank
from edge_agent.scoring.machine_state import MachineRules

__all__ = ["ALERT", "DANGER", "LEVELS", "NORMAL", "AlarmLevels", "Decision", "LevelRules", "Significance",
           "significance"]


@dataclass(frozen=True)
class LevelRules:
    """The significance limits (dB over the baseline) and the enter / leave delays (snapshots)."""

    alert_db_level: float = 2.0
    danger_db_level: float = 6.0
    alert_db_ratio: float = 6.0
    danger_db_ratio: float = 12.0
    margin_db: float = 1.25
    #: snapshots in a row to enter Alert, Danger, and to leave either (the bundle's debounce by default)
    enter: int = 3
    danger_enter: int = 3
    leave: int = 3

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type == "int":
                if not (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 10_000):
                    raise ValueError(f"levels: {f.name} must be a whole number of snapshots from 1 to 10000, got {v!r}")
            elif isinstance(v, bool) or not (isinstance(v, (int, float)) and np.isfinite(v) and 0 <= v <= 60):
                raise ValueError(f"levels: {f.name} must be a number of dB from 0 to 60, got {v!r}")
        if self.danger_db_level < self.alert_db_level or self.danger_db_ratio < self.alert_db_ratio:
            raise ValueError("levels: the Danger limits must not be below the Alert limits")

    def limits(self, baseline: Baseline) -> tuple[np.ndarray, np.ndarray]:
        """Per feature, the Alert and the Danger limit in dB over the baseline."""
        is_level = np.array([k == LEVEL for k in baseline.kinds])
        alert = np.where(is_level, self.alert_db_level, self.alert_db_ratio)
        danger = np.where(is_level, self.danger_db_level, self.danger_db_ratio)
        floor = baseline.spread_db + self.margin_db
        alert = np.maximum(alert, floor)
        return alert, np.maximum(danger, alert)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, **overrides: Any) -> "LevelRules":
        known = {f.name for f in fields(cls)}
        d = dict(d or {})
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"levels: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**{**d, **{k: v for k, v in overrides.items() if v is not None}})


@dataclass(frozen=True)
class Significance:
    """One snapshot's change over the baseline: the feature that rose most, and which limits it passed."""

    feature: str
    change_db: float
    alert: bool
    danger: bool


def significance(baseline: Baseline, alert_limits: np.ndarray, danger_limits: np.ndarray,
                 features: np.ndarray) -> Significance:
    """How far ``features`` rose over ``baseline`` and whether any feature passed its Alert / Danger limit."""
    db = baseline.change_db(features)
    i = int(np.argmax(db - alert_limits))  # the feature closest to (or furthest past) its own limit
    return Significance(baseline.feature_names[i], float(db[i]), bool((db >= alert_limits).any()),
                        bool((db >= danger_limits).any()))


class AlarmLevels:
    """normal -> alert -> danger with enter and leave delays; :meth:`update` once per judged snapshot."""

    def __init__(self, rules: LevelRules, level: str = NORMAL) -> None:
        self.rules = rules
        self.level = level
        # consecutive snapshots whose target was at least alert / danger, and below alert / danger
        self._runs = {"alert": 0, "danger": 0, "below_alert": 0, "below_danger": 0}

    def update(self, target: str, immediate: bool = False) -> str:
        """Feed one snapshot's target level (what it would be without delays). ``immediate`` (the
        two-level rule, already significant) enters Alert at once."""
        t = rank(target)
        r = self._runs
        r["alert"] = r["alert"] + 1 if t >= 1 else 0
        r["danger"] = r["danger"] + 1 if t >= 2 else 0
        r["below_alert"] = r["below_alert"] + 1 if t < 1 else 0
        r["below_danger"] = r["below_danger"] + 1 if t < 2 else 0
        current = rank(self.level)
        if current < 2 and r["danger"] >= self.rules.danger_enter:
            self.level = DANGER
        elif current < 1 and (r["alert"] >= self.rules.enter or (immediate and t >= 1)):
            self.level = ALERT
        elif current == 2 and r["below_danger"] >= self.rules.leave:
            self.level = NORMAL if r["below_alert"] >= self.rules.leave else ALERT
        elif current == 1 and r["below_alert"] >= self.rules.leave:
            self.level = NORMAL
        return self.level

    def state(self) -> dict[str, Any]:
        return {"level": self.level, "runs": dict(self._runs)}

    def restore(self, state: dict[str, Any]) -> None:
        level = state.get("level", NORMAL)
        self.level = level if level in LEVELS else NORMAL
        runs = state.get("runs") or {}
        self._runs = {k: int(runs.get(k, 0)) for k in self._runs}


@dataclass(frozen=True)
class Decision:
    """What a bundle decides with beyond its threshold: the frozen baseline and the rules of the levels and states.

    A bundle from before the levels (no ``threshold.baseline`` in its manifest) has none: it keeps the old rule,
    its debounced alarm reported as ``danger`` so that its outputs stay exactly as they were.
    """

    baseline: Baseline
    levels: LevelRules
    machine: MachineRules

    def to_dict(self) -> dict[str, Any]:
        """The manifest's (and ``threshold.json``'s) ``baseline``, ``levels`` and ``machine`` entries."""
        return {"baseline": self.baseline.to_dict(), "levels": self.levels.to_dict(), "machine": self.machine.to_dict()}

    @classmethod
    def from_threshold(cls, threshold: dict[str, Any], spec: Any) -> "Decision | None":
        """Read them from a manifest's / threshold.json's ``threshold`` object; None for an older bundle."""
        if threshold.get("baseline") is None:
            return None
        baseline = Baseline.from_dict(threshold["baseline"], spec)
        return cls(baseline, LevelRules.from_dict(threshold.get("levels")), MachineRules.from_dict(threshold.get("machine")))

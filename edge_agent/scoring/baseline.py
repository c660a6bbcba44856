"""The frozen commissioning baseline: each feature's healthy level, and how far a snapshot is from it in dB.

The autoencoder answers "is this snapshot unlike the healthy machine?" (novelty). A plant needs a
second answer before it wakes anyone: "has the vibration changed by an amount that matters?"
(significance). The baseline is what the second answer is measured against: the median of every
feature over the commissioning period (the rows ``bearing-train fit`` trained on), frozen into the
bundle, so a slow drift cannot move it; only a logged operator act re-baselines (see
:mod:`edge_agent.scoring.rebaseline`).

A change is measured in **dB** relative to that median, ``20 log10(x / median)``, for every feature:

- *levels* (mean |x|, RMS, peak, velocity RMS: physical amplitudes) follow a gain: a 15 % level
  step is +1.2 dB on each of them;
- *ratios* (envelope line-to-noise, crest factor, kurtosis: dimensionless) do not move with the
  gain at all; a defect line growing out of the envelope's noise floor raises them.

Only increases count as significant: a bearing defect adds energy; less vibration is a stopped or
unloaded machine (:mod:`edge_agent.alarms.machine_state`) or a sensor problem, not damage.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from edge_agent.features.spec import FeatureSpec
from firmware_io.errors import BearingEdgeError

LEVEL, RATIO = "level", "ratio"
#: Features that are physical amplitudes (they scale with a gain); every other feature is a ratio.
AMPLITUDE_FEATURES = frozenset({"mean_abs", "rms", "peak", "velocity_rms"})
#: The features the machine state reads the overall level from, in order of preference.
OVERALL_LEVEL_FEATURES = ("mean_abs", "rms")


class BaselineError(BearingEdgeError, ValueError):
    """A baseline that cannot be used (wrong size, non-positive levels); the message says which."""


def feature_kind(name: str) -> str:
    """``"level"`` for an amplitude feature, ``"ratio"`` for a dimensionless one."""
    return LEVEL if name in AMPLITUDE_FEATURES else RATIO


def kinds_of(spec: FeatureSpec) -> tuple[str, ...]:
    """The kind of each entry of the spec's feature vector (for each feature, for each channel)."""
    return tuple(feature_kind(name) for name in spec.features for _ in spec.channel_names)


def overall_level_slice(spec: FeatureSpec) -> slice | None:
    """Where the per-channel overall level (mean |x| or RMS) sits in the feature vector, or None."""
    for name in OVERALL_LEVEL_FEATURES:
        if name in spec.features:
            i = spec.features.index(name) * spec.n_channels
            return slice(i, i + spec.n_channels)
    return None


def change_db(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``20 log10(values / reference)``; a value <= 0 is -inf (no signal is never an increase)."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 20.0 * np.log10(v / reference)
    return np.where(v > 0, out, -np.inf)


@dataclass(frozen=True)
class Baseline:
    """Per feature: the healthy median and the largest increase the healthy snapshots showed over it (dB).

    ``spread_db`` is what this feature does by itself on a healthy machine: a noisy ratio (an envelope
    line of a quiet bearing) moves by several dB from snapshot to snapshot, a level by a few tenths.
    The significance limits never go below it (:class:`edge_agent.scoring.levels.LevelRules`).
    """

    feature_names: tuple[str, ...]
    kinds: tuple[str, ...]
    median: np.ndarray
    spread_db: np.ndarray
    n_snapshots: int
    #: The commissioning period, as ISO text (for people; the numbers above are what decides).
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        n = len(self.feature_names)
        if len(self.kinds) != n or np.shape(self.median) != (n,) or np.shape(self.spread_db) != (n,):
            raise BaselineError(f"a baseline needs one median, spread and kind per feature ({n}), got "
                                f"{np.shape(self.median)}, {np.shape(self.spread_db)}, {len(self.kinds)}")
        bad = [name for name, m in zip(self.feature_names, self.median) if not (np.isfinite(m) and m > 0)]
        if bad:
            raise BaselineError(f"the baseline's healthy median must be a positive number for every feature; "
                                f"not for {bad}: a feature that is 0 while healthy cannot carry a change in dB")
        if not np.isfinite(self.spread_db).all():
            raise BaselineError("the baseline's spread_db must be finite numbers")

    @classmethod
    def fit(cls, spec: FeatureSpec, X: np.ndarray, timestamps: Sequence | None = None) -> "Baseline":
        """The baseline of the healthy rows ``X`` ``(n, spec.n_features)``, raw physical features."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != spec.n_features or len(X) == 0:
            raise BaselineError(f"expected healthy features of shape (n > 0, {spec.n_features}), got {X.shape}")
        median = np.median(X, axis=0)
        bad = [name for name, m in zip(spec.feature_names, median) if not m > 0]
        if bad:
            raise BaselineError(f"features {bad} have a healthy median <= 0: a dead channel or a feature "
                                "that is 0 while healthy; exclude that period or that channel before fit")
        up = change_db(X, median).max(axis=0)
        since = until = None
        if timestamps is not None and len(timestamps):
            since, until = str(np.datetime64(timestamps[0], "s")), str(np.datetime64(timestamps[-1], "s"))
        return cls(tuple(spec.feature_names), kinds_of(spec), median, np.maximum(up, 0.0), int(len(X)),
                   since, until)

    def change_db(self, features: np.ndarray) -> np.ndarray:
        """Each feature's change from its healthy median, dB (negative: lower than healthy)."""
        return change_db(features, self.median)

    def to_dict(self) -> dict[str, Any]:
        return {"feature_names": list(self.feature_names), "kinds": list(self.kinds),
                "median": [float(v) for v in self.median], "spread_db": [float(v) for v in self.spread_db],
                "n_snapshots": self.n_snapshots, "since": self.since, "until": self.until}

    @classmethod
    def from_dict(cls, d: dict[str, Any], spec: FeatureSpec | None = None) -> "Baseline":
        """Read :meth:`to_dict`; with ``spec``, check it names the spec's features in its order."""
        if not isinstance(d, dict):
            raise BaselineError(f"a baseline must be a JSON object, got {type(d).__name__}")
        try:
            b = cls(tuple(str(n) for n in d["feature_names"]), tuple(str(k) for k in d["kinds"]),
                    np.asarray(d["median"], dtype=np.float64), np.asarray(d["spread_db"], dtype=np.float64),
                    int(d["n_snapshots"]), d.get("since"), d.get("until"))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, BaselineError):
                raise
            raise BaselineError(f"a baseline needs feature_names, kinds, median, spread_db and n_snapshots: "
                                f"{exc!r}") from exc
        if spec is not None and b.feature_names != tuple(spec.feature_names):
            raise BaselineError(f"the baseline's features {list(b.feature_names)} are not the feature spec's "
                                f"{list(spec.feature_names)}")
        if any(k not in (LEVEL, RATIO) for k in b.kinds):
            raise BaselineError(f"unknown baseline kinds {sorted(set(b.kinds) - {LEVEL, RATIO})}")
        return b

"""Which bearing, which defect: a snapshot's reconstruction error split by feature, in words.

The reconstruction error the alarm decides on is the mean of ``|x - x_hat|`` over the
window's timesteps and features. Kept per feature (:func:`feature_contributions`), the
same numbers say *where* the error is: summed per channel they point at the bearing,
and among that channel's envelope features the defect frequency whose line carries
most of it names the failing part (outer race, inner race, rolling element, cage).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_agent.features.bearing import DEFECT_PARTS
from edge_agent.features.condition import defect_of
from edge_agent.features.spec import FeatureSpec


def feature_contributions(windows: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean ``|x - x_hat|`` over the timesteps, per window and feature: ``(n_windows, n_features)``.

    Their mean over the features is :func:`edge_agent.scoring.detection.reconstruction_error`.
    """
    w, r = np.asarray(windows, dtype=np.float64), np.asarray(reconstructions, dtype=np.float64)
    if w.shape != r.shape or w.ndim != 3:
        raise ValueError(f"windows and reconstructions must be the same (n, T, features) shape, "
                         f"got {w.shape} and {r.shape}")
    return np.abs(w - r).mean(axis=1)


#: A diagnosis needs evidence: the channel it names must carry at least this many times the error of the
#: next one. A dead or stopped signal spreads its error evenly (29-32 % on each of 4 channels after the
#: demo's end); a failing bearing concentrates it (IMS test 2's bearing 1: 72 %, the next about 10 %).
EVIDENCE_RATIO = 1.5


@dataclass(frozen=True)
class Diagnosis:
    """Where one snapshot's error is: the channel, its share of the error, and the defect if named."""

    channel: str
    channel_share: float
    defect: str | None = None
    #: the channel stands out (:data:`EVIDENCE_RATIO`); without that, nothing is named in words
    clear: bool = True

    @property
    def part(self) -> str | None:
        """The defect in words ("outer race"), or None when the spec has no envelope features."""
        return DEFECT_PARTS[self.defect] if self.defect else None

    def text(self) -> str:
        """"bearing 1, outer race" (or "bearing 1" without envelope features)."""
        where = self.channel[0].lower() + self.channel[1:] if self.channel[:8] == "Bearing " else self.channel
        return f"{where}, {self.part}" if self.part else where


def diagnose(spec: FeatureSpec, contributions: np.ndarray) -> Diagnosis:
    """The channel whose features carry most of ``contributions`` (``(spec.n_features,)``) and,
    when the spec has envelope features, the defect whose features carry most of that channel's."""
    c = np.asarray(contributions, dtype=np.float64)
    if c.shape != (spec.n_features,):
        raise ValueError(f"expected {spec.n_features} contributions, got shape {c.shape}")
    per = c.reshape(len(spec.features), spec.n_channels)  # the registry's order: for each feature, each channel
    by_channel = per.sum(axis=0)
    total = float(by_channel.sum())
    ch = int(np.argmax(by_channel))
    by_defect: dict[str, float] = {}
    for i, name in enumerate(spec.features):
        defect = defect_of(name)
        if defect:
            by_defect[defect] = by_defect.get(defect, 0.0) + float(per[i, ch])
    defect = max(by_defect, key=by_defect.get) if by_defect and max(by_defect.values()) > 0 else None
    ranked = np.sort(by_channel)[::-1]
    clear = spec.n_channels == 1 or bool(ranked[0] >= EVIDENCE_RATIO * ranked[1])
    return Diagnosis(spec.channel_names[ch], float(by_channel[ch]) / total if total > 0 else 0.0, defect, clear)


def far_over(contributions: np.ndarray, limits: np.ndarray | None) -> np.ndarray:
    """The two-level rule's first level: does any feature's error exceed its own limit? (per row)

    ``limits`` (``(n_features,)``) are a factor times the largest error each feature had on
    the healthy period (``bearing-train fit --immediate``). One feature far above anything it did
    while healthy is alarmed at once; the averaged error, where one failing bearing's line is
    diluted by every other feature, then only decides near the threshold (k in a row).
    ``limits`` None: the rule is off, nothing is far over.
    """
    c = np.asarray(contributions, dtype=np.float64)
    if limits is None:
        return np.zeros(c.shape[:-1], dtype=bool)
    return (c > np.asarray(limits, dtype=np.float64)).any(axis=-1)

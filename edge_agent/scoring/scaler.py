"""MinMax scaling from JSON, with no scikit-learn on the device.

Training fits ``sklearn.preprocessing.MinMaxScaler`` on the healthy period and
exports its learned parameters with :meth:`ScalerParams.from_fitted`. The edge
applies them with :meth:`ScalerParams.transform`, the same arithmetic as
scikit-learn (``X * scale_ + min_``), so both agree to the last bits.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCALER_KIND = "minmax"


@dataclass(frozen=True)
class ScalerParams:
    """Learned MinMax parameters, one entry per feature."""

    feature_names: tuple[str, ...]
    data_min: tuple[float, ...]
    data_max: tuple[float, ...]
    scale: tuple[float, ...]
    min: tuple[float, ...]
    feature_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        n = len(self.feature_names)
        for name in ("data_min", "data_max", "scale", "min"):
            values = getattr(self, name)
            if len(values) != n:
                raise ValueError(f"scaler {name} has {len(values)} entries but there are "
                                 f"{n} feature_names; the scaler JSON is inconsistent")
            bad = [self.feature_names[i] for i, v in enumerate(values) if not math.isfinite(v)]
            if bad:
                raise ValueError(f"scaler {name} is not finite (NaN or inf) for {bad}; "
                                 "refit the scaler on data without gaps")
        flat = [self.feature_names[i] for i in range(n) if self.data_max[i] <= self.data_min[i]]
        if flat:
            raise ValueError(f"scaler has zero range (data_max <= data_min) for {flat}: the "
                             "feature was constant in the training period, so it cannot be scaled; "
                             "check the sensor wiring or drop the channel")
        # The arrays transform() applies, built once: the edge scales one vector per snapshot.
        object.__setattr__(self, "_scale_array", _frozen_array(self.scale))
        object.__setattr__(self, "_min_array", _frozen_array(self.min))

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @classmethod
    def from_fitted(cls, scaler: Any, feature_names: list[str] | tuple[str, ...]) -> "ScalerParams":
        """Read the learned state of a fitted scikit-learn ``MinMaxScaler``."""
        lo, hi = scaler.feature_range
        return cls(
            feature_names=tuple(str(f) for f in feature_names),
            data_min=tuple(float(v) for v in scaler.data_min_),
            data_max=tuple(float(v) for v in scaler.data_max_),
            scale=tuple(float(v) for v in scaler.scale_),
            min=tuple(float(v) for v in scaler.min_),
            feature_range=(float(lo), float(hi)),
        )

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scale ``X`` of shape ``(n, n_features)`` (or ``(n_features,)``)."""
        X = np.asarray(X, dtype=np.float64)
        if X.shape[-1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features {list(self.feature_names)}, "
                             f"got an array with {X.shape[-1]} (shape {X.shape})")
        return X * self._scale_array + self._min_array

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": SCALER_KIND,
            "feature_names": list(self.feature_names),
            "feature_range": list(self.feature_range),
            "data_min": list(self.data_min),
            "data_max": list(self.data_max),
            "scale": list(self.scale),
            "min": list(self.min),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ScalerParams":
        if d.get("kind") != SCALER_KIND:
            raise ValueError(f"scaler kind must be {SCALER_KIND!r}, got {d.get('kind')!r}")
        missing = [k for k in ("feature_names", "data_min", "data_max", "scale", "min") if k not in d]
        if missing:
            raise ValueError(f"scaler JSON is missing {missing}")
        return cls(
            feature_names=tuple(str(f) for f in d["feature_names"]),
            data_min=tuple(float(v) for v in d["data_min"]),
            data_max=tuple(float(v) for v in d["data_max"]),
            scale=tuple(float(v) for v in d["scale"]),
            min=tuple(float(v) for v in d["min"]),
            feature_range=tuple(float(v) for v in d.get("feature_range", (0.0, 1.0))),  # type: ignore[arg-type]
        )

    def save(self, path: str | Path) -> None:
        from edge_agent.atomic import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "ScalerParams":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        try:
            return cls.from_dict(d)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc


def _frozen_array(values: tuple[float, ...]) -> np.ndarray:
    """A read-only float64 array: the scaler is frozen, and so are the arrays it applies."""
    a = np.array(values, dtype=np.float64)
    a.flags.writeable = False
    return a

"""The one feature implementation shared by training and the edge.

A snapshot (1 s of vibration, ``samples_per_snapshot`` samples per channel)
becomes one feature vector: the mean absolute value of each channel, in the
data's physical units. Training (``train.ingest``) and the device
(``edge_agent``) both call :func:`mean_abs`, so the two can never drift apart.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

FEATURE_NAME = "mean_abs"

#: The IMS recordings: 20,480 samples per channel at 20 kHz, one file a snapshot.
IMS_SAMPLE_RATE_HZ = 20_000
IMS_SAMPLES_PER_SNAPSHOT = 20_480

#: Rows summed at a time by :func:`mean_abs` (int64 block: 4,096 x 4 x 8 B = 128 kB).
_SUM_BLOCK_ROWS = 4096


def mean_abs(samples: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Mean of |x| per channel, as float64, in physical units.

    ``samples`` is ``(n_samples, n_channels)``. Integer input is taken as ADC
    counts and multiplied by ``scale`` (units per count) *after* the mean.
    It is summed in int64 because ``abs(int16(-32768))`` overflows int16.
    Float input is taken as physical values and ``scale`` multiplies them.
    """
    x = np.asarray(samples)
    if x.ndim != 2:
        raise ValueError(f"samples must be 2-D (n_samples, n_channels), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"samples must not be empty, got shape {x.shape}")
    if np.issubdtype(x.dtype, np.integer):
        # In blocks: an int64 copy of a whole 4 x 20,480 snapshot and its abs() were 1.25 MiB
        # of transient memory, a twentieth of the agent's private memory, at every snapshot.
        total = np.zeros(x.shape[1], dtype=np.int64)
        for start in range(0, x.shape[0], _SUM_BLOCK_ROWS):
            total += np.abs(x[start:start + _SUM_BLOCK_ROWS], dtype=np.int64).sum(axis=0)
        return total.astype(np.float64) * float(scale) / x.shape[0]
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"samples must be integer counts or floats, got dtype {x.dtype}")
    values = np.abs(x.astype(np.float64, copy=False)).mean(axis=0)
    return values if scale == 1.0 else values * float(scale)


@dataclass(frozen=True)
class FeatureSpec:
    """What a model expects from the stream: written into every bundle.

    The edge agent refuses a bundle whose spec does not match the live
    stream (channel count, sample rate), because features from a different
    snapshot length or rate are not the features the model learned.
    """

    channel_names: tuple[str, ...]
    sample_rate_hz: int = IMS_SAMPLE_RATE_HZ
    samples_per_snapshot: int = IMS_SAMPLES_PER_SNAPSHOT
    timesteps: int = 1
    feature: str = FEATURE_NAME
    units: str = "recorded units (IMS: g, clipped at +/-5.000)"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if not self.channel_names:
            problems.append("channel_names is empty")
        if len(set(self.channel_names)) != len(self.channel_names):
            problems.append(f"channel_names has duplicates: {list(self.channel_names)}")
        if self.sample_rate_hz <= 0:
            problems.append(f"sample_rate_hz must be > 0, got {self.sample_rate_hz}")
        if self.samples_per_snapshot <= 0:
            problems.append(f"samples_per_snapshot must be > 0, got {self.samples_per_snapshot}")
        if self.timesteps < 1:
            problems.append(f"timesteps must be >= 1, got {self.timesteps}")
        if self.feature != FEATURE_NAME:
            problems.append(f"feature must be {FEATURE_NAME!r}, got {self.feature!r}")
        if problems:
            raise ValueError("invalid feature spec: " + "; ".join(problems))

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channel_names"] = list(self.channel_names)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeatureSpec":
        known = {"channel_names", "sample_rate_hz", "samples_per_snapshot", "timesteps",
                 "feature", "units", "extra"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"feature spec has unknown keys {sorted(unknown)}; known: {sorted(known)}")
        missing = {"channel_names"} - set(d)
        if missing:
            raise ValueError(f"feature spec is missing {sorted(missing)}")
        args = dict(d)
        args["channel_names"] = tuple(str(c) for c in d["channel_names"])
        return cls(**args)

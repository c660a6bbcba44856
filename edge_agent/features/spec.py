"""What a model expects from the stream: channels, rate, snapshot length, window, features.

Written into every bundle; the edge agent refuses a bundle whose spec does not
match the live stream.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from edge_agent.features.registry import FEATURE_NAME

#: The IMS recordings: 20,480 samples per channel at 20 kHz, one file a snapshot.
IMS_SAMPLE_RATE_HZ = 20_000
IMS_SAMPLES_PER_SNAPSHOT = 20_480


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

"""What a model expects from the stream: channels, rate, snapshot length, window, features.

Written into every bundle and model directory; the edge agent refuses a bundle
whose spec does not match the live stream.

Names of the feature vector's entries (:attr:`FeatureSpec.feature_names`),
in the order :func:`edge_agent.features.registry.compute` returns them
(for each feature, for each channel):

- the default spec, ``mean_abs`` alone, names each entry after its channel
  (``"Bearing 1"``), as every feature table, scaler and bundle did before the
  registry: they keep loading, and mean_abs tables keep their columns;
- any other spec names each entry ``"<channel> <feature>"``
  (``"Bearing 1 mean_abs"``, ..., ``"Bearing 1 rms"``, ...), so a table of
  other features can never be taken for a mean_abs one.

The dict form (:meth:`FeatureSpec.to_dict`) follows the same rule: the default
spec is written as schema 1 wrote it, ``"feature": "mean_abs"``, so agents
already deployed still read new mean_abs bundles; any other spec is written as
``"features": [...]`` (which those agents refuse as an unknown key rather than
compute the wrong features). :meth:`FeatureSpec.from_dict` reads both.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

from edge_agent.features.condition import spec_problem
from edge_agent.features.registry import DEFAULT_FEATURES, unknown_features
from firmware_io.recordings.ims import IMS_SAMPLE_RATE_HZ, IMS_SAMPLES_PER_SNAPSHOT

@dataclass(frozen=True)
class FeatureSpec:
    """What a model expects from the stream: written into every bundle.

    The edge agent refuses a bundle whose spec does not match the live
    stream (channel count, sample rate), because features from a different
    snapshot length or rate are not the features the model learned.
    ``features`` names registered features
    (:data:`edge_agent.features.registry.FEATURES`), each computed on every channel.
    """

    channel_names: tuple[str, ...]
    sample_rate_hz: int = IMS_SAMPLE_RATE_HZ
    samples_per_snapshot: int = IMS_SAMPLES_PER_SNAPSHOT
    timesteps: int = 1
    features: tuple[str, ...] = DEFAULT_FEATURES
    units: str = "recorded units (IMS: g, clipped at +/-5.000)"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.features, (list, tuple)):
            # A list from a caller or from JSON becomes the tuple the default is, so that equal specs compare equal.
            object.__setattr__(self, "features", tuple(self.features))
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
        if not isinstance(self.features, tuple):  # a string would otherwise read as ('m', 'e', 'a', ...)
            problems.append(f"features must be a tuple of feature names, got {self.features!r}")
        elif not self.features:
            problems.append("features is empty; name at least one, e.g. ('mean_abs',)")
        elif len(set(self.features)) != len(self.features):
            problems.append(f"features has duplicates: {list(self.features)}")
        elif unknown_features(self.features):
            problems.append(unknown_features(self.features))
        elif spec_problem(self.features, self.extra, self.sample_rate_hz, self.samples_per_snapshot):
            problems.append(spec_problem(self.features, self.extra, self.sample_rate_hz, self.samples_per_snapshot))
        if problems:
            raise ValueError("invalid feature spec: " + "; ".join(problems))

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    @property
    def n_features(self) -> int:
        """Length of the feature vector: every feature on every channel."""
        return len(self.features) * self.n_channels

    @property
    def is_default(self) -> bool:
        """mean_abs alone: the one spec schema 1 could express, kept in its form (see the module docstring)."""
        return self.features == DEFAULT_FEATURES

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the feature vector's entries, in its order: for each feature, for each channel."""
        if self.is_default:
            return self.channel_names
        return tuple(f"{channel} {feature}" for feature in self.features for channel in self.channel_names)

    def to_dict(self) -> dict[str, Any]:
        features = {"feature": self.features[0]} if self.is_default else {"features": list(self.features)}
        return {
            "channel_names": list(self.channel_names),
            "sample_rate_hz": self.sample_rate_hz,
            "samples_per_snapshot": self.samples_per_snapshot,
            "timesteps": self.timesteps,
            **features,
            "units": self.units,
            "extra": copy.deepcopy(self.extra),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeatureSpec":
        known = {f.name for f in fields(cls)} | {"feature"}  # 'feature': schema 1's single name
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"feature spec has unknown keys {sorted(unknown)}; known: {sorted(known)}")
        missing = {"channel_names"} - set(d)
        if missing:
            raise ValueError(f"feature spec is missing {sorted(missing)}")
        args = dict(d)
        args["channel_names"] = tuple(str(c) for c in d["channel_names"])
        if "feature" in args:  # schema 1: one name
            if "features" in args:
                raise ValueError("feature spec has both 'feature' (schema 1) and 'features'; keep one")
            feature = args.pop("feature")
            if not isinstance(feature, str):
                raise ValueError(f"feature spec 'feature' must be one name, got {feature!r}; "
                                 "list several under 'features'")
            args["features"] = (feature,)
        return cls(**args)

"""The feature registry: every feature the kit computes, by name, in one place.

A snapshot (1 s of vibration, ``samples_per_snapshot`` samples per channel)
becomes one feature vector. Training (``train.ingest``) and the device
(``edge_agent``) both call :func:`compute`, so the two can never drift apart.

A feature is a function ``(samples, scale) -> one value per channel`` in the
data's physical units, registered in :data:`FEATURES` under its name; a
:class:`~edge_agent.features.spec.FeatureSpec` lists the names a model uses.

The vector's order is **for each feature in the spec, for each channel**:
with features ``("mean_abs", "rms")`` and channels ``B1, B2`` it is
``[mean_abs B1, mean_abs B2, rms B1, rms B2]``, the order of
``FeatureSpec.feature_names``.

Adding a feature is one function here and one entry in :data:`FEATURES`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from edge_agent.features.condition import CONDITION_FEATURES, ConditionSettings, SnapshotAnalysis

if TYPE_CHECKING:
    from edge_agent.features.spec import FeatureSpec

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
class Feature:
    """A registered feature: its function and what its values mean."""

    #: ``(samples (n_samples, n_channels) int counts or floats, scale units per count)``
    #: -> float64 ``(n_channels,)`` in physical units. None for the condition features,
    #: which :func:`compute` reads from one shared analysis of the snapshot (see below).
    function: Callable[[np.ndarray, float], np.ndarray] | None
    #: What one value is and in which unit, for whoever chooses features for a spec.
    units: str


#: Every feature a spec may name. The names are written into feature specs (bundles, model
#: directories): renaming one makes every bundle that uses it unloadable.
FEATURES: dict[str, Feature] = {
    "mean_abs": Feature(mean_abs, "mean |x| over the snapshot, in the stream's physical units (IMS: g)"),
    # Condition monitoring (edge_agent.features.condition): RMS, peak, crest factor, kurtosis,
    # velocity RMS and the envelope at the bearing's defect frequencies. They need the spec
    # (sample rate, sensor unit, bearing) and share one snapshot's FFTs, so compute() reads them.
    **{name: Feature(None, feature.units) for name, feature in CONDITION_FEATURES.items()},
}

#: The features of a spec that names none, and of the agent in learning mode (no bundle yet):
#: the ones every bundle before the registry used.
DEFAULT_FEATURES: tuple[str, ...] = ("mean_abs",)


def unknown_features(names: tuple[str, ...] | list[str]) -> str | None:
    """Why ``names`` cannot be computed (the names not in :data:`FEATURES`, and the known ones), or None."""
    unknown = [name for name in names if name not in FEATURES]
    if not unknown:
        return None
    return f"unknown feature(s) {unknown}; the registry knows {sorted(FEATURES)}"


def compute(spec: FeatureSpec | None, samples: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The feature vector the model of ``spec`` expects for one snapshot (agent and ingest call this).

    ``samples`` is ``(n_samples, n_channels)``: counts with ``scale`` units per
    count, or floats (see :func:`mean_abs`). The result is float64 of length
    ``spec.n_features``, ordered for each feature, for each channel.
    ``spec=None`` computes :data:`DEFAULT_FEATURES` for any channel count: the
    agent records those while it learns a new machine without a bundle.
    """
    names = DEFAULT_FEATURES if spec is None else spec.features
    if spec is not None and np.ndim(samples) == 2 and np.shape(samples)[1] != spec.n_channels:
        raise ValueError(f"samples have {np.shape(samples)[1]} channels, the feature spec expects "
                         f"{spec.n_channels} ({', '.join(spec.channel_names)})")
    analysis = settings = None
    if spec is not None and any(FEATURES[name].function is None for name in names):
        # the spectra once per snapshot, whatever number of condition features the spec names
        analysis = SnapshotAnalysis(samples, scale, spec.sample_rate_hz)
        settings = ConditionSettings.from_dict(spec.extra.get("condition"))
    vectors = [CONDITION_FEATURES[name].read(analysis, settings) if FEATURES[name].function is None
               else FEATURES[name].function(samples, scale) for name in names]
    for name, values in zip(names, vectors):
        if values.shape != np.shape(samples)[1:]:  # the registry's contract, checked for whoever adds a feature
            raise ValueError(f"feature {name!r} returned shape {values.shape}, expected one value per "
                             f"channel {np.shape(samples)[1:]}")
    return np.concatenate(vectors)

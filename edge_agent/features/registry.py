"""The one feature implementation shared by training and the edge.

A snapshot (1 s of vibration, ``samples_per_snapshot`` samples per channel)
becomes one feature vector: the mean absolute value of each channel, in the
data's physical units. Training (``train.ingest``) and the device
(``edge_agent``) both call :func:`mean_abs`, so the two can never drift apart.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from edge_agent.features.spec import FeatureSpec

FEATURE_NAME = "mean_abs"

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


def compute(spec: "FeatureSpec", samples: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The feature vector the model of ``spec`` expects for one snapshot (agent and ingest call this)."""
    return mean_abs(samples, scale)

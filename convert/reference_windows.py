"""The reference windows a bundle carries to prove, where it is loaded, that its model can decide.

``bearing-convert`` picks a few windows of the feature table: healthy ones from the training
period (the lowest, middle and highest Keras error among those well under the threshold) and,
where the table has them, ones well past it (the lowest, middle and highest among those well
over). It stores their raw features and Keras errors in the manifest (``reference``), and for
every variant the errors the parity gate measured on each runtime (``reference_errors``). The
device scores them again at load (:mod:`edge_agent.scoring.reference`). "Well" is
:data:`edge_agent.scoring.reference.MARGIN` of the threshold, so that no CPU's rounding can put a
window on the other side.
"""
from __future__ import annotations

import numpy as np

from edge_agent.features.table import FeatureTable, format_timestamp
from edge_agent.scoring.reference import MARGIN
from edge_agent.scoring.scores import ScoreTable

PER_KIND = 3


def choose(reference: ScoreTable, train_until: np.datetime64, threshold: float) -> list[tuple[int, str]]:
    """``[(row, kind)]``: rows of the table whose window is a reference, ``kind`` 'healthy' or 'over'."""
    error = reference.error
    scored = np.isfinite(error)
    healthy = np.flatnonzero(scored & (reference.timestamps <= train_until) & (error <= (1 - MARGIN) * threshold))
    over = np.flatnonzero(scored & (error >= (1 + MARGIN) * threshold))
    return [(int(i), "healthy") for i in _spread(healthy, error)] + [(int(i), "over") for i in _spread(over, error)]


def _spread(rows: np.ndarray, error: np.ndarray) -> list[int]:
    """The rows of the lowest, middle and highest error (fewer if there are fewer), in table order."""
    if len(rows) == 0:
        return []
    ranked = rows[np.argsort(error[rows], kind="stable")]
    picks = {ranked[0], ranked[len(ranked) // 2], ranked[-1]}
    return sorted(int(i) for i in picks)[:PER_KIND]


def section(table: FeatureTable, picks: list[tuple[int, str]], reference: ScoreTable, timesteps: int) -> dict:
    """The manifest's ``reference``: each window's raw features (T rows), timestamp, kind and Keras error."""
    windows = [{"kind": kind, "timestamp": format_timestamp(table.timestamps[i]),
                "features": table.values[i - timesteps + 1:i + 1].tolist(),
                "keras_error": float(reference.error[i])} for i, kind in picks]
    healthy_only = not any(kind == "over" for _, kind in picks)
    return {"windows": windows, "healthy_only": healthy_only,
            "note": ("trained and gated on healthy data only: no window past the threshold to show; the device "
                     "checks the healthy errors" if healthy_only else
                     "healthy windows of the training period and windows past the threshold; the device scores "
                     "them again at load and refuses a model that does not reproduce the gate's errors")}


def variant_errors(tables: dict[str, ScoreTable], picks: list[tuple[int, str]]) -> dict[str, list[float]]:
    """``{runtime: [error at each reference window]}``: what the gate measured for one variant."""
    return {runtime: [float(t.error[i]) for i, _ in picks] for runtime, t in tables.items()}

"""Trained models shared between benchmarks of one ``bearing-bench`` run.

Training is deterministic for a given table, split, T, seed and epochs, so the
detection benchmarks (issue-2 table, baselines comparison) fit each model once
and both read the same errors: half the training time, and the two tables can
never disagree about the same model.
"""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from train.fit import FitResult, fit_model_dir


@functools.lru_cache(maxsize=None)
def fitted(table: Path, train_until: str, timesteps: int = 1, seed: int = 0, epochs: int = 100) -> FitResult:
    """``fit_model_dir`` without plots, into a throw-away directory; results are cached."""
    with tempfile.TemporaryDirectory() as tmp:
        return fit_model_dir(table, Path(tmp) / "model", train_until, timesteps=timesteps, seed=seed,
                             epochs=epochs, make_plots=False)

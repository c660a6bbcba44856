"""Trained models shared between benchmarks of one ``bearing-bench`` run.

Training is deterministic for a given table, split, T, seed and epochs, so the
detection benchmarks (issue-2 table, baselines comparison) fit each model once
and both read the same errors: less training time, and the two tables can
never disagree about the same model.

The models are tiny, so a fit is bound by per-step overhead on one core;
:func:`prefit` runs independent fits in parallel processes (one per core).
"""
from __future__ import annotations

import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterable

from train.fit import FitResult, fit_model_dir

#: (table, train_until, timesteps, seed, epochs) -> result
FitKey = tuple[Path, str, int, int, int]
_cache: dict[FitKey, FitResult] = {}


def _fit(key: FitKey) -> FitResult:
    table, train_until, timesteps, seed, epochs = key
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryDirectory() as tmp:
        return fit_model_dir(table, Path(tmp) / "model", train_until, timesteps=timesteps, seed=seed,
                             epochs=epochs, make_plots=False)


def key(table: Path, train_until: str, timesteps: int = 1, seed: int = 0, epochs: int = 100) -> FitKey:
    return (Path(table), train_until, timesteps, seed, epochs)


def prefit(keys: Iterable[FitKey], workers: int | None = None) -> None:
    """Fit every key not cached yet, ``workers`` at a time (default: one per core)."""
    todo = [k for k in dict.fromkeys(keys) if k not in _cache]
    workers = min(len(todo), workers or os.cpu_count() or 1)
    if workers <= 1:
        for k in todo:
            _cache[k] = _fit(k)
        return
    # spawn: TensorFlow must not be forked after it has started threads in this process
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for k, result in zip(todo, pool.map(_fit, todo)):
            _cache[k] = result


def fitted(table: Path, train_until: str, timesteps: int = 1, seed: int = 0, epochs: int = 100) -> FitResult:
    """``fit_model_dir`` without plots, into a throw-away directory; results are cached."""
    k = key(table, train_until, timesteps, seed, epochs)
    if k not in _cache:
        _cache[k] = _fit(k)
    return _cache[k]

"""Reconstruction error, windows and the debounced alarm: shared by train and edge.

These three small rules decide when the light turns red. Training uses them to
write ``scores.csv``; the edge agent and ``bearing-agent score`` use them on
the device. One implementation, so desktop and device decide identically.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np


def make_windows(X: np.ndarray, timesteps: int) -> np.ndarray:
    """Stack consecutive rows into windows: ``(n, f) -> (n - T + 1, T, f)``.

    Window ``i`` ends at row ``i + T - 1``; its score belongs to that snapshot.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"expected (n_snapshots, n_features), got shape {X.shape}")
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    n = X.shape[0] - timesteps + 1
    if n < 1:
        raise ValueError(f"need at least {timesteps} snapshots for windows of {timesteps}, got {X.shape[0]}")
    return np.lib.stride_tricks.sliding_window_view(X, timesteps, axis=0).transpose(0, 2, 1).copy()


def reconstruction_error(windows: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Mean absolute error per window, over timesteps and features: ``(n, T, f) -> (n,)``."""
    a = np.asarray(windows, dtype=np.float64)
    b = np.asarray(reconstructions, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"windows {a.shape} and reconstructions {b.shape} differ in shape")
    return np.abs(a - b).reshape(a.shape[0], -1).mean(axis=1)


class Debouncer:
    """Alarm after ``k`` consecutive snapshots over the threshold; clear after ``k`` under.

    One noisy snapshot must not wake anyone at night, and one quiet snapshot
    in a failing bearing must not switch the light off again.
    """

    def __init__(self, k: int, alarm: bool = False) -> None:
        if k < 1:
            raise ValueError(f"debounce count k must be >= 1, got {k}")
        self.k = k
        self.alarm = alarm
        self._run = 0  # consecutive snapshots disagreeing with the current state

    def update(self, over_threshold: bool, far_over: bool = False) -> bool:
        """One snapshot. ``far_over`` (the two-level rule: one feature far above anything it did while
        healthy) alarms at once, without waiting for k, and counts as over the threshold."""
        if far_over and not self.alarm:
            self.alarm, self._run = True, 0
            return self.alarm
        over_threshold = bool(over_threshold) or bool(far_over)
        if bool(over_threshold) != self.alarm:
            self._run += 1
            if self._run >= self.k:
                self.alarm = not self.alarm
                self._run = 0
        else:
            self._run = 0
        return self.alarm

    def state(self) -> dict:
        return {"k": self.k, "alarm": self.alarm, "run": self._run}

    @classmethod
    def from_state(cls, state: dict) -> "Debouncer":
        d = cls(int(state["k"]), bool(state["alarm"]))
        d._run = int(state["run"])
        return d


def debounce(over_threshold: Iterable[bool], k: int, far_over: Iterable[bool] | None = None) -> np.ndarray:
    """The debounced alarm for a whole sequence of over-threshold flags (and far-over flags, see Debouncer)."""
    d = Debouncer(k)
    over = list(over_threshold)
    far = [False] * len(over) if far_over is None else list(far_over)
    return np.array([d.update(o, f) for o, f in zip(over, far)], dtype=bool)

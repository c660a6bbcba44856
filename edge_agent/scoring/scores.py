"""The score table: one row per snapshot with its error, over-threshold flag and alarm.

Written by ``bearing-agent score`` and read back by the conversion and the
benchmarks; the same columns as the training step's ``scores.csv``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCORE_COLUMNS = ("timestamp", "error", "over_threshold", "alarm")


@dataclass
class ScoreTable:
    """Scores for a feature table, one row per snapshot, like the training step's ``scores.csv``.

    The first T-1 snapshots complete no window: their error is NaN (written
    empty), and they are never over the threshold nor in alarm.
    """

    timestamps: np.ndarray
    error: np.ndarray
    over_threshold: np.ndarray
    alarm: np.ndarray

    def __len__(self) -> int:
        return len(self.timestamps)

    @classmethod
    def read(cls, path: str | Path) -> "ScoreTable":
        """Read :meth:`write`'s CSV or the training step's ``scores.csv`` (its ``split`` column is ignored)."""
        import csv

        from edge_agent.features.table import parse_timestamp

        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        flag = lambda v: str(v).strip().lower() in ("1", "true", "yes")  # noqa: E731
        return cls(np.array([parse_timestamp(r["timestamp"]) for r in rows], dtype="datetime64[s]"),
                   np.array([float(r["error"]) if r["error"].strip() else np.nan for r in rows]),
                   np.array([flag(r["over_threshold"]) for r in rows], dtype=bool),
                   np.array([flag(r["alarm"]) for r in rows], dtype=bool))

    def write(self, path: str | Path) -> None:
        """``timestamp,error,over_threshold,alarm`` (flags as 0/1), written atomically."""
        import csv

        from edge_agent.atomic import atomic_output
        from edge_agent.features.table import format_timestamp

        with atomic_output(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(SCORE_COLUMNS)
            for ts, e, o, a in zip(self.timestamps, self.error, self.over_threshold, self.alarm):
                w.writerow([format_timestamp(ts), "" if np.isnan(e) else repr(float(e)), int(o), int(a)])

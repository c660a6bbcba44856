"""The score table: one row per snapshot with its error, over-threshold flag and alarm.

One table for every step that scores a whole feature table: ``bearing-train
fit`` writes it as the model directory's ``scores.csv`` (with a ``split``
column saying which rows were trained on), ``bearing-agent score`` writes it
from the device's own code path, and the parity gate and the benchmarks
compare and re-threshold it. :func:`alarm_series` is the one way to turn
reconstruction errors into that table offline, so a re-thresholded benchmark,
the Keras reference of the parity gate and ``fit`` cannot decide differently.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_agent.scoring.detection import debounce

SCORE_COLUMNS = ("timestamp", "error", "over_threshold", "alarm")
#: The machine state (running, stopped, starting, sensor_fault) and the level (normal, alert, danger) of each
#: snapshot: written when known; ``alarm`` is 1 exactly when the level is alert or danger.
STATE_COLUMNS = ("state", "level")
#: Written by ``fit`` only: ``train``, ``validation``, ``test`` or ``excluded`` per snapshot.
SPLIT_COLUMN = "split"


def alarm_onsets(timestamps: np.ndarray, alarm: np.ndarray) -> np.ndarray:
    """Timestamps where the debounced ``alarm`` switches on."""
    return timestamps[np.flatnonzero(np.diff(np.concatenate([[0], alarm.astype(np.int8)])) == 1)]


def first_alarm(timestamps: np.ndarray, alarm: np.ndarray,
                after: np.datetime64 | None = None) -> np.datetime64 | None:
    """The first snapshot in alarm (only those later than ``after``, when given), or None."""
    mask = alarm if after is None else alarm & (timestamps > after)
    return timestamps[int(np.argmax(mask))] if mask.any() else None


@dataclass
class ScoreTable:
    """Scores for a feature table, one row per snapshot.

    The first T-1 snapshots complete no window: their error is NaN (written
    empty), and they are never over the threshold nor in alarm. ``split`` is
    None except for the table ``fit`` writes.
    """

    timestamps: np.ndarray
    error: np.ndarray
    over_threshold: np.ndarray
    alarm: np.ndarray
    split: np.ndarray | None = None
    #: per snapshot: running / stopped / starting / sensor_fault, and normal / alert / danger (None: not known)
    state: np.ndarray | None = None
    level: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.timestamps)

    def first_alarm(self) -> np.datetime64 | None:
        """The first snapshot in alarm, or None."""
        return first_alarm(self.timestamps, self.alarm)

    def alarm_onsets(self) -> np.ndarray:
        """Timestamps where the debounced alarm switches on."""
        return alarm_onsets(self.timestamps, self.alarm)

    @classmethod
    def read(cls, path: str | Path) -> "ScoreTable":
        """Read :meth:`write`'s CSV, with or without the ``split`` column."""
        from edge_agent.features.table import parse_timestamp

        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            has_split = SPLIT_COLUMN in (reader.fieldnames or ())
            has_state = all(c in (reader.fieldnames or ()) for c in STATE_COLUMNS)
        flag = lambda v: str(v).strip().lower() in ("1", "true", "yes")  # noqa: E731
        return cls(np.array([parse_timestamp(r["timestamp"]) for r in rows], dtype="datetime64[s]"),
                   np.array([float(r["error"]) if r["error"].strip() else np.nan for r in rows]),
                   np.array([flag(r["over_threshold"]) for r in rows], dtype=bool),
                   np.array([flag(r["alarm"]) for r in rows], dtype=bool),
                   np.array([r[SPLIT_COLUMN] for r in rows], dtype=str) if has_split else None,
                   np.array([r["state"] for r in rows], dtype=str) if has_state else None,
                   np.array([r["level"] for r in rows], dtype=str) if has_state else None)

    def write(self, path: str | Path) -> None:
        """``timestamp,error,over_threshold,alarm[,state,level][,split]`` (flags as 0/1, NaN empty), written atomically."""
        from edge_agent.atomic import atomic_output
        from edge_agent.features.table import format_timestamp

        has_split = self.split is not None
        has_state = self.state is not None and self.level is not None
        header = [*SCORE_COLUMNS, *(STATE_COLUMNS if has_state else ()), *((SPLIT_COLUMN,) if has_split else ())]
        with atomic_output(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            for i, ts in enumerate(self.timestamps):
                e = self.error[i]
                row = [format_timestamp(ts), "" if np.isnan(e) else repr(float(e)),
                       int(self.over_threshold[i]), int(self.alarm[i])]
                if has_state:
                    row += [self.state[i], self.level[i]]
                w.writerow(row + [self.split[i]] if has_split else row)


def alarm_series(timestamps: np.ndarray, errors: np.ndarray, threshold: float, k: int,
                 split: np.ndarray | None = None, far_over: np.ndarray | None = None) -> ScoreTable:
    """Errors -> the score table: NaN-padded errors, over-threshold flags and the debounced alarm.

    ``errors`` has one entry per snapshot, or one per window (T-1 fewer), in
    which case it is padded at the front: window ``i`` ends at snapshot
    ``i + T - 1`` and its score belongs there. NaN errors (no window ends
    there) are not fed to the debouncer, are never over the threshold and
    never in alarm: the device cannot score them either. ``far_over`` (one flag per entry of
    ``errors``, see :func:`edge_agent.scoring.diagnosis.far_over`) alarms at once.
    """
    timestamps = np.asarray(timestamps)
    errors = np.asarray(errors, dtype=np.float64)
    pad = len(timestamps) - len(errors)
    if errors.ndim != 1 or pad < 0:
        raise ValueError(f"expected at most one error per snapshot ({len(timestamps)}), got shape {errors.shape}")
    if k < 1:
        raise ValueError(f"debounce count k must be >= 1, got {k}")
    error = np.concatenate([np.full(pad, np.nan), errors])
    scored = ~np.isnan(error)
    over = np.zeros(len(error), dtype=bool)
    over[scored] = error[scored] > threshold
    alarm = np.zeros(len(error), dtype=bool)
    far = np.zeros(len(error), dtype=bool)
    if far_over is not None:
        far[pad:] = np.asarray(far_over, dtype=bool)
    alarm[scored] = debounce(over[scored], k, far[scored])
    return ScoreTable(timestamps, error, over, alarm, split)

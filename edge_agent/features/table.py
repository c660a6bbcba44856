"""The feature table: one row per snapshot, the CSV that links every step.

Format (written by ``bearing-train ingest`` and ``bearing-agent export``, read
by ``bearing-train fit``, ``bearing-convert`` and ``bearing-agent score``)::

    timestamp,Bearing 1,Bearing 2,...
    2004-02-12 10:32:39,0.058332421875000005,...

The first column is the snapshot time (``YYYY-MM-DD HH:MM:SS``, strictly
increasing); every other column is one channel's feature. Floats are written
with ``repr`` so that a table read back is bit-identical. The reader also
takes the widely shared IMS CSVs whose first header cell is empty.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

import numpy as np

from edge_agent.atomic import atomic_output
from firmware_io.errors import BearingEdgeError

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


class FeatureTableError(BearingEdgeError, ValueError):
    """A feature table that cannot be used, with the file and line that says why."""


@dataclass
class FeatureTable:
    timestamps: np.ndarray  # datetime64[s], shape (n,)
    channel_names: list[str]
    values: np.ndarray  # float64, shape (n, n_channels)

    def __post_init__(self) -> None:
        self.timestamps = np.asarray(self.timestamps, dtype="datetime64[s]")
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.values.ndim != 2 or self.values.shape != (len(self.timestamps), len(self.channel_names)):
            raise FeatureTableError(
                f"values shape {self.values.shape} does not match {len(self.timestamps)} timestamps "
                f"x {len(self.channel_names)} channels")

    def __len__(self) -> int:
        return len(self.timestamps)

    def in_column_order(self, names: Sequence[str]) -> "FeatureTable | None":
        """This table with its columns in the order of ``names``, matched by name; None when they are other columns.

        A table written by another tool (a spreadsheet, a script) may list the same features in
        another order: the name says which column is which, so the order does not matter.
        """
        names = list(names)
        if self.channel_names == names:
            return self
        if sorted(self.channel_names) != sorted(names) or len(set(names)) != len(names):
            return None
        columns = [self.channel_names.index(n) for n in names]
        return FeatureTable(self.timestamps, names, self.values[:, columns])

    def timestamp_strings(self) -> list[str]:
        return [format_timestamp(t) for t in self.timestamps]

    def select(self, mask: np.ndarray) -> "FeatureTable":
        return FeatureTable(self.timestamps[mask], list(self.channel_names), self.values[mask])

    def write(self, path: str | Path) -> None:
        """Write atomically: a failure leaves any previous file untouched."""
        with atomic_output(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["timestamp", *self.channel_names])
            for ts, row in zip(self.timestamp_strings(), self.values):
                writer.writerow([ts, *(repr(float(v)) for v in row)])


def parse_timestamp(text: str) -> np.datetime64:
    return np.datetime64(datetime.strptime(text.strip(), TIMESTAMP_FORMAT), "s")


def format_timestamp(ts: np.datetime64) -> str:
    return str(np.datetime64(ts, "s")).replace("T", " ")


def read_feature_table(path: str | Path) -> FeatureTable:
    """Read and validate a feature table; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FeatureTableError(f"{path}: no such feature table")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise FeatureTableError(f"{path}: empty file, expected a header 'timestamp,<channel>,...'")
    header = [h.strip() for h in rows[0]]
    if header[0] not in ("timestamp", "") or len(header) < 2:
        raise FeatureTableError(f"{path}: line 1: header must be 'timestamp,<channel>,...', got {rows[0]!r}")
    names = header[1:]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise FeatureTableError(f"{path}: line 1: channel names must be unique and non-empty, got {names}")
    stamps, values = [], []
    for lineno, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise FeatureTableError(f"{path}: line {lineno}: {len(row)} columns, header has {len(header)}")
        try:
            ts = parse_timestamp(row[0])
        except ValueError:
            raise FeatureTableError(
                f"{path}: line {lineno}: timestamp {row[0]!r} is not 'YYYY-MM-DD HH:MM:SS'") from None
        try:
            vals = [float(c) for c in row[1:]]
        except ValueError:
            raise FeatureTableError(f"{path}: line {lineno}: non-numeric feature value in {row[1:]}") from None
        if not all(math.isfinite(v) for v in vals):
            raise FeatureTableError(f"{path}: line {lineno}: NaN or infinite feature value in {row[1:]}")
        if stamps and ts <= stamps[-1]:
            raise FeatureTableError(
                f"{path}: line {lineno}: timestamp {row[0]} is not after the previous row "
                f"({format_timestamp(stamps[-1])}); rows must be sorted and unique")
        stamps.append(ts)
        values.append(vals)
    if not stamps:
        raise FeatureTableError(f"{path}: no data rows")
    return FeatureTable(np.array(stamps, dtype="datetime64[s]"), names, np.array(values))

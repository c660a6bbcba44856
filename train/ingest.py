"""IMS snapshots -> feature table: one row per snapshot, the default features of each channel.

Reading and validating the recordings is :mod:`firmware_io.recordings.reader`' job and
the features are :func:`edge_agent.features.registry.compute`'s, the function the
device calls (for the default spec: the mean |x| of each channel); this module only
fans the files out over the CPU cores, checks that they belong together, and writes
the table atomically.

Samples that are exact multiples of the IMS resolution (0.001, true for every
IMS file) are turned into int16 counts before the mean, the same arithmetic the
device uses on the counts it receives over serial and the same as for the
packed npz. So ingesting the raw files, the npz, or streaming them to the Pi
gives bit-identical features.
"""
from __future__ import annotations

import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from edge_agent.features.registry import compute
from edge_agent.features.spec import FeatureSpec
from edge_agent.features.table import FeatureTable, format_timestamp
from firmware_io.recordings.reader import (
    IMS_SAMPLES_PER_SNAPSHOT,
    IMS_SCALE,
    RecordingError,
    find_snapshot_files,
    is_packed,
    load_packed,
    parse_snapshot_name,
    read_snapshot_file,
    to_counts,
)

#: Files per task sent to a worker: large enough to amortise pickling, small enough for a live progress bar.
_CHUNK = 8
#: A worker process costs about as much to start as parsing this many files; fewer files stay in-process.
_FILES_PER_WORKER = 32


def channel_names(n_channels: int) -> list[str]:
    """The column names for ``n_channels``: IMS tests 2-4 have one accelerometer per
    bearing, test 1 has two (x and y) per bearing."""
    if n_channels == 4:
        return [f"Bearing {i}" for i in range(1, 5)]
    if n_channels == 8:
        return [f"Bearing {b}{axis}" for b in range(1, 5) for axis in ("x", "y")]
    return [f"Channel {i}" for i in range(1, n_channels + 1)]


def feature_spec(n_channels: int) -> FeatureSpec:
    """What ingest computes for a recording of ``n_channels``: the default features of
    :func:`channel_names`; the table's columns are the spec's ``feature_names``."""
    return FeatureSpec(tuple(channel_names(n_channels)))


def snapshot_features(values: np.ndarray, source: str = "data") -> np.ndarray:
    """The feature vector of one snapshot ``(n_samples, n_channels)`` in physical units.

    Uses the exact int16 counts when the values are whole multiples of
    ``IMS_SCALE`` (so the result is identical to the device's and the npz's),
    otherwise the float values as they are.
    """
    spec = feature_spec(values.shape[1])
    try:
        counts = to_counts(values, IMS_SCALE, source=source)
    except RecordingError:
        return compute(spec, values)
    return compute(spec, counts, IMS_SCALE)


def read_snapshot_fast(path: str | Path) -> np.ndarray:
    """:func:`firmware_io.recordings.reader.read_snapshot_file`, with pandas' C parser as the fast path.

    pandas parses these files about 1.6x faster than ``numpy.loadtxt``, but its
    errors are vaguer (and it pads short rows with NaN). So a file pandas reads
    cleanly, with the expected row count and only finite numbers, is accepted;
    anything else is handed to the reference reader, whose error names the
    file, row and column. Both parse to the same float64 values.
    """
    import pandas as pd

    try:
        values = pd.read_csv(path, sep="\t", header=None, dtype=np.float64).to_numpy()
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        values = None
    if values is None or values.shape[0] != IMS_SAMPLES_PER_SNAPSHOT or not np.isfinite(values).all():
        with warnings.catch_warnings():  # loadtxt warns "input contained no data" before the clear error
            warnings.simplefilter("ignore", UserWarning)
            return read_snapshot_file(path)  # raises RecordingError with the precise diagnosis
    return values


def _file_features(path: str) -> tuple[str, int, int, np.ndarray]:
    """Worker: (path, rows, channels, features) of one snapshot file."""
    values = read_snapshot_fast(path)
    return path, values.shape[0], values.shape[1], snapshot_features(values, path)


@dataclass
class IngestResult:
    """What :func:`ingest` read: the table, and what it skipped."""

    table: FeatureTable
    n_files: int = 0
    n_packed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def ingest(sources: Sequence[str | Path], out: str | Path | None = None, *, workers: int | None = None,
           progress: bool = True, on_skip: Callable[[Path, str], None] | None = None) -> IngestResult:
    """Compute the feature table of files, folders (searched recursively) and packed npz files.

    Raises :class:`RecordingError` naming the file for anything malformed; in
    that case nothing is written. ``out``, when given, is written atomically.
    """
    skipped: list[tuple[str, str]] = []

    def skip(path: Path, why: str) -> None:
        skipped.append((str(path), why))
        if on_skip:
            on_skip(path, why)

    sources = [Path(s) for s in sources]
    if not sources:
        raise RecordingError("no sources given: pass IMS snapshot files, folders or packed .npz files")
    packed = [s for s in sources if s.is_file() and is_packed(s)]
    plain = [s for s in sources if s not in packed]
    rows: list[tuple[np.datetime64, str, tuple[int, int], np.ndarray]] = []
    for path in packed:
        rows.extend(_packed_rows(path, progress))
    files = find_snapshot_files(plain, skip) if plain else []
    rows.extend(_file_rows(files, workers, progress))
    table = _assemble(rows)
    if out is not None:
        table.write(out)
    return IngestResult(table, n_files=len(files), n_packed=len(rows) - len(files), skipped=skipped)


def _packed_rows(path: Path, progress: bool) -> Iterable[tuple]:
    rec = load_packed(path)
    spec = feature_spec(rec.counts.shape[2])
    for i in _progress(range(len(rec)), total=len(rec), desc=path.name, enabled=progress):
        counts = rec.counts[i]
        yield rec.timestamps[i], f"{path}[{i}]", counts.shape, compute(spec, counts, rec.scale)


def _file_rows(files: list[Path], workers: int | None, progress: bool) -> list[tuple]:
    if not files:
        return []
    workers = workers or max(1, min(os.cpu_count() or 1, len(files) // _FILES_PER_WORKER))
    names = [str(f) for f in files]
    if workers <= 1:
        results = map(_file_features, names)
        return [_row(r) for r in _progress(results, total=len(names), desc="snapshots", enabled=progress)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = pool.map(_file_features, names, chunksize=_CHUNK)
        return [_row(r) for r in _progress(results, total=len(names), desc="snapshots", enabled=progress)]


def _row(result: tuple[str, int, int, np.ndarray]) -> tuple:
    path, n_rows, n_cols, feats = result
    return parse_snapshot_name(Path(path).name, path), path, (n_rows, n_cols), feats


def _assemble(rows: list[tuple]) -> FeatureTable:
    """Sort by time; refuse mixed shapes and a time seen twice (e.g. in the npz and as a file)."""
    if not rows:
        raise RecordingError("no snapshot files found in the given sources "
                             "(expected files named YYYY.MM.DD.HH.MM.SS or a packed .npz)")
    rows.sort(key=lambda r: r[0])
    first_ts, first_src, shape, _ = rows[0]
    for (ts_a, src_a, _, _), (ts_b, src_b, shape_b, _) in zip(rows, rows[1:]):
        if ts_b == ts_a:
            raise RecordingError(f"duplicate snapshot time {format_timestamp(ts_b)}: {src_a} and {src_b}; "
                                 "remove one of them")
    for ts, src, shape_b, _ in rows:
        if shape_b != shape:
            raise RecordingError(f"{src}: has {shape_b[0]} samples x {shape_b[1]} channels, but {first_src} "
                                 f"has {shape[0]} x {shape[1]}; do not mix recordings in one table")
    stamps = np.array([r[0] for r in rows], dtype="datetime64[s]")
    values = np.vstack([r[3] for r in rows])
    return FeatureTable(stamps, list(feature_spec(shape[1]).feature_names), values)


def _progress(it: Iterable, total: int, desc: str, enabled: bool) -> Iterable:
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, total=total, desc=desc, unit="file", file=sys.stderr, leave=False)

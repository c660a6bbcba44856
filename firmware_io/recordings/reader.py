"""Recorded vibration snapshots: IMS raw files, folders of them, the packed npz and raw .npy arrays.

The IMS bearing data comes as one ASCII file per 1-second snapshot: 20,480 rows,
one tab-separated column per channel, the file name is the time it was taken
(``YYYY.MM.DD.HH.MM.SS``). Training ingests these files into features and the
virtual accelerometer (``bearing-replay``) streams them as frames, so both read
them here, with the same validation. (Training's faster pandas parser stays in
``train.ingest``: nothing under ``firmware_io`` may import pandas.)

Folders are searched recursively (the NASA archive layout ``1st_test/``,
``2nd_test/``, ``4th_test/txt/`` works as is). Files that are plainly not
snapshots (``.DS_Store``, ``__MACOSX``, notes, PDFs) are skipped and reported;
a file that looks like a snapshot but is malformed stops the run with an error
that names it, because silently dropping a snapshot would shift every
timestamp-based split and alarm time after it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from firmware_io.errors import BearingEdgeError
from firmware_io.recordings.ims import IMS_SAMPLES_PER_SNAPSHOT, IMS_SCALE

_NAME_RE = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})\.(\d{2})\.(\d{2})\.(\d{2})$")
# A name starting like a date is meant to be a snapshot: if it does not parse, that is an error.
_LOOKS_LIKE_SNAPSHOT = re.compile(r"^\d{4}\.\d")
_JUNK_DIRS = {"__MACOSX", ".git", ".ipynb_checkpoints"}
PACKED_SUFFIXES = (".npz",)
NPY_SUFFIX = ".npy"


class RecordingError(BearingEdgeError, ValueError):
    """A recording that cannot be used as it is; the message names the file and the problem."""


@dataclass(frozen=True)
class Snapshot:
    """One recorded snapshot: ``values`` in physical units, shape ``(n_samples, n_channels)``.

    ``counts`` holds the exact int16 ADC counts when the source has them (the
    packed npz); ``scale`` converts counts to physical units.
    """

    timestamp: np.datetime64
    source: str
    values: np.ndarray | None = None
    counts: np.ndarray | None = None
    scale: float = 1.0

    def physical(self) -> np.ndarray:
        if self.values is not None:
            return self.values
        return self.counts.astype(np.float64) * self.scale

    def as_counts(self, scale: float = IMS_SCALE) -> np.ndarray:
        """The samples as int16 counts of ``scale``; refuses values that are not exact."""
        if self.counts is not None and self.scale == scale:
            return self.counts
        return to_counts(self.physical(), scale, source=self.source)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_samples, n_channels)``."""
        return (self.values if self.values is not None else self.counts).shape


class SameShape:
    """Passes snapshots through, refusing one whose shape differs from the first one's.

    A stream or a feature table holds one recording: a snapshot with other
    channels or another length in the middle of it would be misread, not just
    look odd.
    """

    def __init__(self) -> None:
        self.shape: tuple[int, int] | None = None

    def __call__(self, snap: Snapshot) -> Snapshot:
        if self.shape is None:
            self.shape = snap.shape
        elif snap.shape != self.shape:
            raise RecordingError(f"{snap.source}: has {snap.shape[0]} samples x {snap.shape[1]} channels, but "
                                 f"earlier snapshots have {self.shape[0]} x {self.shape[1]}; do not mix recordings")
        return snap


def parse_snapshot_name(name: str, source: str | None = None) -> np.datetime64:
    """``2004.02.12.10.32.39`` -> ``numpy.datetime64('2004-02-12T10:32:39')``."""
    m = _NAME_RE.match(name)
    where = source or name
    if not m:
        raise RecordingError(f"{where}: file name {name!r} is not a snapshot time 'YYYY.MM.DD.HH.MM.SS'")
    try:
        when = datetime(*(int(g) for g in m.groups()))
    except ValueError as exc:
        raise RecordingError(f"{where}: file name {name!r} is not a valid date/time ({exc})") from None
    return np.datetime64(when, "s")


def snapshot_name(ts: np.datetime64) -> str:
    """``numpy.datetime64('2004-02-12T10:32:39')`` -> ``2004.02.12.10.32.39``: :func:`parse_snapshot_name` reversed."""
    return np.datetime64(ts, "s").item().strftime("%Y.%m.%d.%H.%M.%S")


def read_snapshot_file(path: str | Path, expected_rows: int | None = IMS_SAMPLES_PER_SNAPSHOT) -> np.ndarray:
    """Parse one ASCII snapshot (LF or CRLF, tab-separated) into float64 ``(rows, channels)``."""
    path = Path(path)
    try:
        values = np.loadtxt(path, delimiter="\t", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise RecordingError(f"{path}: {_loadtxt_problem(str(exc))}") from None
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc}") from None
    rows = values.shape[0]
    if rows == 0:
        raise RecordingError(f"{path}: empty file, expected {expected_rows} rows of samples")
    if expected_rows is not None and rows < expected_rows:
        raise RecordingError(f"{path}: truncated: {rows:,} of {expected_rows:,} rows (one row per sample; a copy "
                             "cut short, or another rig's files: give --sample-rate and --snapshot-length, "
                             "docs/recordings.md)")
    if expected_rows is not None and rows != expected_rows:
        raise RecordingError(f"{path}: has {rows:,} rows, expected {expected_rows:,} (one row per sample); not an "
                             "IMS snapshot (another rig's files: give --sample-rate and --snapshot-length, "
                             "docs/recordings.md)")
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0]) + 1
        raise RecordingError(f"{path}: row {row}: NaN or infinite value")
    return values


def _loadtxt_problem(numpy_message: str) -> str:
    """numpy.loadtxt's complaint in the kit's words, with line numbers counted from 1 like an editor's.

    numpy counts the row of a changed column count from 1 but the row of a bad number from 0, and
    advises ``usecols``, a numpy argument the user cannot pass here.
    """
    what = "not a valid snapshot file (IMS: tab-separated numbers, one row per sample)"
    advice = "another rig's CSV files: give --sample-rate and --snapshot-length"
    columns = re.search(r"number of columns changed from (\d+) to (\d+) at row (\d+)", numpy_message)
    if columns:
        before, after, line = columns.groups()
        return f"{what}: line {int(line):,} has {after} values, the lines before it {before}: truncated or damaged there"
    number = re.search(r"could not convert string '(.*)' to \w+ at row (\d+), column (\d+)", numpy_message)
    if number:
        text, row, column = number.groups()
        return f"{what}: line {int(row) + 1:,}, column {column}: {text[:40]!r} is not a number; {advice}"
    return f"{what}: {numpy_message.split('; use `usecols`')[0]}; {advice}"


def to_counts(values: np.ndarray, scale: float = IMS_SCALE, source: str = "data") -> np.ndarray:
    """Physical values -> int16 counts of ``scale``, refusing anything not exactly representable."""
    counts = np.rint(np.asarray(values, dtype=np.float64) / scale)
    if np.abs(counts).max(initial=0) > 32767:
        raise RecordingError(f"{source}: values up to {np.abs(values).max():g} exceed int16 range at "
                             f"scale {scale:g}; choose a larger scale")
    err = np.abs(counts * scale - values)
    tol = 1e-9 * max(1.0, float(np.abs(values).max(initial=0)))
    if err.max(initial=0) > tol:
        raise RecordingError(f"{source}: values are not whole multiples of scale {scale:g} "
                             f"(largest residue {err.max():.3g}); pick the recording's resolution as scale")
    return counts.astype(np.int16)


def is_packed(path: Path) -> bool:
    return path.suffix in PACKED_SUFFIXES


def is_npy(path: Path) -> bool:
    return path.suffix == NPY_SUFFIX


def find_snapshot_files(sources: Iterable[str | Path],
                        on_skip: Callable[[Path, str], None] | None = None) -> list[Path]:
    """Expand files and folders into snapshot files sorted by time.

    Raises :class:`RecordingError` for a missing source, a malformed snapshot
    name, or two files with the same timestamp.
    """
    found: list[Path] = []
    for src in sources:
        src = Path(src)
        if src.is_file():
            parse_snapshot_name(src.name, str(src))  # given explicitly: must be a snapshot
            found.append(src)
        elif src.is_dir():
            found.extend(_scan_folder(src, on_skip))
        else:
            raise RecordingError(f"{src}: no such file or folder")
    return _sorted_unique(found)


def _scan_folder(folder: Path, on_skip: Callable[[Path, str], None] | None) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if any(part in _JUNK_DIRS for part in path.relative_to(folder).parts):
            if path.is_file() and on_skip:
                on_skip(path, "inside an archive metadata folder")
            continue
        if not path.is_file():
            continue
        if _LOOKS_LIKE_SNAPSHOT.match(path.name) and not path.name.startswith("."):
            parse_snapshot_name(path.name, str(path))
            yield path
        elif on_skip:
            on_skip(path, "not a snapshot file (name is not a time YYYY.MM.DD.HH.MM.SS)")


def _sorted_unique(paths: list[Path]) -> list[Path]:
    by_time: dict[np.datetime64, Path] = {}
    for p in paths:
        ts = parse_snapshot_name(p.name, str(p))
        if ts in by_time and by_time[ts].resolve() != p.resolve():
            raise RecordingError(f"duplicate snapshot time {p.name}: {by_time[ts]} and {p}; "
                                 "remove one of them")
        by_time[ts] = p
    return [by_time[t] for t in sorted(by_time)]


@dataclass(frozen=True)
class PackedRecording:
    """The packed npz: ``counts`` int16 ``(n_snapshots, n_samples, n_channels)``."""

    path: Path
    counts: np.ndarray
    timestamps: np.ndarray  # datetime64[s]
    scale: float

    def __len__(self) -> int:
        return len(self.timestamps)

    def snapshot(self, i: int) -> Snapshot:
        return Snapshot(self.timestamps[i], f"{self.path}[{i}]", counts=self.counts[i], scale=self.scale)


def load_packed(path: str | Path) -> PackedRecording:
    """Load a packed recording (arrays ``samples``, ``timestamps``, ``scale``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"samples", "timestamps", "scale"} - set(npz.files)
            if missing:
                raise RecordingError(f"{path}: packed recording lacks arrays {sorted(missing)}; "
                                     "expected samples (int16 n x rows x channels), timestamps, scale")
            counts, names, scale = npz["samples"], npz["timestamps"], float(npz["scale"])
    except (OSError, ValueError) as exc:
        if isinstance(exc, RecordingError):
            raise
        raise RecordingError(f"{path}: not a readable npz file: {exc}") from None
    if counts.ndim != 3 or counts.dtype != np.int16 or counts.shape[0] != len(names):
        raise RecordingError(f"{path}: samples must be int16 (n_snapshots, n_samples, n_channels) "
                             f"matching {len(names)} timestamps, got {counts.dtype} {counts.shape}")
    stamps = np.array([parse_snapshot_name(str(n), f"{path}: timestamps") for n in names])
    if len(stamps) > 1 and not (np.diff(stamps) > np.timedelta64(0, "s")).all():
        raise RecordingError(f"{path}: timestamps are not strictly increasing")
    return PackedRecording(path, counts, stamps, scale)


def write_packed(path: str | Path, timestamps: np.ndarray, counts: np.ndarray, scale: float) -> Path:
    """Write a packed recording that :func:`load_packed` reads back exactly (``np.savez``, uncompressed).

    ``counts``: int16 ``(n_snapshots, n_samples, n_channels)``; ``timestamps``: strictly increasing,
    stored as snapshot names (``YYYY.MM.DD.HH.MM.SS``) like the files they came from.
    """
    path = Path(path)
    counts = np.asarray(counts)
    stamps = np.asarray(timestamps, dtype="datetime64[s]")
    if counts.ndim != 3 or counts.dtype != np.int16 or counts.shape[0] != len(stamps):
        raise RecordingError(f"{path}: samples must be int16 (n_snapshots, n_samples, n_channels) matching "
                             f"{len(stamps)} timestamps, got {counts.dtype} {counts.shape}")
    if len(stamps) > 1 and not (np.diff(stamps) > np.timedelta64(0, "s")).all():
        raise RecordingError(f"{path}: timestamps are not strictly increasing")
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as fh:  # a file object: savez adds no suffix; renamed only when whole
            np.savez(fh, samples=counts, timestamps=np.array([snapshot_name(t) for t in stamps]),
                     scale=np.float64(scale))
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise RecordingError(f"{path}: cannot write: {exc}") from None
    return path


def iter_npy_snapshots(path: str | Path, scale: float, sample_rate_hz: float,
                       start: float) -> Iterator[Snapshot]:
    """A raw ``.npy``: ``(n_snapshots, n_samples, n_channels)`` or one ``(n_samples, n_channels)`` snapshot.

    int16 arrays are counts of ``scale``; float arrays are physical values. The
    array carries no times, so snapshot ``k`` is stamped ``start + k * n_samples / sample_rate_hz``
    (unix seconds).
    """
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{path}: not a readable .npy array: {exc}") from None
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise RecordingError(f"{path}: expected a numeric array (n_snapshots, n_samples, n_channels) "
                             f"or (n_samples, n_channels), got {arr.dtype} {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.int16:
        raise RecordingError(f"{path}: integer arrays must be int16 counts, got {arr.dtype}")
    step = arr.shape[1] / sample_rate_hz
    for k in range(arr.shape[0]):
        ts = np.datetime64(round((start + k * step) * 1e6), "us")
        block = np.asarray(arr[k])
        source = f"{path}[{k}]"
        if block.dtype == np.int16:
            yield Snapshot(ts, source, counts=block, scale=scale)
        else:
            yield Snapshot(ts, source, values=block.astype(np.float64))


def iter_snapshots(sources: Iterable[str | Path],
                   on_skip: Callable[[Path, str], None] | None = None) -> Iterator[Snapshot]:
    """Every snapshot of the given files, folders and packed npz files, in time order per source.

    All snapshots must have the same number of channels and samples.
    """
    sources = [Path(s) for s in sources]
    packed = [s for s in sources if s.is_file() and is_packed(s)]
    plain = [s for s in sources if s not in packed]
    check = SameShape()
    for p in packed:
        rec = load_packed(p)
        for i in range(len(rec)):
            yield check(rec.snapshot(i))
    if plain:
        for path in find_snapshot_files(plain, on_skip):
            values = read_snapshot_file(path)
            yield check(Snapshot(parse_snapshot_name(path.name, str(path)), str(path), values=values))

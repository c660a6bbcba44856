"""Recordings -> feature table: one row per snapshot, the chosen features of each channel.

Reading and validating the recordings is :mod:`firmware_io.recordings.reader`' job and
the features are :func:`edge_agent.features.registry.compute`'s, the function the
device calls (for the default spec: the mean |x| of each channel); this module only
fans the files out over the CPU cores, checks that they belong together, and writes
the table atomically.

``--features`` chooses other registered features (e.g. the condition-monitoring ones);
their spec, with the bearing for envelope features, is written beside the table as
``<table>.spec.json`` (:func:`read_table_spec`), so that ``fit`` trains on the columns it
names and the bundle carries the exact spec the device must compute.

Samples that are exact multiples of the IMS resolution (0.001, true for every
IMS file) are turned into int16 counts before the mean, the same arithmetic the
device uses on the counts it receives over serial and the same as for the
packed npz. So ingesting the raw files, the npz, or streaming them to the Pi
gives bit-identical features.

Recordings of other rigs (text files of any layout, WAV, npy/npz, .mat, in folders or
archives: :mod:`firmware_io.recordings.sources`, docs/recordings.md) are read in this
process, one snapshot at a time, at the sample rate the file states or the user gives (never assumed): the
spec records that rate and snapshot length, and every feature is computed at it.
A table whose spec is not the IMS default (mean |x| at 20 kHz, 20,480 samples) gets
its spec written beside it, so that ``fit`` checks the rate instead of assuming it.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from edge_agent.atomic import write_text_atomic
from edge_agent.features.condition import ConditionSettings
from edge_agent.features.registry import DEFAULT_FEATURES, compute
from edge_agent.features.spec import FeatureSpec
from edge_agent.features.table import FeatureTable, format_timestamp
from firmware_io.recordings.ims import IMS_SAMPLE_RATE_HZ
from firmware_io.recordings.reader import (
    _LOOKS_LIKE_SNAPSHOT,
    _NAME_RE,
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
from firmware_io.recordings.sources import ReadOptions, is_archive, iter_recording_snapshots, iter_source_files
from train import recordings_mat  # noqa: F401  (registers the .mat reader: scipy is a desktop dependency)

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


def chosen_spec(n_channels: int, features: Sequence[str] | None = None,
                condition: ConditionSettings | None = None, *, sample_rate_hz: float = IMS_SAMPLE_RATE_HZ,
                samples_per_snapshot: int = IMS_SAMPLES_PER_SNAPSHOT,
                names: Sequence[str] | None = None) -> FeatureSpec:
    """:func:`feature_spec`, or ``features`` of the same channels with ``condition`` (sensor unit,
    bearing, shaft speed) in the spec's ``extra`` for the features that need it, at the recording's
    true ``sample_rate_hz`` and ``samples_per_snapshot``; ``names`` the channels' (default: :func:`channel_names`)."""
    extra = {"condition": condition.to_dict()} if condition is not None else {}
    if float(sample_rate_hz) != int(sample_rate_hz):
        raise RecordingError(f"sample rate {sample_rate_hz!r} Hz: the feature spec takes a whole number of Hz")
    if names is not None and len(names) != n_channels:
        raise RecordingError(f"--channel-names gives {len(names)} names ({', '.join(names)}) for "
                             f"{n_channels} channels")
    try:
        if features is None and condition is None:
            base = feature_spec(n_channels)
            return replace(base, channel_names=tuple(names) if names is not None else base.channel_names,
                           sample_rate_hz=int(sample_rate_hz), samples_per_snapshot=int(samples_per_snapshot))
        return FeatureSpec(tuple(names) if names is not None else tuple(channel_names(n_channels)),
                           sample_rate_hz=int(sample_rate_hz), samples_per_snapshot=int(samples_per_snapshot),
                           features=tuple(features or DEFAULT_FEATURES), extra=extra)
    except ValueError as exc:
        raise RecordingError(str(exc)) from None


def snapshot_features(values: np.ndarray, source: str = "data", spec: FeatureSpec | None = None) -> np.ndarray:
    """The feature vector of one snapshot ``(n_samples, n_channels)`` in physical units.

    Uses the exact int16 counts when the values are whole multiples of
    ``IMS_SCALE`` (so the result is identical to the device's and the npz's),
    otherwise the float values as they are. ``spec`` defaults to :func:`feature_spec`'s.
    """
    spec = spec or feature_spec(values.shape[1])
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


def _file_features(path: str, features: tuple[str, ...] | None = None,
                   condition: ConditionSettings | None = None,
                   sample_rate_hz: float = IMS_SAMPLE_RATE_HZ) -> tuple[str, int, int, np.ndarray]:
    """Worker: (path, rows, channels, features) of one snapshot file."""
    values = read_snapshot_fast(path)
    spec = chosen_spec(values.shape[1], features, condition, sample_rate_hz=sample_rate_hz,
                       samples_per_snapshot=values.shape[0])
    return path, values.shape[0], values.shape[1], snapshot_features(values, path, spec)


def _file_features_or_problem(path: str, **kwargs) -> tuple[str, int, int, np.ndarray] | tuple[str, str]:
    """Worker for ``--skip-bad``: :func:`_file_features`, or ``(path, what is wrong)`` for a malformed file."""
    try:
        return _file_features(path, **kwargs)
    except RecordingError as exc:
        why = str(exc)
        return path, why[len(path) + 2:] if why.startswith(f"{path}: ") else why


@dataclass
class IngestResult:
    """What :func:`ingest` read: the table, its spec, and what it skipped."""

    table: FeatureTable
    n_files: int = 0
    n_packed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    spec: FeatureSpec | None = None
    #: Features left out because they cannot be read at the recording's rate and length, and why.
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def spec_written(self) -> bool:
        """Whether the spec went beside the table (every table but the IMS default's)."""
        return self.spec is not None and not is_ims_default(self.spec)


def ingest(sources: Sequence[str | Path], out: str | Path | None = None, *, workers: int | None = None,
           progress: bool = True, on_skip: Callable[[Path, str], None] | None = None,
           features: Sequence[str] | None = None, condition: ConditionSettings | None = None,
           options: ReadOptions | None = None, names: Sequence[str] | None = None,
           drop_uncomputable: bool = False) -> IngestResult:
    """Compute the feature table of files, folders (searched recursively), archives and packed npz files.

    IMS snapshot files (named ``YYYY.MM.DD.HH.MM.SS``) and the packed npz are read as before
    (at IMS's 20 kHz unless ``options.sample_rate_hz`` says otherwise); any other recording
    (:mod:`firmware_io.recordings.sources`) needs ``options`` to say what its files do not:
    at least the sample rate. Raises :class:`RecordingError` naming the file for anything
    malformed; in that case nothing is written. ``out``, when given, is written atomically,
    and its spec beside it (:func:`table_spec_path`) unless it is the IMS default.
    ``features`` (default: :func:`feature_spec`'s) and ``condition``: see :func:`chosen_spec`;
    ``names`` the channels' names. A feature that cannot be read at the recording's rate and
    length (:func:`edge_agent.features.condition.spec_problem`) is refused, or with
    ``drop_uncomputable`` (the CLI's default features) left out and listed in ``dropped``.
    """
    options = options or ReadOptions()
    features = tuple(features) if features is not None else None
    # a bad feature list or bearing fails before any file is read (at a rate and length where all are computable)
    chosen_spec(1, features, condition, sample_rate_hz=IMS_SAMPLE_RATE_HZ)
    dropped: dict[str, str] = {}

    def feasible(rate: float, length: int) -> tuple[str, ...] | None:
        """``features`` without those that cannot be read at this rate and length (when asked to drop them)."""
        if not drop_uncomputable or features is None or condition is None:
            return features
        from edge_agent.features.condition import computable

        kept, why = computable(features, condition, rate, length)
        dropped.update(why)
        if not kept:
            raise RecordingError(f"none of the features {list(features)} can be read in these snapshots: "
                                 + "; ".join(f"{k}: {v}" for k, v in why.items()))
        return kept
    skipped: list[tuple[str, str]] = []

    def skip(path: Path | str, why: str) -> None:
        skipped.append((str(path), why))
        if on_skip:
            on_skip(Path(path) if not isinstance(path, Path) else path, why)

    sources = [Path(s) for s in sources]
    if not sources:
        raise RecordingError("no sources given: pass snapshot files, folders, archives or packed .npz files")
    packed = [s for s in sources if s.is_file() and is_packed(s) and not _states_its_rate(s)]
    plain = [s for s in sources if s not in packed]
    # what the user says about the files (their length, columns, times) is read by the general reader, even
    # from files named like IMS's (a renamed CSV, a logger writing IMS-style names)
    described = (options.snapshot_length is not None or options.columns is not None
                 or options.time_columns is not None or options.interval_s is not None
                 or options.name_time is not None)
    ims_like = [] if described else [s for s in plain if _is_ims_source(s)]
    other = [s for s in plain if s not in ims_like]
    if other and (ims_like or packed):
        raise RecordingError(f"{other[0]} is not an IMS recording but {(ims_like or packed)[0]} is; "
                             "ingest one recording at a time")
    if other:
        if options.sample_rate_hz is None and not any(s.is_file() and s.suffix.lower() in (".wav", ".npz", ".mat")
                                                      for s in other):
            raise RecordingError(
                f"no snapshot files found in {', '.join(map(str, other))} in the IMS form (files named "
                "YYYY.MM.DD.HH.MM.SS or a packed .npz); for recordings of another rig give their sample rate: "
                "--sample-rate HZ (docs/recordings.md lists the forms read)")
        result = _ingest_other(other, out, progress, skip, skipped, feasible, condition, options, names)
        result.dropped = dropped
        return result
    rate = options.sample_rate_hz or IMS_SAMPLE_RATE_HZ
    features = feasible(rate, IMS_SAMPLES_PER_SNAPSHOT)
    rows: list[tuple[np.datetime64, str, tuple[int, int], np.ndarray]] = []
    for path in packed:
        rows.extend(_packed_rows(path, progress, features, condition, rate, names))
    files = find_snapshot_files(plain, skip) if plain else []
    rows.extend(_file_rows(files, workers, progress, features, condition, rate, skip if options.skip_bad else None))
    spec = _spec_of(rows, features, condition, rate, names)
    table = _assemble(rows, spec)
    _write(table, spec, out)
    return IngestResult(table, n_files=len(files), n_packed=len(rows) - len(files), skipped=skipped, spec=spec,
                        dropped=dropped)


def is_ims_form(sources: Sequence[Path]) -> bool:
    """Whether ``sources`` are IMS recordings (files named by their time, folders of them, the packed npz)."""
    packed = [s for s in sources if s.is_file() and is_packed(s) and not _states_its_rate(s)]
    return bool(packed) or any(_is_ims_source(s) for s in sources if s not in packed)


def _states_its_rate(path: Path) -> bool:
    """An npz in the self-describing form (with ``sample_rate_hz``), not the IMS packed one."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return "sample_rate_hz" in npz.files
    except (OSError, ValueError):
        return False  # load_packed says what is wrong with it


def _is_ims_source(path: Path) -> bool:
    """An IMS snapshot file, or a folder holding at least one (the recursive NASA layout)."""
    if path.is_file():
        return not is_archive(path) and bool(_NAME_RE.match(path.name) or _LOOKS_LIKE_SNAPSHOT.match(path.name))
    if path.is_dir():
        return any(_LOOKS_LIKE_SNAPSHOT.match(p.name) and p.is_file() for p in path.rglob("*"))
    return True  # missing: find_snapshot_files says so


def _ingest_other(sources: list[Path], out: str | Path | None, progress: bool, skip: Callable[[str, str], None],
                  skipped: list[tuple[str, str]],
                  feasible: Callable[[float, int], tuple[str, ...] | None], condition: ConditionSettings | None,
                  options: ReadOptions, names: Sequence[str] | None) -> IngestResult:
    """Recordings of any rig, files, folders and archives: read and computed one snapshot at a time.

    ``feasible(rate, length)`` gives the features to compute once the first snapshot says its rate and length.
    """
    rows: list[tuple[np.datetime64, str, tuple[int, int], np.ndarray]] = []
    spec: FeatureSpec | None = None
    n_files: set[str] = set()
    files = iter_source_files(sources, options.pattern, skip)
    for recorded in _progress(iter_recording_snapshots(files, options, skip), total=None, desc="snapshots",
                              enabled=progress):
        snap = recorded.snapshot
        if spec is None:
            features = feasible(recorded.sample_rate_hz, snap.shape[0])
            spec = chosen_spec(snap.shape[1], features, condition, sample_rate_hz=recorded.sample_rate_hz,
                               samples_per_snapshot=snap.shape[0], names=names or recorded.names)
        feats = (compute(spec, snap.counts, snap.scale) if snap.counts is not None  # the device's arithmetic
                 else snapshot_features(snap.values, snap.source, spec))
        rows.append((snap.timestamp, snap.source, snap.shape, feats))
        n_files.add(snap.source.split("[", 1)[0])
    if spec is None:
        raise RecordingError(f"no snapshot files found in {', '.join(map(str, sources))}"
                             + (f" matching --pattern {options.pattern!r}" if options.pattern else "")
                             + "; run without -q to see what was skipped and why")
    table = _assemble(rows, spec)
    _write(table, spec, out)
    return IngestResult(table, n_files=len(n_files), n_packed=0, skipped=skipped, spec=spec)


def _spec_of(rows: list[tuple], features: tuple[str, ...] | None, condition: ConditionSettings | None,
             rate: float, names: Sequence[str] | None) -> FeatureSpec:
    if not rows:
        raise RecordingError("no snapshot files found in the given sources "
                             "(expected files named YYYY.MM.DD.HH.MM.SS or a packed .npz)")
    n_samples, n_channels = rows[0][2]
    return chosen_spec(n_channels, features, condition, sample_rate_hz=rate, samples_per_snapshot=n_samples,
                       names=names)


def is_ims_default(spec: FeatureSpec) -> bool:
    """mean |x| at IMS's rate and snapshot length: the table of the seed, which needs no spec file beside it."""
    return (spec.is_default and spec.sample_rate_hz == IMS_SAMPLE_RATE_HZ
            and spec.samples_per_snapshot == IMS_SAMPLES_PER_SNAPSHOT)


def _write(table: FeatureTable, spec: FeatureSpec, out: str | Path | None) -> None:
    if out is None:
        return
    table.write(out)
    spec_path = table_spec_path(out)
    if not is_ims_default(spec):
        write_text_atomic(spec_path, json.dumps(spec.to_dict(), indent=2) + "\n")
    elif spec_path.exists():  # a stale spec of an earlier table would describe this one wrongly
        spec_path.unlink()


def _packed_rows(path: Path, progress: bool, features: tuple[str, ...] | None = None,
                 condition: ConditionSettings | None = None, rate: float = IMS_SAMPLE_RATE_HZ,
                 names: Sequence[str] | None = None) -> Iterable[tuple]:
    rec = load_packed(path)
    spec = chosen_spec(rec.counts.shape[2], features, condition, sample_rate_hz=rate,
                       samples_per_snapshot=rec.counts.shape[1], names=names)
    for i in _progress(range(len(rec)), total=len(rec), desc=path.name, enabled=progress):
        counts = rec.counts[i]
        yield rec.timestamps[i], f"{path}[{i}]", counts.shape, compute(spec, counts, rec.scale)


def _file_rows(files: list[Path], workers: int | None, progress: bool, features: tuple[str, ...] | None = None,
               condition: ConditionSettings | None = None, rate: float = IMS_SAMPLE_RATE_HZ,
               skip: Callable[[Path | str, str], None] | None = None) -> list[tuple]:
    """One row per file; with ``skip`` (``--skip-bad``) a malformed file is reported to it and left out,
    instead of ending an ingest of thousands of files at the first one."""
    if not files:
        return []
    worker = partial(_file_features if skip is None else _file_features_or_problem,
                     features=features, condition=condition, sample_rate_hz=rate)
    workers = workers or max(1, min(os.cpu_count() or 1, len(files) // _FILES_PER_WORKER))
    names = [str(f) for f in files]
    rows = []
    with contextlib.ExitStack() as stack:
        if workers <= 1:
            results = map(worker, names)
        else:
            results = stack.enter_context(ProcessPoolExecutor(max_workers=workers)).map(worker, names, chunksize=_CHUNK)
        try:
            for r in _progress(results, total=len(names), desc="snapshots", enabled=progress):
                if len(r) == 2:  # (path, what is wrong): only from _file_features_or_problem
                    skip(r[0], r[1])
                else:
                    rows.append(_row(r))
        except RecordingError as exc:
            raise RecordingError(f"{exc} (--skip-bad leaves malformed files out, counted and listed)") from None
    return rows


def _row(result: tuple[str, int, int, np.ndarray]) -> tuple:
    path, n_rows, n_cols, feats = result
    return parse_snapshot_name(Path(path).name, path), path, (n_rows, n_cols), feats


def _assemble(rows: list[tuple], spec: FeatureSpec) -> FeatureTable:
    """Sort by time; refuse mixed shapes and a time seen twice (e.g. in the npz and as a file)."""
    if not rows:
        raise RecordingError("no snapshot files found in the given sources "
                             "(expected files named YYYY.MM.DD.HH.MM.SS or a packed .npz)")
    rows.sort(key=lambda r: r[0])
    first_ts, first_src, shape, _ = rows[0]
    for (ts_a, src_a, _, _), (ts_b, src_b, shape_b, _) in zip(rows, rows[1:]):
        if np.datetime64(ts_b, "s") == np.datetime64(ts_a, "s"):
            raise RecordingError(f"duplicate snapshot time {format_timestamp(ts_b)}: {src_a} and {src_b} "
                                 "(the feature table stamps snapshots to the second); remove one of them, or "
                                 "for snapshots of less than a second, a longer --snapshot-length")
    for ts, src, shape_b, _ in rows:
        if shape_b != shape:
            raise RecordingError(f"{src}: has {shape_b[0]} samples x {shape_b[1]} channels, but {first_src} "
                                 f"has {shape[0]} x {shape[1]}; do not mix recordings in one table")
    stamps = np.array([np.datetime64(r[0], "s") for r in rows], dtype="datetime64[s]")
    values = np.vstack([r[3] for r in rows])
    return FeatureTable(stamps, list(spec.feature_names), values)


def table_spec_path(table_path: str | Path) -> Path:
    """Where ingest writes the spec of a table of non-default features: ``<table>.spec.json``."""
    return Path(str(table_path) + ".spec.json")


def read_table_spec(table_path: str | Path) -> FeatureSpec | None:
    """The spec written beside ``table_path`` by ingest, or None (a default-feature table needs none)."""
    path = table_spec_path(table_path)
    if not path.exists():
        return None
    try:
        return FeatureSpec.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise RecordingError(f"{path}: not a feature spec: {exc}") from None


def select_features(table: FeatureTable, spec: FeatureSpec, features: Sequence[str] | None) -> tuple[FeatureTable, FeatureSpec]:
    """The columns of ``features`` (default: all of the spec's) and the spec that computes exactly them.

    ``table`` must have ``spec``'s columns, in any order (ingest wrote both); the order of the result is the
    registry's (for each feature, for each channel), whatever order ``features`` lists them in.
    """
    ordered = table.in_column_order(spec.feature_names)
    if ordered is None:
        raise RecordingError(f"the table's columns are not those of its spec ({table_spec_path('<table>').name}): "
                             f"{table.channel_names[:3]}... vs {list(spec.feature_names[:3])}...")
    table = ordered
    chosen = tuple(features) if features else spec.features
    missing = [f for f in chosen if f not in spec.features]
    if missing:
        raise RecordingError(f"features {missing} are not in this table; it has {list(spec.features)}")
    chosen = tuple(f for f in spec.features if f in chosen)
    sub = replace(spec, features=chosen)
    n = spec.n_channels
    columns = [spec.features.index(f) * n + c for f in chosen for c in range(n)]
    return FeatureTable(table.timestamps, list(sub.feature_names), table.values[:, columns]), sub


def _progress(it: Iterable, total: int | None, desc: str, enabled: bool) -> Iterable:
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, total=total, desc=desc, unit="file", file=sys.stderr, leave=False)

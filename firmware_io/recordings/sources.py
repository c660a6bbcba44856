"""Recordings of any rig: one-snapshot text files (CSV/TSV), folders and archives of them.

The IMS files (:mod:`firmware_io.recordings.reader`) are one format among those a user
brings. This module reads the others a data logger or a public set writes, and turns
each into :class:`~firmware_io.recordings.reader.Snapshot` objects stamped with their
time, plus the facts that every feature depends on:

- the **sample rate** is taken from the file where it states it, otherwise from the
  user (``--sample-rate``); it is never assumed;
- the **snapshot length** is the number of rows of a one-snapshot file, or the
  ``--snapshot-length`` a long recording is cut into.

Text files (``.csv``, ``.tsv``, ``.txt``, ``.dat``): one row per sample, the delimiter
found from the first line (tab, comma, semicolon or blanks), an optional header row
(its names can select columns), ``columns`` choosing the sample columns (1-based or by
header name; default: every column not used for the time). The snapshot's time comes
from, in this order: ``time_columns`` (hour, minute, second[, microsecond] of the first
row, as PRONOSTIA writes them, dated from ``start``; a clock that runs back by more than
12 hours is taken as midnight passing), the IMS file name ``YYYY.MM.DD.HH.MM.SS``, or the
file's place in name order times ``interval_s`` after ``start``.

Folders are searched recursively and archives (``.tar``, ``.tar.gz``, ``.tar.xz``,
``.tar.bz2``, ``.zip``) are read member by member without unpacking them; ``pattern``
(a glob on the file name, e.g. ``acc_*.csv``) chooses the files. A malformed file stops
the run with an error naming it, or with ``skip_bad`` is reported and left out.
"""
from __future__ import annotations

import fnmatch
import io
import re
import tarfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from firmware_io.recordings.reader import _NAME_RE, RecordingError, Snapshot, parse_snapshot_name

TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".zip")
#: A clock that runs back by more than this between consecutive snapshots is taken as midnight
#: passing (time-of-day columns carry no date); a smaller step back is a glitch and refused.
_MIDNIGHT_JUMP_S = 12 * 3600.0
_DEFAULT_START = np.datetime64("1970-01-01T00:00:00", "us")
_NUMBER_RE = re.compile(r"(\d+)")

OnSkip = Callable[[str, str], None]


@dataclass(frozen=True)
class ReadOptions:
    """What the user says about recordings that do not say it themselves (the ``ingest`` options)."""

    #: Samples per second per channel; required unless the file states it.
    sample_rate_hz: float | None = None
    #: Samples per snapshot: a one-snapshot file must have this many rows; a longer recording is cut into it.
    snapshot_length: int | None = None
    #: Sample columns of text files: 1-based numbers or header names (default: all but the time columns).
    columns: tuple[str, ...] | None = None
    #: Text columns holding hour, minute, second and optionally microsecond of the first row.
    time_columns: tuple[str, ...] | None = None
    #: Date (and time) the time-of-day columns, ``interval_s`` and continuous recordings count from.
    start: np.datetime64 | None = None
    #: Seconds between consecutive one-snapshot files when their time is in neither the name nor the columns.
    interval_s: float | None = None
    #: Glob on file names inside folders and archives (e.g. ``acc_*.csv``).
    pattern: str | None = None
    #: The array of a ``.mat`` or ``.npz`` file to read.
    variable: str | None = None
    #: Report and leave out malformed files instead of stopping.
    skip_bad: bool = False

    def __post_init__(self) -> None:
        if self.sample_rate_hz is not None and not self.sample_rate_hz > 0:
            raise RecordingError(f"--sample-rate must be > 0 Hz, got {self.sample_rate_hz!r}")
        if self.snapshot_length is not None and not self.snapshot_length >= 2:
            raise RecordingError(f"--snapshot-length must be >= 2 samples, got {self.snapshot_length!r}")
        if self.interval_s is not None and not self.interval_s > 0:
            raise RecordingError(f"--interval must be > 0 s, got {self.interval_s!r}")
        if self.time_columns is not None and len(self.time_columns) not in (3, 4):
            raise RecordingError(f"--time-columns takes hour,minute,second[,microsecond], got {list(self.time_columns)}")

    @property
    def start_time(self) -> np.datetime64:
        return np.datetime64(self.start, "us") if self.start is not None else _DEFAULT_START


def parse_start(text: str) -> np.datetime64:
    """``--start`` as a date or date and time (``2012-03-01`` or ``2012-03-01 08:00:00``)."""
    try:
        return np.datetime64(datetime.fromisoformat(text.strip()), "us")
    except ValueError:
        raise RecordingError(f"--start {text!r} is not a date or date and time "
                             "(e.g. 2012-03-01 or '2012-03-01 08:14:15')") from None


# ---- which files ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceFile:
    """One file to read: where it is (for messages), its name, and how to get its bytes."""

    where: str
    name: str
    read: Callable[[], bytes]


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def natural_key(name: str) -> tuple:
    """Sort key putting ``acc_2.csv`` before ``acc_10.csv``."""
    return tuple(int(part) if part.isdigit() else part for part in _NUMBER_RE.split(name))


def _wanted(name: str, pattern: str | None) -> str | None:
    """Why a file named ``name`` is not read, or None when it is."""
    base = name.rsplit("/", 1)[-1]
    if base.startswith(".") or "__MACOSX" in name:
        return "hidden or archive metadata file"
    if pattern is not None:  # the user's own choice: what it leaves out is not reported file by file
        return None if fnmatch.fnmatch(base, pattern) else ""
    if base.lower().endswith(TEXT_SUFFIXES):
        return None
    return f"not a text recording (expected {', '.join(TEXT_SUFFIXES)}; --pattern chooses other names)"


def iter_source_files(sources: Iterable[str | Path], pattern: str | None = None,
                      on_skip: OnSkip | None = None) -> Iterator[SourceFile]:
    """The files of ``sources`` (files, folders searched recursively, archives), each source in name order."""
    for src in sources:
        src = Path(src)
        if is_archive(src):
            yield from _archive_members(src, pattern, on_skip)
        elif src.is_file():
            yield SourceFile(str(src), src.name, src.read_bytes)
        elif src.is_dir():
            paths = sorted((p for p in src.rglob("*") if p.is_file()),
                           key=lambda p: natural_key(str(p.relative_to(src))))
            for p in paths:
                why = _wanted(str(p.relative_to(src)), pattern)
                if why is None:
                    yield SourceFile(str(p), p.name, p.read_bytes)
                elif on_skip and why:
                    on_skip(str(p), why)
        else:
            raise RecordingError(f"{src}: no such file or folder")


def _archive_members(path: Path, pattern: str | None, on_skip: OnSkip | None) -> Iterator[SourceFile]:
    """Members of a tar or zip archive, read in name order without unpacking the archive to disk."""
    if path.name.lower().endswith(".zip"):
        try:
            archive = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise RecordingError(f"{path}: not a readable zip archive: {exc}") from None
        with archive:
            names = sorted((i.filename for i in archive.infolist() if not i.is_dir()), key=natural_key)
            for name in names:
                why = _wanted(name, pattern)
                if why is None:
                    data = archive.read(name)
                    yield SourceFile(f"{path}:{name}", name.rsplit("/", 1)[-1], lambda d=data: d)
                elif on_skip and why:
                    on_skip(f"{path}:{name}", why)
        return
    # A compressed tar is read in one pass (xz cannot seek): members are collected first, then sorted.
    try:
        archive = tarfile.open(path, mode="r:*")
    except (OSError, tarfile.TarError) as exc:
        raise RecordingError(f"{path}: not a readable tar archive: {exc}") from None
    members: list[tuple[str, bytes]] = []
    try:
        with archive:
            for member in archive:
                if not member.isfile():
                    continue
                why = _wanted(member.name, pattern)
                if why is None:
                    members.append((member.name, archive.extractfile(member).read()))
                elif on_skip and why:
                    on_skip(f"{path}:{member.name}", why)
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise RecordingError(f"{path}: archive is damaged or truncated: {exc}") from None
    for name, data in sorted(members, key=lambda m: natural_key(m[0])):
        yield SourceFile(f"{path}:{name}", name.rsplit("/", 1)[-1], lambda d=data: d)


# ---- one text file -------------------------------------------------------------------------

@dataclass(frozen=True)
class TextTable:
    """A parsed text file: its samples and, when asked for, the time of day of its first row."""

    values: np.ndarray  # float64 (rows, channels)
    time_of_day_s: float | None
    column_names: tuple[str, ...]


def _delimiter(line: str) -> str | None:
    for candidate in ("\t", ",", ";"):
        if candidate in line:
            return candidate
    return None  # blanks


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_index(spec: str, header: list[str] | None, n_columns: int, where: str, option: str) -> int:
    spec = spec.strip()
    if spec.isdigit():
        index = int(spec) - 1
        if not 0 <= index < n_columns:
            raise RecordingError(f"{where}: {option} {spec}: the file has columns 1..{n_columns}")
        return index
    if header is not None and spec in header:
        return header.index(spec)
    known = f"its header names {header}" if header else "it has no header row"
    raise RecordingError(f"{where}: {option} {spec!r} is not a column number (1..{n_columns}) and {known}")


def parse_text(data: bytes, where: str, options: ReadOptions) -> TextTable:
    """One text recording: every row a sample, the chosen columns its channels."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RecordingError(f"{where}: not a text file (not UTF-8); is it a binary recording? "
                             "(.wav, .npy, .npz and .mat are read by their suffix)") from None
    lines = text.splitlines()
    first_row = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first_row is None:
        raise RecordingError(f"{where}: empty file, expected one row per sample")
    delimiter = _delimiter(lines[first_row])
    cells = [c.strip() for c in (lines[first_row].split(delimiter) if delimiter else lines[first_row].split())]
    header = None if all(_is_number(c) for c in cells) else cells
    body = lines[first_row + (1 if header else 0):]
    try:
        table = np.loadtxt(body, delimiter=delimiter, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        # numpy's message names the row and column; rows are counted from the first data row
        raise RecordingError(f"{where}: not a table of numbers ({exc}); fix or remove the file"
                             + ("" if options.skip_bad else ", or pass --skip-bad to leave it out")) from None
    if table.size == 0:
        raise RecordingError(f"{where}: no rows of samples")
    n_columns = table.shape[1]
    time_idx = [_column_index(c, header, n_columns, where, "--time-columns") for c in options.time_columns or ()]
    if options.columns:
        data_idx = [_column_index(c, header, n_columns, where, "--columns") for c in options.columns]
    else:
        data_idx = [i for i in range(n_columns) if i not in time_idx]
    if not data_idx:
        raise RecordingError(f"{where}: no sample columns left (the file has {n_columns}, "
                             f"--time-columns takes {len(time_idx)}); choose them with --columns")
    values = np.ascontiguousarray(table[:, data_idx])
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise RecordingError(f"{where}: data row {int(np.flatnonzero(bad)[0]) + 1}: NaN or infinite value")
    time_of_day = None
    if time_idx:
        h, m, s, *us = (float(table[0, i]) for i in time_idx)
        time_of_day = h * 3600.0 + m * 60.0 + s + (us[0] * 1e-6 if us else 0.0)
        if not (0 <= h < 24 and 0 <= m < 60 and 0 <= s < 61 and 0 <= time_of_day < 86401):
            raise RecordingError(f"{where}: row 1: time columns {[c for c in options.time_columns]} read "
                                 f"{h:g}:{m:g}:{s:g}, not a time of day (hour, minute, second[, microsecond])")
    names = tuple(header[i] for i in data_idx) if header else tuple(f"Channel {i + 1}" for i in range(len(data_idx)))
    return TextTable(values, time_of_day, names)


# ---- snapshots of text files, stamped --------------------------------------------------------

class _Clock:
    """Stamps one-snapshot files in reading order: time columns, IMS name, or place times interval."""

    def __init__(self, options: ReadOptions) -> None:
        self.options = options
        self.day = 0
        self.last_tod: float | None = None
        self.last_where: str | None = None
        self.index = 0

    def stamp(self, item: SourceFile, table: TextTable) -> np.datetime64:
        options = self.options
        if table.time_of_day_s is not None:
            tod = table.time_of_day_s
            if self.last_tod is not None and tod < self.last_tod:
                if self.last_tod - tod > _MIDNIGHT_JUMP_S:
                    self.day += 1
                else:
                    raise RecordingError(
                        f"{item.where}: its time {_hms(tod)} is before that of the file read before it, "
                        f"{self.last_where} ({_hms(self.last_tod)}); files are read in name order: rename or remove "
                        f"the one with the wrong clock" + ("" if options.skip_bad else ", or pass --skip-bad"))
            when = options.start_time.astype("datetime64[D]") + np.timedelta64(self.day, "D") \
                + np.timedelta64(round(tod * 1e6), "us")
        elif _NAME_RE.match(item.name):
            when = np.datetime64(parse_snapshot_name(item.name, item.where), "us")
        elif options.interval_s is not None:
            when = options.start_time + np.timedelta64(round(self.index * options.interval_s * 1e6), "us")
        else:
            raise RecordingError(
                f"{item.where}: the snapshot's time is unknown: its name is not a time YYYY.MM.DD.HH.MM.SS; "
                "give --time-columns H,M,S[,US] (the columns holding the time of day, e.g. 1,2,3,4 for "
                "PRONOSTIA) or --interval SECONDS (files taken at a fixed cadence, in name order, from --start)")
        return when

    def accept(self, item: SourceFile, table: TextTable) -> None:
        """Called once a file is kept: it becomes the reference for the next one's clock."""
        if table.time_of_day_s is not None:
            self.last_tod, self.last_where = table.time_of_day_s, item.where
        self.index += 1


def _hms(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{seconds % 60:09.6f}"


def iter_text_snapshots(files: Iterable[SourceFile], options: ReadOptions,
                        on_skip: OnSkip | None = None) -> Iterator[tuple[Snapshot, tuple[str, ...]]]:
    """One snapshot per text file (or several: a file longer than ``snapshot_length`` is cut).

    Yields ``(snapshot, column names)``. Every file must have the same columns; a
    one-snapshot file must have ``snapshot_length`` rows when that is given.
    """
    clock = _Clock(options)
    first: tuple[str, tuple[int, int]] | None = None
    for item in files:
        try:
            table = parse_text(item.read(), item.where, options)
            rows, channels = table.values.shape
            if first is not None and channels != first[1][1]:
                raise RecordingError(f"{item.where}: has {channels} sample columns, but {first[0]} has "
                                     f"{first[1][1]}; do not mix recordings (--pattern chooses the files, "
                                     "--columns the columns)")
            length = options.snapshot_length
            if length is None and first is not None and rows != first[1][0]:
                raise RecordingError(f"{item.where}: has {rows} rows, but {first[0]} has {first[1][0]}; one "
                                     "snapshot per file needs the same number of rows in every file (the "
                                     "file is truncated, or give --snapshot-length to cut long recordings)")
            if length is not None and rows < length:
                raise RecordingError(f"{item.where}: has {rows} rows, fewer than --snapshot-length {length}: "
                                     "truncated, or not the recording you meant")
            when = clock.stamp(item, table)
        except RecordingError as exc:
            if not options.skip_bad:
                raise
            if on_skip:
                on_skip(item.where, str(exc).removeprefix(f"{item.where}: "))
            continue
        clock.accept(item, table)
        if first is None:
            first = (item.where, (rows, channels))
        if length is None or rows == length:
            yield Snapshot(when, item.where, values=table.values), table.column_names
            continue
        yield from ((snap, table.column_names) for snap in
                    cut_snapshots(table.values, length, options.sample_rate_hz, when, item.where, on_skip))


def cut_snapshots(values: np.ndarray, length: int, sample_rate_hz: float | None, start: np.datetime64,
                  where: str, on_skip: OnSkip | None = None) -> Iterator[Snapshot]:
    """A continuous recording ``(rows, channels)`` as consecutive snapshots of ``length`` samples.

    Snapshot ``k`` starts at ``start + k * length / sample_rate_hz``; the samples after
    the last whole snapshot are left out (and reported).
    """
    if sample_rate_hz is None:
        raise RecordingError(f"{where}: cutting a recording into snapshots needs its sample rate: "
                             "give --sample-rate HZ")
    n = values.shape[0] // length
    if n == 0:
        raise RecordingError(f"{where}: has {values.shape[0]} samples, fewer than one snapshot "
                             f"(--snapshot-length {length})")
    for k in range(n):
        offset = np.timedelta64(round(k * length / sample_rate_hz * 1e6), "us")
        yield Snapshot(start + offset, f"{where}[{k * length}:{(k + 1) * length}]",
                       values=values[k * length:(k + 1) * length])
    rest = values.shape[0] - n * length
    if rest and on_skip:
        on_skip(where, f"its last {rest} samples do not fill a snapshot of {length} and are left out")

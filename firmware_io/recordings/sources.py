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
from lzma import LZMAError
from zlib import error as _zlib_error
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from firmware_io.recordings.reader import _NAME_RE, RecordingError, Snapshot, parse_snapshot_name

TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")
BINARY_SUFFIXES = (".wav", ".npy", ".npz", ".mat")
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
    #: strftime-style format of the time in the file names (e.g. ``%Y%m%d_%H%M%S`` for ``acc_20240501_080000.csv``).
    name_time: str | None = None
    #: Glob on file names inside folders and archives (e.g. ``acc_*.csv``).
    pattern: str | None = None
    #: The array of a ``.mat`` or ``.npz`` file to read.
    variable: str | None = None
    #: Sensor units per count of integer samples in files that do not state it (WAV, .npy, .mat).
    scale: float | None = None
    #: Report and leave out malformed files instead of stopping.
    skip_bad: bool = False

    def __post_init__(self) -> None:
        if self.sample_rate_hz is not None and not self.sample_rate_hz > 0:
            raise RecordingError(f"--sample-rate must be > 0 Hz, got {self.sample_rate_hz!r}")
        if self.snapshot_length is not None and not self.snapshot_length >= 2:
            raise RecordingError(f"--snapshot-length must be >= 2 samples, got {self.snapshot_length!r}")
        if self.scale is not None and not self.scale > 0:
            raise RecordingError(f"--scale must be > 0, got {self.scale!r}")
        if self.interval_s is not None and not self.interval_s > 0:
            raise RecordingError(f"--interval must be > 0 s, got {self.interval_s!r}")
        if self.time_columns is not None and len(self.time_columns) not in (3, 4):
            raise RecordingError(f"--time-columns takes hour,minute,second[,microsecond], got {list(self.time_columns)}")

    @property
    def start_time(self) -> np.datetime64:
        return np.datetime64(self.start, "us") if self.start is not None else _DEFAULT_START


# ---- which files ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceFile:
    """One file to read: where it is (for messages), its name, and how to get its bytes."""

    where: str
    name: str
    read: Callable[[], bytes]


def listed(text: str | None) -> tuple[str, ...] | None:
    """A comma-separated option (``--columns``, ``--time-columns``) as its entries; empty ones left out."""
    return None if text is None else tuple(c.strip() for c in text.split(",") if c.strip())


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
    if base.lower().endswith(TEXT_SUFFIXES + BINARY_SUFFIXES) or _NAME_RE.match(base):
        return None
    return (f"not a recording (expected {', '.join(TEXT_SUFFIXES + BINARY_SUFFIXES)}; "
            "--pattern chooses other names)")


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
    # A compressed tar cannot seek (xz): a first pass lists the members; when the archive holds them in name
    # order (as tar writes a folder), a second pass streams them one at a time, else they are held and sorted.
    names = []
    for member in _tar_members(path):
        why = _wanted(member.name, pattern)
        if why is None:
            names.append(member.name)
        elif on_skip and why:
            on_skip(f"{path}:{member.name}", why)
    wanted = set(names)
    in_order = names == sorted(names, key=natural_key)
    held: list[tuple[str, bytes]] = []
    for member, data in _tar_members(path, with_data=wanted):
        if in_order:
            yield SourceFile(f"{path}:{member.name}", member.name.rsplit("/", 1)[-1], lambda d=data: d)
        else:
            held.append((member.name, data))
    for name, data in sorted(held, key=lambda m: natural_key(m[0])):
        yield SourceFile(f"{path}:{name}", name.rsplit("/", 1)[-1], lambda d=data: d)


def _tar_members(path: Path, with_data: set[str] | None = None) -> Iterator:
    """The file members of a tar archive, in archive order; with ``with_data``, ``(member, bytes)`` of those named."""
    try:
        archive = tarfile.open(path, mode="r:*")
    except (OSError, tarfile.TarError) as exc:
        raise RecordingError(f"{path}: not a readable tar archive: {exc}") from None
    try:
        with archive:
            for member in archive:
                if not member.isfile():
                    continue
                if with_data is None:
                    yield member
                elif member.name in with_data:
                    yield member, archive.extractfile(member).read()
    except (OSError, tarfile.TarError, EOFError, LZMAError, _zlib_error) as exc:
        raise RecordingError(f"{path}: archive is damaged or truncated: {exc}") from None


# ---- what one file holds -----------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """The samples of one file and what the file says about them.

    ``data`` is one continuous run ``(rows, channels)`` or packed snapshots
    ``(n, samples, channels)``; integer data are counts of ``scale`` units.
    """

    data: np.ndarray
    scale: float | None = None
    sample_rate_hz: float | None = None
    names: tuple[str, ...] | None = None
    #: The time of day of the first sample (text time columns), or None.
    time_of_day_s: float | None = None
    #: The absolute time of each packed snapshot, or of the run's first sample (one entry), or None.
    timestamps: np.ndarray | None = None
    #: A recording of its own (WAV, npy, mat, a 2-D npz) rather than one snapshot of a series of text files:
    #: without times, such files follow one another.
    continuous: bool = False

    @property
    def channels(self) -> int:
        return self.data.shape[-1]


#: Readers of forms that need desktop libraries, by suffix: ``train.recordings_mat`` adds ``.mat``
#: (scipy) when the desktop code is imported; nothing under firmware_io may import scipy.
DESKTOP_READERS: dict[str, Callable[[bytes, str, "ReadOptions"], "Block"]] = {}


def _desktop_only(data: bytes, where: str, options: ReadOptions) -> Block:
    raise RecordingError(f"{where}: MATLAB files are read on the desktop (bearing-train, with scipy); "
                         "on the device, convert the recording to .npz (docs/recordings.md)")


def parse_file(item: SourceFile, options: ReadOptions) -> Block:
    """The :class:`Block` of one file, read by its suffix (text otherwise)."""
    lower = item.name.lower()
    readers = {".wav": parse_wav, ".npy": parse_npy, ".npz": parse_npz,
               ".mat": DESKTOP_READERS.get(".mat", _desktop_only)}
    reader = next((r for suffix, r in readers.items() if lower.endswith(suffix)), None)
    if reader is None:
        return parse_text(item.read(), item.where, options)
    block = reader(item.read(), item.where, options)
    return replace(block, continuous=block.data.ndim == 2)


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


def parse_text(data: bytes, where: str, options: ReadOptions) -> Block:
    """One text recording: every row a sample, the chosen columns its channels."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RecordingError(f"{where}: not a text file (not UTF-8); binary recordings are read by their "
                             "suffix: .wav, .npy, .npz, .mat") from None
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
    names = tuple(header[i] for i in data_idx) if header else None
    return Block(values, time_of_day_s=time_of_day, names=names)


def parse_wav(data: bytes, where: str, options: ReadOptions) -> Block:
    """A RIFF WAVE file: PCM 8/16/24/32-bit or IEEE float 32/64, any channel count; the rate is the header's.

    Integer samples are counts: ``--scale`` says what one count is in the sensor's unit
    (default 1, the counts themselves).
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RecordingError(f"{where}: not a WAV file (no RIFF/WAVE header)")
    fmt = None
    pos = 12
    samples = None
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + size]
        if chunk == b"fmt ":
            fmt = body
        elif chunk == b"data":
            samples = body
        pos += 8 + size + (size & 1)
    if fmt is None or samples is None or len(fmt) < 16:
        raise RecordingError(f"{where}: WAV file without a 'fmt ' and a 'data' chunk (truncated?)")
    tag, channels, rate = (int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[2:4], "little"),
                           int.from_bytes(fmt[4:8], "little"))
    bits = int.from_bytes(fmt[14:16], "little")
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes are the tag
        tag = int.from_bytes(fmt[24:26], "little")
    width = bits // 8
    if channels < 1 or width < 1 or len(samples) < width * channels:
        raise RecordingError(f"{where}: WAV header says {channels} channels of {bits} bits: no samples")
    n = len(samples) // (width * channels)
    raw = samples[:n * width * channels]
    if tag == 3 and bits in (32, 64):
        values = np.frombuffer(raw, dtype=f"<f{width}").astype(np.float64).reshape(n, channels)
        block = Block(values, sample_rate_hz=float(rate))
    elif tag == 1 and bits in (8, 16, 24, 32):
        if bits == 24:
            b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16))
            ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        elif bits == 8:  # 8-bit WAV is unsigned, centred on 128
            ints = np.frombuffer(raw, dtype=np.uint8).astype(np.int32) - 128
        else:
            ints = np.frombuffer(raw, dtype=f"<i{width}")
        counts = ints.reshape(n, channels)
        scale = options.scale if options.scale is not None else 1.0
        block = (Block(counts.astype(np.int16), scale=scale, sample_rate_hz=float(rate)) if bits == 16
                 else Block(counts.astype(np.float64) * scale, sample_rate_hz=float(rate)))
    else:
        raise RecordingError(f"{where}: WAV format tag {tag} with {bits} bits is not read (PCM 8/16/24/32-bit "
                             "or IEEE float 32/64 are); convert it, e.g. with sox")
    return block


def _load_npy(data: bytes, where: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{where}: not a readable .npy array: {exc}") from None


def samples_block(arr: np.ndarray, where: str, scale: float | None, rate: float | None,
                   names: tuple[str, ...] | None = None, timestamps: np.ndarray | None = None) -> Block:
    """Check a numeric sample array: (rows, channels), (n, samples, channels), or one channel (rows,)."""
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim not in (2, 3) or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise RecordingError(f"{where}: expected numeric samples (rows, channels) or (snapshots, samples, "
                             f"channels), got {arr.dtype} {arr.shape}")
    if arr.shape[-2] < 2 or arr.shape[-1] < 1:
        raise RecordingError(f"{where}: samples of shape {arr.shape} hold no snapshot")
    if np.issubdtype(arr.dtype, np.integer):
        if arr.dtype != np.int16:
            raise RecordingError(f"{where}: integer samples must be int16 counts (with their scale), got {arr.dtype}"
                                 "; store float32 values instead")
        return Block(np.asarray(arr), scale=1.0 if scale is None else scale, sample_rate_hz=rate, names=names,
                     timestamps=timestamps)
    values = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(values).all():
        raise RecordingError(f"{where}: NaN or infinite sample values")
    if scale is not None and scale != 1.0:
        values = values * scale
    return Block(values, sample_rate_hz=rate, names=names, timestamps=timestamps)


def parse_npy(data: bytes, where: str, options: ReadOptions) -> Block:
    """A bare ``.npy`` array: float values, or int16 counts of ``--scale``; it states no rate."""
    return samples_block(_load_npy(data, where), where, options.scale, None)


def _timestamps(values: np.ndarray, where: str) -> np.ndarray:
    """npz ``timestamps``: datetime64, ISO strings, IMS names, or unix seconds."""
    from firmware_io.recordings.reader import _NAME_RE

    if np.issubdtype(values.dtype, np.datetime64):
        return values.astype("datetime64[us]")
    if np.issubdtype(values.dtype, np.number):
        return (values.astype(np.float64) * 1e6).round().astype("int64").astype("datetime64[us]")
    out = []
    for text in values.astype(str):
        try:
            out.append(np.datetime64(parse_snapshot_name(text, where), "us") if _NAME_RE.match(text)
                       else np.datetime64(datetime.fromisoformat(text), "us"))
        except ValueError:
            raise RecordingError(f"{where}: timestamp {text!r} is neither ISO 8601 nor YYYY.MM.DD.HH.MM.SS") from None
    return np.array(out, dtype="datetime64[us]")


def parse_npz(data: bytes, where: str, options: ReadOptions) -> Block:
    """The self-describing npz: ``samples``, ``sample_rate_hz``, and optionally ``scale`` (for int16 counts),
    ``timestamps`` (one per snapshot, or the first sample's) and ``channel_names``."""
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as exc:
        raise RecordingError(f"{where}: not a readable npz file: {exc}") from None
    name = options.variable or "samples"
    if name not in arrays:
        raise RecordingError(f"{where}: no array {name!r}; it has {sorted(arrays)} (--variable picks one)")
    rate = float(arrays["sample_rate_hz"]) if "sample_rate_hz" in arrays else None
    scale = float(arrays["scale"]) if "scale" in arrays else None
    names = tuple(str(n) for n in arrays["channel_names"]) if "channel_names" in arrays else None
    stamps = _timestamps(np.atleast_1d(arrays["timestamps"]), where) if "timestamps" in arrays else None
    block = samples_block(arrays[name], where, scale, rate, names, stamps)
    if stamps is not None and block.data.ndim == 3 and len(stamps) != block.data.shape[0]:
        raise RecordingError(f"{where}: {len(stamps)} timestamps for {block.data.shape[0]} snapshots")
    return block


# ---- snapshots, stamped ------------------------------------------------------------------------

class _Clock:
    """Stamps the files in reading order: their own times, time columns, IMS name, or place and cadence."""

    def __init__(self, options: ReadOptions) -> None:
        self.options = options
        self.day = 0
        self.last_tod: float | None = None
        self.last_where: str | None = None
        self.index = 0
        #: Where a file without times starts: where the one before ended (a recording split into files).
        self.next_start = options.start_time

    def stamp(self, item: SourceFile, block: Block, rate: float | None) -> np.ndarray | np.datetime64:
        """The time of each packed snapshot (an array) or of the file's first sample."""
        options = self.options
        if block.timestamps is not None:
            return block.timestamps if block.data.ndim == 3 else block.timestamps[0]
        if block.time_of_day_s is not None:
            tod = block.time_of_day_s
            if self.last_tod is not None and tod < self.last_tod:
                if self.last_tod - tod > _MIDNIGHT_JUMP_S:
                    self.day += 1
                else:
                    raise RecordingError(
                        f"{item.where}: its time {_hms(tod)} is before that of the file read before it, "
                        f"{self.last_where} ({_hms(self.last_tod)}); files are read in name order: rename or remove "
                        f"the one with the wrong clock" + ("" if options.skip_bad else ", or pass --skip-bad"))
            return options.start_time.astype("datetime64[D]") + np.timedelta64(self.day, "D") \
                + np.timedelta64(round(tod * 1e6), "us")
        if options.name_time is not None:
            return np.datetime64(time_in_name(item.name, options.name_time, item.where), "us")
        if _NAME_RE.match(item.name):
            return np.datetime64(parse_snapshot_name(item.name, item.where), "us")
        if options.interval_s is not None:
            return options.start_time + np.timedelta64(round(self.index * options.interval_s * 1e6), "us")
        length = options.snapshot_length
        if block.data.ndim == 2 and (self.index == 0 or block.continuous
                                     or (length is not None and block.data.shape[0] > length)):
            return self.next_start  # a continuous recording (or its next file): times follow from the rate
        raise RecordingError(
            f"{item.where}: the snapshot's time is unknown: its name is not a time YYYY.MM.DD.HH.MM.SS; "
            "give --time-columns H,M,S[,US] (the columns holding the time of day, e.g. 1,2,3,4 for "
            "PRONOSTIA) or --interval SECONDS (files taken at a fixed cadence, in name order, from --start)")

    def accept(self, item: SourceFile, block: Block, start, rate: float | None) -> None:
        """Called once a file is kept: it becomes the reference for the next one's clock."""
        if block.time_of_day_s is not None:
            self.last_tod, self.last_where = block.time_of_day_s, item.where
        if block.data.ndim == 2 and rate:
            self.next_start = np.datetime64(start, "us") + np.timedelta64(round(block.data.shape[0] / rate * 1e6),
                                                                           "us")
        self.index += 1


def time_in_name(name: str, fmt: str, where: str) -> datetime:
    """The time written in a file name in the strftime format ``fmt``, found anywhere in the name.

    The format's numeric fields have fixed widths, so its length is that of any time it formats;
    every substring of that length is tried, the first that parses wins.
    """
    try:
        width = len(datetime(2000, 12, 31, 23, 59, 58).strftime(fmt))
    except ValueError as exc:
        raise RecordingError(f"--name-time {fmt!r} is not a time format ({exc})") from None
    for start in range(0, max(len(name) - width + 1, 0)):
        try:
            return datetime.strptime(name[start:start + width], fmt)
        except ValueError:
            continue
    raise RecordingError(f"{where}: no time in the format --name-time {fmt!r} in the file name {name!r}")


def _hms(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{seconds % 60:09.6f}"


@dataclass(frozen=True)
class RecordedSnapshot:
    """A snapshot with what its file says about the recording."""

    snapshot: Snapshot
    sample_rate_hz: float
    names: tuple[str, ...] | None


def _rate_of(block: Block, where: str, options: ReadOptions) -> float | None:
    stated, given = block.sample_rate_hz, options.sample_rate_hz
    if stated is not None and given is not None and abs(stated - given) > 1e-9 * stated:
        raise RecordingError(f"{where}: the file states {stated:g} Hz, --sample-rate says {given:g} Hz; "
                             "leave --sample-rate out or check the recording")
    return stated if stated is not None else given


def iter_recording_snapshots(files: Iterable[SourceFile], options: ReadOptions,
                             on_skip: OnSkip | None = None) -> Iterator[RecordedSnapshot]:
    """The snapshots of every file, in reading order, with the rate each was recorded at.

    A one-snapshot file gives one; a packed npz ``(n, samples, channels)`` gives n; a longer
    recording is cut into consecutive snapshots of ``options.snapshot_length``. Every file must
    have the same channels and the same rate; one-snapshot files the same length.
    """
    clock = _Clock(options)
    first: tuple[str, int, int, float | None] | None = None  # where, rows, channels, rate
    for item in files:
        try:
            block = parse_file(item, options)
            rate = _rate_of(block, item.where, options)
            rows = block.data.shape[-2]
            if first is not None:
                if block.channels != first[2]:
                    raise RecordingError(f"{item.where}: has {block.channels} channels, but {first[0]} has "
                                         f"{first[2]}; do not mix recordings (--pattern chooses the files, "
                                         "--columns the columns)")
                if rate != first[3]:
                    raise RecordingError(f"{item.where}: recorded at {rate:g} Hz, but {first[0]} at {first[3]:g} Hz; "
                                         "ingest one recording at a time")
            length = options.snapshot_length
            if length is None and first is not None and rows != first[1] and block.data.ndim == 2:
                raise RecordingError(f"{item.where}: has {rows} rows, but {first[0]} has {first[1]}; one "
                                     "snapshot per file needs the same number of rows in every file (the "
                                     "file is truncated, or give --snapshot-length to cut long recordings)")
            if length is not None and rows < length:
                raise RecordingError(f"{item.where}: has {rows} rows, fewer than --snapshot-length {length}: "
                                     "truncated, or not the recording you meant")
            if length is not None and block.data.ndim == 3 and rows != length:
                raise RecordingError(f"{item.where}: holds snapshots of {rows} samples, not --snapshot-length "
                                     f"{length}")
            if rate is None:
                raise RecordingError(f"{item.where}: the sample rate is not known: the file does not state it; "
                                     "give --sample-rate HZ")
            when = clock.stamp(item, block, rate)
        except RecordingError as exc:
            if not options.skip_bad:
                raise
            if on_skip:
                on_skip(item.where, str(exc).removeprefix(f"{item.where}: "))
            continue
        clock.accept(item, block, when if block.data.ndim == 2 else None, rate)
        if first is None:
            first = (item.where, rows, block.channels, rate)
        for snap in _snapshots_of(block, when, length, rate, item.where, on_skip):
            yield RecordedSnapshot(snap, rate, block.names)


def _snapshot(data: np.ndarray, block: Block, when, source: str) -> Snapshot:
    if block.scale is not None:
        return Snapshot(when, source, counts=data, scale=block.scale)
    return Snapshot(when, source, values=data)


def _snapshots_of(block: Block, when, length: int | None, rate: float, where: str,
                  on_skip: OnSkip | None) -> Iterator[Snapshot]:
    if block.data.ndim == 3:
        for k in range(block.data.shape[0]):
            yield _snapshot(block.data[k], block, when[k], f"{where}[{k}]")
        return
    if length is None or block.data.shape[0] == length:
        yield _snapshot(block.data, block, when, where)
        return
    yield from cut_snapshots(block, length, rate, when, where, on_skip)


def cut_snapshots(block: Block, length: int, sample_rate_hz: float, start: np.datetime64,
                  where: str, on_skip: OnSkip | None = None) -> Iterator[Snapshot]:
    """A continuous recording as consecutive snapshots of ``length`` samples.

    Snapshot ``k`` starts at ``start + k * length / sample_rate_hz``; the samples after
    the last whole snapshot are left out (and reported).
    """
    values = block.data
    n = values.shape[0] // length
    for k in range(n):
        offset = np.timedelta64(round(k * length / sample_rate_hz * 1e6), "us")
        yield _snapshot(values[k * length:(k + 1) * length], block, np.datetime64(start, "us") + offset,
                        f"{where}[{k * length}:{(k + 1) * length}]")
    rest = values.shape[0] - n * length
    if rest and on_skip:
        on_skip(where, f"its last {rest} samples do not fill a snapshot of {length} and are left out")

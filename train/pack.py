"""Raw IMS snapshot files -> the packed npz (``bearing-train pack``): how ``ims_test2_int16.npz`` is built.

The public IMS archive (NASA Prognostics Data Repository, ``IMS.7z``; data/ims/SOURCES.md) holds one
ASCII file per snapshot, 20,480 rows x 4 (tests 2, 3) or 8 (test 1) tab-separated values with exactly
3 decimals. Packed, the 984 files of test 2 are one 96 MB npz that ``bearing-replay``, ``bearing-train
ingest`` and the benchmarks read in a second instead of minutes:

- ``samples``: int16 ``(n_snapshots, 20480, n_channels)``, value = count x ``scale``;
- ``timestamps``: the file names (``YYYY.MM.DD.HH.MM.SS``), in time order;
- ``scale``: 0.001. Every value is a whole number of thousandths, so the packing is lossless:
  a value that is not is refused (:func:`firmware_io.recordings.reader.to_counts`), never rounded.

Files are parsed with ingest's reader (pandas' C parser, with numpy's as the reference that names
the file and row of anything malformed). One file at a time is parsed; the samples array is
allocated once (161 MB for the whole of test 2).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from firmware_io.recordings.ims import IMS_SCALE
from firmware_io.recordings.reader import (RecordingError, find_snapshot_files, parse_snapshot_name, to_counts,
                                           write_packed)
from train.ingest import _progress, read_snapshot_fast


@dataclass
class PackResult:
    path: Path
    n_snapshots: int
    shape: tuple[int, int]  # samples, channels per snapshot
    first: np.datetime64
    last: np.datetime64
    skipped: list[tuple[str, str]] = field(default_factory=list)


def pack_ims_files(sources: Sequence[str | Path], out: str | Path, *, scale: float = IMS_SCALE,
                   skip_bad: bool = False, on_skip: Callable[[Path, str], None] | None = None,
                   progress: bool = False) -> PackResult:
    """Pack the IMS snapshot files of ``sources`` (files, folders searched recursively) into ``out``.

    A malformed file raises :class:`RecordingError` naming it; with ``skip_bad`` it is left out,
    reported to ``on_skip`` and counted. ``out`` is written only when everything was read.
    """
    skipped: list[tuple[str, str]] = []

    def skip(path: Path, why: str) -> None:
        skipped.append((str(path), why))
        if on_skip:
            on_skip(path, why)

    files = find_snapshot_files([Path(s) for s in sources], skip)
    if not files:
        raise RecordingError(f"no IMS snapshot files (named YYYY.MM.DD.HH.MM.SS) in {', '.join(map(str, sources))}")
    samples: np.ndarray | None = None
    stamps: list[np.datetime64] = []
    for path in _progress(files, total=len(files), desc="files", enabled=progress):
        try:
            counts = to_counts(read_snapshot_fast(path), scale, source=str(path))
            if samples is not None and counts.shape != samples.shape[1:]:
                raise RecordingError(f"{path}: has {counts.shape[0]} samples x {counts.shape[1]} channels, but "
                                     f"{files[0]} has {samples.shape[1]} x {samples.shape[2]}; do not mix recordings")
        except RecordingError as exc:
            if not skip_bad:
                raise RecordingError(f"{exc} (--skip-bad leaves malformed files out, counted and listed)") from None
            why = str(exc)
            skip(path, why.removeprefix(f"{path}: "))
            continue
        if samples is None:
            samples = np.empty((len(files), *counts.shape), dtype=np.int16)
        samples[len(stamps)] = counts
        stamps.append(parse_snapshot_name(path.name, str(path)))
    if not stamps:
        raise RecordingError(f"every one of the {len(files)} files was malformed; nothing to pack")
    samples = samples[:len(stamps)]
    write_packed(out, np.array(stamps, dtype="datetime64[s]"), samples, scale)
    return PackResult(Path(out), len(stamps), samples.shape[1:], stamps[0], stamps[-1], skipped)

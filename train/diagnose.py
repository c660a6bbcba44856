"""``bearing-train diagnose``: name the failing part of each snapshot of a recording, from the physics.

Reads the same sources as ``ingest`` (:func:`iter_recording`), optionally a healthy baseline
recording of the same rate and length, and runs the device's numpy diagnosis
(:func:`edge_agent.diagnosis.physics.diagnose`) on every snapshot.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Container, Iterator, Sequence

import numpy as np

from edge_agent.diagnosis.offline import alarming
from edge_agent.diagnosis.physics import Baseline, PhysicsDiagnosis, diagnose
from edge_agent.features.bearing import BearingGeometry
from firmware_io.recordings.ims import IMS_SAMPLE_RATE_HZ
from firmware_io.recordings.reader import RecordingError, Snapshot, iter_snapshots
from firmware_io.recordings.sources import ReadOptions, iter_recording_snapshots, iter_source_files


@dataclass(frozen=True)
class Recorded:
    """A snapshot in physical units, the rate it was recorded at, and its channels' names."""

    snapshot: Snapshot
    sample_rate_hz: float
    names: tuple[str, ...] | None


def iter_recording(sources: Sequence[str | Path], options: ReadOptions | None = None,
                   on_skip: Callable[[str, str], None] | None = None) -> Iterator[Recorded]:
    """Every snapshot of ``sources`` in the forms ``ingest`` reads: IMS files and packed npz at 20 kHz (unless
    ``options`` says otherwise), any other recording as :mod:`firmware_io.recordings.sources` reads it."""
    from train.ingest import is_ims_form

    options = options or ReadOptions()
    sources = [Path(s) for s in sources]
    if not sources:
        raise RecordingError("no sources given")
    if is_ims_form(sources):
        rate = options.sample_rate_hz or IMS_SAMPLE_RATE_HZ
        for snap in iter_snapshots(sources, None if on_skip is None else lambda p, why: on_skip(str(p), why)):
            yield Recorded(snap, rate, None)
        return
    files = iter_source_files(sources, options.pattern, on_skip)
    for r in iter_recording_snapshots(files, options, on_skip):
        yield Recorded(r.snapshot, r.sample_rate_hz, r.names)


def read_baseline(sources: Sequence[str | Path], options: ReadOptions | None = None,
                  limit: int | None = None) -> Baseline:
    """The mean squared envelope spectrum of a healthy recording's snapshots (the first ``limit``)."""
    snapshots, rate = [], None
    for r in iter_recording(sources, options):
        if rate is not None and r.sample_rate_hz != rate:
            raise RecordingError(f"{r.snapshot.source}: baseline recorded at {r.sample_rate_hz:g} Hz, not {rate:g}")
        rate = r.sample_rate_hz
        snapshots.append(r.snapshot.physical())
        if limit is not None and len(snapshots) >= limit:
            break
    if not snapshots:
        raise RecordingError(f"no snapshots in the baseline {', '.join(map(str, sources))}")
    try:
        return Baseline.from_snapshots(snapshots, rate)
    except ValueError as exc:
        raise RecordingError(f"baseline: {exc}") from None


def alarming_times(path: str | Path) -> dict[np.datetime64, str]:
    """The snapshots a score table has in alarm, to the second, with their level (``alarm`` when it has none).

    ``path`` is a model directory (its ``scores.csv``, written by ``bearing-train fit``) or a score table
    (``bearing-agent score ... -o scores.csv``).
    """
    from edge_agent.scoring.scores import ScoreTable

    path = Path(path)
    table_path = path / "scores.csv" if path.is_dir() else path
    try:
        scores = ScoreTable.read(table_path)
    except (OSError, KeyError, ValueError) as exc:
        raise RecordingError(f"{table_path}: not a score table (timestamp,error,over_threshold,alarm): {exc}") from None
    return alarming(scores)


def diagnose_recording(sources: Sequence[str | Path], bearing: BearingGeometry, shaft_hz: float,
                       options: ReadOptions | None = None, baseline: Baseline | None = None,
                       on_skip: Callable[[str, str], None] | None = None, channel: str | None = None,
                       names: Sequence[str] | None = None, only: Container[np.datetime64] | None = None
                       ) -> Iterator[tuple[Recorded, PhysicsDiagnosis]]:
    """Each snapshot of ``sources`` with its diagnosis (refused when it does not fit the baseline).

    ``channel`` (a name or a 1-based number) reads only that channel, e.g. the bearing that alarms;
    ``names`` the channels' names (default: the file's, else those ingest gives); ``only`` the snapshot
    times (to the second) to diagnose, e.g. :func:`alarming_times`: the others are read but not analysed.
    """
    for r in iter_recording(sources, options, on_skip):
        if only is not None and np.datetime64(r.snapshot.timestamp, "s") not in only:
            continue
        values = r.snapshot.physical()
        if names is not None and len(names) != values.shape[1]:
            raise RecordingError(f"{r.snapshot.source}: --channel-names gives {len(names)} names for "
                                 f"{values.shape[1]} channels")
        if names is not None:
            r = Recorded(r.snapshot, r.sample_rate_hz, tuple(names))
        names_here = r.names or tuple(_default_names(values.shape[1]))
        chosen = None if channel is None else [_channel_index(channel, names_here, r.snapshot.source)]
        try:
            result = diagnose(values, r.sample_rate_hz, bearing, shaft_hz, baseline, names_here, channels=chosen)
        except ValueError as exc:
            raise RecordingError(f"{r.snapshot.source}: {exc}") from None
        yield r, result


def _default_names(n: int) -> list[str]:
    from train.ingest import channel_names

    return channel_names(n)


def _channel_index(channel: str, names: Sequence[str], where: str) -> int:
    if channel in names:
        return list(names).index(channel)
    if channel.isdigit() and 1 <= int(channel) <= len(names):
        return int(channel) - 1
    raise RecordingError(f"{where}: --channel {channel!r} is neither a channel name ({', '.join(names)}) "
                         f"nor a number 1..{len(names)}")


def velocity(values: np.ndarray, sample_rate_hz: float, channel: int, to_m_s2: float) -> tuple[float, str] | None:
    """RMS velocity 10-1000 Hz in mm/s of one channel and its ISO 10816-3 zone (group 2, rigid), or None
    when the rate cannot hold the band (Nyquist under 1 kHz)."""
    from edge_agent.features.condition import VELOCITY_BAND_HZ, iso_zone, power_spectrum, velocity_rms

    if sample_rate_hz / 2 < VELOCITY_BAND_HZ[1]:
        return None
    mm_s = float(velocity_rms(*power_spectrum(values[:, channel:channel + 1], sample_rate_hz), to_m_s2=to_m_s2)[0])
    return mm_s, iso_zone(mm_s)


def time_text(ts: np.datetime64) -> str:
    """``2004-02-16 03:12:39`` (sub-second digits only when there are any)."""
    text = str(np.datetime64(ts, "us")).replace("T", " ")
    return text[:-7] if text.endswith(".000000") else text

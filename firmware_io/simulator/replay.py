"""The virtual accelerometer: recorded snapshots streamed as protocol frames.

:class:`Replayer` behaves like a burst-mode sensor would with the
recording as its sensor: StreamInfo at start, after every reconnect and once
a second (with a DeviceStatus), stating the recording's snapshot length as its
burst length; a SnapshotMark before the first frame of each recorded snapshot;
Samples frames of 256 samples per channel; real-time pacing unless told
otherwise. Snapshot ``k`` of ``N`` samples occupies sample indices ``[k*N, (k+1)*N)``
(the snapshots end to end), or with ``burst_every_s`` (a recording of bursts,
e.g. PRONOSTIA's 2,560 samples every 10 s) ``[k*P, k*P + N)`` with ``P`` the burst
period in samples: the index jumps over the pause, as a sensor's sample clock would. If the port cannot take the bytes in time, it drops frames and
counts them as ``tx_overruns``, as a microcontroller with a full transmit
buffer would.

The byte stream (:meth:`Replayer.chunks`) is separate from the transport
(:mod:`firmware_io.simulator.ports`), so tests can check the decoder against the
stream in memory, and the CLI can write it to a pty or a serial device.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Protocol

import numpy as np

from firmware_io.errors import BearingEdgeError
from firmware_io.protocol import frames as fr
from firmware_io.recordings import reader as rec
from firmware_io.recordings.ims import IMS_SAMPLE_RATE_HZ
from firmware_io.recordings.sources import ReadOptions, iter_recording_snapshots, iter_source_files
from firmware_io.protocol.encoder import encode_frame
from firmware_io.simulator.faults import Fate, FaultConfig, FaultInjector
from firmware_io.time_text import unix_seconds

FIRMWARE_VERSION = "bearing-replay 0.2.0"  # 0.2: states its burst length
DEFAULT_RATE_HZ = IMS_SAMPLE_RATE_HZ  # the recordings it replays are IMS's
#: Behind schedule by more than this (seconds of stream) and the device starts dropping frames.
MAX_LAG_S = 1.0


@dataclass(frozen=True)
class RecordedSnapshot:
    """One snapshot as the device streams it: int16 counts and when it was recorded."""

    first_index: int
    timestamp: float  # unix seconds, UTC
    counts: np.ndarray  # int16 (n_samples, n_channels)
    source: str


@dataclass(frozen=True)
class WireChunk:
    """One frame on its way out: the bytes to write (after faults) and the truth about it."""

    data: bytes
    frame: fr.Frame
    fate: Fate
    end_index: int  # stream position (samples) once this frame is out: paces the replay
    disconnect_after: bool = False


@dataclass
class ReplayStats:
    """What the virtual device did."""

    snapshots: int = 0
    frames: int = 0
    samples_frames: int = 0
    bytes_written: int = 0
    tx_overruns: int = 0    # frames dropped because the port did not keep up
    disconnects: int = 0
    elapsed_s: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class Port(Protocol):
    """What :meth:`Replayer.run` writes to (see :mod:`firmware_io.simulator.ports`)."""

    def write(self, data: bytes, stop: threading.Event) -> None: ...
    def disconnect(self) -> None: ...
    def reconnect(self) -> None: ...
    def drain(self, stop: threading.Event, timeout: float = 10.0) -> bool: ...


def read_sources(sources: Iterable[str | Path], scale: float = rec.IMS_SCALE,
                 sample_rate_hz: int = DEFAULT_RATE_HZ,
                 options: ReadOptions | None = None) -> Iterator[RecordedSnapshot]:
    """Snapshots of IMS files/folders, packed npz and raw .npy, laid end to end as counts of ``scale``.

    With ``options``, any recording ``bearing-train ingest`` reads (text files, archives of them,
    WAV, self-describing npz: docs/recordings.md), read the same way; its rate must be
    ``sample_rate_hz``. Sources play in the order given. Raises :class:`recordings.RecordingError`
    (naming the file) for data that is not exactly representable as int16
    counts of ``scale``, and for snapshots of another shape than the first.
    """
    if options is not None:
        yield from _read_recordings(sources, scale, sample_rate_hz, options)
        return
    first_index = 0
    start = float(int(time.time()))  # whole seconds: raw arrays carry no time of their own
    check = rec.SameShape()  # one stream, one StreamInfo: every source must match the first
    for src in (Path(s) for s in sources):
        if src.is_file() and rec.is_npy(src):
            snaps = rec.iter_npy_snapshots(src, scale, sample_rate_hz, start + first_index / sample_rate_hz)
        else:
            snaps = rec.iter_snapshots([src])
        for snap in snaps:
            counts = check(snap).as_counts(scale)
            yield RecordedSnapshot(first_index, unix_seconds(snap.timestamp), counts, snap.source)
            first_index += counts.shape[0]


def _read_recordings(sources: Iterable[str | Path], scale: float, sample_rate_hz: int,
                     options: ReadOptions) -> Iterator[RecordedSnapshot]:
    """:func:`read_sources` through the recordings reader of ``bearing-train ingest``."""
    from dataclasses import replace

    options = replace(options, sample_rate_hz=float(sample_rate_hz))  # a file stating another rate is named
    first_index = 0
    for recorded in iter_recording_snapshots(iter_source_files(sources, options.pattern), options):
        snap = recorded.snapshot
        counts = snap.as_counts(scale)
        yield RecordedSnapshot(first_index, unix_seconds(snap.timestamp), counts, snap.source)
        first_index += counts.shape[0]


class ReplayError(BearingEdgeError, ValueError):
    """The replay cannot run as asked: a snapshot range, speed or frame size out of bounds."""


class Replayer:
    """A virtual accelerometer that streams recorded snapshots as protocol frames.

    ``speed``: 1.0 = real time at ``sample_rate_hz``, 10 = ten times faster,
    0 = as fast as the port takes the bytes. ``loops``: how many times to
    play the recording (0 = forever); the sample index keeps counting up.
    ``start``/``stop``: play only snapshots ``start <= k < stop`` of the
    recording (0-based, like a Python slice; ``stop`` None = to the end). They
    keep the stream positions they have in the whole recording, so two
    partial replays line up with one whole replay (commissioning tests).
    ``burst_every_s``: the recording is of bursts this many seconds apart; each snapshot
    starts a burst period after the previous one (None: end to end). ``options``: read the
    sources like ``bearing-train ingest`` (see :func:`read_sources`).
    """

    def __init__(self, sources: Iterable[str | Path], *, sample_rate_hz: int = DEFAULT_RATE_HZ,
                 scale: float = rec.IMS_SCALE, speed: float = 1.0,
                 frame_samples: int = fr.DEFAULT_FRAME_SAMPLES, faults: FaultConfig | None = None,
                 device_id: str = "bearing-replay", firmware_version: str = FIRMWARE_VERSION,
                 info_interval_s: float = 1.0, loops: int = 1, start: int = 0, stop: int | None = None,
                 burst_every_s: float | None = None, options: ReadOptions | None = None) -> None:
        if start < 0 or (stop is not None and stop <= start):
            raise ReplayError(f"snapshot range must satisfy 0 <= start < stop, got start={start}, stop={stop}")
        if speed < 0:
            raise ReplayError(f"speed must be >= 0 (0 = as fast as possible), got {speed}")
        if frame_samples < 1:
            raise ReplayError(f"frame_samples must be >= 1, got {frame_samples}")
        if burst_every_s is not None and not (0 < burst_every_s < 1e9):
            raise ReplayError(f"burst period must be > 0 s, got {burst_every_s}")
        fr.scale_ratio(scale)  # refuse a scale the wire cannot carry before streaming anything
        self.burst_period = None if burst_every_s is None else round(burst_every_s * sample_rate_hz)
        self.options = options
        self.sources = [Path(s) for s in sources]
        self.sample_rate_hz = int(sample_rate_hz)
        self.scale = scale
        self.speed = speed
        self.frame_samples = frame_samples
        self.faults = faults or FaultConfig()
        self.device_id = device_id
        self.firmware_version = firmware_version
        self.info_interval = max(1, round(info_interval_s * sample_rate_hz))
        self.loops = loops
        self.start, self.stop = start, stop
        self.stats = ReplayStats()
        self.injector = FaultInjector(self.faults)

    # --- the byte stream ---------------------------------------------------

    def snapshots(self) -> Iterator[RecordedSnapshot]:
        """Every snapshot to play, with its stream position (loops continue the index)."""
        offset, loop = 0, 0
        while self.loops == 0 or loop < self.loops:
            n = played = 0
            last_loop = loop == self.loops - 1
            for k, snap in enumerate(read_sources(self.sources, self.scale, self.sample_rate_hz, self.options)):
                if self.stop is not None and k >= self.stop and last_loop:
                    break  # the rest is read only to know where the next loop starts
                first = snap.first_index if self.burst_period is None else k * self.burst_period
                n = first + (snap.counts.shape[0] if self.burst_period is None else self.burst_period)
                if k < self.start or (self.stop is not None and k >= self.stop):
                    continue
                if not played:
                    self._check_frame_size(snap)  # every snapshot has the first one's shape
                played += 1
                yield RecordedSnapshot(first + offset, snap.timestamp, snap.counts, snap.source)
            if n == 0:
                raise rec.RecordingError(f"no snapshots found in {[str(s) for s in self.sources]}")
            if played == 0:
                raise rec.RecordingError(f"no snapshots in the range {self.start}..{self.stop}: "
                                         f"{[str(s) for s in self.sources]} has {k + 1}")
            offset += n
            loop += 1

    def check(self) -> int:
        """Read every snapshot of the range once, before anything streams; returns how many there are.

        A damaged file hours into a ``--speed 1`` replay ended the replay there (issue 21 #29): it is
        named now, before the port opens. Raises :class:`recordings.RecordingError` or :class:`ReplayError`.
        """
        loops, self.loops = self.loops, 1
        try:
            return sum(1 for _ in self.snapshots())
        finally:
            self.loops = loops

    def _check_frame_size(self, snap: RecordedSnapshot) -> None:
        if self.burst_period is not None and self.burst_period < snap.counts.shape[0]:
            raise ReplayError(f"bursts of {snap.counts.shape[0]} samples do not fit in a burst period of "
                              f"{self.burst_period} samples at {self.sample_rate_hz} Hz: give a longer burst period")
        n_channels = snap.counts.shape[1]
        most = (fr.MAX_PAYLOAD - fr.SAMPLES_HEADER_SIZE) // (2 * n_channels)
        if self.frame_samples > most:
            raise ReplayError(f"frame_samples {self.frame_samples} x {n_channels} channels does not fit in a "
                             f"frame ({fr.MAX_PAYLOAD} bytes of payload): use at most {most}")

    def stream_info(self, n_channels: int, snapshot_length: int) -> fr.StreamInfo:
        """What the virtual device streams: the recording's snapshots are its bursts (PROTOCOL.md 4.1)."""
        return fr.StreamInfo(self.device_id, self.firmware_version, self.sample_rate_hz, n_channels,
                             "int16", self.scale, snapshot_length=snapshot_length)

    def frames(self) -> Iterator[tuple[fr.Frame, int]]:
        """The device's frames before faults, each with the stream position after it."""
        seq = 0
        next_info = 0
        frames_sent = 0
        for snap in self.snapshots():
            n_ch = snap.counts.shape[1]
            self.stats.snapshots += 1
            for start in range(0, snap.counts.shape[0], self.frame_samples):
                index = snap.first_index + start
                if index >= next_info:
                    yield self.stream_info(n_ch, snap.counts.shape[0]), index
                    yield fr.DeviceStatus(uptime_ms=index * 1000 // self.sample_rate_hz,
                                          tx_overruns=self.stats.tx_overruns, frames_sent=frames_sent), index
                    next_info = index + self.info_interval
                if start == 0:
                    yield fr.SnapshotMark(snap.first_index, snap.timestamp), index
                block = snap.counts[start:start + self.frame_samples]
                frames_sent += 1
                yield fr.Samples(seq, index, block), index + block.shape[0]
                seq = (seq + 1) % fr.SEQ_MODULO

    def chunks(self) -> Iterator[WireChunk]:
        """The wire bytes frame by frame, after fault injection, with each frame's fate.

        A chunk with ``disconnect_after`` ends a connection; the device keeps
        sampling during the outage (``down_time * speed`` seconds of stream
        are lost; none at speed 0, where the device waits for the host) and
        starts the new connection with a StreamInfo.
        """
        cfg = self.faults
        since_disconnect = 0
        lose_until = -1  # stream index up to which frames are lost during an outage
        reconnected = False
        info: fr.StreamInfo | None = None  # the latest: a new connection starts with it
        for frame, end_index in self.frames():
            if isinstance(frame, fr.StreamInfo):
                info = frame
            self.stats.frames += 1
            if isinstance(frame, fr.Samples):
                self.stats.samples_frames += 1
            # Lost: a frame wholly inside the outage, whose stream position is before the device is
            # back. A mark (no samples) at exactly the reconnection point is sent: at speed 0 the
            # outage has no length, and dropping it would leave its snapshot unmarked.
            if reconnected and end_index - self._n_samples(frame) < lose_until and end_index <= lose_until:
                self.injector.drop()
                yield WireChunk(b"", frame, Fate.DROPPED, end_index)
                continue
            if reconnected and not isinstance(frame, fr.StreamInfo):
                self.stats.frames += 1
                data, fate = self.injector.apply(encode_frame(info))
                yield WireChunk(data, info, fate, end_index - self._n_samples(frame))
            reconnected = False
            data, fate = self.injector.apply(encode_frame(frame))
            since_disconnect += 1
            disconnect = bool(cfg.disconnect_every) and since_disconnect >= cfg.disconnect_every
            if disconnect:
                since_disconnect = 0
                reconnected = True
                lose_until = end_index + round(cfg.down_time * self.speed * self.sample_rate_hz)
            yield WireChunk(data, frame, fate, end_index, disconnect)

    @staticmethod
    def _n_samples(frame: fr.Frame) -> int:
        return frame.n_samples if isinstance(frame, fr.Samples) else 0

    # --- transport and pacing ----------------------------------------------

    def run(self, port: Port, stop: threading.Event | None = None) -> ReplayStats:
        """Write the stream to ``port`` with pacing and faults until done or ``stop`` is set."""
        stop = stop or threading.Event()
        started = time.monotonic()
        t0: float | None = None  # when sample 0 was taken: set once the first bytes are out
        rate = self.sample_rate_hz * self.speed
        for chunk in self.chunks():
            if stop.is_set():
                break
            if self.speed > 0 and t0 is not None:
                lag = time.monotonic() - (t0 + chunk.end_index / rate)
                if lag < 0:
                    if stop.wait(-lag):
                        break
                elif lag > MAX_LAG_S and isinstance(chunk.frame, fr.Samples) and chunk.fate != Fate.DROPPED:
                    self.stats.tx_overruns += 1  # the port is too slow: the device drops, as an MCU would
                    continue
            if chunk.data:
                # The first write may wait for a reader to open the port: the device's
                # clock starts when it is first heard, or every frame would be "late".
                port.write(chunk.data, stop)
                self.stats.bytes_written += len(chunk.data)
                if t0 is None and rate > 0:
                    t0 = time.monotonic() - chunk.end_index / rate
            if chunk.disconnect_after:
                self.stats.disconnects += 1
                if self.speed == 0:
                    # At speed 0 the device waits for the host, so the unplug loses nothing sent: closing
                    # a pty discards what its reader has not read yet (up to ~64 kB: a snapshot or two of
                    # frames, as many as the reader happened to lag, so the loss varied run to run).
                    port.drain(stop)
                port.disconnect()
                if stop.wait(self.faults.down_time):
                    break
                port.reconnect()
        else:
            port.drain(stop)
        self.stats.elapsed_s = time.monotonic() - started
        self.stats.faults = self.injector.log.as_dict()
        return self.stats

"""One sensor board: serial link -> decoder -> whole snapshots, with the checks on its stream.

A sensor board is a microcontroller with its accelerometer on one serial
device. It describes its stream (:class:`~firmware_io.protocol.frames.StreamInfo`:
device, channels, rate, scale) and then sends samples. :class:`SensorBoard`
owns everything between the port and a whole snapshot:

* the :class:`~edge_agent.stream.serial_link.SerialLink` (reopens a vanished device),
* the :class:`~firmware_io.protocol.decoder.StreamDecoder` (bytes -> checked frames),
* the :class:`~edge_agent.stream.snapshots.SnapshotAssembler` (frames -> snapshots),
* the stream checks: samples before any StreamInfo cannot be scaled, and a
  stream that does not match the features' spec (the bundle's, or in learning
  mode the one built from the ``[learning]`` section) is not recorded at all.

The agent's loop asks each board for its finished snapshots (:meth:`SensorBoard.poll`),
so a machine with two boards is a list of two, not a second loop.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Callable, Iterator

from edge_agent.config import LearningSection, SerialSection
from edge_agent.features.spec import FeatureSpec
from edge_agent.stream.serial_link import HOLD_MAX_S, SerialLink
from edge_agent.stream.snapshots import Snapshot, SnapshotAssembler
from firmware_io.protocol.decoder import StreamDecoder
from firmware_io.protocol.frames import DeviceStatus, Samples, SnapshotMark, StreamInfo

log = logging.getLogger("edge_agent")

#: The decoder's counters that the journal keeps (cumulative across runs).
DECODER_COUNTERS = ("bytes_in", "frames_ok", "bad_checks", "resyncs", "bytes_skipped", "seq_gaps",
                    "frames_missing", "missing_samples", "index_rewinds", "malformed", "unknown_frames",
                    "burst_pauses")
#: One past the last sample index the agent uses: the wire's first_index is a uint64, but the
#: journal (SQLite INTEGER) holds signed 64 bits, and no sample clock gets near 2^63 ticks
#: (14 million years at 20 kHz): a larger index is a firmware bug or a corrupted counter.
INDEX_LIMIT = 1 << 63
#: Frames that may stand between a read and the snapshot's last sample without the read seeing
#: them: the one being filled at the device. With the time margin below, the last hold ends about
#: two frames before a snapshot's end, and only those are read as they come: each prompt read is
#: two wakes, and a margin of three frames and 100 ms (11 prompt reads a snapshot) cost the agent
#: about 0.3-0.4 % of a core more (``benchmarks.bench_agent``; docs/edge_agent.md has the runs).
HOLD_MARGIN_FRAMES = 1
#: How far ahead of its sample clock a sender may run and still have a snapshot's last frame read
#: as it arrives (a USB host catching up after being descheduled). A sender further ahead leaves that
#: frame waiting in the OS buffer until the hold ends, unless its backlog is noticed (BACKLOG_FACTOR).
HOLD_MARGIN_S = 0.02
#: A read that brought more samples than the stream's rate can have made since the read before
#: (by this factor, plus a frame for a burst's edge) comes from a sender ahead of its sample clock:
#: a device's backlog, a replay at ``--speed 0`` (commissioning from a recording). The hold assumes
#: real time; against a backlog it would cap the agent at an OS buffer per hold (a pty's 20 kB per
#: 80 ms: 1.3 snapshots a second, measured), so the reads that follow such a read do not hold.
BACKLOG_FACTOR = 1.1
#: The board's own counters, next to the decoder's.
DEVICE_COUNTERS = ("uptime_ms", "adc_overruns", "tx_overruns", "frames_sent", "errors")


def stream_bursts(info: StreamInfo, derived_burst: int | None = None) -> tuple[int | None, str]:
    """The stream's burst length (None: continuous) and how it is known, for the messages.

    Stated by the StreamInfo; or, from firmware of the first layout (no length field), seen by the
    decoder in the sample index (:attr:`StreamDecoder.derived_burst`).
    """
    if info.snapshot_length is None and derived_burst:
        return derived_burst, " (seen in its sample index: its firmware does not state a burst length)"
    return info.burst_length, ""


def spec_mismatch(spec: FeatureSpec, info: StreamInfo, derived_burst: int | None = None) -> str | None:
    """Why features from this stream are not what the bundle's model learned, or None.

    Channels, rate, and the snapshot length of a device that sends bursts: a snapshot longer
    than a burst would have to be stitched from bursts seconds apart, a shorter one would not
    be what the model learned either. A continuous stream is cut into snapshots of the
    bundle's length, so any length fits it. ``derived_burst``: see :func:`stream_bursts`.
    """
    problems = []
    if spec.n_channels != info.n_channels:
        problems.append(f"{info.n_channels} channels, the bundle expects {spec.n_channels} "
                        f"({', '.join(spec.channel_names)})")
    if spec.sample_rate_hz != info.sample_rate_hz:
        problems.append(f"{info.sample_rate_hz} Hz, the bundle expects {spec.sample_rate_hz} Hz")
    burst, how = stream_bursts(info, derived_burst)
    if burst and spec.samples_per_snapshot != burst:
        problems.append(f"bursts of {burst} samples{how}, the bundle expects snapshots of "
                        f"{spec.samples_per_snapshot} (train on the sensor's own bursts)")
    if problems:
        return f"stream from device {info.device_id!r} does not match the bundle: " + "; ".join(problems)
    return None


def scale_problem(info: StreamInfo) -> str | None:
    """Why the stream's scale cannot turn counts into a vibration level, or None.

    The wire's ``scale_num`` is signed, but a zero, negative (or, built in code, NaN) scale
    is a firmware or wiring bug: every feature would be zero or negative and the model
    would alarm on it (PROTOCOL.md 4.1: the scale is finite and > 0).
    """
    if math.isfinite(info.scale) and info.scale > 0:
        return None
    return (f"stream from device {info.device_id!r} states a scale of {info.scale!r} units per count; "
            "the protocol requires a finite scale > 0: fix scale_num/scale_den in the board's firmware")


def describe_change(before: StreamInfo, after: StreamInfo) -> str:
    """What differs between two stream descriptions, e.g. ``scale 0.001 -> 1``."""
    changed = [f"{name} {getattr(before, name)!r} -> {getattr(after, name)!r}"
               for name in before.__dataclass_fields__ if getattr(before, name) != getattr(after, name)]
    return ", ".join(changed) or "no field"


def learning_names(learning: LearningSection, info: StreamInfo,
                   derived_burst: int | None = None) -> tuple[list[str], str | None]:
    """Channel names in learning mode (``[learning]``, else ch1..chN) and why they do not fit, or None."""
    names = list(learning.channel_names) or [f"ch{i + 1}" for i in range(info.n_channels)]
    if len(names) != info.n_channels:
        return names, (f"stream from device {info.device_id!r} has {info.n_channels} channels but "
                       f"[learning] channel_names lists {len(names)}: {names}")
    burst, how = stream_bursts(info, derived_burst)
    if burst and burst != learning.samples_per_snapshot:
        return names, (f"stream from device {info.device_id!r} sends bursts of {burst} samples{how} but "
                       f"[learning] samples_per_snapshot is {learning.samples_per_snapshot}: set it to {burst}")
    return names, None


class SensorBoard:
    """One board's stream, from serial bytes to whole snapshots of the expected spec.

    ``spec`` is the bundle's feature spec, or None in learning mode (the spec is
    then built from ``learning`` and the stream's rate once its StreamInfo arrives).
    Callbacks run in the loop's thread: ``on_event(kind, detail)`` for the journal
    and the other sinks; ``on_link_change()`` after the device came or went (the
    agent re-checks faults at once); ``register_stream(info, channel_names)``
    returns the journal's id of the stream.
    """

    def __init__(self, serial: SerialSection, *, spec: FeatureSpec | None, learning: LearningSection,
                 interval_s: float, on_event: Callable[[str, str], None], on_link_change: Callable[[], None],
                 register_stream: Callable[[StreamInfo, list[str]], int],
                 clock: Callable[[], float] = time.monotonic, burst_interval_s: float = 0.0) -> None:
        self.port = serial.port
        self.spec = spec
        self.learning = learning
        self.on_event, self.on_link_change, self.register_stream = on_event, on_link_change, register_stream
        self.decoder = StreamDecoder()
        length = spec.samples_per_snapshot if spec is not None else learning.samples_per_snapshot
        self.assembler = SnapshotAssembler(length, interval_s, burst_interval_s=burst_interval_s)
        self.link = SerialLink(serial.port, baudrate=serial.baudrate, read_timeout_s=serial.read_timeout_s,
                               reconnect_initial_s=serial.reconnect_initial_s,
                               reconnect_max_s=serial.reconnect_max_s, on_change=self._on_link_change,
                               hold=self.hold_s)
        self.info: StreamInfo | None = None
        self.last_info: StreamInfo | None = None  # kept while the device is away: reloads are checked against it
        self.feature_spec: FeatureSpec | None = None  # what to compute from this stream's snapshots
        self.stream_id: int | None = None
        self.channel_names: list[str] = []
        self.problem: str | None = None  # why this stream is not recorded, or None
        self.device_status: DeviceStatus | None = None
        self.counts = {"samples_before_info": 0, "samples_rejected_stream": 0, "samples_rejected_channels": 0,
                       "samples_rejected_index": 0}
        self.last_valid = time.monotonic()  # the no-data timer starts at start-up
        self.frame_samples = 0  # the largest Samples frame seen: the unit of the read's margin
        self.clock = clock
        self._derived_burst: int | None = None  # the decoder's, as last checked against the spec
        self._arrived = 0  # samples accepted since the last hold_s(), i.e. by the last read
        self._last_hold_at = clock()

    @property
    def connected(self) -> bool:
        return self.link.connected

    @property
    def chunk_time(self) -> float:
        """perf_counter() when the last read's first byte was seen: where the alarm latency starts."""
        return self.link.chunk_time

    def poll(self) -> Iterator[Snapshot]:
        """Read what is waiting and yield each snapshot it completes, in stream order.

        A generator, so the agent handles each snapshot before the next frame
        of the same read is looked at (a StreamInfo later in the read applies after it).
        """
        yield from self.feed(self.link.read())

    def hold_s(self) -> float:
        """How long the next read may leave bytes in the OS buffer without delaying an alarm.

        Called before each read. Waking for every ~2 kB frame is what costs a reader CPU; but
        no snapshot can complete before its remaining samples are sampled, at the stream's rate.
        So the read may wait until shortly before that (less :data:`HOLD_MARGIN_FRAMES` frames,
        at most the link's HOLD_MAX_S), and the reads that take a snapshot's last frames are
        prompt ones: the alarm latency stays that of reading every frame. A sender ahead of
        its sample clock (:data:`BACKLOG_FACTOR`: the last read brought more than the rate
        allows) is read without holds until it has caught up.
        """
        now = self.clock()
        arrived, elapsed = self._arrived, now - self._last_hold_at
        self._arrived, self._last_hold_at = 0, now
        if self.info is None:
            return HOLD_MAX_S  # no snapshot can complete before a StreamInfo and a snapshot of samples
        rate = self.info.sample_rate_hz
        if arrived > BACKLOG_FACTOR * elapsed * rate + self.frame_samples:
            return 0.0
        ahead = self.assembler.samples_to_complete - HOLD_MARGIN_FRAMES * self.frame_samples
        return max(0.0, ahead / rate - HOLD_MARGIN_S)

    def feed(self, data: bytes) -> Iterator[Snapshot]:
        """Decode ``data`` (bytes as read from the port) and yield each snapshot it completes, in stream order."""
        if data:
            for frame in self.decoder.feed(data):
                yield from self._on_frame(frame)

    def set_spec(self, spec: FeatureSpec) -> None:
        """A new bundle: its snapshot length from the next snapshot on, its check on the current stream."""
        self.spec = spec
        self.assembler.set_length(spec.samples_per_snapshot)
        if self.info is not None:
            self._on_stream_info(self.info)  # channel names and the stream row of the new bundle

    def bundle_problem(self, spec: FeatureSpec) -> str | None:
        """Why a bundle of ``spec`` could not score this board's stream (the last one while the device is
        away), or None: :func:`spec_mismatch` with the bursts the decoder saw in the sample index of
        firmware that does not state its burst length. For a reload's check before the swap."""
        info = self.info or self.last_info
        return spec_mismatch(spec, info, self.decoder.derived_burst) if info is not None else None

    def resume_cadence(self, last_timestamp: float) -> None:
        """Continue the cadence from the last snapshot journaled before a restart."""
        self.assembler.last_timestamp = last_timestamp

    def readings(self) -> dict[str, int]:
        """This run's cumulative counts (decoder, stream checks, assembler, link), for the counters."""
        stats, assembled = self.decoder.stats, self.assembler.counts
        out = {name: int(getattr(stats, name, 0)) for name in DECODER_COUNTERS}
        out.update(self.counts)
        out.update(snapshots_completed=assembled["completed"], snapshots_discarded_gap=assembled["discarded_gap"],
                   snapshots_skipped_cadence=assembled["skipped_cadence"],
                   reconnects=max(0, self.link.connects - 1), disconnects=self.link.disconnects)
        return out

    def device_readings(self) -> dict[str, int]:
        """The board's own counters, as it last reported them (latest values, not sums)."""
        if self.device_status is None:
            return {}
        return {f"device_{name}": int(getattr(self.device_status, name)) for name in DEVICE_COUNTERS}

    def close(self) -> None:
        self.link.close()

    # -- frames ---------------------------------------------------------------------------
    def _on_frame(self, frame: object) -> list[Snapshot]:
        if isinstance(frame, Samples):
            self.frame_samples = max(self.frame_samples, frame.n_samples)
            if self.info is None:
                self.counts["samples_before_info"] += frame.n_samples  # scale unknown yet
                return []
            if self.decoder.derived_burst != self._derived_burst:
                self._derived_burst = self.decoder.derived_burst
                self._recheck()  # old firmware turned out to send bursts: do they fit the spec?
            if self.problem:
                self.counts["samples_rejected_stream"] += frame.n_samples
                return []
            if frame.end_index > INDEX_LIMIT:
                self.counts["samples_rejected_index"] += frame.n_samples
                self.assembler.interrupt(f"sample index {frame.first_index} is beyond 2^63")
                return []
            if frame.samples.shape[1] != self.info.n_channels:
                # Not this stream's samples (a firmware bug, or a frame from another stream config):
                # the snapshot it lands in cannot be whole, and its features would not be the spec's.
                self.counts["samples_rejected_channels"] += frame.n_samples
                self.assembler.interrupt(f"a frame of {frame.samples.shape[1]} channels in a stream of "
                                     f"{self.info.n_channels} (device {self.info.device_id!r})")
                return []
            self.last_valid = time.monotonic()
            self._arrived += frame.n_samples
            return self.assembler.feed(frame)
        if isinstance(frame, StreamInfo):
            if frame != self.info:
                self._on_stream_info(frame)
        elif isinstance(frame, DeviceStatus):
            self.device_status = frame
        elif isinstance(frame, SnapshotMark) and frame.first_index < INDEX_LIMIT:
            self.assembler.feed(frame)  # a mark past INDEX_LIMIT could never start a usable snapshot
        return []

    def _on_stream_info(self, info: StreamInfo) -> None:
        previous, self.info = self.info, info
        self.last_info = info
        self.assembler.set_burst(stream_bursts(info, self.decoder.derived_burst)[0])
        if previous is not None and previous != info:
            # Any change (a scale too, not only channels or rate): the samples before it were meant
            # another way, so the snapshot being collected is not one stream's and is discarded.
            self.assembler.reset(f"the stream description changed ({describe_change(previous, info)})",
                                 device_lost=False)
        self.channel_names, self.problem, self.feature_spec = self._check(info)
        self.stream_id = self.register_stream(info, self.channel_names)
        log.info("stream: device %r firmware %r, %d channels at %d Hz, scale %g per count",
                 info.device_id, info.firmware_version, info.n_channels, info.sample_rate_hz, info.scale)
        if self.problem:
            log.error("%s; not scoring", self.problem)
            self.on_event("stream_mismatch", self.problem)

    def _recheck(self) -> None:
        """Check the current stream again (the decoder saw bursts that its StreamInfo does not state)."""
        if self.info is None or self.problem:
            return
        self.channel_names, self.problem, self.feature_spec = self._check(self.info)
        self.assembler.set_burst(stream_bursts(self.info, self._derived_burst)[0])
        if self.problem:
            self.assembler.interrupt(self.problem)
            log.error("%s; not scoring", self.problem)
            self.on_event("stream_mismatch", self.problem)

    def _check(self, info: StreamInfo) -> tuple[list[str], str | None, FeatureSpec | None]:
        """The stream's channel names, why it cannot be used (or None), and the spec to compute."""
        unscalable = scale_problem(info)
        if unscalable:
            return list(self.spec.channel_names) if self.spec else [], unscalable, None
        derived = self.decoder.derived_burst
        if self.spec is not None:
            problem = spec_mismatch(self.spec, info, derived)
            return list(self.spec.channel_names), problem, None if problem else self.spec
        names, problem = learning_names(self.learning, info, derived)
        if problem:
            return names, problem, None
        try:
            spec = FeatureSpec(tuple(names), sample_rate_hz=info.sample_rate_hz,
                               samples_per_snapshot=self.learning.samples_per_snapshot)
        except ValueError as exc:  # e.g. a sample rate of 0 Hz: nothing a model could learn from
            return names, f"stream from device {info.device_id!r} cannot be recorded: {exc}", None
        return names, None, spec

    def _on_link_change(self, connected: bool, reason: str) -> None:
        if connected:
            self.on_event("device_connected", reason)
            self.last_valid = time.monotonic()
        else:
            self.on_event("device_lost", reason)
            # A reopened device restarts its stream: forget partial bytes, a partial snapshot
            # and the stream description; the device sends StreamInfo again.
            self.decoder.reset()
            self.assembler.reset("the device disappeared")
            self.info = None
        self.on_link_change()

"""Frames in, whole contiguous snapshots out: the model never sees a partial one.

A snapshot is ``length`` consecutive samples by the device's sample index
(``Samples.first_index``), not by arrival: a frame lost on the wire, a resync
after corrupted bytes or a device reset shows up as a jump in the index, and
the snapshot that spans it is thrown away (and counted) rather than scored,
because a mean over a hole is not the feature the model learned.

Which snapshots are taken:

* With :class:`~firmware_io.protocol.frames.SnapshotMark` frames (a replayed
  recording), snapshot *k* of the recording starts at the mark's
  ``first_index`` and carries the mark's ``timestamp``, so the agent scores the
  recording's own snapshots exactly.
* Without marks (a real device), a snapshot starts at the first frame that
  arrives once one is due, and is stamped with the wall clock when its first
  samples arrived.

* From a device that sends bursts (its StreamInfo states a ``snapshot_length``,
  PROTOCOL.md 4.1; :meth:`SnapshotAssembler.set_burst`), a snapshot starts only
  at a burst's first sample (after an index jump, or a burst length after the
  previous start): joining a stream in the middle of a burst costs the rest of
  that burst only (discarded at its pause, counted once). The bundle's snapshot
  length equals the burst length (the sensor board refuses any other), so a
  snapshot ends with its burst, and the pause after it splits none.

Either way a snapshot is taken only if its time is at least the cadence after
the previous one taken (``0`` takes every one): ``interval_s`` for a continuous
stream (a model trained on 10-minute data is not asked to score every second),
``burst_interval_s`` for a burst stream (default 0: every burst, since the
device already chose its cadence).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from edge_agent.stream.marks import MarkQueue
from firmware_io.protocol.frames import Samples, SnapshotMark

log = logging.getLogger(__name__)

#: Samples received without a whole snapshot taken (or skipped by the cadence), in snapshot
#: lengths (or mark periods, if longer), after which the stream counts as stalled: a mark far
#: ahead of the stream, marks that match no sample, indices that jump in every frame. Ten, so
#: that a noisy cable (a quarter of the snapshots lost, three in a row now and then) is not a
#: stall: it has its own fault, the bad-frame rate.
STALL_SNAPSHOTS = 10
#: Snapshots discarded in a row (any reason: gaps, a stream description that keeps changing) that
#: make a sensor fault: none of them was scored, so "normal" would be a guess.
MAX_DISCARDED_IN_ROW = 5
#: The "snapshot discarded" warning at most this often; the ones in between are counted in the next.
DISCARD_LOG_EVERY_S = 60.0

#: Slack on the cadence, so that a recording made every 600 s is not skipped
#: every other time for a timestamp that is a few microseconds early.
CADENCE_SLACK_S = 1.0


@dataclass(frozen=True, eq=False)
class Snapshot:
    """``samples[i]`` is sample ``first_index + i``; int16 counts ``(length, n_channels)``."""

    first_index: int
    timestamp: float  # unix seconds UTC
    samples: np.ndarray
    marked: bool  # True when the stream's SnapshotMark defined it (replay)


class SnapshotAssembler:
    """Collects :class:`Samples` into :class:`Snapshot` objects of ``length`` samples.

    ``feed`` takes every decoded frame (other frame types are ignored) and
    returns the snapshots it completed. ``counts`` says how many were
    completed, discarded for a gap, and skipped by the cadence.
    """

    def __init__(self, length: int, interval_s: float = 600.0,
                 clock: Callable[[], float] = time.time, burst_interval_s: float = 0.0) -> None:
        if length < 1:
            raise ValueError(f"snapshot length must be >= 1, got {length}")
        self.length = length
        self.interval_s = float(interval_s)
        self.burst_interval_s = float(burst_interval_s)
        self.burst: int | None = None  # samples per burst, if the device says it sends bursts
        self._last_end: int | None = None  # index after the last Samples frame: a jump from it starts a burst
        self._origin: int | None = None  # where the current run of bursts began (None: joined mid-burst)
        self.clock = clock
        self.counts = {"completed": 0, "discarded_gap": 0, "skipped_cadence": 0}
        self.marked_stream = False  # seen a SnapshotMark since the last reset
        self.last_timestamp: float | None = None  # of the last snapshot taken
        self._buf: np.ndarray | None = None
        self._start: int | None = None  # first_index of the snapshot being collected
        self._stamp = 0.0
        self._filled = 0
        self._marks = MarkQueue()
        #: samples received since a whole snapshot was last taken or skipped by the cadence (an
        #: unmarked stream waiting for its cadence is not idle): see :attr:`stall_samples`
        self.idle_samples = 0
        #: snapshots discarded since one was last taken (health faults at MAX_DISCARDED_IN_ROW), and the last reason
        self.discarded_in_row = 0
        self.last_discard_reason = ""
        self._log_at = -float("inf")
        self._unlogged = 0

    # -- public -------------------------------------------------------------
    @property
    def collecting(self) -> bool:
        """True while a snapshot is partly collected (a bundle swap waits for none)."""
        return self._start is not None and self._filled > 0

    @property
    def samples_to_complete(self) -> int:
        """Samples still to arrive before a snapshot can complete (the serial read may wait for most of them)."""
        return self.length - self._filled

    @property
    def pending_marks(self) -> int:
        """Marks waiting for their samples (bounded: a flood of marks is dropped and counted)."""
        return len(self._marks)

    @property
    def stall_samples(self) -> int:
        """:attr:`idle_samples` beyond this is a stalled stream (health calls it a sensor fault)."""
        return STALL_SNAPSHOTS * max(self.length, self._marks.period_ or 0)

    @property
    def cadence_s(self) -> float:
        """Seconds between snapshots taken: ``burst_interval_s`` on a burst stream, else ``interval_s``."""
        return self.burst_interval_s if self.burst else self.interval_s

    def set_burst(self, burst: int | None) -> None:
        """The device sends bursts of ``burst`` samples (its StreamInfo says so), or None: a continuous stream."""
        self.burst = burst or None

    def feed(self, frame: object) -> list[Snapshot]:
        if isinstance(frame, SnapshotMark):
            self._on_mark(frame)
            return []
        if isinstance(frame, Samples):
            return self._on_samples(frame)
        return []

    def interrupt(self, reason: str) -> None:
        """The stream broke here (an unusable frame): a partial snapshot is discarded, the marks stay."""
        if self.collecting:
            self._discard(reason)
        self._start, self._filled = None, 0

    def reset(self, reason: str, *, device_lost: bool = True) -> None:
        """Forget the stream: a partial snapshot and the waiting marks are discarded.

        ``device_lost`` (a reconnect, a device reset) also restarts the stall count; a stream
        description that changed on a live link does not: one that changes more often than a
        snapshot takes would otherwise reset it for ever, and no snapshot would ever be scored
        while the state said "normal" (issue 21 #1).
        """
        self.interrupt(reason)
        self._lost_marks(self._marks.clear(), reason)
        if device_lost:
            self.idle_samples = 0
            self._last_end = None  # a reopened device may resume mid-burst: its grid is unknown again
        self.marked_stream = False

    def set_length(self, length: int) -> None:
        """Use a new snapshot length from the next snapshot on (a new bundle's spec)."""
        if length != self.length:
            self.interrupt("snapshot length changed")  # the marks stay: they belong to the stream, not the bundle
            self.length = length
            self._buf = None

    # -- internals ----------------------------------------------------------
    def _due(self, timestamp: float) -> bool:
        last, cadence = self.last_timestamp, self.cadence_s
        if last is None or cadence <= 0 or timestamp < last:
            # every snapshot; or time went back (the wall clock was set back, or a replay
            # started its recording again): take it rather than stall for hours
            return True
        return timestamp - last >= cadence - min(CADENCE_SLACK_S, cadence / 2)

    def _on_mark(self, mark: SnapshotMark) -> None:
        if not self.marked_stream:
            self.marked_stream = True
            if self._start is not None:
                # an unmarked snapshot begun before the first mark: the marks rule now
                self._start, self._filled = None, 0
        self._lost_marks(self._marks.add(mark), f"snapshot marks lost before index {mark.first_index}")

    def _lost_marks(self, n: int, reason: str) -> None:
        if n:
            self.counts["discarded_gap"] += n
            self._discarded(n, reason)

    def _begin(self, first_index: int, timestamp: float) -> None:
        self._start, self._stamp, self._filled = first_index, timestamp, 0

    def _next_marked_start(self, frame_start: int, frame_end: int) -> None:
        """Begin collecting at the first due mark that falls in or before this frame."""
        while self._start is None and self._marks and self._marks.first().first_index < frame_end:
            mark = self._marks.pop()
            if not self._due(mark.timestamp):
                self.counts["skipped_cadence"] += 1
                self.idle_samples = 0
            elif mark.first_index < frame_start:
                # its first samples were lost before we got here: cannot be whole
                self._discard(f"snapshot at index {mark.first_index} started before the received stream")
            else:
                self._begin(mark.first_index, mark.timestamp)

    def _on_samples(self, frame: Samples) -> list[Snapshot]:
        out: list[Snapshot] = []
        start, data = frame.first_index, frame.samples
        end = start + len(data)
        # Bursts start after an index jump (a pause, a loss) or at the device's first sample, and
        # follow each other every `burst` samples while the index runs on (bursts back to back): an
        # unmarked snapshot of a burst stream begins only there once that grid is known.
        if start != self._last_end:
            self._origin = start if (self._last_end is not None or start == 0) else None
        self._last_end = end
        self.idle_samples += len(data)
        if self.collecting and self._buf is not None and self._buf.shape[1] != data.shape[1]:
            # a snapshot's channels are fixed by its first frame: never mix, never re-allocate a half-full buffer
            self._discard(f"a frame of {data.shape[1]} channels in a snapshot of {self._buf.shape[1]}")
            self._start, self._filled = None, 0
        if self._start is not None:
            if self._filled == 0 and end <= self._start:
                return out  # the marked snapshot starts after this frame
            expected = self._start + self._filled
            if start > expected or (self._filled > 0 and start < expected):
                self._discard(f"samples {expected}..{start - 1} missing" if start > expected
                              else f"sample index went back from {expected} to {start} (device reset?)")
                self._start, self._filled = None, 0
        pos = start
        while pos < end:
            if self._start is None:
                if self.marked_stream:
                    self._next_marked_start(pos, end)
                else:
                    if self.burst:
                        pos = self._next_burst(pos)
                        if pos >= end:
                            return out  # the burst begins in a later frame
                    now = self.clock()
                    if self._due(now):
                        self._begin(pos, now)
                    else:
                        self.idle_samples = 0  # waiting for the cadence, as it should
                        return out  # not due yet: nothing to collect in this frame
                if self._start is None or self._start >= end:
                    return out  # waiting for a mark: idle (see stall_samples)
                pos = max(pos, self._start)
            take = min(end - pos, self.length - self._filled)
            if self._buf is None or self._buf.shape != (self.length, data.shape[1]):
                self._buf = np.empty((self.length, data.shape[1]), dtype=np.int16)
            self._buf[self._filled:self._filled + take] = data[pos - start:pos - start + take]
            self._filled += take
            pos += take
            if self._filled == self.length:
                # hand the filled buffer over (no copy); the next snapshot gets a fresh one
                out.append(Snapshot(self._start, self._stamp, self._buf, self.marked_stream))
                self._buf = None
                self.counts["completed"] += 1
                self.discarded_in_row = 0
                self.last_timestamp = self._stamp
                self._start, self._filled = None, 0
                self.idle_samples = end - pos
        return out

    def _next_burst(self, pos: int) -> int:
        """The first burst start at or after index ``pos``; ``pos`` itself while the bursts' origin is unknown.

        Joined in mid-burst (a start, a reconnect), the first attempt may be the rest of a burst: it
        is discarded at the pause, counted, and the bursts' grid is known from then on. Waiting
        instead made the reads hold bytes back longer after a reconnect (the snapshot to complete
        looked a whole one away), and a replay unplugged again lost more of them in the pty.
        """
        if self._origin is None:
            return pos
        return self._origin + -(-(pos - self._origin) // self.burst) * self.burst

    def _discard(self, reason: str) -> None:
        self.counts["discarded_gap"] += 1
        self._discarded(1, reason)

    def _discarded(self, n: int, reason: str) -> None:
        """Count ``n`` discarded snapshots in the run, and say so at most every DISCARD_LOG_EVERY_S."""
        self.discarded_in_row += n
        self.last_discard_reason = reason
        self._unlogged += n
        now = time.monotonic()
        if now - self._log_at >= DISCARD_LOG_EVERY_S:
            more = f" ({self._unlogged - n} more since the last message)" if self._unlogged > n else ""
            log.warning("%d snapshot(s) discarded, not scored: %s%s", n, reason, more)
            self._log_at, self._unlogged = now, 0

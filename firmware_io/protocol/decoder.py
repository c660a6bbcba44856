"""Bytes in, checked frames out: a streaming decoder that survives any byte stream.

The rules that make it safe:

- a frame is yielded only if its header check (CRC-16) and frame check
  (CRC-32) both pass and its payload follows its type's layout;
- after any failure the decoder moves ONE byte past the failed sync word and
  searches again, so an intact frame hidden behind garbage or a truncated
  frame is always found;
- it never raises on input bytes: everything unexpected is a counter.

Speed comes from doing no per-byte Python work: ``bytearray.find`` looks for
the sync word, ``binascii``/``zlib`` check the CRCs and numpy views the
samples.
"""
from __future__ import annotations

import struct
from dataclasses import asdict, dataclass
from typing import Callable

from firmware_io.protocol import frames as fr
from firmware_io.protocol.crc import crc16, crc32

_U32 = struct.Struct("<I")


@dataclass
class DecoderStats:
    """Counters since the decoder was made (``reset`` keeps them).

    ``bytes_in`` = bytes in accepted frames + ``bytes_skipped`` + bytes still
    buffered, always. ``missing_samples`` counts sample indices skipped
    between consecutive Samples frames (from ``first_index``), so it covers
    frames lost on the wire and samples the device itself dropped alike, but
    not the pause after a whole burst of a device that states its burst length
    (StreamInfo ``snapshot_length``): those jumps are ``burst_pauses``.
    """

    bytes_in: int = 0
    frames_ok: int = 0
    bad_checks: int = 0        # header or frame CRC failures (every failed candidate)
    resyncs: int = 0           # times the decoder had to skip bytes to find a frame
    bytes_skipped: int = 0     # bytes not part of any accepted frame
    seq_gaps: int = 0          # Samples frames whose seq was not previous + 1 (forward jumps)
    frames_missing: int = 0    # sum of those forward seq jumps
    missing_samples: int = 0   # sample indices skipped (first_index > previous end)
    index_rewinds: int = 0     # first_index went backwards or repeated (device restart, duplicate)
    malformed: int = 0         # passed the CRCs but the payload did not follow its layout
    unknown_frames: int = 0    # passed the CRCs but unknown version or type: skipped
    burst_pauses: int = 0      # index jumps after a whole burst (the device pauses by design): not missing

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class StreamDecoder:
    """Feed it any chunks of the byte stream; it returns the frames they complete.

    >>> dec = StreamDecoder()
    >>> for frame in dec.feed(chunk): ...      # doctest: +SKIP

    Continuity (``seq`` and ``first_index``) is tracked across Samples frames
    to fill ``stats``; call :meth:`reset` after reopening the port so a
    reconnect is not counted as lost samples.
    """

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self._buf = bytearray()
        self._skipping = False  # inside a run of skipped bytes (one resync)
        self._need = 0  # bytes the checked frame header at the buffer's start needs: wait until then
        self._next_seq: int | None = None
        self._next_index: int | None = None
        self._burst: int | None = None  # the StreamInfo's burst length, if it states one
        self._states_length = False  # the StreamInfo has the snapshot_length field (else bursts are derived)
        #: Bursts seen in the sample index of a device that does not state a length (first StreamInfo
        #: layout): two runs of the same length between index jumps that lost no frame. None: none seen.
        self.derived_burst: int | None = None
        self._run_start: int | None = None  # index after the last such jump (None: joined mid-run)
        self._last_run: int | None = None  # the length of the run before it
        self._origin: int | None = None  # first index of the current burst (None: joined mid-burst)
        self._seen = 0  # samples received since the decoder joined, while the burst's origin is unknown
        self._parsers: dict[int, Callable[[bytes], fr.Frame]] = {
            fr.TYPE_SAMPLES: fr.unpack_samples,
            fr.TYPE_STREAM_INFO: lambda p: fr.unpack_stream_info(p, fr.PROTOCOL_VERSION),
            fr.TYPE_DEVICE_STATUS: fr.unpack_status,
            fr.TYPE_SNAPSHOT_MARK: fr.unpack_mark,
        }

    @property
    def pending_bytes(self) -> int:
        """Bytes held back: the start of a frame that has not fully arrived yet."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget partial bytes and continuity, e.g. after a re-plug (counters stay).

        The dropped partial bytes are counted as skipped.
        """
        self.stats.bytes_skipped += len(self._buf)
        self._buf.clear()
        self._need = 0
        self._skipping = False
        self._next_seq = None
        self._next_index = None
        self._origin = None
        self._run_start = self._last_run = self.derived_burst = None

    def feed(self, data: bytes) -> list[fr.Frame]:
        """Add ``data`` (any length, any split) and return the frames it completed, in order."""
        self.stats.bytes_in += len(data)
        self._buf += data
        if len(self._buf) < self._need:
            return []  # a serial read is often a fraction of a frame: its header was checked already
        return self._scan()

    def flush(self) -> list[fr.Frame]:
        """End of input (port closed, or idle): return what can still be decoded and empty the buffer.

        A frame start whose header looked valid makes the decoder wait for
        its full length; if the stream ends first, complete frames behind it
        would wait forever. ``flush`` gives up on such an incomplete start
        (its bytes count as skipped) and decodes whatever follows.
        """
        out: list[fr.Frame] = []
        while self._buf:
            self._skip(1)
            del self._buf[:1]
            out += self._scan()
        return out

    def _scan(self) -> list[fr.Frame]:
        """Take every complete frame off the front of the buffer; keep a partial one."""
        buf = self._buf
        out: list[fr.Frame] = []
        pos = 0
        end = len(buf)
        sync = fr.SYNC
        stats = self.stats
        self._need = 0
        while True:
            start = buf.find(sync, pos)
            if start < 0:
                # Keep a trailing first sync byte: it may begin a frame.
                keep = 1 if end > pos and buf[end - 1] == sync[0] else 0
                self._skip(end - keep - pos)
                pos = end - keep
                break
            if start > pos:
                self._skip(start - pos)
                pos = start
            if end - pos < fr.HEADER_SIZE:
                break
            _sync, version, ftype, length, hcrc = fr.HEADER.unpack_from(buf, pos)
            if hcrc != crc16(buf[pos:pos + 6]) or length > fr.MAX_PAYLOAD:
                stats.bad_checks += 1
                self._skip(1)
                pos += 1
                continue
            total = fr.HEADER_SIZE + length + fr.CRC_SIZE
            if end - pos < total:
                self._need = total  # this frame starts the buffer once it is trimmed below
                break  # wait for the rest of this frame
            body_end = pos + total - fr.CRC_SIZE
            if crc32(buf[pos:body_end]) != _U32.unpack_from(buf, body_end)[0]:
                stats.bad_checks += 1
                self._skip(1)
                pos += 1
                continue
            payload = bytes(buf[pos + fr.HEADER_SIZE:body_end])
            pos += total
            self._skipping = False
            frame = self._parse(version, ftype, payload)
            if frame is not None:
                out.append(frame)
        del buf[:pos]
        return out

    def _skip(self, n: int) -> None:
        if n <= 0:
            return
        if not self._skipping:
            self.stats.resyncs += 1
            self._skipping = True
        self.stats.bytes_skipped += n

    def _parse(self, version: int, ftype: int, payload: bytes) -> fr.Frame | None:
        """A checked frame's payload as a dataclass, or None (counted) if unusable."""
        stats = self.stats
        parser = self._parsers.get(ftype)
        if version != fr.PROTOCOL_VERSION or parser is None:
            stats.unknown_frames += 1
            return None
        try:
            frame = parser(payload)
        except fr.PayloadError:
            stats.malformed += 1
            return None
        stats.frames_ok += 1
        if ftype == fr.TYPE_SAMPLES:
            self._track(frame)  # type: ignore[arg-type]
        elif ftype == fr.TYPE_STREAM_INFO:
            self._burst = frame.burst_length  # type: ignore[union-attr]
            self._states_length = frame.snapshot_length is not None  # type: ignore[union-attr]
        return frame

    def _track(self, frame: fr.Samples) -> None:
        """Update the continuity counters with one Samples frame."""
        stats = self.stats
        lost_frames = 0
        if self._next_seq is not None and frame.seq != self._next_seq:
            jump = (frame.seq - self._next_seq) % fr.SEQ_MODULO
            if jump < fr.SEQ_MODULO // 2:
                stats.seq_gaps += 1
                stats.frames_missing += jump
                lost_frames = jump
        if self._next_index is None:
            # the device's first sample starts a burst; anywhere else the decoder joined mid-burst
            self._origin, self._seen = (0 if frame.first_index == 0 else None), 0
        elif frame.first_index > self._next_index:
            gap = frame.first_index - self._next_index
            if self._burst is None:
                stats.missing_samples += gap
            else:
                self._burst_gap(frame, gap, lost_frames * frame.n_samples)
            if not self._states_length:
                self._derive(frame.first_index, lost_frames)
        elif frame.first_index < self._next_index:
            stats.index_rewinds += 1
            self._origin = frame.first_index  # a restarted device starts a burst
            self._run_start = self._last_run = None
        if self._origin is None:
            self._seen += frame.n_samples
        self._next_seq = (frame.seq + 1) % fr.SEQ_MODULO
        self._next_index = frame.end_index

    def _derive(self, first_index: int, lost_frames: int) -> None:
        """At an index jump of a device that does not state a length: are these bursts?

        A jump with no frame lost (``seq`` continues) is the device skipping sample ticks itself;
        two such runs in a row of the same length are bursts of that length (an ADC overrun does
        not repeat at the same place). A jump that lost frames says nothing about the run's length.
        """
        run = self._next_index - self._run_start if self._run_start is not None and not lost_frames else None
        if run is not None and run == self._last_run:
            self.derived_burst = run
        self._last_run = run
        self._run_start = first_index

    def _burst_gap(self, frame: fr.Samples, gap: int, lost: int) -> None:
        """An index jump in a burst stream: samples lost inside the burst, or the pause after it.

        ``lost`` is what the frames missing by ``seq`` held (seq continues across a pause, so a jump
        with no frame missing after a whole burst is the pause itself). A jump that reaches past the
        burst's end is the pause, plus the lost frames' samples as missing; the lost frames that
        belonged to the new burst put its start before this frame.
        """
        stats, burst = self.stats, self._burst
        if self._origin is not None:
            # of the current burst: received, or lost before (bursts back to back restart every `burst`)
            done = (self._next_index - self._origin) % burst or burst
        else:
            done = burst if self._seen <= burst else None  # joined mid-burst: its rest was all we saw
        if done is not None and done + lost < burst:
            stats.missing_samples += gap  # inside the burst: every skipped index was a sample
            return
        if gap > lost:  # more skipped than lost: the device paused (bursts back to back do not)
            stats.burst_pauses += 1
        stats.missing_samples += min(gap, lost)
        into_new = max(0, lost - max(0, burst - done)) if done is not None else 0
        self._origin = frame.first_index - min(into_new, gap)

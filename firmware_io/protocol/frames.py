"""What travels on the wire: frame types, wire constants and payload layouts.

This module is the protocol in code (``PROTOCOL.md`` is the same protocol in
words, for firmware authors). The encoder and the decoder both use these
constants and pack/unpack functions, so the two sides cannot drift apart.

Every frame is::

    sync(2) version(1) type(1) length(2) header_crc16(2) | payload(length) | crc32(4)

all little-endian. ``header_crc16`` (CRC-16/CCITT-FALSE over the 6 bytes
before it) lets a reader reject a false sync word at once instead of waiting
for a bogus length; ``crc32`` (CRC-32/ISO-HDLC, zlib's) covers everything
before it, header included.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Union

import numpy as np

from firmware_io.errors import BearingEdgeError

#: Protocol version written in every header; a reader skips other versions.
PROTOCOL_VERSION = 1

#: Two bytes that start every frame. Neither is a likely high byte of a
#: small-amplitude int16 sample, so false syncs inside sample data are rare
#: (and the header check rejects the rest).
SYNC = b"\xa5\x7e"

HEADER = struct.Struct("<2sBBHH")  # sync, version, type, payload length, header crc16
HEADER_SIZE = HEADER.size  # 8
CRC_SIZE = 4
FRAME_OVERHEAD = HEADER_SIZE + CRC_SIZE  # 12 bytes around every payload

#: Largest payload a reader accepts; a header claiming more is treated as a false sync.
MAX_PAYLOAD = 16384

#: Frame types.
TYPE_STREAM_INFO = 0x01
TYPE_SAMPLES = 0x02
TYPE_DEVICE_STATUS = 0x03
TYPE_SNAPSHOT_MARK = 0x10  # replay only

#: ``Samples.seq`` is a uint32 that wraps to 0 after 2**32 - 1.
SEQ_MODULO = 1 << 32

#: sample_format codes on the wire.
SAMPLE_FORMATS = {1: "int16"}
SAMPLE_FORMAT_CODES = {name: code for code, name in SAMPLE_FORMATS.items()}

#: Samples per channel per frame used by the replay and the reference firmware:
#: 4 ch x 256 x 2 B = 2048 B of samples + 28 B framing = 1.4 % overhead.
DEFAULT_FRAME_SAMPLES = 256

MAX_TEXT = 32  # device_id and firmware_version, UTF-8 bytes

_INFO_FIXED = struct.Struct("<IBBHiI")  # rate, n_channels, format, reserved, scale_num, scale_den
#: The StreamInfo extension after the two texts (PROTOCOL.md 4.1): snapshot_length, uint32.
_INFO_LENGTH = struct.Struct("<I")
#: ``StreamInfo.snapshot_length`` of a device that samples without pause (any snapshot may be cut).
CONTINUOUS = 0
_SAMPLES_HEAD = struct.Struct("<IQHBB")  # seq, first_index, n_samples, n_channels, flags
SAMPLES_HEADER_SIZE = _SAMPLES_HEAD.size  # 16
_STATUS = struct.Struct("<QIIII")  # uptime_ms, adc_overruns, tx_overruns, frames_sent, errors
_MARK = struct.Struct("<Qq")  # first_index, timestamp in microseconds since the unix epoch


class PayloadError(BearingEdgeError, ValueError):
    """A payload that passed its CRC but does not follow its type's layout."""


@dataclass(frozen=True)
class StreamInfo:
    """What the device streams: sent at start, after a reconnect and every second.

    ``scale`` is physical units per count. On the wire it is a ratio of two
    integers (``scale_num / scale_den``) so that a microcontroller without a
    64-bit double (AVR) can send 0.001 exactly as 1/1000.

    ``snapshot_length`` (PROTOCOL.md 4.1, the extension after the texts): ``N > 0``, the
    device sends snapshots (bursts) of exactly N consecutive samples, and its sample index
    jumps between them; ``0`` (:data:`CONTINUOUS`), it samples without pause; ``None``,
    firmware of the first protocol layout, which does not say.
    """

    device_id: str
    firmware_version: str
    sample_rate_hz: int
    n_channels: int
    sample_format: str = "int16"
    scale: float = 1.0
    protocol_version: int = PROTOCOL_VERSION
    snapshot_length: int | None = None

    @property
    def burst_length(self) -> int | None:
        """Samples per burst if the device says it sends bursts, else None (continuous, or not stated)."""
        return self.snapshot_length or None


@dataclass(frozen=True, eq=False)
class Samples:
    """One block of interleaved samples: ``samples`` is int16 ``(n, n_channels)``.

    ``first_index`` counts sample-clock ticks since the device started, so
    samples the device failed to send show up as a jump in it.
    """

    seq: int
    first_index: int
    samples: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def end_index(self) -> int:
        """Index one past the last sample: the next frame's ``first_index`` if none is lost."""
        return self.first_index + self.n_samples

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Samples):
            return NotImplemented
        return (self.seq == other.seq and self.first_index == other.first_index
                and self.samples.shape == other.samples.shape
                and bool(np.array_equal(self.samples, other.samples)))

    __hash__ = None  # type: ignore[assignment]  # holds an array: not hashable


@dataclass(frozen=True)
class DeviceStatus:
    """The microcontroller's own counters: what it lost before the bytes left it.

    ``adc_overruns``: samples the ADC produced while the sample buffer was full
    (they appear as gaps in ``first_index``); ``tx_overruns``: frames dropped
    because the serial transmit buffer was full; ``errors``: anything else the
    firmware counts (sensor read failures).
    """

    uptime_ms: int
    adc_overruns: int = 0
    tx_overruns: int = 0
    frames_sent: int = 0
    errors: int = 0


@dataclass(frozen=True)
class SnapshotMark:
    """Replay only: recorded snapshot ``k`` starts at ``first_index`` (= k * 20480).

    ``timestamp`` is when the snapshot was recorded, unix seconds UTC (sent as
    integer microseconds). Real firmware does not send marks.
    """

    first_index: int
    timestamp: float


Frame = Union[StreamInfo, Samples, DeviceStatus, SnapshotMark]


# --- payload layouts -------------------------------------------------------

def scale_ratio(scale: float) -> tuple[int, int]:
    """``scale`` as ``(num, den)`` with ``num / den == scale`` exactly, or PayloadError (a ValueError)."""
    if not math.isfinite(scale):
        raise PayloadError(f"scale must be a finite number of units per count, got {scale!r}")
    frac = Fraction(scale).limit_denominator(0xFFFFFFFF)
    num, den = frac.numerator, frac.denominator
    if not (-(1 << 31) <= num < (1 << 31)) or num / den != scale or scale == 0:
        raise PayloadError(f"scale {scale!r} is not a non-zero ratio of an int32 and a uint32 "
                         "(e.g. 0.001 = 1/1000, 1/4096); pick a scale the firmware can state exactly")
    return num, den


def _text(value: str, what: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > MAX_TEXT:
        raise PayloadError(f"{what} {value!r} is {len(raw)} bytes in UTF-8; at most {MAX_TEXT} fit in a frame")
    return bytes([len(raw)]) + raw


def _read_text(payload: bytes, pos: int) -> tuple[str, int]:
    """A length-prefixed UTF-8 string at ``pos`` and the position after it."""
    if pos >= len(payload):
        raise PayloadError("stream info ends before its text fields")
    n = payload[pos]
    raw = payload[pos + 1:pos + 1 + n]
    if len(raw) != n:
        raise PayloadError("stream info text runs past the payload")
    try:
        return raw.decode("utf-8"), pos + 1 + n
    except UnicodeDecodeError as exc:
        raise PayloadError(f"stream info text is not UTF-8: {exc}") from None


def pack_stream_info(info: StreamInfo) -> bytes:
    if info.sample_format not in SAMPLE_FORMAT_CODES:
        raise ValueError(f"sample_format {info.sample_format!r} is not one of {sorted(SAMPLE_FORMAT_CODES)}")
    if not (0 < info.sample_rate_hz < (1 << 32)):
        raise ValueError(f"sample_rate_hz must be in 1..2**32-1, got {info.sample_rate_hz}")
    if not (0 < info.n_channels < 256):
        raise ValueError(f"n_channels must be in 1..255, got {info.n_channels}")
    num, den = scale_ratio(info.scale)
    length = info.snapshot_length
    if length is not None and not (0 <= length < (1 << 32)):
        raise ValueError(f"snapshot_length must be in 0..2**32-1 (0 = continuous), got {length}")
    return (_INFO_FIXED.pack(info.sample_rate_hz, info.n_channels, SAMPLE_FORMAT_CODES[info.sample_format],
                             0, num, den)
            + _text(info.device_id, "device_id") + _text(info.firmware_version, "firmware_version")
            + (b"" if length is None else _INFO_LENGTH.pack(length)))


def unpack_stream_info(payload: bytes, version: int) -> StreamInfo:
    fixed = _INFO_FIXED.size
    if len(payload) < fixed + 2:
        raise PayloadError(f"stream info payload of {len(payload)} bytes is shorter than {fixed + 2}")
    rate, n_ch, fmt, _reserved, num, den = _INFO_FIXED.unpack_from(payload)
    if fmt not in SAMPLE_FORMATS or n_ch == 0 or rate == 0 or den == 0 or num == 0:
        raise PayloadError(f"stream info has an invalid field (format {fmt}, channels {n_ch}, "
                           f"rate {rate}, scale {num}/{den})")
    device_id, pos = _read_text(payload, fixed)
    firmware, pos = _read_text(payload, pos)
    # Nothing after the texts: the first layout, which states no snapshot length. Then the
    # extension's snapshot_length; bytes after it are later extensions, which this reader skips.
    rest = len(payload) - pos
    if rest == 0:
        length = None
    elif rest < _INFO_LENGTH.size:
        raise PayloadError(f"stream info has {rest} bytes after its texts: too few for snapshot_length (4)")
    else:
        (length,) = _INFO_LENGTH.unpack_from(payload, pos)
    return StreamInfo(device_id, firmware, rate, n_ch, SAMPLE_FORMATS[fmt], num / den, version, length)


def pack_samples_head(seq: int, first_index: int, n_samples: int, n_channels: int) -> bytes:
    return _SAMPLES_HEAD.pack(seq, first_index, n_samples, n_channels, 0)


def unpack_samples(payload: bytes) -> Samples:
    if len(payload) < SAMPLES_HEADER_SIZE:
        raise PayloadError(f"samples payload of {len(payload)} bytes is shorter than its {SAMPLES_HEADER_SIZE}-byte header")
    seq, first_index, n, n_ch, _flags = _SAMPLES_HEAD.unpack_from(payload)
    if n_ch == 0 or len(payload) != SAMPLES_HEADER_SIZE + 2 * n * n_ch:
        raise PayloadError(f"samples payload of {len(payload)} bytes does not hold {n} x {n_ch} int16")
    data = np.frombuffer(payload, dtype="<i2", offset=SAMPLES_HEADER_SIZE).reshape(n, n_ch)
    return Samples(seq, first_index, data.astype(np.int16, copy=False))


def pack_status(status: DeviceStatus) -> bytes:
    return _STATUS.pack(status.uptime_ms, status.adc_overruns, status.tx_overruns,
                        status.frames_sent, status.errors)


def unpack_status(payload: bytes) -> DeviceStatus:
    if len(payload) != _STATUS.size:
        raise PayloadError(f"device status payload is {len(payload)} bytes, expected {_STATUS.size}")
    return DeviceStatus(*_STATUS.unpack(payload))


def pack_mark(mark: SnapshotMark) -> bytes:
    return _MARK.pack(mark.first_index, round(mark.timestamp * 1_000_000))


def unpack_mark(payload: bytes) -> SnapshotMark:
    if len(payload) != _MARK.size:
        raise PayloadError(f"snapshot mark payload is {len(payload)} bytes, expected {_MARK.size}")
    first_index, micros = _MARK.unpack(payload)
    return SnapshotMark(first_index, micros / 1_000_000)

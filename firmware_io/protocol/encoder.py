"""Turn frames into bytes: the host-side twin of ``firmware/bearing_frame.c``.

The replay uses it to act as a device, and the test vectors check it against
the C encoder byte for byte.
"""
from __future__ import annotations

import numpy as np

from firmware_io.protocol import frames as fr
from firmware_io.protocol.crc import crc16, crc32


def frame_bytes(frame_type: int, payload: bytes, version: int = fr.PROTOCOL_VERSION) -> bytes:
    """Wrap ``payload`` in a header and CRC: the one place frames are assembled."""
    if len(payload) > fr.MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds the protocol maximum of {fr.MAX_PAYLOAD}")
    head = fr.SYNC + bytes((version, frame_type)) + len(payload).to_bytes(2, "little")
    body = head + crc16(head).to_bytes(2, "little") + payload
    return body + crc32(body).to_bytes(4, "little")


class FrameEncoder:
    """Encodes one device's stream; owns the Samples sequence number.

    ``seq`` counts Samples frames (uint32, wrapping), so a reader can tell a
    dropped frame from a device that skipped samples.
    """

    def __init__(self, seq: int = 0) -> None:
        self.seq = seq % fr.SEQ_MODULO

    def info(self, info: fr.StreamInfo) -> bytes:
        if info.protocol_version != fr.PROTOCOL_VERSION:
            raise ValueError(f"this encoder writes protocol version {fr.PROTOCOL_VERSION}, "
                             f"not {info.protocol_version}")
        return frame_bytes(fr.TYPE_STREAM_INFO, fr.pack_stream_info(info))

    def samples(self, first_index: int, samples: np.ndarray) -> bytes:
        """Frame ``samples`` (int16, ``(n, n_channels)``) starting at sample ``first_index``."""
        x = np.asarray(samples)
        if x.dtype != np.int16:
            raise TypeError(f"samples must be int16 counts, got dtype {x.dtype}; convert with a scale first")
        if x.ndim != 2 or not (0 < x.shape[1] < 256) or x.shape[0] >= (1 << 16):
            raise ValueError(f"samples must be (n < 65536, 1..255 channels), got shape {x.shape}")
        if not (0 <= first_index < (1 << 64)):
            raise ValueError(f"first_index must fit in a uint64, got {first_index}")
        head = fr.pack_samples_head(self.seq, first_index, x.shape[0], x.shape[1])
        out = frame_bytes(fr.TYPE_SAMPLES, head + x.astype("<i2", copy=False).tobytes())
        self.seq = (self.seq + 1) % fr.SEQ_MODULO
        return out

    def status(self, status: fr.DeviceStatus) -> bytes:
        return frame_bytes(fr.TYPE_DEVICE_STATUS, fr.pack_status(status))

    def mark(self, mark: fr.SnapshotMark) -> bytes:
        return frame_bytes(fr.TYPE_SNAPSHOT_MARK, fr.pack_mark(mark))


def encode_frame(frame: fr.Frame) -> bytes:
    """Any frame as bytes; a Samples frame keeps its own ``seq`` (replays, tests, vectors)."""
    if isinstance(frame, fr.Samples):
        return FrameEncoder(frame.seq).samples(frame.first_index, frame.samples)
    enc = FrameEncoder()
    if isinstance(frame, fr.StreamInfo):
        return enc.info(frame)
    if isinstance(frame, fr.DeviceStatus):
        return enc.status(frame)
    if isinstance(frame, fr.SnapshotMark):
        return enc.mark(frame)
    raise TypeError(f"not a frame: {type(frame).__name__}")

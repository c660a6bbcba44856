"""Encoder/decoder round trips and the decoder's counters, on real IMS samples."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_io.protocol import frames as fr
from firmware_io.recordings import reader as rec
from firmware_io.protocol.crc import CRC16_CHECK, CRC32_CHECK, crc16, crc32
from firmware_io.protocol.decoder import StreamDecoder
from firmware_io.protocol.encoder import FrameEncoder, frame_bytes
from firmware_io.recordings import ims as datasets

INFO = fr.StreamInfo("bearing-replay", "0.1.0", 20000, 4, "int16", 0.001)


@pytest.fixture(scope="module")
def ims_counts() -> np.ndarray:
    """One real test-2 snapshot as int16 counts of 0.001."""
    return rec.to_counts(rec.read_snapshot_file(datasets.RAW_TEST2_DIR / "2004.02.12.10.32.39"))


def encode_snapshot(counts: np.ndarray, frame_samples: int = 256, first_index: int = 0) -> list[bytes]:
    enc = FrameEncoder()
    return [enc.samples(first_index + i, counts[i:i + frame_samples])
            for i in range(0, len(counts), frame_samples)]


def decode_all(data: bytes, chunk: int = 1 << 20) -> tuple[list[fr.Frame], StreamDecoder]:
    dec = StreamDecoder()
    out = []
    for i in range(0, len(data), chunk):
        out += dec.feed(data[i:i + chunk])
    return out, dec


def test_crc_check_values() -> None:
    assert crc16(b"123456789") == CRC16_CHECK == 0x29B1
    assert crc32(b"123456789") == CRC32_CHECK == 0xCBF43926


@pytest.mark.parametrize("frame", [
    INFO,
    fr.StreamInfo("", "", 1, 255, "int16", 1 / 4096),
    fr.StreamInfo("dev\u00e9", "x" * 32, 25600, 8, "int16", -0.0039),
    fr.StreamInfo("pronostia", "fw", 25600, 2, "int16", 0.001, snapshot_length=2560),
    fr.StreamInfo("rp2040", "fw", 20000, 4, "int16", 1 / 400, snapshot_length=fr.CONTINUOUS),
    fr.StreamInfo("big-burst", "fw", 51200, 1, "int16", 0.001, snapshot_length=2**32 - 1),
    fr.DeviceStatus(uptime_ms=2**40, adc_overruns=3, tx_overruns=2**32 - 1, frames_sent=7, errors=1),
    fr.SnapshotMark(20480, 1076582559.0),
    fr.SnapshotMark(2**64 - 1, 1076582559.123456),
])
def test_control_frames_round_trip(frame: fr.Frame) -> None:
    enc = FrameEncoder()
    data = {fr.StreamInfo: enc.info, fr.DeviceStatus: enc.status, fr.SnapshotMark: enc.mark}[type(frame)](frame)
    assert decode_all(data, chunk=1)[0] == [frame]


def test_real_snapshot_round_trips_exactly_one_byte_at_a_time(ims_counts: np.ndarray) -> None:
    data = b"".join(encode_snapshot(ims_counts[:2048]))
    frames, dec = decode_all(data, chunk=1)
    assert [f.seq for f in frames] == list(range(8))
    assert [f.first_index for f in frames] == list(range(0, 2048, 256))
    np.testing.assert_array_equal(np.concatenate([f.samples for f in frames]), ims_counts[:2048])
    assert frames[0].samples.dtype == np.int16
    assert dec.stats.frames_ok == 8 and dec.stats.bytes_in == len(data)
    assert dec.stats.bytes_skipped == dec.stats.bad_checks == dec.stats.missing_samples == 0


def test_overhead_at_4_channels_is_under_3_percent(ims_counts: np.ndarray) -> None:
    frame = encode_snapshot(ims_counts[:256])[0]
    assert len(frame) == 256 * 4 * 2 + fr.FRAME_OVERHEAD + fr.SAMPLES_HEADER_SIZE
    assert len(frame) / (256 * 4 * 2) - 1 < 0.03


def test_wire_layout_is_little_endian_with_documented_header(ims_counts: np.ndarray) -> None:
    frame = FrameEncoder(seq=0x01020304).samples(0x1122334455667788, ims_counts[:2])
    assert frame[:4] == b"\xa5\x7e\x01\x02"
    assert int.from_bytes(frame[4:6], "little") == len(frame) - 12
    assert int.from_bytes(frame[6:8], "little") == crc16(frame[:6])
    assert frame[8:12] == bytes([4, 3, 2, 1])
    assert frame[12:20] == bytes.fromhex("8877665544332211")
    assert np.frombuffer(frame[24:-4], "<i2").tolist() == ims_counts[:2].reshape(-1).tolist()
    assert int.from_bytes(frame[-4:], "little") == crc32(frame[:-4])


def test_encoder_refuses_what_the_wire_cannot_carry() -> None:
    enc = FrameEncoder()
    with pytest.raises(TypeError, match="int16"):
        enc.samples(0, np.zeros((4, 4), dtype=np.float64))
    with pytest.raises(ValueError, match="shape"):
        enc.samples(0, np.zeros(16, dtype=np.int16))
    with pytest.raises(ValueError, match="ratio"):
        enc.info(fr.StreamInfo("d", "f", 20000, 4, "int16", float(np.pi)))
    with pytest.raises(ValueError, match="at most 32"):
        enc.info(fr.StreamInfo("d" * 33, "f", 20000, 4))
    assert enc.seq == 0  # nothing was sent, so no sequence number was used


def test_counters_account_for_dropped_frames_and_device_gaps(ims_counts: np.ndarray) -> None:
    frames = encode_snapshot(ims_counts)  # 80 frames
    kept = [f for i, f in enumerate(frames) if i not in (3, 4, 50)]
    # The device itself skipped 100 samples before its next block (an ADC overrun).
    enc = FrameEncoder(seq=80)
    kept.append(enc.samples(20480 + 100, ims_counts[:256]))
    out, dec = decode_all(b"".join(kept), chunk=777)
    assert len(out) == 78
    assert dec.stats.seq_gaps == 2 and dec.stats.frames_missing == 3
    assert dec.stats.missing_samples == 3 * 256 + 100
    assert dec.stats.index_rewinds == 0


def test_duplicate_frame_is_a_rewind_not_a_gap(ims_counts: np.ndarray) -> None:
    frames = encode_snapshot(ims_counts[:1024])
    out, dec = decode_all(b"".join(frames[:3] + [frames[2]] + frames[3:]))
    assert len(out) == 5
    assert dec.stats.index_rewinds == 1
    assert dec.stats.missing_samples == dec.stats.seq_gaps == 0


def test_reset_forgets_continuity_and_partial_bytes(ims_counts: np.ndarray) -> None:
    frames = encode_snapshot(ims_counts[:2048])
    dec = StreamDecoder()
    assert len(dec.feed(b"".join(frames[:3]) + frames[3][:100])) == 3
    assert dec.pending_bytes == 100
    dec.reset()  # re-plug: the device resumes later in its sample stream
    assert dec.pending_bytes == 0
    # A frame shorter than the partial one that was waiting is not held back for it.
    mark = fr.SnapshotMark(1536, 1.0)
    assert dec.feed(FrameEncoder().mark(mark)) == [mark]
    assert len(dec.feed(b"".join(frames[6:]))) == 2
    assert dec.stats.missing_samples == 0 and dec.stats.seq_gaps == 0
    assert dec.stats.bytes_skipped == 100


def test_garbage_is_counted_not_raised_and_frames_behind_it_survive(ims_counts: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    garbage = rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    garbage += fr.SYNC + b"\x01\x02\x00\x10"  # a false start with a bad header check
    frames = encode_snapshot(ims_counts[:512])
    data = garbage + frames[0] + garbage[:999] + frames[1]
    out, dec = decode_all(data, chunk=4096)
    assert out == [fr.unpack_samples(f[8:-4]) for f in frames]
    assert dec.stats.bytes_skipped == len(garbage) + 999
    assert dec.stats.resyncs == 2
    assert dec.stats.bytes_in == sum(map(len, frames)) + dec.stats.bytes_skipped + dec.pending_bytes


def test_checked_but_unusable_frames_are_counted_and_skipped(ims_counts: np.ndarray) -> None:
    good = FrameEncoder().samples(0, ims_counts[:4])
    future = frame_bytes(fr.TYPE_SAMPLES, b"\x00" * 40, version=2)
    unknown_type = frame_bytes(0x7F, b"hello")
    malformed = frame_bytes(fr.TYPE_SAMPLES, b"\x00" * 17)  # header says 0 x 0 samples, 1 byte extra
    bad_info = frame_bytes(fr.TYPE_STREAM_INFO, fr.pack_stream_info(INFO)[:-3])
    out, dec = decode_all(future + unknown_type + malformed + bad_info + good, chunk=3)
    assert len(out) == 1 and out[0].first_index == 0
    assert dec.stats.unknown_frames == 2 and dec.stats.malformed == 2
    assert dec.stats.bad_checks == 0


def test_flush_releases_a_frame_stuck_behind_a_truncated_one(ims_counts: np.ndarray) -> None:
    frames = encode_snapshot(ims_counts[:512])
    mark = FrameEncoder().mark(fr.SnapshotMark(0, 1.0))
    dec = StreamDecoder()
    # The truncated frame's header promises 2 KB that never come: the mark waits behind it.
    assert dec.feed(frames[0][:1000] + mark) == []
    assert dec.flush() == [fr.SnapshotMark(0, 1.0)]
    assert dec.pending_bytes == 0
    assert dec.stats.bytes_skipped == 1000


def test_stream_info_tells_the_first_layout_from_the_one_stating_the_snapshot_length() -> None:
    """PROTOCOL.md 4.1: nothing after the texts, the first layout; 4 bytes, snapshot_length; more, later fields."""
    from firmware_io.protocol.frames import pack_stream_info, unpack_stream_info

    first = pack_stream_info(INFO)
    assert unpack_stream_info(first, 1).snapshot_length is None  # old firmware: not stated
    assert unpack_stream_info(first + (2560).to_bytes(4, "little"), 1).snapshot_length == 2560
    # a later extension after snapshot_length is skipped by this reader, not refused
    assert unpack_stream_info(first + (0).to_bytes(4, "little") + b"\x07\x00", 1).snapshot_length == 0
    for cut in (1, 2, 3):  # a truncated field is a malformed frame, counted
        with pytest.raises(fr.PayloadError, match="too few for snapshot_length"):
            unpack_stream_info(first + b"\x00" * cut, 1)
        frames, dec = decode_all(frame_bytes(fr.TYPE_STREAM_INFO, first + b"\x00" * cut))
        assert frames == [] and dec.stats.malformed == 1
    with pytest.raises(ValueError, match="snapshot_length must be in 0..2"):
        pack_stream_info(fr.StreamInfo("d", "f", 20000, 4, snapshot_length=-1))
    assert fr.StreamInfo("d", "f", 1, 1, snapshot_length=0).burst_length is None
    assert fr.StreamInfo("d", "f", 1, 1, snapshot_length=2560).burst_length == 2560

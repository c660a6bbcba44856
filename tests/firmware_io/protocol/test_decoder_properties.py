"""Property-based tests of the decoder's guarantees on mangled streams.

A stream is built as a list of segments whose truth is known: intact frames,
and junk (corrupted frames, truncated frames, random garbage with sync words
in it). Spliced and duplicated streams are segment lists too. Whatever the
mangling and however the bytes are chunked, the decoder must return exactly
the intact frames, in order, never raise, and account for every byte.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_io.protocol import frames as fr
from firmware_io.protocol.decoder import StreamDecoder
from firmware_io.protocol.encoder import FrameEncoder, encode_frame as encode, frame_bytes

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def frames_st(draw) -> fr.Frame:
    kind = draw(st.sampled_from(["samples", "samples", "samples", "info", "status", "mark"]))
    if kind == "samples":
        n = draw(st.integers(1, 64))
        ch = draw(st.integers(1, 8))
        raw = draw(st.binary(min_size=2 * n * ch, max_size=2 * n * ch))
        return fr.Samples(draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**64 - 65536)),
                          np.frombuffer(raw, dtype="<i2").astype(np.int16).reshape(n, ch))
    if kind == "info":
        return fr.StreamInfo(draw(st.text(max_size=8)), draw(st.text(max_size=8)),
                             draw(st.integers(1, 100_000)), draw(st.integers(1, 16)), "int16",
                             draw(st.sampled_from([0.001, 1 / 4096, 2.5, -0.0039])))
    if kind == "status":
        u32 = st.integers(0, 2**32 - 1)
        return fr.DeviceStatus(draw(st.integers(0, 2**64 - 1)), draw(u32), draw(u32), draw(u32), draw(u32))
    return fr.SnapshotMark(draw(st.integers(0, 2**63)), draw(st.integers(0, 2**40)) / 1e6)


@st.composite
def junk_st(draw, frame: bytes) -> bytes:
    """Bytes that must not decode: the frame corrupted or cut short, or garbage."""
    how = draw(st.sampled_from(["corrupt", "truncate", "garbage"]))
    if how == "corrupt":
        buf = bytearray(frame)
        for pos in draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=4, unique=True)):
            buf[pos] ^= draw(st.integers(1, 255))
        return bytes(buf)
    if how == "truncate":
        return frame[:draw(st.integers(0, len(frame) - 1))]
    parts = draw(st.lists(st.one_of(st.binary(max_size=40), st.just(fr.SYNC), st.just(frame[:8])), max_size=6))
    return b"".join(parts)


@st.composite
def mangled_stream_st(draw) -> tuple[list[bytes], list[bool]]:
    """Segments of a mangled stream and which of them are intact frames."""
    segments, intact = [], []
    for frame in draw(st.lists(frames_st(), min_size=1, max_size=12)):
        data = encode(frame)
        fate = draw(st.sampled_from(["intact", "intact", "junk", "duplicate", "junk_before"]))
        if fate == "junk":
            segments.append(draw(junk_st(data)))
            intact.append(False)
            continue
        if fate == "junk_before":
            segments.append(draw(junk_st(data)))
            intact.append(False)
        copies = 2 if fate == "duplicate" else 1
        segments += [data] * copies
        intact += [True] * copies
    return segments, intact


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def decode(chunks: list[bytes]) -> tuple[list[fr.Frame], StreamDecoder]:
    dec = StreamDecoder()
    out: list[fr.Frame] = []
    for c in chunks:
        out += dec.feed(c)
    out += dec.flush()
    return out, dec


@SETTINGS
@given(mangled_stream_st(), st.lists(st.integers(0, 4000), max_size=30))
def test_decoder_returns_exactly_the_intact_frames(stream, cuts) -> None:
    segments, intact = stream
    data = b"".join(segments)
    out, dec = decode(chunked(data, cuts))
    assert [encode(f) for f in out] == [s for s, ok in zip(segments, intact) if ok]
    accepted = sum(len(s) for s, ok in zip(segments, intact) if ok)
    assert dec.stats.bytes_in == len(data) == accepted + dec.stats.bytes_skipped
    assert dec.stats.frames_ok == len(out)


@SETTINGS
@given(mangled_stream_st(), mangled_stream_st(), st.data())
def test_splicing_two_streams_loses_nothing_intact(a, b, data) -> None:
    """Cut stream A at any byte and continue with stream B from any byte (a re-plug mid-frame)."""
    sa, ia = a
    sb, ib = b
    cut_a = data.draw(st.integers(0, len(sa)))
    cut_b = data.draw(st.integers(0, len(sb)))
    head, tail = sa[:cut_a], sb[cut_b:]
    # The segments at the cut are cut short: junk, unless cut at the very end.
    tail_a = data.draw(st.binary(max_size=0)) if cut_a == len(sa) else sa[cut_a][:data.draw(
        st.integers(0, max(0, len(sa[cut_a]) - 1)))]
    # B is joined mid-segment: the end of the segment before cut_b is junk.
    head_b = sb[cut_b - 1][data.draw(st.integers(1, max(1, len(sb[cut_b - 1])))):] if cut_b else b""
    # The two partial frames may join into a whole one (A cut after its sync
    # byte, B joined after the same byte): then it is an intact frame.
    joint = tail_a + head_b
    rejoined = [encode(f) for f in StreamDecoder().feed(joint)] == [joint]
    segments = head + [joint] + tail
    intact = ia[:cut_a] + [rejoined] + ib[cut_b:]
    out, _ = decode([b"".join(segments)])
    assert [encode(f) for f in out] == [s for s, ok in zip(segments, intact) if ok]


@SETTINGS
@given(st.binary(max_size=5000), st.lists(st.integers(0, 5000), max_size=20))
def test_pure_garbage_never_raises_and_is_all_skipped(garbage, cuts) -> None:
    out, dec = decode(chunked(garbage, cuts))
    assert out == []
    assert dec.stats.bytes_skipped == len(garbage)
    assert dec.pending_bytes == 0


@SETTINGS
@given(st.lists(st.integers(1, 300), min_size=2, max_size=40), st.data())
def test_missing_samples_equal_the_samples_of_lost_frames(sizes, data) -> None:
    """Drop and corrupt Samples frames (not the last): missing_samples counts exactly what was lost."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    enc = FrameEncoder(seq=data.draw(st.integers(0, 2**32 - 1)))  # also crosses the seq wrap
    index, segments, lost = data.draw(st.integers(0, 2**40)), [], 0
    lost_frames = 0
    for i, n in enumerate(sizes):
        frame = enc.samples(index, rng.integers(-32768, 32768, size=(n, 4), dtype=np.int16))
        index += n
        fate = "ok" if i in (0, len(sizes) - 1) else data.draw(st.sampled_from(["ok", "ok", "drop", "corrupt"]))
        if fate == "ok":
            segments.append(frame)
            continue
        lost += n
        lost_frames += 1
        if fate == "corrupt":
            pos = data.draw(st.integers(0, len(frame) - 1))
            segments.append(frame[:pos] + bytes([frame[pos] ^ 0x5A]) + frame[pos + 1:])
    out, dec = decode([b"".join(segments)])
    received = sum(f.n_samples for f in out)
    assert dec.stats.missing_samples == lost
    assert received + lost == sum(sizes)
    assert dec.stats.frames_missing == lost_frames


@SETTINGS
@given(st.sampled_from([fr.TYPE_STREAM_INFO, fr.TYPE_SAMPLES, fr.TYPE_DEVICE_STATUS, fr.TYPE_SNAPSHOT_MARK]),
       st.binary(max_size=300))
def test_checked_frames_with_arbitrary_payloads_never_raise(ftype, payload) -> None:
    """A buggy firmware can send a correct CRC over a wrong payload: counted as malformed, never a crash."""
    dec = StreamDecoder()
    out = dec.feed(frame_bytes(ftype, payload))
    assert len(out) + dec.stats.malformed == 1
    kinds = {fr.TYPE_STREAM_INFO: fr.StreamInfo, fr.TYPE_SAMPLES: fr.Samples,
             fr.TYPE_DEVICE_STATUS: fr.DeviceStatus, fr.TYPE_SNAPSHOT_MARK: fr.SnapshotMark}
    assert all(isinstance(f, kinds[ftype]) for f in out)

"""Burst-mode sensors (issue 24 #2): the snapshot length is part of the stream's contract.

A burst sensor samples N consecutive samples, pauses (its sample index jumps), and samples again,
like PRONOSTIA's 2,560 samples at 25.6 kHz every 10 s. Synthetic frames, fed as the port would
deliver the bytes, for each edge: a bundle of another length refused on the live stream, bursts
never stitched across their pause, every burst scored by default, old firmware (no length stated)
still working. The real recording through a pty is tests/e2e/test_pronostia_stream.py.
"""
from __future__ import annotations

import time

import numpy as np

from edge_agent.alarms.health import Health
from edge_agent.config import FaultsSection
from edge_agent.features.spec import FeatureSpec
from edge_agent.stream.snapshots import MAX_DISCARDED_IN_ROW, SnapshotAssembler
from firmware_io.protocol.decoder import StreamDecoder
from firmware_io.protocol.frames import Samples, StreamInfo
from tests.edge_agent.stream.test_sensor_board import offline_board, wire

RATE, BURST, PERIOD, FRAME = 25600, 512, 25600, 128  # bursts of 512 samples every second, 128 a frame


def burst_frames(n_bursts: int, *, first_burst: int = 0, seq: int = 0, skip_frames: tuple[int, ...] = ()):
    """Samples frames of ``n_bursts`` bursts; burst k starts at k * PERIOD; each sample's value is its index's."""
    out = []
    for k in range(first_burst, first_burst + n_bursts):
        for start in range(k * PERIOD, k * PERIOD + BURST, FRAME):
            frame_no = (start - k * PERIOD) // FRAME + k * (BURST // FRAME)
            if frame_no not in skip_frames:
                values = (np.arange(start, start + FRAME) % 30000).astype(np.int16)
                out.append(Samples(seq, start, np.stack([values, -values], axis=1)))
            seq += 1  # a frame dropped by the device or lost on the wire still used its seq
    return out


def info(length: int | None) -> StreamInfo:
    return StreamInfo("burst-7", "fw", RATE, 2, scale=0.001, snapshot_length=length)


def spec(length: int) -> FeatureSpec:
    return FeatureSpec(("horizontal", "vertical"), sample_rate_hz=RATE, samples_per_snapshot=length)


def test_every_burst_is_scored_whole_and_its_pause_is_not_a_loss():
    board, events = offline_board(spec=spec(BURST))
    board.assembler.interval_s = 600.0  # the continuous-stream cadence: not what a burst stream uses
    snaps = list(board.feed(wire(info(BURST), *burst_frames(5))))
    assert [s.first_index for s in snaps] == [k * PERIOD for k in range(5)]
    for s in snaps:  # each is its own burst's samples, in order
        np.testing.assert_array_equal(s.samples[:, 0], np.arange(s.first_index, s.first_index + BURST) % 30000)
    stats = board.decoder.stats
    assert stats.missing_samples == 0 and stats.burst_pauses == 4
    readings = board.readings()
    assert readings["snapshots_discarded_gap"] == 0 and readings["burst_pauses"] == 4
    assert board.problem is None and not [e for e in events if e[0] == "stream_mismatch"]


def test_a_bundle_of_another_snapshot_length_is_refused_on_the_live_stream():
    """The issue's case: a 20,480-sample bundle on 2,560-sample bursts scored 350 stitched "snapshots"."""
    board, events = offline_board(spec=spec(4 * BURST))
    snaps = list(board.feed(wire(info(BURST), *burst_frames(8))))
    assert snaps == []  # nothing scored, nothing stitched
    assert "bursts of 512 samples, the bundle expects snapshots of 2048" in board.problem
    assert events == [("stream_mismatch", board.problem)]
    assert board.readings()["samples_rejected_stream"] == 8 * BURST
    health = Health(FaultsSection(), [board])
    board.link.port = object()  # "connected": the mismatch is the reason shown, not a missing device
    health.observe(time.monotonic())
    assert health.reason == board.problem and not health.stalled
    # a shorter bundle is refused as well: the model would score part of each burst
    short, _ = offline_board(spec=spec(BURST // 2))
    assert list(short.feed(wire(info(BURST), *burst_frames(2)))) == [] and "expects snapshots of 256" in short.problem


def test_a_bundle_swap_is_checked_against_the_bursts_too():
    """reload.py checks a new bundle with spec_mismatch: the burst length is part of that check."""
    from edge_agent.stream.sensor_board import spec_mismatch

    assert spec_mismatch(spec(BURST), info(BURST)) is None
    assert "bursts of 512 samples" in spec_mismatch(spec(2048), info(BURST))
    # a continuous stream, or firmware that does not say, is cut into snapshots of any length
    assert spec_mismatch(spec(2048), info(0)) is None and spec_mismatch(spec(2048), info(None)) is None


def test_old_firmware_without_the_length_still_streams_and_bursts_are_never_stitched():
    """StreamInfo of the first layout (no snapshot_length): accepted; its bursts are seen in the index."""
    old = info(None)
    from firmware_io.protocol.encoder import encode_frame

    assert len(encode_frame(old)) == len(encode_frame(info(BURST))) - 4  # the first layout, on the wire
    board, events = offline_board(spec=spec(BURST))
    list(board.feed(wire(old)))
    assert board.problem is None and board.info.snapshot_length is None
    # it scores every whole burst; the decoder sees bursts of 512 (two runs between jumps that lost no frame)
    snaps = list(board.feed(wire(*burst_frames(4))))
    assert [s.first_index for s in snaps] == [k * PERIOD for k in range(4)]
    assert board.decoder.derived_burst == BURST and board.problem is None and events == []
    # a bundle twice the burst: the attempts reach the pause and are discarded, never joined to the next
    # burst; once two whole bursts have shown the length, the stream is refused, naming how it was known
    board, events = offline_board(spec=spec(2 * BURST))
    snaps = [s for f in (old, *burst_frames(6)) for s in board.feed(wire(f))]  # frame by frame, as it comes
    assert snaps == [] and board.readings()["snapshots_discarded_gap"] == 3  # bursts 0 to 2: none stitched
    assert "bursts of 512 samples (seen in its sample index" in board.problem and "expects snapshots of 1024" in board.problem
    assert events == [("stream_mismatch", board.problem)]
    health = Health(FaultsSection(), [board])
    board.link.port = object()
    health.observe(time.monotonic())
    assert health.reason == board.problem  # visible, not "normal"
    # a reload's check sees the derived bursts too: the burst length fits, another does not
    assert board.bundle_problem(spec(BURST)) is None
    assert "bursts of 512 samples (seen in its sample index" in board.bundle_problem(spec(2048))
    # a continuous stream of the first layout whose frames were lost is not taken for bursts
    board, events = offline_board(spec=spec(2 * BURST))
    lossy = burst_frames(1, seq=0)  # 4 frames, then frames lost (seq jumps) twice, same run lengths
    stream = [Samples(k + 10 * j, j * 1000 + k * FRAME, lossy[0].samples) for j in range(4) for k in range(4)]
    list(board.feed(wire(old, *stream)))
    assert board.decoder.derived_burst is None and board.problem is None


def test_joining_mid_burst_costs_that_burst_only_and_a_lost_frame_costs_its_burst_only():
    board, _ = offline_board(spec=spec(BURST))
    frames = burst_frames(4, seq=100)
    # the agent starts while burst 0 streams: its first two frames were sent before the port opened;
    # the rest of burst 0 is discarded at its pause (counted once), every later burst is whole
    snaps = list(board.feed(wire(info(BURST), *frames[2:])))
    assert [s.first_index for s in snaps] == [PERIOD, 2 * PERIOD, 3 * PERIOD]
    assert board.readings()["snapshots_discarded_gap"] == 1 and board.assembler.discarded_in_row == 0
    # a frame lost inside burst 1 (seq jumps): that burst is discarded, the others are whole
    board, _ = offline_board(spec=spec(BURST))
    snaps = list(board.feed(wire(info(BURST), *burst_frames(4, skip_frames=(5,)))))
    assert [s.first_index for s in snaps] == [0, 2 * PERIOD, 3 * PERIOD]
    stats = board.decoder.stats
    assert stats.missing_samples == FRAME and stats.frames_missing == 1 and stats.burst_pauses == 3


def test_a_frame_lost_at_a_bursts_edge_is_missing_not_a_pause():
    """Only seq tells a lost first or last frame of a burst from the pause: the decoder reads it."""
    dec = StreamDecoder()
    dec.feed(wire(info(BURST)))
    dec.feed(wire(*burst_frames(3, skip_frames=(4,))))  # the first frame of burst 1
    # the pause is a pause, the lost frame's samples are missing: seq says how many frames were lost
    assert dec.stats.frames_missing == 1 and dec.stats.missing_samples == FRAME
    assert dec.stats.burst_pauses == 2


def test_burst_interval_sets_the_cadence_of_a_burst_stream_and_interval_that_of_a_continuous_one():
    clock = iter(np.arange(0.0, 1000.0, 4.0))  # four wall-clock seconds per burst started
    asm = SnapshotAssembler(BURST, interval_s=600.0, clock=lambda: float(next(clock)), burst_interval_s=10.0)
    asm.set_burst(BURST)
    taken = [s.first_index // PERIOD for f in burst_frames(10) for s in asm.feed(f)]
    assert taken == [0, 3, 6, 9] and asm.counts["discarded_gap"] == 0
    asm = SnapshotAssembler(BURST, interval_s=600.0, clock=lambda: 0.0)  # burst_interval_s default 0: every burst
    asm.set_burst(BURST)
    assert [s.first_index for f in burst_frames(4) for s in asm.feed(f)] == [k * PERIOD for k in range(4)]
    asm.set_burst(None)  # a continuous stream: interval_s, 600 s, applies
    assert asm.cadence_s == 600.0 and [s for f in burst_frames(2, first_burst=10) for s in asm.feed(f)] == []


def test_back_to_back_bursts_are_cut_on_their_grid():
    """A device (or a replay) whose bursts follow each other without a pause: snapshots start every N samples."""
    asm = SnapshotAssembler(BURST, interval_s=0)
    asm.set_burst(BURST)
    stream = [Samples(k, k * 100, np.full((100, 1), k, dtype=np.int16)) for k in range(30)]
    snaps = [s for f in stream for s in asm.feed(f)]
    assert [s.first_index for s in snaps] == [0, 512, 1024, 1536, 2048]
    assert snaps[1].samples[0, 0] == 5 and snaps[1].samples[-1, 0] == 10  # samples 512..1023, across frames


def test_learning_mode_asks_for_the_bursts_length():
    board, events = offline_board(length=2048)
    list(board.feed(wire(info(BURST), *burst_frames(2))))
    assert "sends bursts of 512 samples but [learning] samples_per_snapshot is 2048: set it to 512" in board.problem
    assert events == [("stream_mismatch", board.problem)]

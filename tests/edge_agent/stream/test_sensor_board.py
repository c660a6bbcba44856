"""One sensor board: the stream checks, and its snapshots from a real replayed stream."""
from __future__ import annotations


def test_bundle_spec_must_match_the_live_stream():
    from edge_agent.features.spec import FeatureSpec
    from edge_agent.stream.sensor_board import spec_mismatch
    from firmware_io.protocol.frames import StreamInfo

    spec = FeatureSpec(("Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4"))
    assert spec_mismatch(spec, StreamInfo("pump-7", "fw", 20000, 4, scale=0.001)) is None
    why = spec_mismatch(spec, StreamInfo("pump-7", "fw", 25600, 3, scale=0.001))
    assert "3 channels, the bundle expects 4" in why and "25600 Hz, the bundle expects 20000 Hz" in why


def test_learning_mode_names_the_channels_from_the_config_or_the_stream():
    from edge_agent.config import LearningSection
    from edge_agent.stream.sensor_board import learning_names
    from firmware_io.protocol.frames import StreamInfo

    info = StreamInfo("pump-7", "fw", 25600, 3, scale=0.001)
    assert learning_names(LearningSection(), info) == (["ch1", "ch2", "ch3"], None)
    names, why = learning_names(LearningSection(channel_names=["a", "b"]), info)
    assert names == ["a", "b"] and "has 3 channels but [learning] channel_names lists 2" in why


def test_a_board_yields_whole_snapshots_with_the_learning_spec_and_counts_what_it_saw(tmp_path):
    from edge_agent.config import LearningSection, SerialSection
    from edge_agent.stream.sensor_board import SensorBoard
    from tests.agent_fixtures import ReplayThread, raw_test2_files, wait_for

    events, streams, changes = [], [], []
    link = tmp_path / "ttyBOARD"
    replay = ReplayThread(raw_test2_files()[:2], link, speed=0).start()
    board = SensorBoard(SerialSection(port=str(link), read_timeout_s=0.05, reconnect_initial_s=0.05),
                        spec=None, learning=LearningSection(samples_per_snapshot=20480), interval_s=0,
                        on_event=lambda kind, detail: events.append(kind), on_link_change=lambda: changes.append(1),
                        register_stream=lambda info, names: streams.append(names) or 7)
    snaps = []
    try:
        wait_for(lambda: snaps.extend(board.poll()) or len(snaps) == 2, 30, "2 snapshots from the board")
    finally:
        board.close()
        replay.close()
    assert [s.first_index for s in snaps] == [0, 20480] and all(s.samples.shape == (20480, 4) for s in snaps)
    assert events[0] == "device_connected" and changes and streams[0] == ["ch1", "ch2", "ch3", "ch4"]
    assert board.stream_id == 7 and board.problem is None
    spec = board.feature_spec
    assert (spec.channel_names, spec.sample_rate_hz, spec.samples_per_snapshot) == (
        ("ch1", "ch2", "ch3", "ch4"), 20000, 20480)
    readings = board.readings()
    assert readings["snapshots_completed"] == 2 and readings["frames_ok"] > 0 and readings["reconnects"] == 0


# -- the device is untrusted (issue 11): frames fed as bytes, as the port would deliver them ---------
def offline_board(spec=None, length: int = 512, clock=None):
    """A board whose port is never opened: the tests feed it bytes with :meth:`SensorBoard.feed`."""
    import time

    from edge_agent.config import LearningSection, SerialSection
    from edge_agent.stream.sensor_board import SensorBoard

    events = []
    board = SensorBoard(SerialSection(port="/nonexistent/ttyBOARD"), spec=spec,
                        learning=LearningSection(samples_per_snapshot=length), interval_s=0,
                        on_event=lambda kind, detail: events.append((kind, detail)), on_link_change=lambda: None,
                        register_stream=lambda info, names: 1, clock=clock or time.monotonic)
    return board, events


def wire(*frames) -> bytes:
    from firmware_io.protocol.encoder import encode_frame

    return b"".join(encode_frame(f) for f in frames)


def samples(seq: int, first: int, n: int = 128, channels: int = 4, value: int = 100):
    import numpy as np
    from firmware_io.protocol.frames import Samples

    return Samples(seq, first, np.full((n, channels), value, dtype=np.int16))


def test_a_frame_with_another_channel_count_is_rejected_and_its_snapshot_discarded():
    """Issue 11 #1: a 2-channel frame mid-snapshot got the snapshot scored from uninitialised memory."""
    from firmware_io.protocol.frames import StreamInfo

    board, _ = offline_board(length=512)
    info = StreamInfo("pump-7", "fw", 20000, 4, scale=0.001)
    snaps = list(board.feed(wire(info, samples(0, 0), samples(1, 128), samples(2, 256, channels=2),
                                 samples(3, 384), samples(4, 512), samples(5, 640), samples(6, 768),
                                 samples(7, 896), samples(8, 1024))))
    # the snapshot the 2-channel frame landed in is discarded; the next whole one starts after it
    assert [(s.first_index, s.samples.shape) for s in snaps] == [(384, (512, 4))]
    assert (snaps[0].samples == 100).all()
    readings = board.readings()
    assert readings["samples_rejected_channels"] == 128 and readings["snapshots_discarded_gap"] == 1


def test_more_channels_than_the_stream_states_never_reach_the_features():
    """Issue 11 #1: 8-channel frames under a 4-channel StreamInfo crashed the agent in compute()."""
    from edge_agent.features import registry
    from firmware_io.protocol.frames import StreamInfo

    board, _ = offline_board(length=256)
    info = StreamInfo("pump-7", "fw", 20000, 4, scale=0.001)
    snaps = list(board.feed(wire(info, *(samples(k, k * 128, channels=8) for k in range(4)),
                                 samples(4, 512), samples(5, 640))))
    assert [(s.first_index, s.samples.shape) for s in snaps] == [(512, (256, 4))]
    assert registry.compute(board.feature_spec, snaps[0].samples, board.info.scale).tolist() == [0.1] * 4
    assert board.readings()["samples_rejected_channels"] == 4 * 128


def test_a_scale_change_mid_snapshot_discards_it():
    """Issue 11 #3: a scale change in the middle of a snapshot was applied to the whole snapshot."""
    from firmware_io.protocol.frames import StreamInfo

    board, _ = offline_board(length=512)
    milli = StreamInfo("pump-7", "fw", 20000, 4, scale=0.001)
    unit = StreamInfo("pump-7", "fw", 20000, 4, scale=1.0)
    snaps = list(board.feed(wire(milli, samples(0, 0), samples(1, 128), milli, samples(2, 256), unit,
                                 *(samples(k, k * 128) for k in range(3, 8)))))
    assert [s.first_index for s in snaps] == [384]  # the first whole snapshot after the change
    assert board.info.scale == 1.0 and board.readings()["snapshots_discarded_gap"] == 1


def test_a_stream_with_a_scale_that_is_not_positive_is_a_stream_fault():
    """Issue 11 #2: a negative scale made every feature negative and latched an alarm on the third snapshot."""
    import math

    from edge_agent.alarms.health import Health
    from edge_agent.config import FaultsSection
    from edge_agent.stream.sensor_board import scale_problem
    from firmware_io.protocol.decoder import StreamDecoder
    from firmware_io.protocol.frames import StreamInfo
    from firmware_io.protocol.vector_cases import VECTORS_DIR

    # the protocol vector stays a valid encoding: the decoder reads it, the agent refuses the stream
    (negative,) = StreamDecoder().feed((VECTORS_DIR / "info_negative_scale.bin").read_bytes())
    assert negative.scale < 0
    # NaN and 0 cannot be encoded (the decoder refuses a 0 numerator): the same check, built in code
    for bad in (math.nan, 0.0, -math.inf):
        assert "finite scale > 0" in scale_problem(StreamInfo("accel-01", "fw", 1000, 1, scale=bad))
    assert scale_problem(StreamInfo("accel-01", "fw", 1000, 1, scale=1 / 4096)) is None
    for info in (negative,):
        board, events = offline_board(length=256)
        snaps = list(board.feed(wire(info, *(samples(k, k * 128, channels=1) for k in range(4)))))
        assert snaps == [] and board.readings()["samples_rejected_stream"] == 4 * 128
        assert "scale" in board.problem and "> 0" in board.problem and "firmware" in board.problem
        assert events == [("stream_mismatch", board.problem)]
        health = Health(FaultsSection(), [board])
        board.link.port = object()  # "connected": the scale is the reason, not the missing device
        health.observe(board.last_valid)
        assert health.reason == board.problem


def test_a_rejected_frame_loses_no_waiting_mark():
    """Issue 11 #1/#6: an unusable frame breaks the snapshot it falls in, not the marks of the next ones."""
    from firmware_io.protocol.frames import SnapshotMark, StreamInfo

    board, _ = offline_board(length=256)
    info = StreamInfo("pump-7", "fw", 20000, 4, scale=0.001)
    snaps = list(board.feed(wire(info, SnapshotMark(0, 1e9), samples(0, 0), samples(1, 128),
                                 SnapshotMark(256, 1e9 + 1), samples(2, 0, channels=2), samples(3, 1 << 63),
                                 samples(4, 256), samples(5, 384))))
    assert [(s.first_index, s.timestamp) for s in snaps] == [(0, 1e9), (256, 1e9 + 1)]
    readings = board.readings()
    assert readings["snapshots_discarded_gap"] == 0 and readings["samples_rejected_channels"] == 128
    assert readings["samples_rejected_index"] == 128


class FakeClock:
    """A monotonic clock the test moves: the stream's samples arrive when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_read_holds_bytes_back_only_while_no_snapshot_can_complete():
    """Issue 11 #20: waking for every ~2 kB frame cost the agent its CPU; a snapshot's last frames are read at once."""
    from edge_agent.stream.sensor_board import HOLD_MARGIN_FRAMES, HOLD_MARGIN_S
    from edge_agent.stream.serial_link import HOLD_MAX_S
    from firmware_io.protocol.frames import StreamInfo

    length, rate = 20480, 20000
    clock = FakeClock()
    board, _ = offline_board(length=length, clock=clock)

    def read(*frames):  # the frames arrive in real time: the clock moves by their duration
        clock.now += sum(f.n_samples for f in frames if hasattr(f, "n_samples")) / rate
        return list(board.feed(wire(*frames)))

    assert board.hold_s() == HOLD_MAX_S  # no StreamInfo yet: nothing can complete
    read(StreamInfo("pump-7", "fw", rate, 4, scale=0.001), samples(0, 0, n=256))
    # 20224 samples to go, less the margin: about a second, so the longest hold
    expected = (length - 256 - HOLD_MARGIN_FRAMES * 256) / rate - HOLD_MARGIN_S
    assert board.hold_s() == expected and expected > HOLD_MAX_S
    last = length // 256 - 1  # the snapshot's last frame
    read(*[samples(k, k * 256, n=256) for k in range(1, last - 2)])  # three frames short of the end
    # a short hold, less than a frame's time: the read after it finds the frame before the last two
    short = (3 * 256 - HOLD_MARGIN_FRAMES * 256) / rate - HOLD_MARGIN_S
    assert board.assembler.samples_to_complete == 3 * 256 and board.hold_s() == short and 0 < short < 256 / rate
    snaps = read(samples(last - 2, (last - 2) * 256, n=256))
    assert len(snaps) == 0 and board.assembler.samples_to_complete == 2 * 256 and board.hold_s() == 0.0
    snaps = read(samples(last - 1, (last - 1) * 256, n=256))  # the last two frames are read as they come
    assert len(snaps) == 0 and board.assembler.samples_to_complete == 256 and board.hold_s() == 0.0
    snaps = read(samples(last, last * 256, n=256))
    assert [s.first_index for s in snaps] == [0]
    # the next snapshot: a whole one to go (the board's own expression, so the floats are equal)
    assert board.hold_s() == (length - HOLD_MARGIN_FRAMES * 256) / rate - HOLD_MARGIN_S


def test_a_sender_ahead_of_its_sample_clock_is_read_without_holds():
    """A replay at --speed 0 through a pty was capped at a pty buffer per 80 ms hold (1.3 snapshots a second)."""
    from edge_agent.stream.sensor_board import BACKLOG_FACTOR
    from edge_agent.stream.serial_link import HOLD_MAX_S
    from firmware_io.protocol.frames import StreamInfo

    length, rate, n = 20480, 20000, 256
    clock = FakeClock()
    board, _ = offline_board(length=length, clock=clock)
    list(board.feed(wire(StreamInfo("pump-7", "fw", rate, 4, scale=0.001), samples(0, 0, n=n))))
    board.hold_s()  # the read that took the first frame
    # after a hold of 80 ms, 10 frames (128 ms of samples) were waiting: a sender ahead of real time
    clock.now += HOLD_MAX_S
    list(board.feed(wire(*[samples(k, k * n, n=n) for k in range(1, 11)])))
    assert 10 * n > BACKLOG_FACTOR * HOLD_MAX_S * rate + n
    assert board.hold_s() == 0.0
    # while it stays ahead (each prompt read finds frames that took no time to come), no hold
    clock.now += 0.001
    list(board.feed(wire(*[samples(k, k * n, n=n) for k in range(11, 15)])))
    assert board.hold_s() == 0.0
    # caught up: one frame in its own 12.8 ms, as a real-time device sends it; the hold is back
    clock.now += n / rate
    list(board.feed(wire(samples(15, 15 * n, n=n))))
    assert board.hold_s() > HOLD_MAX_S  # (the link clips it to HOLD_MAX_S)
    # a frame's worth more than real time is a burst's edge, not a backlog
    clock.now += 0.05
    list(board.feed(wire(*[samples(k, k * n, n=n) for k in range(16, 16 + 5)])))  # 64 ms of samples in 50 ms
    assert board.hold_s() > HOLD_MAX_S




def test_a_stream_description_that_keeps_changing_is_a_stall_said_once(caplog):
    """Issue 21 #1: a scale alternating faster than a snapshot: 0 scored, 77 warnings, no fault."""
    import logging

    from edge_agent.stream.snapshots import MAX_DISCARDED_IN_ROW
    from firmware_io.protocol.frames import StreamInfo

    board, _ = offline_board(length=512)
    infos = [StreamInfo("pump-7", "fw", 20000, 4, scale=s) for s in (0.001, 0.00101)]
    frames, seq = [], 0
    for k in range(40):  # 40 changes, 384 samples apart: no snapshot of 512 can ever complete
        frames.append(infos[k % 2])
        for _ in range(3):
            frames.append(samples(seq, seq * 128))
            seq += 1
    with caplog.at_level(logging.WARNING):
        assert list(board.feed(wire(*frames))) == []
    assert board.assembler.discarded_in_row >= MAX_DISCARDED_IN_ROW
    assert board.assembler.idle_samples == seq * 128  # not reset by each change: the stall check sees it
    assert "stream description changed" in board.assembler.last_discard_reason
    assert len([r for r in caplog.records if "discarded" in r.getMessage()]) == 1  # said once, not 39 times

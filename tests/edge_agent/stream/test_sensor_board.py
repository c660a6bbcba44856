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

"""Sensor-fault detection: the reasons in their precedence, and reading the verdict changes nothing."""
from __future__ import annotations

from types import SimpleNamespace

from edge_agent.alarms.health import Health, LossReport
from edge_agent.config import FaultsSection


def board(**kw):
    stats = SimpleNamespace(frames_ok=0, bad_checks=0, frames_missing=0, missing_samples=0)
    values = dict(connected=True, port="/dev/ttyACM0", problem=None, last_valid=0.0, decoder=SimpleNamespace(stats=stats),
                  assembler=SimpleNamespace(idle_samples=0, stall_samples=3 * 20480, discarded_in_row=0,
                                            last_discard_reason=""))
    values.update(kw)
    return SimpleNamespace(**values)


def test_reasons_in_precedence_and_reason_is_pure():
    b = board()
    health = Health(FaultsSection(no_data_timeout_s=10.0), [b])
    health.observe(1.0)
    assert health.reason is None and health.reason is None
    b.last_valid = 0.0
    health.observe(12.0)
    assert health.reason == "no valid data for 12 s (limit 10 s)"
    b.problem = "stream from device 'x' does not match the bundle"
    health.observe(12.0)
    assert health.reason == b.problem
    b.connected = False
    health.observe(12.0)
    assert health.reason == "serial device /dev/ttyACM0 not available"
    assert health.reason == "serial device /dev/ttyACM0 not available"  # asking again: the same answer


def test_bad_frame_rate_over_the_window():
    b = board()
    stats = b.decoder.stats
    health = Health(FaultsSection(bad_frame_window_s=10.0, max_bad_frame_rate=0.05, no_data_timeout_s=1e9), [b])
    health.observe(0.0)
    stats.frames_ok, stats.frames_missing = 96, 4  # 4 % bad: under the limit
    health.observe(1.0)
    assert health.reason is None
    stats.frames_ok, stats.bad_checks = 100, 6  # 10 of 110 since the window's start
    health.observe(2.0)
    assert health.reason == "10 of 110 frames bad or lost in the last 10 s (limit 5%)"
    stats.frames_ok = 400  # 20 s later the bad frames have left the window
    health.observe(22.0)
    health.observe(23.0)
    assert health.reason is None


def test_losses_are_reported_once_summed():
    b = board()
    report = LossReport([b])
    assert report.take() is None
    b.decoder.stats.frames_missing, b.decoder.stats.missing_samples = 3, 768
    assert report.take() == "3 frames bad or missing, 768 samples missing"
    assert report.take() is None


def test_samples_that_no_snapshot_takes_are_a_sensor_fault():
    """Issue 11 #5: a far-future mark stopped scoring while samples kept arriving: status 'normal', no fault."""
    import numpy as np

    from edge_agent.stream.snapshots import SnapshotAssembler
    from firmware_io.protocol.frames import Samples, SnapshotMark

    asm = SnapshotAssembler(512, interval_s=0)
    b = board(assembler=asm)
    health = Health(FaultsSection(no_data_timeout_s=10.0), [b])
    asm.feed(SnapshotMark(10**12, 1e9))  # the only mark, far ahead: no snapshot can start
    for k in range(40):
        asm.feed(Samples(k, k * 128, np.zeros((128, 4), dtype=np.int16)))
        health.observe(1.0)
        assert health.reason is None  # up to 10 snapshots' worth of samples may pass untaken
    asm.feed(Samples(40, 40 * 128, np.zeros((128, 4), dtype=np.int16)))
    health.observe(1.0)
    assert health.reason == ("samples arrive but no whole snapshot was taken for 5248 samples (limit 5120): "
                             "the sample indices jump, or the snapshot marks do not match them")
    asm.feed(SnapshotMark(41 * 128, 1e9 + 1))  # a mark the stream reaches: once its snapshot is whole, the fault ends
    for k in range(41, 45):
        asm.feed(Samples(k, k * 128, np.zeros((128, 4), dtype=np.int16)))
    health.observe(1.0)
    assert health.reason is None

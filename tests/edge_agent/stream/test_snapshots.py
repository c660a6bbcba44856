"""Snapshot assembly from frames: marks, gaps, device resets, the cadence.

Synthetic frames here only for what the recordings cannot show on demand
(a gap at a chosen sample, a clock, a device reset); the real stream is in
tests/e2e/test_agent_e2e.py.
"""
from __future__ import annotations

import numpy as np

from edge_agent.stream.snapshots import SnapshotAssembler
from firmware_io.protocol.frames import Samples, SnapshotMark


def frames(start: int, n_frames: int, size: int = 256, channels: int = 2):
    for k in range(n_frames):
        first = start + k * size
        data = (np.arange(first, first + size, dtype=np.int64)[:, None] % 30000 * [1, -1]).astype(np.int16)
        yield Samples(k, first, data[:, :channels])


def feed_all(asm, items):
    out = []
    for item in items:
        out += asm.feed(item)
    return out


def test_marked_snapshots_start_at_the_mark_and_take_its_time():
    asm = SnapshotAssembler(1000, interval_s=0)
    # marks mid-frame, and the second arriving while the first snapshot is still being collected
    items = [SnapshotMark(100, 1e9), *frames(0, 4), SnapshotMark(1100, 1e9 + 600), *frames(1024, 6)]
    snaps = feed_all(asm, items)
    assert [(s.first_index, s.timestamp, s.marked) for s in snaps] == [(100, 1e9, True), (1100, 1e9 + 600, True)]
    for s in snaps:  # the samples are exactly those indices, across frame boundaries
        np.testing.assert_array_equal(s.samples[:, 0], np.arange(s.first_index, s.first_index + 1000) % 30000)


def test_gap_discards_the_snapshot_and_the_next_one_is_whole():
    asm = SnapshotAssembler(1024, interval_s=0, clock=lambda: 5.0)
    items = [*frames(0, 2), *frames(768, 10)]  # samples 512..767 lost
    snaps = feed_all(asm, items)
    assert asm.counts["discarded_gap"] == 1
    assert [s.first_index for s in snaps] == [768, 1792]  # wall-clock mode restarts right after the gap
    assert all(s.samples.shape == (1024, 2) and not s.marked for s in snaps)


def test_device_reset_index_going_back_discards_and_resyncs():
    asm = SnapshotAssembler(1024, interval_s=0, clock=lambda: 5.0)
    snaps = feed_all(asm, [*frames(5000, 2), *frames(0, 4)])
    assert asm.counts["discarded_gap"] == 1 and [s.first_index for s in snaps] == [0]


def test_cadence_wall_clock_and_marks():
    now = [1000.0]
    asm = SnapshotAssembler(512, interval_s=600, clock=lambda: now[0])
    assert len(feed_all(asm, frames(0, 2))) == 1
    now[0] += 10
    assert feed_all(asm, frames(512, 4)) == []  # not due yet: nothing collected
    now[0] += 600
    assert [s.timestamp for s in feed_all(asm, frames(1536, 2))] == [1610.0]
    marked = SnapshotAssembler(512, interval_s=600)
    items = []
    for k in range(6):  # recorded every 300 s: every other one is due
        items += [SnapshotMark(k * 512, 1e9 + 300 * k), *frames(k * 512, 2)]
    assert [s.first_index // 512 for s in feed_all(marked, items)] == [0, 2, 4]
    assert marked.counts["skipped_cadence"] == 3


def test_time_going_back_does_not_stall_the_cadence():
    # a looping replay (or a wall clock set back) restarts the timestamps: keep taking snapshots
    asm = SnapshotAssembler(512, interval_s=600)
    asm.last_timestamp = 1e9 + 6000
    items = [SnapshotMark(0, 1e9), *frames(0, 2), SnapshotMark(512, 1e9 + 600), *frames(512, 2)]
    assert [s.first_index for s in feed_all(asm, items)] == [0, 512]


def test_reset_discards_partial_snapshot():
    asm = SnapshotAssembler(1024, interval_s=0, clock=lambda: 1.0)
    feed_all(asm, frames(0, 2))
    assert asm.collecting
    asm.reset("unplugged")
    assert asm.counts["discarded_gap"] == 1 and not asm.collecting


def test_a_frame_of_other_channels_discards_the_snapshot_never_mixes_buffers():
    """Issue 11 #1: the buffer was re-allocated for the new channel count while its fill level was kept."""
    asm = SnapshotAssembler(512, interval_s=0, clock=lambda: 5.0)
    # 2 channels, then contiguous 1-channel frames mid-snapshot
    snaps = feed_all(asm, [*frames(0, 2, size=128), *frames(256, 4, size=128, channels=1)])
    assert [(s.first_index, s.samples.shape) for s in snaps] == [(256, (512, 1))]
    np.testing.assert_array_equal(snaps[0].samples[:, 0], np.arange(256, 768) % 30000)
    assert asm.counts["discarded_gap"] == 1


def test_a_far_future_mark_does_not_block_the_marks_behind_it():
    """Issue 11 #5: one far-future SnapshotMark at the head of the queue stopped scoring silently."""
    asm = SnapshotAssembler(512, interval_s=0)
    items = [SnapshotMark(10**12, 1e9 - 1), SnapshotMark(0, 1e9), *frames(0, 4, size=128),
             SnapshotMark(512, 1e9 + 1), *frames(512, 4, size=128)]
    snaps = feed_all(asm, items)
    assert [(s.first_index, s.timestamp) for s in snaps] == [(0, 1e9), (512, 1e9 + 1)]
    assert asm.idle_samples == 0


def test_the_pending_marks_are_bounded_and_overflow_is_counted():
    """Issue 11 #5: a flood of 1M marks grew the agent's memory by 165 MB, never freed."""
    from edge_agent.stream.marks import MAX_PENDING_MARKS

    asm = SnapshotAssembler(512, interval_s=0)
    flood = 10_000
    for k in range(flood):
        asm.feed(SnapshotMark(10**9 + k * 512, 1e9 + k))
    assert asm.pending_marks == MAX_PENDING_MARKS
    assert asm.counts["discarded_gap"] == flood - MAX_PENDING_MARKS  # each one dropped is a snapshot lost


def test_samples_are_idle_until_a_whole_snapshot_is_taken():
    """Issue 11 #5: what health needs to call a scoring stall a sensor fault (see tests/edge_agent/alarms)."""
    asm = SnapshotAssembler(512, interval_s=0)
    feed_all(asm, [SnapshotMark(10**12, 1e9), *frames(0, 12, size=128)])  # a mark no sample reaches
    assert asm.idle_samples == 12 * 128 and asm.stall_samples == 10 * 512
    feed_all(asm, [SnapshotMark(1536, 1e9 + 1), *frames(1536, 1, size=128)])
    assert asm.idle_samples == 13 * 128 and asm.collecting  # collecting is not yet a snapshot
    feed_all(asm, [*frames(1664, 3, size=128), *frames(2048, 1, size=64)])
    assert asm.counts["completed"] == 1 and asm.idle_samples == 64
    # an unmarked stream whose index jumps in every frame: every snapshot discarded, idle grows
    jumpy = SnapshotAssembler(512, interval_s=0, clock=lambda: 5.0)
    feed_all(jumpy, [next(frames(k * 1000, 1, size=128)) for k in range(50)])
    assert jumpy.counts["completed"] == 0 and jumpy.idle_samples == 50 * 128
    # waiting for the cadence is not idle
    slow = SnapshotAssembler(512, interval_s=600, clock=lambda: 5.0)
    feed_all(slow, frames(0, 50, size=128))
    assert slow.counts["completed"] == 1 and slow.idle_samples == 0


def test_marks_lost_on_the_way_are_counted_as_discarded_snapshots():
    """Issue 11 #6: a mark lost on the wire left its snapshot unscored and uncounted."""
    asm = SnapshotAssembler(512, interval_s=0)
    items = [SnapshotMark(0, 1e9), *frames(0, 4, size=128), SnapshotMark(512, 1e9 + 1), *frames(512, 4, size=128),
             # the mark at 1024 is lost: its samples arrive, nothing takes them
             *frames(1024, 4, size=128), SnapshotMark(1536, 1e9 + 3), *frames(1536, 4, size=128)]
    snaps = feed_all(asm, items)
    assert [s.first_index for s in snaps] == [0, 512, 1536]
    assert asm.counts == {"completed": 3, "discarded_gap": 1, "skipped_cadence": 0}
    # a mark whose first samples were missed, not due for the cadence: skipped, not silently dropped
    slow = SnapshotAssembler(512, interval_s=600)
    feed_all(slow, [SnapshotMark(0, 1e9), *frames(0, 4, size=128), SnapshotMark(512, 1e9 + 1),
                    *frames(640, 3, size=128)])
    assert slow.counts == {"completed": 1, "discarded_gap": 0, "skipped_cadence": 1}

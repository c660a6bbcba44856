"""edge_agent.export: the journal's features as a strictly increasing one-second feature table."""
from __future__ import annotations

import numpy as np
import pytest

from edge_agent.export import ExportError, journal_features
from edge_agent.journal import Journal, SnapshotRow
from firmware_io.errors import BearingEdgeError


def record(j: Journal, t: float, features, state="normal", rate=20000, device="pump-7"):
    sid = j.stream_id(device, "fw", rate, 2, 0.001, ["x", "y"])
    j.record_snapshot(SnapshotRow(t, int(t), sid, features, None, None, None, None, state, None, 1.0))


def test_selection_by_time_state_and_the_same_second(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    record(j, 1.7e9, [0.1, 0.2])
    record(j, 1.7e9 + 0.5, [9.0, 9.0])  # same second as the first: left out, counted
    record(j, 1.7e9 + 600, [0.3, 0.4], state="alarm")
    record(j, 1.7e9 + 1200, [0.5, 0.6], state="fault")
    j.set_state(samples_per_snapshot=20480)
    every = journal_features(j)
    assert every.dropped == 1 and (every.sample_rate_hz, every.samples_per_snapshot) == (20000, 20480)
    assert every.table.channel_names == ["x", "y"]
    np.testing.assert_array_equal(every.table.values, [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    healthy = journal_features(j, exclude_alarms=True)
    np.testing.assert_array_equal(healthy.table.values, [[0.1, 0.2]])
    later = journal_features(j, since=1.7e9 + 600, until=1.7e9 + 1200)  # until is exclusive
    np.testing.assert_array_equal(later.table.timestamps, [np.datetime64(int(1.7e9) + 600, "s")])
    j.close()


def test_nothing_to_export_and_mixed_streams_are_export_errors_exiting_1(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    with pytest.raises(ExportError, match="no recorded snapshots match"):
        journal_features(j)
    record(j, 1.7e9, [0.1, 0.2], rate=20000)
    record(j, 1.7e9 + 600, [0.1, 0.2], rate=25600, device="fan-2")
    with pytest.raises(ExportError, match="different channels or rates .*'fan-2'.* at 25600 Hz"):
        journal_features(j)
    assert journal_features(j, device_id="fan-2").sample_rate_hz == 25600
    j.close()
    assert issubclass(ExportError, BearingEdgeError) and issubclass(ExportError, ValueError)
    assert ExportError.exit_code == 1 and BearingEdgeError.exit_code == 2

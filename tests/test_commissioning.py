"""Commissioning pieces that run in seconds: replaying a part of a recording.

``bearing-replay --start/--stop`` lets a test (or a user rehearsing the
routine) stream the healthy part of a recording and later the rest, with
each snapshot at the stream position it has in the whole recording, so the
two parts line up with one whole replay. The whole routine is in
``tests/test_commissioning_e2e.py``.
"""
from __future__ import annotations

import numpy as np
import pytest

from firmware_io import frames as fr
from firmware_io import recordings as rec
from firmware_io.decoder import StreamDecoder
from firmware_io.replay import Replayer
from firmware_io.replay_cli import main as replay_main
from tests.agent_fixtures import raw_test2_files

N = 20480


def decoded(replayer: Replayer, skipped: int = 0) -> list[fr.Frame]:
    """The replay's frames; ``skipped`` samples are left out between loops (the decoder counts them)."""
    dec = StreamDecoder()
    frames = dec.feed(b"".join(c.data for c in replayer.chunks()))
    assert (dec.stats.missing_samples, dec.stats.bytes_skipped) == (skipped, 0)
    return frames + dec.flush()


def test_two_partial_replays_line_up_with_one_whole_replay() -> None:
    files = raw_test2_files()[:5]
    whole = decoded(Replayer(files, speed=0))
    parts = decoded(Replayer(files, speed=0, stop=2)) + decoded(Replayer(files, speed=0, start=2))
    for frames in (whole, parts):
        marks = [f for f in frames if isinstance(f, fr.SnapshotMark)]
        assert [m.first_index for m in marks] == [k * N for k in range(5)]
    for kind in (fr.SnapshotMark, fr.Samples):
        a = [f for f in whole if isinstance(f, kind)]
        b = [f for f in parts if isinstance(f, kind)]
        assert [f.first_index for f in a] == [f.first_index for f in b]
    stream = np.concatenate([f.samples for f in parts if isinstance(f, fr.Samples)])
    np.testing.assert_array_equal(stream, np.concatenate([rec.to_counts(rec.read_snapshot_file(p)) for p in files]))
    # each part starts with a StreamInfo, as a freshly plugged device does
    assert isinstance(decoded(Replayer(files, speed=0, start=3))[0], fr.StreamInfo)


def test_a_range_in_the_middle_with_loops_keeps_the_recording_positions() -> None:
    files = raw_test2_files()[:4]
    marks = [f for f in decoded(Replayer(files, speed=0, start=1, stop=3, loops=2), skipped=2 * N)
             if isinstance(f, fr.SnapshotMark)]
    assert [m.first_index // N for m in marks] == [1, 2, 5, 6]  # the second loop continues the index
    stamps = [rec.parse_snapshot_name(p.name) for p in files[1:3]]
    assert [np.datetime64(int(m.timestamp), "s") for m in marks[:2]] == stamps


@pytest.mark.parametrize("args, message", [
    (["--start", "3", "--stop", "3"], "0 <= start < stop"),
    (["--start", "-1"], "0 <= start < stop"),
    (["--start", "30"], "no snapshots in the range 30..None"),
])
def test_a_bad_range_is_refused_before_opening_anything(args, message, capsys) -> None:
    assert replay_main([*map(str, raw_test2_files()[:5]), "--pty", *args]) == 2
    assert message in capsys.readouterr().err

"""edge_agent.scoring.detection: windows, reconstruction error and the debounced alarm."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.scoring.detection import Debouncer, debounce, make_windows, reconstruction_error


def test_alarm_needs_k_in_a_row_and_clears_after_k_under():
    d = Debouncer(3)
    seq = [1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    got = [d.update(bool(o)) for o in seq]
    assert got == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0]


def test_k1_follows_the_input():
    assert debounce([0, 1, 0, 1], 1).tolist() == [False, True, False, True]


def test_state_round_trip_continues_identically():
    seq = [1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0]
    a = Debouncer(3)
    for o in seq[:5]:
        a.update(o)
    b = Debouncer.from_state(a.state())
    assert [a.update(o) for o in seq[5:]] == [b.update(o) for o in seq[5:]]


def test_k_must_be_positive():
    with pytest.raises(ValueError, match="k must be >= 1"):
        Debouncer(0)


@given(st.lists(st.booleans(), max_size=60), st.integers(1, 5))
def test_alarm_changes_only_after_k_agreeing_inputs(flags, k):
    alarm = debounce(flags, k)
    for i in range(len(flags)):
        prev = alarm[i - 1] if i else False
        if alarm[i] != prev:  # a switch needs the last k inputs to agree with the new state
            assert i + 1 >= k and all(f == alarm[i] for f in flags[i - k + 1:i + 1])


def test_windows_end_at_their_snapshot():
    X = np.arange(12.0).reshape(6, 2)
    w = make_windows(X, 3)
    assert w.shape == (4, 3, 2)
    np.testing.assert_array_equal(w[0], X[0:3])
    np.testing.assert_array_equal(w[-1], X[3:6])
    assert make_windows(X, 1).shape == (6, 1, 2)
    with pytest.raises(ValueError, match="at least 7"):
        make_windows(X, 7)
    with pytest.raises(ValueError, match="timesteps"):
        make_windows(X, 0)


def test_reconstruction_error_is_mae_over_timesteps_and_features():
    a = np.zeros((2, 2, 2))
    b = np.array([[[1, -1], [1, 1]], [[0, 0], [0, 2]]], dtype=float)
    np.testing.assert_allclose(reconstruction_error(a, b), [1.0, 0.5])
    with pytest.raises(ValueError, match="differ in shape"):
        reconstruction_error(a, b[:1])

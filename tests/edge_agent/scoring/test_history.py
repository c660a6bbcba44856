"""The one feature history: bounded, oldest first, and what the scorer's window continues from."""
from __future__ import annotations

import numpy as np
import pytest

from edge_agent.scoring.history import FeatureHistory


def test_keeps_the_newest_vectors_oldest_first():
    h = FeatureHistory(3, [[0.0], [1.0]])
    for k in range(2, 5):
        h.append(np.array([float(k)]))
    assert len(h) == 3 and [v.tolist() for v in h] == [[2.0], [3.0], [4.0]]
    assert [v.tolist() for v in h.last(2)] == [[3.0], [4.0]] and h.last(0) == []
    with pytest.raises(ValueError, match="at least 1"):
        FeatureHistory(0)

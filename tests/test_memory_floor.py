"""benchmarks.memory_floor reports the maximum over repeated fresh processes (issue 11 #23), not one run."""
from __future__ import annotations

import pytest

from benchmarks import memory_floor


def test_each_step_is_the_maximum_over_the_runs_with_the_minimum_beside_it(monkeypatch):
    runs = iter([[("python", 10.0), ("numpy", 25.0)], [("python", 10.5), ("numpy", 24.0)],
                 [("python", 9.8), ("numpy", 26.5)]])
    monkeypatch.setattr(memory_floor, "measure", lambda bundle: next(runs))
    steps = memory_floor.measure_max("bundle", repeat=3)
    assert steps == [("python", 10.5, 9.8), ("numpy", 26.5, 24.0)]
    table = memory_floor.markdown(steps, 3)
    assert "max of 3 runs" in table and "| numpy | +16.0 | 26.5 | 24.0 |" in table
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        memory_floor.measure_max("bundle", repeat=0)

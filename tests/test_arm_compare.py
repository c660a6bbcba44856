""".ci/arm_compare.py: the emulated Pi must decide exactly like the desktop; error differences count near the
threshold only (far past it the armhf runtime's float16 rounding differs by tens of per cent, harmlessly)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from edge_agent.scoring.scores import ScoreTable

_spec = importlib.util.spec_from_file_location("arm_compare", Path(__file__).parents[1] / ".ci" / "arm_compare.py")
arm_compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(arm_compare)

TIMES = np.array(["2004-02-16T00:00:00", "2004-02-16T00:10:00", "2004-02-16T00:20:00"], dtype="datetime64[s]")
REFERENCE = ScoreTable(TIMES, np.array([0.1, 0.3, 30.0]), np.array([False, True, True]), np.array([False, False, True]))


def _candidate(errors, over=None, alarm=None):
    return ScoreTable(TIMES, np.array(errors), REFERENCE.over_threshold if over is None else np.array(over),
                      REFERENCE.alarm if alarm is None else np.array(alarm))


@pytest.mark.parametrize("candidate, agree", [
    (_candidate([0.1, 0.3, 30.0]), True),
    (_candidate([0.1, 0.3, 20.0]), True),  # 100x over the threshold: only the decision must agree
    (_candidate([0.1001, 0.3, 30.0]), False),  # near the threshold: 1e-4 is a different model or runtime
    (_candidate([0.1, 0.3, 30.0], alarm=[False, True, True]), False),  # a decision flip
])
def test_differences_count_near_the_threshold_and_decisions_everywhere(candidate, agree, capsys):
    assert arm_compare.compare(REFERENCE, candidate, atol=1e-5) is agree
    assert "near the threshold, under 0.6" in capsys.readouterr().out

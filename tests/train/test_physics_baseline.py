"""The commissioning baseline ``bearing-convert --physics-baseline`` stores (issue 24 #4): from the healthy period
of the recording the model was trained on, refused with the reason when it cannot be that."""
from __future__ import annotations

import numpy as np
import pytest

from edge_agent.diagnosis import bundle_section
from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ
from edge_agent.features.condition import ConditionSettings
from edge_agent.features.spec import FeatureSpec
from firmware_io.recordings import ims
from train.physics_baseline import PhysicsBaselineError, build

CHANNELS = tuple(f"Bearing {i}" for i in range(1, 5))
WITH_BEARING = FeatureSpec(CHANNELS, features=("mean_abs", "env_bpfo_ptm"),
                           extra={"condition": ConditionSettings(bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ).to_dict()})
TEST2 = ims.DATA_DIR / "raw" / "2nd_test"


def test_the_first_healthy_snapshots_make_the_baseline_the_device_reads_back():
    made = build([TEST2], WITH_BEARING, np.datetime64("2004-02-15T12:52:39"), snapshots=3)
    assert made.section["baseline"]["n_snapshots"] == 3
    assert (made.section["baseline"]["first"], made.section["baseline"]["last"]) == ("2004-02-12 10:32:39",
                                                                                    "2004-02-12 10:52:39")
    carried = bundle_section.read({"physics": made.section}, {bundle_section.BASELINE_FILE: made.file_bytes},
                                  WITH_BEARING)
    assert carried.bearing == IMS_BEARING and carried.shaft_hz == IMS_SHAFT_HZ
    stored = made.section["baseline"]["bins"]
    assert np.isfinite(carried.baseline.power[:stored]).all() and np.isnan(carried.baseline.power[stored:]).all()
    # up to the healthy period's end only: 11 of the bundled 25 are before it
    assert build([TEST2], WITH_BEARING, np.datetime64("2004-02-15T12:52:39"), snapshots=100).section[
        "baseline"]["n_snapshots"] == 11


@pytest.mark.parametrize("sources,spec,until,message", [
    ([ims.DATA_DIR / "raw" / "1st_test"], WITH_BEARING, "2004-02-15T12:52:39",
     "20480 samples x 8 channels at 20000 Hz, the model's snapshots are 20480 x 4"),
    ([TEST2], WITH_BEARING, "2004-01-01T00:00:00", "no snapshot of"),
    ([TEST2], FeatureSpec(CHANNELS), "2004-02-15T12:52:39", "the model names no bearing"),
])
def test_a_recording_that_cannot_be_the_baseline_is_refused_with_why(sources, spec, until, message):
    with pytest.raises(PhysicsBaselineError, match=message):
        build(sources, spec, np.datetime64(until))


"""edge_agent.features.bearing: defect frequencies from geometry, against the published IMS figures."""
from __future__ import annotations

import math

import pytest

from edge_agent.features.bearing import DEFECT_PARTS, IMS_BEARING, IMS_SHAFT_HZ, BearingGeometry


def test_ims_defect_frequencies_match_the_published_values():
    f = IMS_BEARING.defect_frequencies(IMS_SHAFT_HZ)
    # Qiu et al. (2006), the IMS reference paper: BPFO 236.4 Hz, BPFI 296.9 Hz, BSF 139.9 Hz, FTF 14.8 Hz
    assert f["bpfo"] == pytest.approx(236.4, abs=0.05)
    assert f["bpfi"] == pytest.approx(296.9, abs=0.05)
    assert f["bsf"] == pytest.approx(139.9, abs=0.05)
    assert f["ftf"] == pytest.approx(14.78, abs=0.01)
    assert set(f) == set(DEFECT_PARTS)


def test_kinematic_identities_hold_for_any_geometry():
    g = BearingGeometry(n_elements=9, element_diameter=7.94, pitch_diameter=39.04, contact_angle_deg=0.0)
    f = g.defect_frequencies(29.95)
    assert f["bpfo"] + f["bpfi"] == pytest.approx(9 * 29.95)  # n f_r
    assert f["bpfo"] == pytest.approx(9 * f["ftf"])  # the cage carries the elements past the outer race
    assert f["ftf"] < 29.95 / 2


def test_contact_angle_moves_the_frequencies_the_right_way():
    straight = BearingGeometry(16, 0.331, 2.815, 0.0).defect_frequencies(IMS_SHAFT_HZ)
    tapered = BearingGeometry(16, 0.331, 2.815, 40.0).defect_frequencies(IMS_SHAFT_HZ)
    assert tapered["bpfo"] > straight["bpfo"] and tapered["bpfi"] < straight["bpfi"]
    ratio = 0.331 / 2.815
    assert straight["bsf"] == pytest.approx(2.815 / (2 * 0.331) * IMS_SHAFT_HZ * (1 - ratio ** 2))
    assert math.isclose(tapered["ftf"], IMS_SHAFT_HZ / 2 * (1 - ratio * math.cos(math.radians(40))))


def test_round_trip_and_validation():
    assert BearingGeometry.from_dict(IMS_BEARING.to_dict()) == IMS_BEARING
    with pytest.raises(ValueError, match="pitch_diameter"):
        BearingGeometry(16, 3.0, 2.0)
    with pytest.raises(ValueError, match="n_elements"):
        BearingGeometry(2, 0.3, 2.8)
    with pytest.raises(ValueError, match="contact_angle_deg"):
        BearingGeometry(16, 0.3, 2.8, 95.0)
    with pytest.raises(ValueError, match="unknown keys"):
        BearingGeometry.from_dict({**IMS_BEARING.to_dict(), "rows": 2})
    with pytest.raises(ValueError, match="missing"):
        BearingGeometry.from_dict({"n_elements": 16})
    with pytest.raises(ValueError, match="shaft_hz"):
        IMS_BEARING.defect_frequencies(0.0)

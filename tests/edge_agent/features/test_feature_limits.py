"""Features valid at every rate and length: refused at spec time when unreadable, a length-free envelope level,
the ball's line at 2x BSF, and the IMS specs every bundle already carries unchanged."""
from __future__ import annotations

import numpy as np
import pytest

from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ, BearingGeometry
from edge_agent.features.condition import (CONDITION_FEATURES, WITH_BEARING_FEATURES, ConditionSettings, computable,
                                           defect_of)
from edge_agent.features.registry import compute
from edge_agent.features.spec import FeatureSpec
from edge_agent.features.spectra import defect_line, envelope_spectrum

IMS = ConditionSettings(bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ)
ENVELOPE = tuple(name for name in CONDITION_FEATURES if CONDITION_FEATURES[name].envelope)


def spec(rate: int, length: int, features=WITH_BEARING_FEATURES, settings: ConditionSettings = IMS) -> FeatureSpec:
    return FeatureSpec(("ch",), sample_rate_hz=rate, samples_per_snapshot=length, features=features,
                       extra={"condition": settings.to_dict()})


def impacts(n: int, rate: float, rate_hz: float, resonance_hz: float = 3000.0, seed: int = 0) -> np.ndarray:
    """A defect's impacts at ``rate_hz`` ringing a resonance, in noise: ``(n, 1)``."""
    rng = np.random.default_rng(seed)
    since = np.mod(np.arange(n) / rate, 1.0 / rate_hz)
    ringing = np.exp(-since * 800.0) * np.sin(2 * np.pi * resonance_hz * since)
    return (ringing + rng.normal(0, 0.5, n))[:, None]


def test_envelope_features_at_2_khz_are_refused_when_the_spec_is_built():
    with pytest.raises(ValueError, match=r"env_bpfo_ptm cannot be read.*at 2000 Hz \(Nyquist 1000 Hz\).*sample at "):
        spec(2000, 2048)
    spec(2000, 2048, features=("mean_abs", "rms", "kurtosis"))  # the others do not need the carrier band


def test_a_line_with_too_few_cycles_in_a_snapshot_is_refused_with_the_length_that_works():
    pronostia = ConditionSettings(bearing=BearingGeometry(13, 3.5, 25.6, 0.0), shaft_hz=30.0)
    with pytest.raises(ValueError, match=r"env_ftf_ptm cannot be read.*12.9 Hz needs 3 cycles.*at least 5931 samples"):
        spec(25600, 2560, features=("env_ftf_ptm",), settings=pronostia)
    kept, dropped = computable(WITH_BEARING_FEATURES, pronostia, 25600, 2560)
    assert kept == ("mean_abs", "env_bpfo_ptm", "env_bpfi_ptm", "env_bsf_ptm") and list(dropped) == ["env_ftf_ptm"]
    spec(25600, 5931, features=("env_ftf_ptm",), settings=pronostia)


def test_every_envelope_feature_stays_valid_on_the_ims_stream_bundles_carry():
    s = spec(20000, 20480, features=ENVELOPE)
    assert FeatureSpec.from_dict(s.to_dict()) == s
    assert WITH_BEARING_FEATURES == ("mean_abs", "env_bpfo_ptm", "env_bpfi_ptm", "env_bsf_ptm", "env_ftf_ptm")


def test_the_envelope_level_in_db_does_not_move_with_the_snapshot_length():
    """peak/median of one record grows with the length; the line's power over the floor's density does not."""
    ptm, db = [], []
    for n in (2000, 12000, 48000, 80000):
        line = defect_line(*envelope_spectrum(impacts(n, 20000, 97.0), 20000), 97.0)
        ptm.append(float(line.peak_to_median[0]))
        db.append(float(line.line_db[0]))
    assert ptm[-1] > 4 * ptm[0]
    assert max(db) - min(db) < 2.0 and min(db) > 15.0, db
    noise = defect_line(*envelope_spectrum(np.random.default_rng(1).normal(size=(20000, 1)), 20000), 97.0)
    assert float(noise.line_db[0]) < min(db) - 10.0


def test_a_ball_defect_is_read_at_twice_the_ball_spin_frequency():
    bsf = IMS.defect_hz["bsf"]
    assert IMS.defect_hz["bsf2x"] == 2 * bsf
    s = spec(20000, 20480, features=("env_bsf_db", "env_bsf2x_db"))
    one_x, two_x = compute(s, impacts(20480, 20000, 2 * bsf))
    assert two_x > one_x + 10.0, (one_x, two_x)
    assert defect_of("env_bsf2x_ptm") == "bsf" and defect_of("env_bsf2x_db") == "bsf"  # the same part: the ball


def test_velocity_rms_needs_its_whole_iso_band():
    with pytest.raises(ValueError, match=r"velocity_rms is the RMS velocity 10-1000 Hz.*at 1024 Hz"):
        spec(1024, 4096, features=("velocity_rms",))
    with pytest.raises(ValueError, match=r"velocity_rms .*bins of 40 Hz.*2560 samples or more"):
        spec(25600, 640, features=("velocity_rms",))
    spec(25600, 2560, features=("velocity_rms",))  # PRONOSTIA's bursts: 10 Hz bins, the band's low edge

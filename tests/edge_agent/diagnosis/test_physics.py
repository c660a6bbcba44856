"""The physics diagnosis: synthetic defects of each part named with their lines, noise named 'none', scipy as the
oracle of the envelope, speed refinement, the baseline, and the public MFPT seeded-fault records."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from edge_agent.diagnosis.physics import (PARTS, Baseline, diagnose, prewhiten, refine_speed,
                                          squared_envelope_spectrum)
from edge_agent.features.bearing import IMS_BEARING, BearingGeometry
from firmware_io.recordings.ims import REPO_ROOT

RATE = 20_000
N = 20_480
SHAFT = 2000.0 / 60.0
F = IMS_BEARING.defect_frequencies(SHAFT)


def impacts(rate_hz: float, seed: int, n: int = N, modulation_hz: float | None = None, depth: float = 0.0,
            amplitude: float = 1.0, shaft_line: float | None = None) -> np.ndarray:
    """Impacts at ``rate_hz`` ringing a 4 kHz resonance, optionally amplitude-modulated, in noise: ``(n, 1)``.

    Each interval between impacts varies by 1 % (the rolling elements slip): a real defect's impacts are
    not strictly periodic, which is why pre-whitening, which flattens strictly periodic lines, keeps them.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    intervals = (1.0 / rate_hz) * (1.0 + 0.01 * rng.standard_normal(int(n / RATE * rate_hz) + 2))
    arrivals = np.cumsum(intervals) - intervals[0] * rng.uniform()
    pulses = np.zeros(n)
    index = np.rint(arrivals[arrivals < n / RATE] * RATE).astype(int)
    pulses[index[index < n]] = 1.0
    response = np.exp(-np.arange(200) / RATE * 900.0) * np.sin(2 * np.pi * 4000.0 * np.arange(200) / RATE)
    ringing = amplitude * np.convolve(pulses, response)[:n]
    if modulation_hz:
        ringing *= 1.0 + depth * np.cos(2 * np.pi * modulation_hz * t)
    x = ringing + rng.normal(0, 0.35, n)
    if shaft_line:
        x += 0.5 * np.sin(2 * np.pi * shaft_line * t)
    return x[:, None]


@pytest.mark.parametrize("seed", range(3))
def test_an_outer_race_defect_is_named_with_its_harmonics_though_the_line_sits_below_nominal(seed):
    found = diagnose(impacts(F["bpfo"] * 0.975, seed), RATE, IMS_BEARING, SHAFT, refine=False)
    assert found.part == "outer_race" and found.confidence > 0.5, found.summary()
    harmonics = found.named.harmonics
    assert abs(harmonics[0].found_hz - 0.975 * F["bpfo"]) <= RATE / N + 1e-9 and len(harmonics) == 3
    assert all(line.db_over_floor > 10 for line in harmonics)


def test_an_inner_race_defect_is_named_with_shaft_sidebands():
    found = diagnose(impacts(F["bpfi"], 0, modulation_hz=SHAFT, depth=0.8), RATE, IMS_BEARING, SHAFT, refine=False)
    assert found.part == "inner_race", found.summary()
    sidebands = [line for line in found.named.lines if line.kind == "sideband" and line.db_over_floor > 6]
    assert sidebands and all(abs(abs(line.found_hz - line.order * found.named.harmonics[0].found_hz) - SHAFT) < 2
                             for line in sidebands)


def test_a_ball_defect_is_named_at_twice_the_ball_spin_frequency():
    found = diagnose(impacts(2 * F["bsf"], 0, modulation_hz=F["ftf"], depth=0.6), RATE, IMS_BEARING, SHAFT,
                     refine=False)
    assert found.part == "rolling_element", found.summary()
    assert abs(found.named.defect_hz - 2 * F["bsf"]) < 1e-9


def test_noise_and_a_machine_without_defect_lines_name_nothing():
    for seed in range(12):
        x = np.random.default_rng(100 + seed).normal(size=(N, 2))
        found = diagnose(x, RATE, IMS_BEARING, SHAFT)
        assert found.part == "none" and found.confidence == 0.0, (seed, found.summary())
    assert diagnose(np.random.default_rng(1).normal(size=(N, 1)), RATE, IMS_BEARING, SHAFT).summary() == \
        "no clear defect line"


def test_the_squared_envelope_spectrum_agrees_with_scipy_hilbert():
    signal = pytest.importorskip("scipy.signal")
    x = impacts(F["bpfo"], 0, n=4096)
    white = prewhiten(x)
    assert np.allclose(np.abs(np.fft.rfft(white[:, 0]))[1:], 1.0)  # a flat spectrum: only the phases are left
    envelope = np.abs(signal.hilbert(white[:, 0])) ** 2
    expected = np.abs(np.fft.rfft(envelope - envelope.mean())) ** 2 / 4096 ** 2
    freqs, power = squared_envelope_spectrum(x, RATE)
    np.testing.assert_allclose(power[:, 0], expected, rtol=1e-9, atol=1e-12 * expected.max())
    assert freqs[1] == pytest.approx(RATE / 4096)


def test_the_shaft_line_refines_the_speed_and_moves_every_defect_frequency():
    x = impacts(F["bpfo"] * 1.03, 0, shaft_line=SHAFT * 1.03)
    speed, refined = refine_speed(x, RATE, SHAFT)
    assert refined and speed == pytest.approx(SHAFT * 1.03, abs=0.1)
    found = diagnose(x, RATE, IMS_BEARING, SHAFT)
    assert found.shaft_refined and found.named.defect_hz == pytest.approx(F["bpfo"] * speed / SHAFT)
    assert refine_speed(x[:1024], RATE, SHAFT) == (SHAFT, False)  # 19.5 Hz bins: too coarse to refine a 33 Hz line


def test_a_line_the_baseline_already_had_is_not_a_defect():
    """A rig line at BPFO, there at commissioning: named without a baseline, not with it."""
    rig = [impacts(F["bpfo"], seed, amplitude=0.8) for seed in range(5)]
    baseline = Baseline.from_snapshots(rig, RATE)
    later = impacts(F["bpfo"], 9, amplitude=0.8)
    assert diagnose(later, RATE, IMS_BEARING, SHAFT, refine=False).part == "outer_race"
    assert diagnose(later, RATE, IMS_BEARING, SHAFT, baseline, refine=False).part == "none"
    grown = diagnose(impacts(F["bpfi"], 9, modulation_hz=SHAFT, depth=0.8) + later, RATE, IMS_BEARING, SHAFT,
                     baseline, refine=False)
    assert grown.part == "inner_race" and grown.named.harmonics[0].db_over_baseline > 6
    with pytest.raises(ValueError, match="baseline is of 20480 samples"):
        diagnose(later[:10000], RATE, IMS_BEARING, SHAFT, baseline)


def test_channels_restrict_the_reading_and_the_result_names_the_channel():
    x = np.hstack([np.random.default_rng(3).normal(size=(N, 1)), impacts(F["bpfo"], 0)])
    found = diagnose(x, RATE, IMS_BEARING, SHAFT, channel_names=["B1", "B2"])
    assert (found.part, found.channel) == ("outer_race", "B2")
    assert diagnose(x, RATE, IMS_BEARING, SHAFT, channel_names=["B1", "B2"], channels=[0]).part == "none"
    assert set(found.to_dict()["evidence"]) | {"none"} == set(PARTS)


MFPT = REPO_ROOT.parent / "shared" / "data" / "mfpt"


def test_mfpt_seeded_faults_are_named_from_their_spectrum_alone():
    """The public seeded-fault records (CC BY-NC-SA, read from ../shared only): no healthy baseline in the set,
    so each is judged against its own spectrum's local median."""
    io = pytest.importorskip("scipy.io")
    files = sorted(glob.glob(str(MFPT / "*" / "*RaceFault_vload_*.mat")))
    if not files:
        pytest.skip(f"the MFPT records are not on this machine ({MFPT}); CI has them")
    bearing = BearingGeometry(8, 0.235, 1.245, 0.0)
    named = {}
    for path in files:
        record = io.loadmat(path)["bearing"][0, 0]
        found = diagnose(record["gs"].astype(float), float(record["sr"].flat[0]), bearing,
                         float(record["rate"].flat[0]))
        named[os.path.basename(path)] = found.part
    expected = {name: "inner_race" if name.startswith("Inner") else "outer_race" for name in named}
    assert named == expected


def test_the_kurtogram_finds_the_band_the_impacts_ring_in():
    from edge_agent.diagnosis.physics import kurtogram_band

    low, high = kurtogram_band(impacts(F["bpfo"], 0), RATE)
    assert low <= 4000.0 < high and high - low <= RATE / 8  # the 4 kHz resonance, a band narrower than a quarter
    found = diagnose(impacts(F["bpfo"], 1), RATE, IMS_BEARING, SHAFT, refine=False, kurtogram=True)
    assert found.part == "outer_race"

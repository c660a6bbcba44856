"""edge_agent.features.condition against scipy.signal / scipy.stats (desktop-only oracles) and closed forms."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("scipy", reason="scipy is a desktop-only test oracle: a Pi has none (.ci/arm-edge.sh)")
from scipy import signal, stats  # noqa: E402

from edge_agent.features import condition
from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ
from edge_agent.features.condition import SnapshotAnalysis, iso_zone
from firmware_io.recordings import ims as datasets
from firmware_io.recordings.reader import read_snapshot_file, to_counts

FS = 20_000
N = 20_480
HEALTHY = datasets.RAW_TEST2_DIR / "2004.02.12.10.52.39"
BPFO = IMS_BEARING.defect_frequencies(IMS_SHAFT_HZ)["bpfo"]


def highpass(x: np.ndarray) -> np.ndarray:
    """The oracle's own band limit: scipy's zero-phase Butterworth above the kit's 1 kHz."""
    sos = signal.butter(8, condition.ENVELOPE_HIGHPASS_HZ, "highpass", fs=FS, output="sos")
    return signal.sosfiltfilt(sos, x - x.mean(axis=0), axis=0)


@pytest.fixture(scope="module")
def real_counts():
    return to_counts(read_snapshot_file(HEALTHY))


def test_level_and_shape_features_match_scipy_on_a_real_snapshot(real_counts):
    a = SnapshotAnalysis(real_counts, 0.001, FS)
    x = real_counts * 0.001
    # RMS by Parseval from scipy's periodogram (DC included): an independent route to the same number
    _, p = signal.periodogram(x, FS, window="boxcar", detrend=False, scaling="spectrum", axis=0)
    np.testing.assert_allclose(a.rms(), np.sqrt(p.sum(axis=0)), rtol=1e-10)
    np.testing.assert_allclose(a.kurtosis(), stats.kurtosis(x, axis=0, fisher=False, bias=True), rtol=1e-10)
    np.testing.assert_allclose(a.peak(), np.abs(x).max(axis=0), rtol=0)
    np.testing.assert_allclose(a.crest_factor(), a.peak() / a.rms(), rtol=1e-12)
    assert ((a.kurtosis() > 3.0) & (a.kurtosis() < 6.0)).all()  # these healthy bearings: 3.3 to 5.6


def test_velocity_rms_matches_scipy_periodogram_integration(real_counts):
    x = real_counts * 0.001
    f, p = signal.periodogram(x, FS, window="boxcar", detrend="constant", scaling="spectrum", axis=0)
    band = (f >= 10) & (f <= 1000)
    expected = np.sqrt((p[band] / ((2 * np.pi * f[band]) ** 2)[:, None]).sum(axis=0)) * 9.80665 * 1000
    got = SnapshotAnalysis(real_counts, 0.001, FS).velocity_rms()
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert (got > 0.1).all() and (got < 10).all()  # mm/s, a plausible healthy level


def test_velocity_of_a_known_sine_in_mm_per_s():
    # 120.1171875 Hz is bin 123 exactly: 7.0 mm/s rms velocity means accel amplitude v*sqrt2*2*pi*f
    f0 = 123 * FS / N
    t = np.arange(N) / FS
    v_amplitude = 7.0e-3 * np.sqrt(2)  # m/s
    accel_g = v_amplitude * 2 * np.pi * f0 * np.sin(2 * np.pi * f0 * t) / 9.80665
    out_of_band = 0.5 * np.sin(2 * np.pi * (3000 * N // FS) * FS / N * t)  # 3 kHz: excluded by the band
    x = np.column_stack([accel_g, accel_g + out_of_band])
    np.testing.assert_allclose(SnapshotAnalysis(x, 1.0, FS).velocity_rms(), [7.0, 7.0], rtol=1e-9)
    np.testing.assert_allclose(SnapshotAnalysis(x * 9.80665, 1.0, FS).velocity_rms(to_m_s2=1.0), [7.0, 7.0],
                               rtol=1e-9)
    assert iso_zone(7.0, "group2", "rigid") == "D" and iso_zone(7.0, "group1", "flexible") == "B"


def test_iso_zone_boundaries_are_the_tabled_ones():
    assert [iso_zone(v, "group2", "rigid") for v in (1.39, 1.4, 2.79, 2.8, 4.49, 4.5)] == list("ABBCCD")
    assert [iso_zone(v, "group1", "rigid") for v in (2.2, 2.3, 4.5, 7.1)] == list("ABCD")
    with pytest.raises(ValueError, match="unknown machine class"):
        iso_zone(1.0, "group3", "rigid")


def test_envelope_finds_an_amplitude_modulation_at_the_defect_frequency_like_hilbert_does():
    # a 4 kHz housing resonance struck at the outer-race frequency, in noise
    rng = np.random.default_rng(1)
    t = np.arange(N) / FS
    fault = 0.02 * (1 + np.cos(2 * np.pi * 230.5 * t)) * np.sin(2 * np.pi * 4000 * t)
    x = np.column_stack([rng.normal(0, 0.05, N) + fault, rng.normal(0, 0.05, N)])
    a = SnapshotAnalysis(x, 1.0, FS)
    line = a.defect_line(BPFO)
    assert line.peak_to_median[0] > 3 * line.peak_to_median[1]  # noise alone: the best of ~19 bins, ~2.5x
    # oracle: squared Hilbert envelope spectrum; the squared-signal route is half of it below the carrier
    squared_envelope = np.abs(signal.hilbert(highpass(x), axis=0)) ** 2
    freqs, p = condition.power_spectrum(squared_envelope, FS)
    hilbert_amp = np.sqrt(2 * p)
    f_cheap, cheap_amp = a.envelope
    k = np.argmin(np.abs(f_cheap - 230.5))
    assert cheap_amp[k, 0] == pytest.approx(hilbert_amp[k, 0] / 2, rel=0.05)
    hilbert_line = condition.defect_line(freqs, hilbert_amp, BPFO)
    np.testing.assert_allclose(line.peak_to_median, hilbert_line.peak_to_median, rtol=0.25)
    assert 0 < line.share[1] < line.share[0] < 1
    # the fault adds one envelope line of amplitude 0.02^2 = 4e-4 g^2 (power 8e-8) over the same noise
    assert line.energy[0] - line.energy[1] == pytest.approx(8e-8, rel=0.5)


def test_tolerance_catches_a_line_2_5_percent_below_nominal_and_2_percent_misses_it():
    t = np.arange(N) / FS
    x = (0.02 * (1 + np.cos(2 * np.pi * BPFO * 0.975 * t)) * np.sin(2 * np.pi * 4000 * t))[:, None]
    x = x + np.random.default_rng(2).normal(0, 0.05, (N, 1))
    a = SnapshotAnalysis(x, 1.0, FS)
    assert a.defect_line(BPFO, tolerance=0.04).peak_to_median[0] > 6
    assert a.defect_line(BPFO, tolerance=0.02).peak_to_median[0] < 3


def test_cheap_envelope_matches_hilbert_on_the_real_failing_snapshot():
    """On real IMS data the cheap route must read the defect line like the Hilbert envelope does."""
    path = datasets.RAW_TEST2_DIR / "2004.02.19.06.22.39"  # the last snapshot: outer race failed
    if not path.exists():
        pytest.skip(f"{path} not bundled")
    counts = to_counts(read_snapshot_file(path))
    a = SnapshotAnalysis(counts, 0.001, FS)
    squared_envelope = np.abs(signal.hilbert(highpass(a.values), axis=0)) ** 2
    freqs, p = condition.power_spectrum(squared_envelope, FS)
    hilbert = condition.defect_line(freqs, np.sqrt(2 * p), BPFO)
    cheap = a.defect_line(BPFO)
    np.testing.assert_allclose(cheap.peak_to_median, hilbert.peak_to_median, rtol=0.05)
    np.testing.assert_allclose(cheap.share, hilbert.share, rtol=0.05)
    assert np.argmax(cheap.peak_to_median) == np.argmax(hilbert.peak_to_median) == 0  # bearing 1


def test_constant_channel_gives_zeros_not_nan_and_bad_input_is_refused():
    x = np.zeros((N, 2), dtype=np.int16)
    x[:, 1] = np.random.default_rng(3).integers(-100, 100, N)
    a = SnapshotAnalysis(x, 0.001, FS)
    for values in (a.crest_factor(), a.kurtosis(), a.defect_line(BPFO).share, a.defect_line(BPFO).peak_to_median):
        assert np.isfinite(values).all() and values[0] == 0.0
    with pytest.raises(ValueError, match="2-D"):
        SnapshotAnalysis(np.zeros(10))
    with pytest.raises(TypeError, match="dtype"):
        SnapshotAnalysis(np.zeros((10, 2), dtype=bool))
    with pytest.raises(ValueError, match="sample_rate_hz"):
        SnapshotAnalysis(x, 1.0, 0)
    with pytest.raises(ValueError, match="tolerance"):
        a.defect_line(BPFO, tolerance=0.6)


def test_every_named_feature_reads_one_value_per_channel_and_envelope_ones_need_the_bearing(real_counts):
    from edge_agent.features.condition import CONDITION_FEATURES, ConditionSettings, defect_of

    a = SnapshotAnalysis(real_counts, 0.001, FS)
    settings = ConditionSettings(bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ)
    assert ConditionSettings.from_dict(settings.to_dict()) == settings
    for name, feature in CONDITION_FEATURES.items():
        values = feature.read(a, settings)
        assert values.shape == (4,) and np.isfinite(values).all(), name
        assert feature.envelope == (defect_of(name) is not None)
    line = a.defect_line(BPFO)
    np.testing.assert_array_equal(CONDITION_FEATURES["env_bpfo_ptm"].read(a, settings), line.peak_to_median)
    assert defect_of("env_bpfi_share") == "bpfi" and defect_of("velocity_rms") is None
    with pytest.raises(ValueError, match="--bearing"):
        CONDITION_FEATURES["env_bpfo_ptm"].read(a, ConditionSettings())
    with pytest.raises(ValueError, match="go together"):
        ConditionSettings(bearing=IMS_BEARING)
    with pytest.raises(ValueError, match="unknown keys"):
        ConditionSettings.from_dict({"rpm": 2000})


def test_the_registry_computes_condition_features_from_the_spec_in_its_order(real_counts):
    from edge_agent.features.condition import ConditionSettings
    from edge_agent.features.registry import compute, mean_abs
    from edge_agent.features.spec import FeatureSpec

    extra = {"condition": ConditionSettings(bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ).to_dict()}
    channels = tuple(f"Bearing {i}" for i in range(1, 5))
    spec = FeatureSpec(channels, features=("mean_abs", "env_bpfo_ptm", "kurtosis"), extra=extra)
    assert spec.feature_names[4] == "Bearing 1 env_bpfo_ptm" and spec.n_features == 12
    vector = compute(spec, real_counts, 0.001)
    a = SnapshotAnalysis(real_counts, 0.001, spec.sample_rate_hz)
    np.testing.assert_array_equal(vector[:4], mean_abs(real_counts, 0.001))
    np.testing.assert_array_equal(vector[4:8], a.defect_line(BPFO).peak_to_median)
    np.testing.assert_array_equal(vector[8:], a.kurtosis())
    assert FeatureSpec.from_dict(spec.to_dict()) == spec  # the bearing travels with the spec (bundle)
    # a different shaft speed moves the defect frequency and so the feature
    slow = {"condition": ConditionSettings(bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ / 2).to_dict()}
    assert not np.array_equal(compute(FeatureSpec(channels, features=("env_bpfo_ptm",), extra=slow),
                                      real_counts, 0.001), vector[4:8])


def test_a_spec_with_envelope_features_but_no_bearing_is_refused_with_the_fix():
    from edge_agent.features.spec import FeatureSpec

    with pytest.raises(ValueError, match="need the bearing geometry.*--bearing"):
        FeatureSpec(("b1",), features=("env_bpfo_ptm",))
    with pytest.raises(ValueError, match="extra\\['condition'\\].*unknown keys"):
        FeatureSpec(("b1",), features=("rms",), extra={"condition": {"rpm": 2000}})
    assert FeatureSpec(("b1",), features=("rms", "velocity_rms")).n_features == 2  # no bearing needed


def test_the_memory_layout_does_not_change_a_bit(real_counts):
    """ingest's pandas route gives Fortran-ordered arrays, the agent C-ordered ones: same features."""
    fortran = np.asfortranarray(real_counts)
    for a, b in ((SnapshotAnalysis(real_counts, 0.001, FS), SnapshotAnalysis(fortran, 0.001, FS)),):
        np.testing.assert_array_equal(a.defect_line(BPFO).peak_to_median, b.defect_line(BPFO).peak_to_median)
        np.testing.assert_array_equal(a.velocity_rms(), b.velocity_rms())

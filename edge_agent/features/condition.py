"""Condition-monitoring features of one snapshot, in physical units, numpy only.

What a vibration engineer reads off a bearing, per channel:

- level and shape of the acceleration: :func:`rms`, :func:`peak`, :func:`crest_factor`,
  :func:`kurtosis` (Pearson's, 3.0 for Gaussian noise; impacts from a spall raise it);
- :func:`velocity_rms`: RMS vibration velocity over 10-1000 Hz in mm/s, the quantity the
  ISO 10816-3 / 20816-3 severity zones are written in (:func:`iso_zone`);
- the envelope spectrum at a bearing defect frequency (:func:`defect_line`): a local defect
  is struck once per passing rolling element, which modulates the high-frequency ringing
  of the housing; the envelope's spectrum shows a line at the defect frequency long before
  the overall level moves.

The envelope route is the cheap one: the *squared* signal, high-passed above 1 kHz, has
in the envelope band the same spectrum as half the squared Hilbert envelope, without the
analytic signal's second full-length complex FFT. ``tests/edge_agent/features/test_condition.py`` checks it against
``scipy.signal.hilbert`` on real IMS snapshots.

:class:`SnapshotAnalysis` computes each intermediate (physical values, spectrum, envelope
spectrum) at most once per snapshot, so asking for twenty features costs two FFTs per
channel, not twenty.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import numpy as np

from edge_agent.features.bearing import DEFECT_PARTS, BearingGeometry
from edge_agent.features.spectra import (  # noqa: F401  (re-exported: the envelope is part of the condition features)
    DEFAULT_HARMONICS, DEFAULT_TOLERANCE, ENVELOPE_BAND_HZ, ENVELOPE_HIGHPASS_HZ, DefectLine, EnvelopeFloor,
    defect_line, envelope_floor, envelope_limits, envelope_spectrum, power_spectrum)

#: Standard gravity: the sensor unit "g" in m/s^2 (ISO 80000-3).
STANDARD_GRAVITY_M_S2 = 9.80665
#: The velocity band of ISO 10816-3 / 20816-3 for machines running above 600 rpm.
VELOCITY_BAND_HZ = (10.0, 1000.0)
def to_physical(samples: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``samples`` ``(n_samples, n_channels)`` as float64 physical values (integer counts times ``scale``)."""
    x = np.asarray(samples)
    if x.ndim != 2:
        raise ValueError(f"samples must be 2-D (n_samples, n_channels), got shape {x.shape}")
    if x.shape[0] < 2 or x.shape[1] == 0:
        raise ValueError(f"samples need at least 2 rows and 1 channel, got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"samples must be integer counts or floats, got dtype {x.dtype}")
    # C order whatever the input's: the FFT's rounding depends on the memory layout, and the
    # device (C-ordered frames) and ingest (pandas gives Fortran order) must agree bit for bit
    if scale == 1.0:
        return x.astype(np.float64, order="C")
    return np.multiply(x, float(scale), dtype=np.float64, order="C")  # one pass: converted and scaled together


def rms(x: np.ndarray) -> np.ndarray:
    """Root mean square per channel of physical values ``x``, the signal as recorded (offset included)."""
    return np.sqrt(np.mean(np.square(x), axis=0))


def peak(x: np.ndarray) -> np.ndarray:
    """Largest |x| per channel."""
    return np.max(np.abs(x), axis=0)


def crest_factor(x: np.ndarray) -> np.ndarray:
    """Peak over RMS per channel (dimensionless; sqrt(2) for a sine, ~4 for Gaussian noise)."""
    level = rms(x)
    return np.divide(peak(x), level, out=np.zeros_like(level), where=level > 0)


def kurtosis(x: np.ndarray) -> np.ndarray:
    """Pearson's kurtosis per channel, m4 / m2^2 with population moments (3.0 for Gaussian noise).

    A constant channel (m2 = 0, e.g. a disconnected sensor) gives 0.0, not a NaN that
    would poison the scaler.
    """
    centred = x - x.mean(axis=0)
    m2 = np.mean(centred ** 2, axis=0)
    m4 = np.mean(centred ** 4, axis=0)
    return np.divide(m4, m2 ** 2, out=np.zeros_like(m2), where=m2 > 0)


def velocity_rms(freqs: np.ndarray, accel_power: np.ndarray, to_m_s2: float = STANDARD_GRAVITY_M_S2,
                 band_hz: tuple[float, float] = VELOCITY_BAND_HZ) -> np.ndarray:
    """RMS velocity in mm/s per channel over ``band_hz``, from the acceleration's power spectrum.

    Integration in the frequency domain: a component of acceleration amplitude A at f has
    velocity amplitude A / (2 pi f). That needs no filter design and no drift correction,
    which a time-domain integrator of a 1 s snapshot would. ``to_m_s2`` converts the
    sensor's unit to m/s^2 (9.80665 for g, 1.0 for m/s^2).
    """
    low, high = band_hz
    if not 0 < low < high:
        raise ValueError(f"band_hz must be 0 < low < high, got {band_hz}")
    in_band = (freqs >= low) & (freqs <= high)
    omega = 2.0 * np.pi * freqs[in_band]
    velocity_power = accel_power[in_band] / (omega ** 2)[:, None]
    return np.sqrt(velocity_power.sum(axis=0)) * to_m_s2 * 1000.0


#: ISO 10816-3:2009, Annex A, Tables A.1 (group 1: 300 kW - 50 MW) and A.2 (group 2: 15 - 300 kW):
#: zone boundaries A/B, B/C, C/D of RMS velocity (mm/s, 10-1000 Hz) by machine group and
#: foundation. The standard itself was not available here: the values are the widely reproduced
#: ones, cross-checked against public material (a vendor manual's ISO 10816-3 example uses
#: group 1 rigid, 2.3 / 4.5 / 7.1; a public condition-monitoring tool uses group 2 rigid A/B 1.4,
#: B/C 2.8, but C/D 7.1 where this table has 4.5); secondary charts disagree with each other, so
#: check the boundaries against your copy of the standard before acting on a zone. ISO
#: 20816-3:2022, which replaces 10816-3, was not checked (it is said to change zone A/B).
ISO_10816_3_BOUNDARIES_MM_S: dict[tuple[str, str], tuple[float, float, float]] = {
    ("group1", "rigid"): (2.3, 4.5, 7.1),
    ("group1", "flexible"): (3.5, 7.1, 11.0),
    ("group2", "rigid"): (1.4, 2.8, 4.5),
    ("group2", "flexible"): (2.3, 4.5, 7.1),
}
#: What each zone means, in the standard's words (shortened).
ISO_ZONE_MEANING = {
    "A": "newly commissioned",
    "B": "unrestricted long-term operation",
    "C": "restricted operation: plan maintenance",
    "D": "damage likely: act now",
}


def iso_zone(velocity_mm_s: float, group: str = "group2", foundation: str = "rigid") -> str:
    """The ISO 10816-3 zone ("A".."D") of one RMS velocity for a machine group and foundation."""
    try:
        ab, bc, cd = ISO_10816_3_BOUNDARIES_MM_S[(group, foundation)]
    except KeyError:
        raise ValueError(f"unknown machine class {(group, foundation)}; known: "
                         f"{sorted(ISO_10816_3_BOUNDARIES_MM_S)}") from None
    if velocity_mm_s < ab:
        return "A"
    if velocity_mm_s < bc:
        return "B"
    if velocity_mm_s < cd:
        return "C"
    return "D"


class SnapshotAnalysis:
    """One snapshot's intermediates, each computed at most once: values, spectrum, envelope.

    >>> a = SnapshotAnalysis(np.ones((2048, 2), dtype=np.int16), scale=0.001, sample_rate_hz=20000)
    >>> a.rms()
    array([0.001, 0.001])
    """

    def __init__(self, samples: np.ndarray, scale: float = 1.0, sample_rate_hz: float = 20_000.0) -> None:
        if not sample_rate_hz > 0:
            raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz!r}")
        self.values = to_physical(samples, scale)
        self.sample_rate_hz = float(sample_rate_hz)
        self._lines: dict[tuple[float, float], DefectLine] = {}

    @cached_property
    def spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`power_spectrum` of the values."""
        return power_spectrum(self.values, self.sample_rate_hz)

    @cached_property
    def envelope(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`envelope_spectrum` of the values."""
        return envelope_spectrum(self.values, self.sample_rate_hz)

    @cached_property
    def envelope_floor(self) -> EnvelopeFloor:
        """:func:`envelope_floor` of the envelope: shared by every defect line read."""
        return envelope_floor(*self.envelope)

    def rms(self) -> np.ndarray:
        return rms(self.values)

    def peak(self) -> np.ndarray:
        return peak(self.values)

    def crest_factor(self) -> np.ndarray:
        return crest_factor(self.values)

    def kurtosis(self) -> np.ndarray:
        return kurtosis(self.values)

    def velocity_rms(self, to_m_s2: float = STANDARD_GRAVITY_M_S2) -> np.ndarray:
        return velocity_rms(*self.spectrum, to_m_s2=to_m_s2)

    def defect_line(self, defect_hz: float, tolerance: float = DEFAULT_TOLERANCE) -> DefectLine:
        """:func:`defect_line` of the envelope, remembered: energy, share and ratio come from one reading."""
        key = (float(defect_hz), float(tolerance))
        if key not in self._lines:
            self._lines[key] = defect_line(*self.envelope, defect_hz, tolerance=tolerance, floor=self.envelope_floor)
        return self._lines[key]


@dataclass(frozen=True)
class ConditionSettings:
    """What the spectral features need besides the samples: the sensor's unit and the bearing.

    Written into a feature spec's ``extra["condition"]`` (so into every bundle), because
    a model trained on the envelope at one bearing's defect frequencies means nothing
    at another's. ``bearing`` and ``shaft_hz`` may be None when no envelope feature is used.
    """

    to_m_s2: float = STANDARD_GRAVITY_M_S2
    bearing: BearingGeometry | None = None
    shaft_hz: float | None = None
    tolerance: float = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        problems = []
        if not self.to_m_s2 > 0:
            problems.append(f"to_m_s2 (sensor unit in m/s^2) must be > 0, got {self.to_m_s2!r}")
        if (self.bearing is None) != (self.shaft_hz is None):
            problems.append("bearing and shaft_hz go together: give both or neither")
        if self.shaft_hz is not None and not self.shaft_hz > 0:
            problems.append(f"shaft_hz must be > 0, got {self.shaft_hz!r}")
        if not 0 < self.tolerance < 0.5:
            problems.append(f"tolerance must be in (0, 0.5), got {self.tolerance!r}")
        if problems:
            raise ValueError("invalid condition settings: " + "; ".join(problems))

    @cached_property
    def defect_hz(self) -> dict[str, float]:
        """BPFO, BPFI, BSF, FTF in Hz, and ``bsf2x`` (refused with the fix when no bearing is set).

        A spall on a rolling element strikes the inner and the outer race once each per spin of
        the element, so its envelope line is at 2x BSF (``bsf2x``); ``bsf`` stays at 1x for the
        features bundles already name.
        """
        if self.bearing is None or self.shaft_hz is None:
            raise ValueError("envelope features need the bearing geometry and shaft speed: "
                             "bearing-train ingest --bearing N,d,D,ANGLE --shaft-rpm RPM (or --bearing ims)")
        frequencies = self.bearing.defect_frequencies(self.shaft_hz)
        return {**frequencies, "bsf2x": 2.0 * frequencies["bsf"]}

    def to_dict(self) -> dict[str, Any]:
        return {"to_m_s2": self.to_m_s2, "tolerance": self.tolerance, "shaft_hz": self.shaft_hz,
                "bearing": None if self.bearing is None else self.bearing.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "ConditionSettings":
        d = dict(d or {})
        unknown = set(d) - {"to_m_s2", "tolerance", "shaft_hz", "bearing"}
        if unknown:
            raise ValueError(f"condition settings have unknown keys {sorted(unknown)}")
        if d.get("bearing") is not None:
            d["bearing"] = BearingGeometry.from_dict(d["bearing"])
        return cls(**d)


@dataclass(frozen=True)
class ConditionFeature:
    """A feature of :class:`SnapshotAnalysis`: how to read it, and its unit."""

    read: Callable[[SnapshotAnalysis, ConditionSettings], np.ndarray]
    units: str
    #: True when it reads the envelope at a defect frequency (needs the bearing).
    envelope: bool = False


#: The defect lines the envelope features read: the bearing's four, and the ball's at 2x BSF.
ENVELOPE_DEFECTS: dict[str, str] = {**DEFECT_PARTS, "bsf2x": "rolling element"}


def _envelope_feature(defect: str, quantity: str, units: str) -> ConditionFeature:
    def read(analysis: SnapshotAnalysis, settings: ConditionSettings) -> np.ndarray:
        return getattr(analysis.defect_line(settings.defect_hz[defect], settings.tolerance), quantity)
    label = "2x BSF" if defect == "bsf2x" else defect.upper()
    return ConditionFeature(read, f"{ENVELOPE_DEFECTS[defect]} ({label}): {units}", envelope=True)


#: Every feature this module offers, by the name a feature spec uses. Each returns one
#: value per channel; ``sensor`` is the stream's physical unit (IMS: g).
CONDITION_FEATURES: dict[str, ConditionFeature] = {
    "rms": ConditionFeature(lambda a, s: a.rms(), "RMS acceleration, sensor units"),
    "peak": ConditionFeature(lambda a, s: a.peak(), "largest |x|, sensor units"),
    "crest_factor": ConditionFeature(lambda a, s: a.crest_factor(), "peak / RMS, dimensionless"),
    "kurtosis": ConditionFeature(lambda a, s: a.kurtosis(), "Pearson kurtosis, 3 for Gaussian"),
    "velocity_rms": ConditionFeature(lambda a, s: a.velocity_rms(s.to_m_s2),
                                     "RMS velocity 10-1000 Hz, mm/s (ISO 10816-3)"),
    **{f"env_{defect}_{name}": _envelope_feature(defect, quantity, units)
       for defect in ENVELOPE_DEFECTS
       for name, quantity, units in (
           ("energy", "energy", "envelope line energy at 1-3x, sensor units^4"),
           ("share", "share", "share of the envelope energy 10-1000 Hz"),
           ("ptm", "peak_to_median", "envelope line peak / median (grows with the snapshot length)"),
           ("db", "line_db", "envelope line power over the floor's power in 1 Hz, dB (length-free)"))},
}


#: What ``bearing-train ingest --bearing ...`` computes when ``--features`` is not given: the seed's
#: mean |x| and the envelope peak-to-median at the four defect frequencies. Chosen by measurement
#: (``benchmarks/bench_condition.py``, docs/training.md): on raw IMS test 2 they alarm on the first
#: defective snapshot with the two-level rule for 5 of 5 seeds, name the bearing and the defect, and
#: cost 9-12 ms (15-20 x mean |x|) per scored snapshot; without a bearing, mean |x| stays the default.
WITH_BEARING_FEATURES: tuple[str, ...] = ("mean_abs", "env_bpfo_ptm", "env_bpfi_ptm", "env_bsf_ptm", "env_ftf_ptm")


def defect_of(feature: str) -> str | None:
    """``"bpfo"`` for ``"env_bpfo_ptm"`` (``"bsf"`` for the ball's 2x BSF line, the same part); None for a
    feature that is not read at a defect frequency."""
    parts = feature.split("_")
    if len(parts) != 3 or parts[0] != "env" or parts[1] not in ENVELOPE_DEFECTS:
        return None
    return "bsf" if parts[1] == "bsf2x" else parts[1]


def spec_problem(features: tuple[str, ...], extra: dict[str, Any], sample_rate_hz: float | None = None,
                 samples_per_snapshot: int | None = None) -> str | None:
    """Why a feature spec with ``features`` and ``extra`` cannot compute its condition features, or None.

    The settings live in ``extra["condition"]`` (:meth:`ConditionSettings.to_dict`); envelope
    features need the bearing in them, because the defect frequencies come from it, and a rate
    and snapshot length at which each line can be read (:func:`envelope_limits`): a feature that
    cannot be computed is refused here, never computed as a silent 0.
    """
    if not any(name in CONDITION_FEATURES for name in features):
        return None
    try:
        settings = ConditionSettings.from_dict(extra.get("condition"))
    except (TypeError, ValueError) as exc:
        return f"extra['condition']: {exc}"
    envelope = [name for name in features if name in CONDITION_FEATURES and CONDITION_FEATURES[name].envelope]
    if envelope and settings.bearing is None:
        return (f"{envelope} need the bearing geometry and shaft speed in extra['condition'] "
                "(bearing-train ingest --bearing N,d,D,ANGLE --shaft-rpm RPM, or --bearing ims)")
    if "velocity_rms" in features and sample_rate_hz is not None and samples_per_snapshot is not None:
        low, high = VELOCITY_BAND_HZ
        if sample_rate_hz / 2 < high or sample_rate_hz / samples_per_snapshot > low:
            return (f"velocity_rms is the RMS velocity {low:g}-{high:g} Hz (ISO 10816-3): at {sample_rate_hz:g} Hz "
                    f"with {samples_per_snapshot} samples the spectrum reaches {sample_rate_hz / 2:g} Hz in bins of "
                    f"{sample_rate_hz / samples_per_snapshot:.3g} Hz; it needs {2 * high:g} Hz or more and bins of "
                    f"{low:g} Hz or finer ({int(np.ceil(sample_rate_hz / low))} samples or more)")
    if envelope and sample_rate_hz is not None and samples_per_snapshot is not None:
        for name in envelope:
            defect = name.split("_")[1]
            why = envelope_limits(sample_rate_hz, samples_per_snapshot, settings.defect_hz[defect])
            if why:
                return f"{name} cannot be read in these snapshots: {why}"
    return None


def computable(features: tuple[str, ...], settings: ConditionSettings, sample_rate_hz: float,
               samples_per_snapshot: int) -> tuple[tuple[str, ...], dict[str, str]]:
    """``features`` split into those readable at this rate and length and, for the others, why not."""
    kept, dropped = [], {}
    for name in features:
        why = spec_problem((name,), {"condition": settings.to_dict()}, sample_rate_hz, samples_per_snapshot)
        if why:
            dropped[name] = why
        else:
            kept.append(name)
    return tuple(kept), dropped

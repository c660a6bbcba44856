"""Which part of a bearing is failing, from the physics of the bearing: numpy only (the device runs it).

The autoencoder answers "is this unlike the healthy machine"; this module names the defect
the way a vibration analyst does, separately from the novelty score:

1. **Cepstrum pre-whitening**: the spectrum divided by its own magnitude (every real-cepstrum
   coefficient but the zero-quefrency one set to zero). Gear, shaft and structural lines and
   the resonances' colour go; the impacts' periodicity stays. Of the pre-processings compared
   on public seeded-fault data it was the most useful single one (Smith and Randall, MSSP 64-65,
   2015, the CWRU benchmark; Borghesani et al., MSSP 36, 2013).
2. **Squared envelope spectrum** (SES) of the whitened signal: the spectrum of |analytic signal|^2.
   A local defect is struck once per passing element, so the SES has a line at the defect
   frequency and its harmonics.
3. **Speed refinement**: the shaft line of the raw spectrum, searched within
   :data:`SPEED_TOLERANCE` of the nominal speed, rescales every defect frequency when it is clear.
4. **Lines**: the fundamental of each part's frequency is searched within
   :data:`DEFECT_TOLERANCE` (slip puts real lines a few per cent low: IMS test 2's outer-race line
   is 2.5 % below nominal), its harmonics at whole multiples of the line found, and the
   sidebands that go with the part: shaft speed around the inner race's lines (the inner race
   turns through the load zone), cage speed around the rolling element's (the ball's defect turns
   with the cage). Each line's height is given in dB over the local floor of the SES (its median
   within +/-15 %) and, with a baseline (the commissioning snapshots' mean SES), over the baseline.
5. **The part** whose lines are clear (fundamental >= :data:`FUNDAMENTAL_DB` and another harmonic
   >= :data:`LINE_DB`) with the largest evidence score (sum of its clear lines' dB), or ``none``:
   "no clear defect line". A ball's spall strikes both races once per spin, so the rolling element
   is looked for at 2x BSF.

The thresholds follow from the statistics of noise: a bin of the SES of Gaussian noise over
its median exceeds x (power ratio) with probability 2^-x, so 10 dB in a fundamental window of
~20 bins is crossed by chance about 2 % of the time, and together with a 6 dB harmonic in its
5-bin window about 0.5 %.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from edge_agent.features.bearing import BearingGeometry

#: The parts named, in the words other tools rely on, with the defect frequency each is read at.
PART_FREQUENCY = {"outer_race": "bpfo", "inner_race": "bpfi", "rolling_element": "bsf2x", "cage": "ftf"}
PARTS = tuple(PART_FREQUENCY) + ("none",)
#: Relative half-width of the window the fundamental is searched in.
DEFECT_TOLERANCE = 0.04
#: Relative half-width of the window the shaft line is searched in.
SPEED_TOLERANCE = 0.05
#: Harmonics of each defect frequency read.
HARMONICS = 3
#: A fundamental is a line when it stands this far over the local floor (dB, power).
FUNDAMENTAL_DB = 10.0
#: A harmonic or sideband counts when it stands this far over the local floor (dB, power).
LINE_DB = 6.0
#: With a baseline, the fundamental must also stand this far over the baseline's spectrum (dB): twice the
#: power. A line as high at commissioning is the machine's own (a rig line, or a defect already there).
OVER_BASELINE_DB = 3.0
#: What a clear sideband adds to a part's evidence, relative to a harmonic of the same height.
SIDEBAND_WEIGHT = 0.5
#: Relative half-width of the floor's window around a line.
_FLOOR_SPAN = 0.15
_FLOOR_MIN_BINS = 20


def prewhiten(x: np.ndarray) -> np.ndarray:
    """Cepstrum pre-whitening of each column: ``ifft(X / |X|)``, the mean removed."""
    n = x.shape[0]
    spectrum = np.fft.rfft(x - x.mean(axis=0), axis=0)
    magnitude = np.abs(spectrum)
    whitened = np.divide(spectrum, magnitude, out=np.zeros_like(spectrum), where=magnitude > 0)
    whitened[0] = 0.0
    return np.fft.irfft(whitened, n=n, axis=0)


def kurtogram_band(x: np.ndarray, sample_rate_hz: float, levels: int = 6) -> tuple[float, float]:
    """The frequency band where the signal is most impulsive: the highest spectral kurtosis of the
    complex envelope over a dyadic split of 0..Nyquist into 2, 4, ..., 2^levels bands (Antoni's
    kurtogram, without its 1/3 levels), summed over the channels. One rfft, then one inverse FFT per band."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    spectrum = np.fft.rfft(x - x.mean(axis=0), axis=0)
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate_hz)
    nyquist = sample_rate_hz / 2.0
    best, band = -np.inf, (0.0, nyquist)
    for level in range(1, levels + 1):
        width = nyquist / 2 ** level
        for k in range(2 ** level):
            low, high = k * width, (k + 1) * width
            mask = (freqs >= low) & (freqs < high)
            if mask.sum() < 8:
                continue
            full = np.zeros((n, x.shape[1]), dtype=complex)
            full[:len(freqs)][mask] = spectrum[mask]  # positive frequencies only: the band's analytic signal
            envelope = np.fft.ifft(full, axis=0)
            power = np.square(np.abs(envelope))
            kurt = float(np.sum(np.mean(power ** 2, axis=0) / np.maximum(np.mean(power, axis=0) ** 2, 1e-300) - 2.0))
            if kurt > best:
                best, band = kurt, (low, high)
    return band


def squared_envelope_spectrum(x: np.ndarray, sample_rate_hz: float, whiten: bool = True,
                              band_hz: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(freqs, power (bins, channels))``: the power spectrum of |analytic signal|^2 of each column,
    pre-whitened by default, of the signal within ``band_hz`` when given (e.g. :func:`kurtogram_band`'s)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    signal = prewhiten(x) if whiten else x - x.mean(axis=0)
    spectrum = np.fft.fft(signal, axis=0)
    gain = np.zeros(n)
    gain[0] = 1.0
    gain[1:(n + 1) // 2] = 2.0
    if n % 2 == 0:
        gain[n // 2] = 1.0
    if band_hz is not None:
        f = np.abs(np.fft.fftfreq(n, 1.0 / sample_rate_hz))
        gain = gain * ((f >= band_hz[0]) & (f < band_hz[1]))
    envelope = np.square(np.abs(np.fft.ifft(spectrum * gain[:, None], axis=0)))
    ses = np.fft.rfft(envelope - envelope.mean(axis=0), axis=0)
    return np.fft.rfftfreq(n, 1.0 / sample_rate_hz), np.square(np.abs(ses)) / (n * n)


@dataclass(frozen=True)
class Baseline:
    """The commissioning snapshots' mean squared envelope spectrum, per channel."""

    sample_rate_hz: float
    samples_per_snapshot: int
    freqs: np.ndarray
    power: np.ndarray  # (bins, channels)
    n_snapshots: int

    @classmethod
    def from_snapshots(cls, snapshots: Sequence[np.ndarray], sample_rate_hz: float) -> "Baseline":
        if not snapshots:
            raise ValueError("a baseline needs at least one snapshot")
        total = None
        for snap in snapshots:
            freqs, power = squared_envelope_spectrum(snap, sample_rate_hz)
            if total is not None and power.shape != total.shape:
                raise ValueError(f"baseline snapshots differ in shape: {power.shape} vs {total.shape}")
            total = power if total is None else total + power
        return cls(float(sample_rate_hz), int(np.shape(snapshots[0])[0]), freqs, total / len(snapshots),
                   len(snapshots))

    def truncated(self, top_hz: float) -> np.ndarray:
        """The power up to ``top_hz`` (float32, (bins, channels)): what a bundle stores (:func:`spectrum_extent_hz`:
        every line the diagnosis reads lies below it, the rest of the spectrum is never compared)."""
        return self.power[self.freqs <= top_hz].astype(np.float32)

    @classmethod
    def from_truncated(cls, power: np.ndarray, sample_rate_hz: float, samples_per_snapshot: int,
                       n_snapshots: int) -> "Baseline":
        """A baseline from :meth:`truncated`'s power: the bins above it are NaN, which no line can grow over
        (a line read there is never "clear" against the baseline: the safe side)."""
        power = np.asarray(power, dtype=np.float64)
        freqs = np.fft.rfftfreq(int(samples_per_snapshot), 1.0 / float(sample_rate_hz))
        if power.ndim != 2 or not 0 < power.shape[0] <= len(freqs):
            raise ValueError(f"baseline power must be (bins <= {len(freqs)}, channels), got shape {power.shape}")
        full = np.full((len(freqs), power.shape[1]), np.nan)
        full[:power.shape[0]] = power
        return cls(float(sample_rate_hz), int(samples_per_snapshot), freqs, full, int(n_snapshots))


def spectrum_extent_hz(bearing: BearingGeometry, shaft_hz: float) -> float:
    """The highest envelope frequency the diagnosis reads for this bearing and nominal speed: the top harmonic
    of the highest defect frequency at the fastest refined speed, its search window, and a sideband beyond it.
    A stored baseline and the plotted spectrum reach this far."""
    fastest = shaft_hz * (1 + SPEED_TOLERANCE)
    f = bearing.defect_frequencies(fastest)
    top = max(f["bpfo"], f["bpfi"], 2.0 * f["bsf"], f["ftf"])
    return HARMONICS * top * (1 + DEFECT_TOLERANCE) + fastest + 0.05 * HARMONICS * top


@dataclass(frozen=True)
class Line:
    """One spectral line looked for: where it was expected, where the highest bin was, and how high."""

    kind: str  # "harmonic" or "sideband"
    order: int  # harmonic number (1 = fundamental); for a sideband, the harmonic it flanks
    expected_hz: float
    found_hz: float
    db_over_floor: float
    db_over_baseline: float | None = None
    sign: int = 0  # sidebands: -1 lower, +1 upper

    def clear(self, threshold: float) -> bool:
        """Over the floor by ``threshold`` and, measured against a baseline, grown over it."""
        grown = self.db_over_baseline is None or self.db_over_baseline >= OVER_BASELINE_DB
        return self.db_over_floor >= threshold and grown


@dataclass(frozen=True)
class PartEvidence:
    """What the spectrum says about one part: its frequency (after speed refinement) and its lines."""

    part: str
    defect_hz: float
    lines: tuple[Line, ...]

    @property
    def harmonics(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.kind == "harmonic")

    @property
    def detected(self) -> bool:
        """A clear fundamental and at least one more clear harmonic."""
        h = self.harmonics
        return bool(h) and h[0].clear(FUNDAMENTAL_DB) and any(line.clear(LINE_DB) for line in h[1:])

    @property
    def score(self) -> float:
        """The evidence (dB): the clear harmonics' height over the floor, plus half the clear sidebands'.

        Sidebands support a part's own lines but count half: six sidebands of a weak line must
        not outweigh three strong harmonics of another part's.
        """
        return float(sum(line.db_over_floor * (1.0 if line.kind == "harmonic" else SIDEBAND_WEIGHT)
                         for line in self.lines if line.clear(LINE_DB)))


@dataclass(frozen=True)
class PhysicsDiagnosis:
    """The named part (or ``none``), a confidence in 0-1 and the evidence, for one snapshot."""

    part: str
    confidence: float
    channel: str | None
    shaft_hz: float
    shaft_refined: bool
    evidence: tuple[PartEvidence, ...] = field(default_factory=tuple)
    #: Which column of the snapshot ``channel`` is.
    channel_index: int = 0

    @property
    def named(self) -> PartEvidence | None:
        return next((e for e in self.evidence if e.part == self.part), None)

    def summary(self) -> str:
        """One line: the part and its fundamental, harmonics and sidebands in dB."""
        if self.part == "none":
            return "no clear defect line"
        e = self.named
        parts = [f"{line.found_hz:.1f} Hz {line.db_over_floor:+.1f} dB" for line in e.harmonics]
        side = sum(1 for line in e.lines if line.kind == "sideband" and line.clear(LINE_DB))
        base = e.harmonics[0].db_over_baseline
        return (f"{self.part.replace('_', ' ')} ({self.channel}): line at {e.harmonics[0].found_hz:.1f} Hz "
                f"(expected {e.defect_hz:.1f}), harmonics " + ", ".join(parts)
                + (f", {side} sidebands" if side else "")
                + (f", {base:+.1f} dB over baseline" if base is not None else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"part": self.part, "confidence": round(self.confidence, 3), "channel": self.channel,
                "shaft_hz": round(self.shaft_hz, 3), "shaft_refined": self.shaft_refined,
                "evidence": {e.part: {"defect_hz": round(e.defect_hz, 3), "detected": e.detected,
                                      "score_db": round(e.score, 2),
                                      "lines": [{k: (round(v, 2) if isinstance(v, float) else v)
                                                 for k, v in asdict(line).items()} for line in e.lines]}
                             for e in self.evidence}}


def _db(ratio: float) -> float:
    return 10.0 * math.log10(ratio) if ratio > 0 else -math.inf


def _floor(freqs: np.ndarray, power: np.ndarray, centre: float) -> float:
    resolution = freqs[1] - freqs[0]
    half = max(_FLOOR_SPAN * centre, _FLOOR_MIN_BINS * resolution)
    window = (freqs >= max(centre - half, resolution)) & (freqs <= centre + half)
    return float(np.median(power[window])) if window.any() else 0.0


def _peak(freqs: np.ndarray, power: np.ndarray, centre: float, half_width: float) -> int | None:
    resolution = freqs[1] - freqs[0]
    half_width = max(half_width, resolution)
    window = np.flatnonzero(np.abs(freqs - centre) <= half_width)
    window = window[window > 0]
    if window.size == 0:
        return None
    return int(window[np.argmax(power[window])])


def refine_speed(x: np.ndarray, sample_rate_hz: float, shaft_hz: float) -> tuple[float, bool]:
    """The shaft speed from the raw spectrum's line within :data:`SPEED_TOLERANCE` of ``shaft_hz``.

    Kept nominal when the resolution is coarser than 5 % of the speed (the search window would hold
    no bin either side) or no line stands
    :data:`FUNDAMENTAL_DB` over the floor. The peak is interpolated (parabola on log power).
    """
    n = x.shape[0]
    resolution = sample_rate_hz / n
    if resolution > SPEED_TOLERANCE * shaft_hz:
        return shaft_hz, False
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate_hz)
    # a Hann window: its main lobe is near-Gaussian, so the parabola on log power finds the peak within ~2 % of a bin
    power = np.square(np.abs(np.fft.rfft((x - x.mean(axis=0)) * np.hanning(n)[:, None], axis=0))).sum(axis=1)
    k = _peak(freqs, power, shaft_hz, SPEED_TOLERANCE * shaft_hz)
    if k is None or k + 1 >= len(power) or _db(power[k] / max(_floor(freqs, power, shaft_hz), 1e-300)) < FUNDAMENTAL_DB:
        return shaft_hz, False
    a, b, c = np.log(power[k - 1:k + 2] + 1e-300)
    denominator = a - 2 * b + c
    offset = 0.5 * (a - c) / denominator if denominator != 0 else 0.0
    return float(freqs[k] + np.clip(offset, -0.5, 0.5) * resolution), True


def _line(kind: str, order: int, expected: float, half_width: float, freqs: np.ndarray, power: np.ndarray,
          baseline: np.ndarray | None, sign: int = 0) -> Line | None:
    k = _peak(freqs, power, expected, half_width)
    if k is None:
        return None
    floor = _floor(freqs, power, freqs[k])
    over_baseline = None
    if baseline is not None:
        b = _peak(freqs, baseline, freqs[k], 0.0)  # the same bin (one either side at most)
        window = baseline[max(b - 1, 0):b + 2] if b is not None else baseline[k:k + 1]
        over_baseline = _db(power[k] / max(float(window.max()), 1e-300))
    return Line(kind, order, float(expected), float(freqs[k]), _db(power[k] / max(floor, 1e-300)), over_baseline,
                sign)


def _part_evidence(part: str, defect_hz: float, sideband_hz: float | None, freqs: np.ndarray, power: np.ndarray,
                   baseline: np.ndarray | None) -> PartEvidence:
    resolution = freqs[1] - freqs[0]
    nyquist = freqs[-1]
    if defect_hz < 3 * resolution or defect_hz + 2 * resolution >= nyquist:
        return PartEvidence(part, defect_hz, ())  # fewer than 3 cycles in the snapshot: not readable (no lines)
    lines: list[Line] = []
    fundamental = _line("harmonic", 1, defect_hz, DEFECT_TOLERANCE * defect_hz, freqs, power, baseline)
    if fundamental is None:
        return PartEvidence(part, defect_hz, ())
    lines.append(fundamental)
    found = fundamental.found_hz  # slip moves every harmonic alike: they are looked for at multiples of the line found
    for h in range(2, HARMONICS + 1):
        if h * found + 2 * resolution >= nyquist:
            break
        line = _line("harmonic", h, h * found, max(2 * resolution, 0.005 * h * found), freqs, power, baseline)
        if line is not None:
            lines.append(line)
    if sideband_hz is not None and sideband_hz > 2 * resolution:
        for h in range(1, len(lines) + 1):
            for sign in (-1, 1):
                centre = h * found + sign * sideband_hz
                line = _line("sideband", h, centre, 2 * resolution, freqs, power, baseline, sign)
                if line is not None:
                    lines.append(line)
    return PartEvidence(part, defect_hz, tuple(lines))


def diagnose(samples: np.ndarray, sample_rate_hz: float, bearing: BearingGeometry, shaft_hz: float,
             baseline: Baseline | None = None, channel_names: Sequence[str] | None = None,
             refine: bool = True, channels: Sequence[int] | None = None,
             kurtogram: bool = False) -> PhysicsDiagnosis:
    """Name the failing part of one snapshot ``(n_samples, n_channels)`` in physical units (see the module doc).

    Every channel is read (or only ``channels``, e.g. the one whose bearing alarms); the channel
    with the strongest detected part is reported. ``kurtogram`` limits the envelope to the most
    impulsive band (:func:`kurtogram_band`); the
    confidence is the winner's evidence score over itself, the runner-up's (another part or
    another channel) and a 20 dB prior: 0.5 for a 20 dB score alone, towards 1 as the
    evidence grows and no other part competes.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 64:
        raise ValueError(f"samples must be (n_samples >= 64, n_channels), got shape {x.shape}")
    if baseline is not None and (baseline.samples_per_snapshot != x.shape[0]
                                 or baseline.sample_rate_hz != float(sample_rate_hz)
                                 or baseline.power.shape[1] != x.shape[1]):
        raise ValueError(f"the baseline is of {baseline.samples_per_snapshot} samples x {baseline.power.shape[1]} "
                         f"channels at {baseline.sample_rate_hz:g} Hz; this snapshot is {x.shape[0]} x {x.shape[1]} "
                         f"at {sample_rate_hz:g} Hz")
    names = list(channel_names) if channel_names is not None else [f"Channel {i + 1}" for i in range(x.shape[1])]
    speed, refined = refine_speed(x, sample_rate_hz, shaft_hz) if refine else (shaft_hz, False)
    frequencies = bearing.defect_frequencies(speed)
    frequencies["bsf2x"] = 2.0 * frequencies["bsf"]
    sidebands = {"inner_race": speed, "rolling_element": frequencies["ftf"]}
    # kurtogram: measured (benchmarks/bench_physics_diagnosis.py --kurtogram, docs/diagnosis.md): 10-27x the
    # cost and no better here, so off by default
    band = kurtogram_band(x, sample_rate_hz) if kurtogram else None
    candidates: list[tuple[float, int, PartEvidence]] = []
    per_channel: list[tuple[PartEvidence, ...]] = []
    read = list(range(x.shape[1])) if channels is None else list(channels)
    if not read or any(not 0 <= c < x.shape[1] for c in read):
        raise ValueError(f"channels {channels} are not among the snapshot's 0..{x.shape[1] - 1}")
    for c in read:
        # one channel at a time: the same spectra, and a quarter of the transient memory of a 4-channel
        # snapshot's complex FFTs on the device (whose peak resident memory has a budget)
        freqs, power = squared_envelope_spectrum(x[:, c:c + 1], sample_rate_hz, band_hz=band)
        evidence = tuple(_part_evidence(part, frequencies[key], sidebands.get(part), freqs, power[:, 0],
                                        None if baseline is None else baseline.power[:, c])
                         for part, key in PART_FREQUENCY.items())
        per_channel.append(evidence)
        candidates.extend((e.score, c, e) for e in evidence if e.detected)
    if not candidates:
        best = max(range(len(read)), key=lambda i: max(e.score for e in per_channel[i]))
        return PhysicsDiagnosis("none", 0.0, names[read[best]], speed, refined, per_channel[best], read[best])
    candidates.sort(key=lambda t: -t[0])
    score, channel, winner = candidates[0]
    rival = max((s for s, c, e in candidates[1:] if e.part != winner.part), default=0.0)
    confidence = score / (score + rival + 20.0)
    return PhysicsDiagnosis(winner.part, float(confidence), names[channel], speed, refined,
                            per_channel[read.index(channel)], channel)

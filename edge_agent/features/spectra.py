"""Spectra of one snapshot: the power spectrum, and the envelope spectrum read at a defect frequency.

The envelope route is the cheap one: the *squared* signal, high-passed above 1 kHz, has in
the envelope band the same spectrum as half the squared Hilbert envelope, without the
analytic signal's second full-length complex FFT (checked against ``scipy.signal.hilbert``
in ``tests/edge_agent/features/test_condition.py``). :mod:`edge_agent.features.condition`
builds the named features on these.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Where the envelope spectrum is summed and its median taken: the band that holds the
#: defect lines of shafts from a few hundred to a few thousand rpm and their 3rd harmonic.
ENVELOPE_BAND_HZ = (10.0, 1000.0)
#: The envelope is taken of the signal above this frequency. Squaring mixes every pair of
#: components; above 1 kHz their sums land above 2 kHz, clear of the envelope band, so the
#: squared signal then reads like the Hilbert envelope (within 3 % on the IMS failure snapshots;
#: with no high-pass the shaft harmonics' sums fall on the defect lines and it was 64 % off).
ENVELOPE_HIGHPASS_HZ = 1000.0
#: Relative half-width of the band searched around each defect harmonic. 4 %: on IMS test 2
#: the outer-race line sits 2.5 % below the nominal BPFO (slip, speed error); +/-2 % misses it.
DEFAULT_TOLERANCE = 0.04
#: Harmonics of each defect frequency summed into its band energy (1x, 2x, 3x).
DEFAULT_HARMONICS = 3


def power_spectrum(x: np.ndarray, sample_rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectrum per channel: ``(freqs (n_bins,), power (n_bins, n_channels))``.

    ``power[k]`` is the mean square of the component at ``freqs[k]`` (units^2), so the
    sum over all bins is the variance of ``x`` (Parseval); the mean is removed first.
    """
    n = x.shape[0]
    spectrum = np.fft.rfft(x - x.mean(axis=0), axis=0)
    power = np.square(np.abs(spectrum)) / (n * n)
    # one-sided: every bin except DC (and Nyquist for even n) stands for a +/- frequency pair
    power[1:(n + 1) // 2] *= 2.0
    return np.fft.rfftfreq(n, 1.0 / sample_rate_hz), power


def envelope_spectrum(x: np.ndarray, sample_rate_hz: float,
                      highpass_hz: float = ENVELOPE_HIGHPASS_HZ) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectrum of the squared, high-passed signal per channel: ``(freqs, amplitude (n_bins, n_channels))``.

    Components below ``highpass_hz`` are removed (zeroed bins of one FFT), the rest is
    squared; the one-sided amplitude (units^2) in the envelope band is then that of the
    squared Hilbert envelope halved (see :data:`ENVELOPE_HIGHPASS_HZ`).
    """
    # One forward FFT of every channel, its bins under the high-pass zeroed (the mean with them: no pass to
    # remove it first), back, squared in place, and forward again; the squared signal's mean is its bin 0,
    # zeroed there. Three FFTs and no copy of the snapshot besides the FFTs' own outputs.
    n = x.shape[0]
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate_hz)
    spectrum = np.fft.rfft(x, axis=0)
    spectrum[freqs < highpass_hz] = 0.0
    squared = np.fft.irfft(spectrum, n=n, axis=0)
    np.square(squared, out=squared)
    envelope = np.fft.rfft(squared, axis=0)
    envelope[0] = 0.0
    # the one-sided power of power_spectrum (mean square per bin); a line of amplitude a has power a^2 / 2
    power = np.square(np.abs(envelope)) / (n * n)
    power[1:(n + 1) // 2] *= 2.0
    return freqs, np.sqrt(2.0 * power)


@dataclass(frozen=True)
class DefectLine:
    """What the envelope spectrum says at one defect frequency, per channel.

    ``energy``: summed power of the envelope's lines within the tolerance of 1x..harmonics x
    the frequency (units^4 for a squared envelope of units); ``share``: that energy over the
    envelope's power in the whole envelope band; ``peak_to_median``: the highest line within
    the tolerance of the fundamental over the band's median line, the one a trained eye
    looks for and the one that does not move with the overall level.

    ``peak_to_median`` grows with the snapshot length (a line keeps its amplitude while the
    noise in one bin falls as the bins narrow): on one outer-race record it read 10 at 1,200
    samples and 239 at 48,000. ``line_db`` is the length-free level: the power in the
    fundamental's window over the noise floor's power *density* (the band's median bin power
    divided by the bin width, in units^4 per Hz) times 1 Hz, in dB. The window's power and the
    density are both independent of the length, so a level carries from one rig to another.
    """

    energy: np.ndarray
    share: np.ndarray
    peak_to_median: np.ndarray
    line_db: np.ndarray | None = None


@dataclass(frozen=True)
class EnvelopeFloor:
    """What every defect line of one envelope spectrum is read against, computed once per snapshot.

    The four defect frequencies share it: computing it per line read the whole spectrum four times.
    """

    power: np.ndarray  # per bin and channel, amplitude^2 / 2
    total: np.ndarray  # power in the envelope band, per channel
    median_amplitude: np.ndarray  # the band's median line, per channel
    density: np.ndarray  # the band's median bin power over the bin width, per channel


def envelope_floor(freqs: np.ndarray, amplitude: np.ndarray,
                   band_hz: tuple[float, float] = ENVELOPE_BAND_HZ) -> EnvelopeFloor:
    """The :class:`EnvelopeFloor` of the envelope spectrum ``(freqs, amplitude)``."""
    power = np.square(amplitude) / 2.0
    lo, hi = np.searchsorted(freqs, band_hz[0], "left"), np.searchsorted(freqs, band_hz[1], "right")
    return EnvelopeFloor(power, power[lo:hi].sum(axis=0), np.median(amplitude[lo:hi], axis=0),
                         np.median(power[lo:hi], axis=0) / (freqs[1] - freqs[0]))


def defect_line(freqs: np.ndarray, amplitude: np.ndarray, defect_hz: float,
                tolerance: float = DEFAULT_TOLERANCE, harmonics: int = DEFAULT_HARMONICS,
                band_hz: tuple[float, float] = ENVELOPE_BAND_HZ, floor: EnvelopeFloor | None = None) -> DefectLine:
    """The envelope spectrum ``(freqs, amplitude)`` read at ``defect_hz`` (see :class:`DefectLine`).

    Each harmonic's window is ``h * defect_hz * (1 +/- tolerance)`` (slip scales every
    harmonic alike) and at least one bin either side, so a slow cage frequency still
    gets a window wider than the spectrum's resolution. ``floor``: the spectrum's
    :func:`envelope_floor` over ``band_hz``, when the caller reads several lines of one spectrum.
    """
    if not defect_hz > 0:
        raise ValueError(f"defect_hz must be > 0, got {defect_hz!r}")
    if not 0 < tolerance < 0.5:
        raise ValueError(f"tolerance must be in (0, 0.5), got {tolerance!r}")
    if harmonics < 1:
        raise ValueError(f"harmonics must be >= 1, got {harmonics!r}")
    floor = floor if floor is not None else envelope_floor(freqs, amplitude, band_hz)
    resolution = freqs[1] - freqs[0]
    power = floor.power
    energy = np.zeros(amplitude.shape[1])
    fundamental_peak = np.zeros(amplitude.shape[1])
    fundamental_power = np.zeros(amplitude.shape[1])
    for h in range(1, harmonics + 1):
        centre = h * defect_hz
        half_width = max(tolerance * centre, resolution)
        # the bins within half_width of centre (freqs ascend): two binary searches, not a pass over the spectrum
        lo, hi = np.searchsorted(freqs, centre - half_width, "left"), np.searchsorted(freqs, centre + half_width,
                                                                                      "right")
        if hi <= lo:
            continue  # above Nyquist: nothing to add
        energy += power[lo:hi].sum(axis=0)
        if h == 1:
            fundamental_peak = amplitude[lo:hi].max(axis=0)
            fundamental_power = power[lo:hi].sum(axis=0)
    total, median, density = floor.total, floor.median_amplitude, floor.density
    share = np.divide(energy, total, out=np.zeros_like(energy), where=total > 0)
    peak_to_median = np.divide(fundamental_peak, median, out=np.zeros_like(median), where=median > 0)
    # the median bin power over the bin width: the floor's density, which no longer depends on the length
    with np.errstate(divide="ignore"):
        line_db = np.where((density > 0) & (fundamental_power > 0),
                           10.0 * np.log10(np.maximum(fundamental_power, 1e-300) / np.maximum(density, 1e-300)),
                           0.0)
    return DefectLine(energy=energy, share=share, peak_to_median=peak_to_median, line_db=line_db)


def envelope_limits(sample_rate_hz: float, samples_per_snapshot: int, defect_hz: float,
                    harmonics: int = DEFAULT_HARMONICS, highpass_hz: float = ENVELOPE_HIGHPASS_HZ,
                    band_hz: tuple[float, float] = ENVELOPE_BAND_HZ) -> str | None:
    """Why the envelope line at ``defect_hz`` cannot be read in snapshots of this rate and length, or None.

    - the carrier band the envelope is taken of, ``highpass_hz`` to Nyquist, must be at least as
      wide as the highest harmonic read (a narrower band cannot carry that modulation; at 2 kHz it
      is empty and every envelope value would be 0);
    - the fundamental must lie in the envelope band and hold at least 3 cycles in a snapshot
      (3 bins of the spectrum), else it is not told apart from the band's lowest bins and leakage;
    - the envelope band must hold at least 16 bins for its median to be a floor.
    """
    nyquist = sample_rate_hz / 2.0
    resolution = sample_rate_hz / samples_per_snapshot
    top = harmonics * defect_hz
    if nyquist - highpass_hz < top:
        return (f"the envelope is taken above {highpass_hz:g} Hz, and at {sample_rate_hz:g} Hz (Nyquist "
                f"{nyquist:g} Hz) that band is {max(nyquist - highpass_hz, 0):g} Hz wide, less than the "
                f"{harmonics}x{defect_hz:.1f} = {top:.0f} Hz it must carry; sample at "
                f"{2 * (highpass_hz + top):.0f} Hz or more")
    if not band_hz[0] <= defect_hz <= band_hz[1]:
        return f"{defect_hz:.1f} Hz is outside the envelope band {band_hz[0]:g}-{band_hz[1]:g} Hz"
    if defect_hz < 3 * resolution:
        return (f"{defect_hz:.1f} Hz needs 3 cycles in a snapshot: {samples_per_snapshot} samples at "
                f"{sample_rate_hz:g} Hz last {samples_per_snapshot / sample_rate_hz:.3g} s "
                f"(resolution {resolution:.3g} Hz); use snapshots of at least "
                f"{int(np.ceil(3 * sample_rate_hz / defect_hz))} samples")
    if (min(band_hz[1], nyquist) - band_hz[0]) / resolution < 16:
        return (f"the envelope band {band_hz[0]:g}-{band_hz[1]:g} Hz holds fewer than 16 bins at a resolution of "
                f"{resolution:.3g} Hz; use longer snapshots")
    return None

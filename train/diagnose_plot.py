"""The envelope spectrum an analyst checks, as a PNG: the snapshot's against the baseline's, each part's
defect frequency and harmonics marked, the named line highlighted (matplotlib's Agg backend)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless servers and CI have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from edge_agent.diagnosis.physics import (HARMONICS, PART_FREQUENCY, Baseline, PhysicsDiagnosis,  # noqa: E402
                                          squared_envelope_spectrum)

_COLOURS = {"outer_race": "tab:red", "inner_race": "tab:blue", "rolling_element": "tab:green", "cage": "tab:purple"}


def plot_envelope_spectrum(values: np.ndarray, sample_rate_hz: float, result: PhysicsDiagnosis,
                           channel: int, path: Path, title: str, baseline: Baseline | None = None) -> Path:
    """Write the squared envelope spectrum (dB) of ``values[:, channel]`` with the evidence of ``result``."""
    freqs, power = squared_envelope_spectrum(values[:, channel:channel + 1], sample_rate_hz)
    top = 1.25 * HARMONICS * max(e.defect_hz for e in result.evidence)
    shown = (freqs > 0) & (freqs <= min(top, freqs[-1]))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(freqs[shown], 10 * np.log10(power[shown, 0] + 1e-300), lw=0.7, color="black", label="snapshot")
    if baseline is not None:
        ax.plot(baseline.freqs[shown], 10 * np.log10(baseline.power[shown, channel] + 1e-300), lw=0.7,
                color="tab:orange", alpha=0.8, label=f"baseline ({baseline.n_snapshots} snapshots)")
    for evidence in result.evidence:
        colour = _COLOURS[evidence.part]
        for h in range(1, HARMONICS + 1):
            ax.axvline(h * evidence.defect_hz, color=colour, ls=":", lw=0.8,
                       label=f"{evidence.part.replace('_', ' ')} ({PART_FREQUENCY[evidence.part]})" if h == 1 else None)
    named = result.named
    if named is not None:
        for line in named.harmonics:
            k = int(np.argmin(np.abs(freqs - line.found_hz)))
            ax.plot(freqs[k], 10 * np.log10(power[k, 0] + 1e-300), "o", ms=9, mfc="none",
                    mec=_COLOURS[named.part], mew=2)
    ax.set_xlabel("envelope frequency (Hz)")
    ax.set_ylabel("squared envelope spectrum (dB)")
    ax.set_title(f"{title}: {result.summary()}", fontsize=8)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

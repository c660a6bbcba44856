"""Writes the tiny synthetic example recordings beside this file, one per form ingest reads.

Synthetic only (no recorded data): a bearing-like signal, impacts at a defect rate ringing a
structural resonance, in noise. ``python data/examples/recordings/make_examples.py`` rewrites
them; ``tests/train/test_ingest_formats.py`` reads each with the command docs/recordings.md gives
and checks it against :func:`signal`. scipy (a desktop dependency) writes the .mat file.
"""
from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BURST_RATE_HZ, BURST_LENGTH = 25_600, 256
CONTINUOUS_RATE_HZ, CONTINUOUS_SECONDS = 1_024, 3


def signal(n: int, rate: float, channels: int, seed: int, defect_hz: float = 87.0,
           resonance_hz: float | None = None) -> np.ndarray:
    """``(n, channels)`` float64, 3 decimals: impacts at ``defect_hz`` ringing at ``resonance_hz`` plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    resonance = resonance_hz or rate / 4
    since = np.mod(t, 1.0 / defect_hz)  # time since the last impact
    ringing = np.exp(-since * 600.0) * np.sin(2 * np.pi * resonance * since)
    out = np.stack([(0.5 + 0.2 * c) * ringing + rng.normal(0, 0.1, n) for c in range(channels)], axis=1)
    return np.round(out, 3)


def write_all() -> None:
    # 1. PRONOSTIA-like bursts: no header, hour,minute,second,microsecond, two channels, 10 s apart
    bursts = HERE / "bursts_csv"
    bursts.mkdir(exist_ok=True)
    for k in range(3):
        values = signal(BURST_LENGTH, BURST_RATE_HZ, 2, seed=k)
        s = 15 + 10 * k
        lines = [f"8,14,{s},{884410 + 39 * i},{a:g},{b:g}\n" for i, (a, b) in enumerate(values)]
        (bursts / f"acc_{k + 1:05d}.csv").write_text("".join(lines))
    # 2. A data logger's TSV with a header: time column, then ax, ay
    logger = HERE / "logger_tsv"
    logger.mkdir(exist_ok=True)
    for k in range(2):
        values = signal(BURST_LENGTH, BURST_RATE_HZ, 2, seed=10 + k)
        rows = "".join(f"{i / BURST_RATE_HZ:.6f}\t{a:g}\t{b:g}\n" for i, (a, b) in enumerate(values))
        (logger / f"shot_{k + 1}.tsv").write_text("time\tax\tay\n" + rows)
    # 3-5. One continuous recording of 3 s at 1,024 Hz, one channel, in three containers
    n = CONTINUOUS_RATE_HZ * CONTINUOUS_SECONDS
    values = signal(n, CONTINUOUS_RATE_HZ, 1, seed=20, defect_hz=7.0)
    counts = np.rint(values / 0.001).astype("<i2")
    with wave.open(str(HERE / "continuous.wav"), "wb") as w:  # 16-bit PCM counts of 0.001 g
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(CONTINUOUS_RATE_HZ)
        w.writeframes(counts.tobytes())
    np.save(HERE / "continuous.npy", values.astype(np.float32))
    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, {"bearing": {"gs": values, "sr": float(CONTINUOUS_RATE_HZ), "rate": 25.0}})
    (HERE / "continuous.mat").write_bytes(buffer.getvalue())
    # 6. The self-describing npz: int16 counts with their scale, the rate, the times, the channel names
    packed = np.stack([signal(BURST_LENGTH, BURST_RATE_HZ, 2, seed=30 + k) for k in range(3)])
    np.savez_compressed(HERE / "packed.npz", samples=np.rint(packed / 0.002).astype(np.int16),
                        scale=np.float64(0.002), sample_rate_hz=np.float64(BURST_RATE_HZ),
                        timestamps=np.array(["2024-05-01T08:00:00", "2024-05-01T08:10:00", "2024-05-01T08:20:00"]),
                        channel_names=np.array(["drive end", "fan end"]))


if __name__ == "__main__":
    write_all()

"""Serial decoder throughput: MB/s and multiples of the 4 ch x 20 kHz real-time rate.

The stream is the real one: the 25 bundled IMS test-2 snapshots as
``bearing-replay`` sends them (StreamInfo, DeviceStatus, SnapshotMarks and
256-sample frames). It is decoded in chunks of the sizes a serial reader
sees, clean and under fault injection (1e-4 byte corruption, 1 % dropped
frames, garbage bursts). The floor measured beside it is zlib's CRC-32 over
the same bytes: the integrity check no decoder can skip.

Run: ``python -m benchmarks.bench_decoder`` (or ``bearing-bench --only decoder``).
"""
from __future__ import annotations

import zlib

from benchmarks.harness import BenchResult, measure
from firmware_io.protocol import frames as fr
from firmware_io.protocol.decoder import StreamDecoder
from firmware_io.protocol.encoder import FrameEncoder
from firmware_io.simulator.faults import FaultConfig
from firmware_io.simulator.replay import Replayer
from firmware_io.recordings import ims as datasets

RATE_HZ = datasets.IMS_SAMPLE_RATE_HZ
N_CHANNELS = 4
FAULTS = FaultConfig(corrupt_rate=1e-4, drop_rate=0.01, garbage_rate=0.02, garbage_max=200, seed=1)
CHUNKS = {"64 B reads": 64, "4 KB reads": 4096, "1 MB reads": 1 << 20}


def replay_stream(faults: FaultConfig | None = None) -> tuple[bytes, int]:
    """The bundled recordings as wire bytes, and how many samples per channel they carry."""
    chunks = list(Replayer([datasets.RAW_TEST2_DIR], speed=0, faults=faults).chunks())
    samples = sum(c.frame.n_samples for c in chunks if isinstance(c.frame, fr.Samples))
    return b"".join(c.data for c in chunks), samples


def decode_all(data: bytes, chunk: int) -> int:
    dec = StreamDecoder()
    n = 0
    for i in range(0, len(data), chunk):
        n += len(dec.feed(data[i:i + chunk]))
    return n


def run(quick: bool = False) -> BenchResult:
    repeats = 3 if quick else 7
    clean, n_samples = replay_stream()
    faulty, _ = replay_stream(FAULTS)
    stream_seconds = n_samples / RATE_HZ
    wire_rate = len(clean) / stream_seconds  # bytes per second of real-time stream
    payload_rate = RATE_HZ * N_CHANNELS * 2

    rows = []
    figures: dict = {"stream_bytes": len(clean), "stream_seconds": stream_seconds,
                     "wire_bytes_per_s": wire_rate, "payload_bytes_per_s": payload_rate,
                     "overhead_pct": 100 * (wire_rate / payload_rate - 1), "decode": {}}

    def add(label: str, data: bytes, fn) -> None:
        t = measure(fn, repeats=repeats)
        mb_s = len(data) / t.median / 1e6
        x_rt = (len(data) / t.median) / wire_rate
        figures["decode"][label] = {"median_s": t.median, "mb_per_s": mb_s, "x_real_time": x_rt,
                                    "timing": t.as_dict()}
        rows.append(f"| {label} | {t.fmt()} | {mb_s:.0f} | {x_rt:,.0f}x |")

    for label, size in CHUNKS.items():
        add(f"decode, clean stream, {label}", clean, lambda s=size: decode_all(clean, s))
    add("decode, faulty stream, 4 KB reads", faulty, lambda: decode_all(faulty, 4096))
    add("floor: zlib.crc32 over the stream", clean, lambda: zlib.crc32(clean))

    counts = next(iter(Replayer([datasets.RAW_TEST2_DIR], speed=0).snapshots())).counts

    def encode_snapshot() -> None:
        enc = FrameEncoder()
        for i in range(0, len(counts), fr.DEFAULT_FRAME_SAMPLES):
            enc.samples(i, counts[i:i + fr.DEFAULT_FRAME_SAMPLES])

    t = measure(encode_snapshot, repeats=repeats)
    enc_rate = len(counts) * N_CHANNELS * 2 / t.median
    figures["encode_snapshot"] = {"median_s": t.median, "x_real_time": enc_rate / payload_rate}
    rows.append(f"| encode one snapshot (80 frames, replay side) | {t.fmt()} | {enc_rate / 1e6:.0f} | "
                f"{enc_rate / payload_rate:,.0f}x |")

    headline = figures["decode"]["decode, clean stream, 4 KB reads"]
    figures["headline_mb_per_s"] = headline["mb_per_s"]
    figures["headline_x_real_time"] = headline["x_real_time"]
    markdown = "\n".join([
        f"Stream: the 25 bundled IMS test-2 snapshots as `bearing-replay` sends them: {len(clean) / 1e6:.2f} MB "
        f"for {stream_seconds:.1f} s of 4 ch x 20 kHz int16, i.e. {wire_rate / 1e3:.1f} kB/s on the wire "
        f"for {payload_rate / 1e3:.0f} kB/s of samples ({figures['overhead_pct']:.2f} % framing overhead). "
        "'x real time' = decode rate / wire rate. The faulty stream has 1e-4 corrupted bytes, 1 % dropped "
        "frames and garbage bursts before 2 % of frames.",
        "",
        "| what | time per pass | MB/s | x real time |",
        "|---|---|---|---|",
        *rows,
        "",
        f"**Decoder: {headline['mb_per_s']:.0f} MB/s = {headline['x_real_time']:,.0f}x real time** "
        "(4 KB reads; goal >= 50x).",
    ])
    return BenchResult("decoder", "Serial decoder throughput", figures, markdown,
                       {"decoder >= 50x real time": headline["x_real_time"] >= 50})


if __name__ == "__main__":
    print(run().markdown)

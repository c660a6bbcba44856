"""The shared test vectors: ``vectors/cases.txt`` in, one ``vectors/<name>.bin`` per case.

``cases.txt`` is plain text so the C host program (``firmware/host/vectors_main.c``)
can read it with ``scanf``; this module reads the same file and encodes each
case with the Python encoder. The test suite checks that both produce the
committed ``.bin`` files byte for byte. Regenerate (only after a deliberate
protocol change) with ``python -m firmware_io.protocol.vector_cases --write``.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firmware_io.protocol import frames as fr
from firmware_io.recordings import ims
from firmware_io.recordings import reader as rec
from firmware_io.protocol.encoder import encode_frame

VECTORS_DIR = Path(__file__).resolve().parent / "vectors"
CASES_FILE = VECTORS_DIR / "cases.txt"
#: The bundled IMS raw files in a source checkout (only needed to regenerate the vectors).
RAW_DIR = ims.DATA_DIR / "raw"


@dataclass(frozen=True)
class Case:
    """One vector: its name and the frame it describes."""

    name: str
    frame: fr.Frame

    def encode(self) -> bytes:
        return encode_frame(self.frame)


def _text(token: str) -> str:
    return "" if token == "-" else token


def parse_cases(path: Path = CASES_FILE) -> list[Case]:
    """Read ``cases.txt`` (format in ``firmware/host/vectors_main.c``)."""
    tokens = [t for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
              for t in line.split()]
    cases, i = [], 0
    while i < len(tokens):
        kind, name = tokens[i], tokens[i + 1]
        i += 2
        if kind in ("info", "info_len"):  # the first layout, or with snapshot_length
            dev, fw, rate, ch, num, den = tokens[i:i + 6]
            i += 6
            length = None
            if kind == "info_len":
                length = int(tokens[i])
                i += 1
            frame = fr.StreamInfo(_text(dev), _text(fw), int(rate), int(ch), "int16", int(num) / int(den),
                                  snapshot_length=length)
            cases.append(Case(name, frame))
        elif kind == "samples":
            seq, first, n, ch = (int(t) for t in tokens[i:i + 4])
            i += 4
            values = np.array(tokens[i:i + n * ch], dtype=np.int16).reshape(n, ch)
            i += n * ch
            cases.append(Case(name, fr.Samples(seq, first, values)))
        elif kind == "status":
            cases.append(Case(name, fr.DeviceStatus(*(int(t) for t in tokens[i:i + 5]))))
            i += 5
        elif kind == "mark":
            cases.append(Case(name, fr.SnapshotMark(int(tokens[i]), int(tokens[i + 1]) / 1_000_000)))
            i += 2
        else:
            raise ValueError(f"{path}: unknown case kind {kind!r} at case {name!r}")
    return cases


def _samples_line(name: str, seq: int, first: int, counts: np.ndarray) -> str:
    values = " ".join(str(int(v)) for v in counts.reshape(-1))
    return f"samples {name} {seq} {first} {counts.shape[0]} {counts.shape[1]} {values}"


def make_cases_text(raw_dir: Path = RAW_DIR) -> str:
    """The committed ``cases.txt``: edge values plus real IMS samples (test 1 and test 2)."""
    test2 = rec.read_snapshot_file(raw_dir / "2nd_test" / "2004.02.12.10.32.39")
    test1 = rec.read_snapshot_file(raw_dir / "1st_test" / "2003.10.22.12.06.24")
    lines = [
        "# Shared test vectors: see firmware_io/protocol/vector_cases.py and firmware/host/vectors_main.c",
        "info info_ims bearing-replay 0.1.0 20000 4 1 1000",
        "info info_empty_texts - - 25600 8 1 4096",
        "info info_negative_scale accel-01 fw-2.3.4 1000 1 -39 10000",
        "info_len info_pronostia_bursts bearing-replay 0.2.0 25600 2 1 1000 2560",
        "info_len info_continuous rp2040-ref rp2040-ref 20000 4 1 400 0",
        _samples_line("samples_ims_test2_256x4", 0, 0, rec.to_counts(test2[:256])),
        _samples_line("samples_ims_test1_32x8", 7, 20480 * 3 + 256, rec.to_counts(test1[1000:1032])),
        _samples_line("samples_extremes_wrap", 0xFFFFFFFF, (1 << 64) - 4, np.array(
            [[-32768, 32767], [0, -1], [1, 256], [-256, 0x7E * 256 + 0xA5]], dtype=np.int16)),
        "status status_counters 4294967296123 1 2 4294967295 0",
        "mark mark_ims_second 20480 1076582559000000",
    ]
    return "\n".join(lines) + "\n"


def write_vectors(directory: Path = VECTORS_DIR) -> list[Path]:
    """Rewrite ``cases.txt`` and every ``.bin`` from the Python encoder."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cases.txt").write_text(make_cases_text())
    written = []
    for case in parse_cases(directory / "cases.txt"):
        path = directory / f"{case.name}.bin"
        path.write_bytes(case.encode())
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite vectors/ from the Python encoder")
    args = parser.parse_args(argv)
    if not args.write:
        parser.print_help()
        return 2
    for path in write_vectors():
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

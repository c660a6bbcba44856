"""The C reference encoder and the Python encoder agree byte for byte on the shared vectors.

The C encoder is compiled with the system C compiler (skipped, with the
reason, where there is none). Both encoders must reproduce the committed
``firmware_io/protocol/vectors/*.bin`` from ``vectors/cases.txt``, and the Python
decoder must give back each case's frame.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from firmware_io.protocol import vector_cases
from firmware_io.protocol.decoder import StreamDecoder

FIRMWARE = Path(vector_cases.__file__).resolve().parent / "firmware"
CASES = vector_cases.parse_cases()
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-O2"]


@pytest.fixture(scope="module")
def c_vectors(tmp_path_factory) -> Path:
    """Build the host vectors program and run it on cases.txt; returns its output folder."""
    if CC is None:
        pytest.skip("no C compiler (cc/gcc/clang) on PATH: cannot build the C reference encoder")
    work = tmp_path_factory.mktemp("c_encoder")
    exe = work / "vectors"
    subprocess.run([CC, *CFLAGS, "-o", str(exe), str(FIRMWARE / "host" / "vectors_main.c"),
                    str(FIRMWARE / "bearing_frame.c")], check=True, capture_output=True, text=True)
    out = work / "out"
    out.mkdir()
    subprocess.run([str(exe), str(vector_cases.CASES_FILE), str(out)], check=True, capture_output=True, text=True)
    check = subprocess.run([str(exe), "--check"], check=True, capture_output=True, text=True).stdout.split()
    assert check == ["crc16", "29B1", "crc32", "CBF43926"]
    return out


def test_cases_cover_every_frame_type_and_real_data() -> None:
    kinds = {type(c.frame).__name__ for c in CASES}
    assert kinds == {"StreamInfo", "Samples", "DeviceStatus", "SnapshotMark"}
    assert any(c.name.startswith("samples_ims_test2") and c.frame.samples.shape == (256, 4) for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_python_encoder_matches_committed_vector(case: vector_cases.Case) -> None:
    assert case.encode() == (vector_cases.VECTORS_DIR / f"{case.name}.bin").read_bytes()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_c_encoder_matches_committed_vector(case: vector_cases.Case, c_vectors: Path) -> None:
    assert (c_vectors / f"{case.name}.bin").read_bytes() == (vector_cases.VECTORS_DIR / f"{case.name}.bin").read_bytes()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_decoder_accepts_vector(case: vector_cases.Case) -> None:
    dec = StreamDecoder()
    data = (vector_cases.VECTORS_DIR / f"{case.name}.bin").read_bytes()
    frames = [f for i in range(len(data)) for f in dec.feed(data[i:i + 1])]
    assert frames == [case.frame]
    assert dec.stats.bytes_skipped == 0 and dec.stats.bad_checks == 0


def test_c_encoder_uses_no_dynamic_memory_or_stdio(tmp_path: Path) -> None:
    """The firmware side must link on a bare MCU: no malloc/free, no printf, no float maths."""
    if CC is None or shutil.which("nm") is None:
        pytest.skip("needs a C compiler and nm (binutils) to inspect the object file")
    obj = tmp_path / "bearing_frame.o"
    subprocess.run([CC, *CFLAGS, "-ffreestanding", "-c", "-o", str(obj), str(FIRMWARE / "bearing_frame.c")],
                   check=True, capture_output=True, text=True)
    undefined = subprocess.run(["nm", "-u", str(obj)], check=True, capture_output=True, text=True).stdout.split()
    assert [s for s in undefined if s not in ("U",)] == []


def test_c_encoder_refuses_a_too_small_buffer(tmp_path: Path) -> None:
    if CC is None:
        pytest.skip("no C compiler (cc/gcc/clang) on PATH")
    src = tmp_path / "small.c"
    src.write_text(
        '#include "bearing_frame.h"\n'
        "int main(void) {\n"
        "  int16_t s[8] = {0}; uint8_t out[64]; bf_encoder e; bf_encoder_init(&e, 5);\n"
        "  if (bf_frame_samples(&e, 0, s, 4, 2, out, BF_SAMPLES_FRAME_SIZE(4, 2) - 1) != 0) return 1;\n"
        "  if (e.seq != 5) return 2; /* nothing sent, no sequence number used */\n"
        "  if (bf_frame_samples(&e, 0, s, 4, 2, out, sizeof out) != BF_SAMPLES_FRAME_SIZE(4, 2)) return 3;\n"
        "  if (e.seq != 6) return 4;\n"
        "  return 0;\n}\n")
    exe = tmp_path / "small"
    subprocess.run([CC, *CFLAGS, "-I", str(FIRMWARE), "-o", str(exe), str(src), str(FIRMWARE / "bearing_frame.c")],
                   check=True, capture_output=True, text=True)
    assert subprocess.run([str(exe)]).returncode == 0


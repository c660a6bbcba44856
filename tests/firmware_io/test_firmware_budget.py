"""The encoder's cost per frame, counted exactly by QEMU (``-icount shift=0``): a regression budget.

``firmware_io/protocol/firmware/qemu/frame_cost.c`` frames 256 samples x 4 channels (the 2,076-byte
frame of the 4 x 20 kHz stream) on QEMU's Cortex-M boards, where every instruction advances virtual time
by exactly 1 ns. The counts are exact and repeatable (no timing), so the budgets are tight: a change that
makes the encoder slower fails here, and a faster one should lower the budget.

Measured (Debian gcc-arm-none-eabi 12.2.1, -O2, QEMU 7.2): Cortex-M0+ code 45,865 instructions a frame
with the nibble-table CRC-32 (17.0 a byte, 77 % of the frame) and 31,359 with the byte table
(10.0 a byte) that the RP2040 firmware uses; Cortex-M4F 30,220 and 21,931.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.firmware_io.test_firmware_build import FIRMWARE, QEMU_DIR, run_semihosted, semihosted_elf

#: (cpu, CRC-32 table) -> (instructions per frame, instructions per CRC-32 byte), at most
BUDGET = {
    ("cortex-m0plus", "nibble"): (46_000, 17.1),
    ("cortex-m0plus", "byte"): (31_500, 10.1),
    ("cortex-m4f", "nibble"): (30_400, 11.1),
    ("cortex-m4f", "byte"): (22_100, 7.1),
}


def frame_cost(cpu: str, crc: str, out: Path) -> dict[str, float]:
    defines = ("-DBF_CRC32_BYTE_TABLE",) if crc == "byte" else ()
    elf = semihosted_elf(cpu, out, QEMU_DIR / "frame_cost.c", FIRMWARE / "bearing_frame.c", defines=defines)
    text = run_semihosted(cpu, elf, icount=True)
    return {k: float(v) for k, v in (line.split() for line in text.splitlines())}


@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m4f"])
@pytest.mark.parametrize("crc", ["nibble", "byte"])
def test_instructions_per_frame_stay_within_budget(cpu: str, crc: str, tmp_path_factory) -> None:
    cost = frame_cost(cpu, crc, tmp_path_factory.mktemp(f"cost-{cpu}-{crc}"))
    frame_budget, crc_budget = BUDGET[(cpu, crc)]
    print(f"\n{cpu} {crc}-table CRC-32: {cost['instructions_per_frame']:.0f} instructions a frame, "
          f"{cost['instructions_per_crc32_byte']:.2f} a CRC byte, {cost['instructions_per_sample_value']:.2f} "
          "a sample value")
    assert cost["frame_bytes"] == 2076
    assert cost["instructions_per_frame"] <= frame_budget
    assert cost["instructions_per_crc32_byte"] <= crc_budget
    # and the counts are real: framing is over 10 instructions a sample value however fast the CRC
    assert cost["instructions_per_frame"] > 10 * 1024


def test_the_byte_table_makes_a_frame_at_least_30_percent_cheaper_on_the_rp2040_core(tmp_path_factory) -> None:
    nibble = frame_cost("cortex-m0plus", "nibble", tmp_path_factory.mktemp("n"))["instructions_per_frame"]
    byte = frame_cost("cortex-m0plus", "byte", tmp_path_factory.mktemp("b"))["instructions_per_frame"]
    assert byte <= 0.7 * nibble

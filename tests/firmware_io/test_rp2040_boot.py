"""Booting the UF2 the way a Pico does, and the ways it must not boot.

The real RP2040 B1 bootrom (``../shared/firmware/``, not committed; these tests skip without it, and
the chain test then uses the harness's stand-in) reads boot2 from the emulated flash chip over SPI,
checks its CRC and runs it; boot2 must put the SSI into XIP mode before the program can run from flash.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from firmware_io.protocol import frames as fr
from firmware_io.protocol.decoder import StreamDecoder
from tests.firmware_io.test_firmware_build import FIRMWARE as FIRMWARE_DIR
from tests.firmware_io.test_firmware_build import arm_gcc, build_firmware, uf2_tool
from tests.firmware_io.test_rp2040_chain import node_harness, real_bootrom


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> bytes:
    """The flash image of ``make firmware``'s UF2."""
    return uf2_tool().from_uf2(build_firmware(tmp_path_factory.mktemp("fw")).read_bytes())[1]


def bootrom_or_skip() -> Path:
    path = real_bootrom()
    if path is None:
        # not a CI failure: the bootrom is test infrastructure outside the repository (docs/hardware.md)
        pytest.skip("the RP2040 B1 bootrom is not in ../shared/firmware/ (or $BEARING_EDGE_RP2040_BOOTROM)")
    return path


def run(tmp: Path, image: bytes, seconds: float, bootrom: Path | None) -> tuple[dict, bytes, int]:
    uf2 = tmp / "image.uf2"
    uf2.write_bytes(uf2_tool().to_uf2(image))
    cmd = [*node_harness(), "--uf2", str(uf2), "--seconds", str(seconds), "--capture", str(tmp / "uart.bin"),
           "--stats", str(tmp / "stats.json")] + (["--bootrom", str(bootrom)] if bootrom else [])
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    return json.loads((tmp / "stats.json").read_text()), (tmp / "uart.bin").read_bytes(), done.returncode


def with_boot2(image: bytes, code: bytes) -> bytes:
    return uf2_tool().boot2_block(code) + image[256:]


def test_the_real_bootrom_runs_our_boot2_then_the_firmware(tmp_path: Path, image: bytes) -> None:
    stats, uart, rc = run(tmp_path, image, 0.05, bootrom_or_skip())
    assert rc == 0 and stats["boot"] == "bootrom"
    assert 0 < stats["boot2_entered_s"] <= stats["xip_enabled_s"] < stats["first_uart_byte_s"] < 0.01
    frames = StreamDecoder().feed(uart)
    assert isinstance(frames[0], fr.StreamInfo) and isinstance(frames[1], fr.DeviceStatus)
    assert any(isinstance(f, fr.Samples) for f in frames)
    print(f"\nboot2 entered {stats['boot2_entered_s'] * 1e3:.3f} ms, first byte {stats['first_uart_byte_s'] * 1e3:.3f} ms")


def test_a_boot2_with_a_bad_crc_is_refused(tmp_path: Path, image: bytes) -> None:
    broken = bytearray(image)
    broken[4] ^= 0x01  # in boot2's code, CRC left as it was
    stats, uart, rc = run(tmp_path, bytes(broken), 0.2, None)
    assert rc == 1 and stats["reason"] == "boot2 CRC rejected" and uart == b""  # the stand-in
    stats, uart, rc = run(tmp_path, bytes(broken), 0.2, bootrom_or_skip())
    # the bootrom tries 128 times, gives up and waits as a USB drive (clk_sys from the 48 MHz USB PLL)
    assert stats["boot2_entered_s"] is None and stats["xip_enabled_s"] is None and uart == b""
    assert stats["reason"] == "idle" and stats["clk_sys_hz"] == 48_000_000


def test_a_boot2_that_leaves_xip_off_cannot_start_the_program(tmp_path: Path, image: bytes) -> None:
    """A boot2 with a valid CRC that jumps to the program without configuring the SSI: the harness stops it.

    Flash reads as blank until XIP is on, so the reset vector it loads is garbage (a wild jump) and an
    instruction fetch from flash is refused; either way nothing is sent.
    """
    src = tmp_path / "jump.S"
    src.write_text(".syntax unified\n.thumb\n.global _start\n_start:\n ldr r0, =0x10000100\n ldr r1, [r0, #4]\n"
                   " bx r1\n.ltorg\n")
    elf, binary = tmp_path / "jump.elf", tmp_path / "jump.bin"
    subprocess.run([arm_gcc(), "-mcpu=cortex-m0plus", "-nostdlib", "-Ttext=0x20041f00", "-o", str(elf), str(src)],
                   check=True)
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(binary)], check=True)
    for bootrom in (None, real_bootrom()):
        stats, uart, rc = run(tmp_path, with_boot2(image, binary.read_bytes()), 0.05, bootrom)
        assert rc == 1 and stats["xip_enabled_s"] is None and uart == b""
        assert "outside ROM, flash and SRAM" in stats["fault"]



#: a line of main.c, and what the firmware lacks without it
MUTATIONS = {
    "UART0 left in reset": ("RESET_TIMER | RESET_UART0);\n    uart_init", "RESET_TIMER);\n    uart_init"),
    "no ADC clock": ("    REG(CLK_ADC_CTRL) = CLK_CTRL_ENABLE | (CLK_ADC_AUXSRC_PLL_USB << CLK_AUXSRC_SHIFT);\n", ""),
    "PLL_SYS never started": ("    pll_start(PLL_SYS_BASE, 125u, 6u, 2u);", ""),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_emulation_is_no_kinder_than_the_chip(mutation: str, tmp_path: Path) -> None:
    """Firmware that forgets a reset release or a clock sends no samples here, as it would on an RP2040.

    Stock rp2040js runs every peripheral out of reset and every clock whether started or not, so these
    builds streamed as if nothing were wrong; the harness holds what the firmware did not start.
    """
    src = tmp_path / "firmware"
    shutil.copytree(FIRMWARE_DIR, src, ignore=shutil.ignore_patterns("build", "examples", "qemu", "host"))
    main_c = src / "rp2040" / "main.c"
    old, new = MUTATIONS[mutation]
    text = main_c.read_text()
    assert text.count(old) == 1, f"main.c changed: update the mutation {mutation!r}"
    main_c.write_text(text.replace(old, new))
    arm_gcc()
    subprocess.run(["make", "-s", "-C", str(src / "rp2040"), f"OUT={tmp_path / 'build'}"], check=True,
                   capture_output=True)
    image = uf2_tool().from_uf2((tmp_path / "build" / "bearing-rp2040.uf2").read_bytes())[1]
    stats, uart, rc = run(tmp_path, image, 0.05, None)
    assert not any(isinstance(f, fr.Samples) for f in StreamDecoder().feed(uart)), stats

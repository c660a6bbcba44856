"""The microcontroller side built with Debian's ARM toolchain: the RP2040 firmware's UF2 and the encoder.

* ``make firmware``'s build gives a UF2 whose boot2 carries the CRC the RP2040 bootrom checks, and
  whose program starts where boot2 jumps (the vector table at 0x10000100).
* The encoder compiles warning-free for Cortex-M0+ (RP2040) and Cortex-M4F with ``-Wall -Wextra
  -Werror -pedantic``, within a code-size budget.
* The host vectors program, cross-compiled and run on QEMU's Cortex-M3/M4 boards with semihosting,
  writes the shared test vectors byte for byte.

The helpers here (build, QEMU run) are shared by the other ``test_firmware_*`` and ``test_rp2040_*``.
"""
from __future__ import annotations

import importlib.util
import struct
import subprocess
from functools import cache
from pathlib import Path

import pytest

from firmware_io.protocol import vector_cases
from tests.conftest import require_executable

FIRMWARE = Path(vector_cases.__file__).resolve().parent / "firmware"
RP2040_DIR = FIRMWARE / "rp2040"
QEMU_DIR = FIRMWARE / "qemu"
VECTORS = vector_cases.CASES_FILE.parent
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
CPUS = {  # name -> gcc flags
    "cortex-m0plus": ["-mcpu=cortex-m0plus", "-mthumb"],
    "cortex-m4f": ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
}
#: QEMU board for running each CPU's code: M0+ code (ARMv6-M Thumb) runs unchanged on the M3 board
QEMU_BOARD = {"cortex-m0plus": "mps2-an385", "cortex-m4f": "mps2-an386"}
#: text bytes of bearing_frame.o (tables included): measured 804 / 1,744 (M0+ -Os, nibble / byte table)
SIZE_BUDGET = {("cortex-m0plus", "nibble"): 900, ("cortex-m0plus", "byte"): 1_850,
               ("cortex-m4f", "nibble"): 950, ("cortex-m4f", "byte"): 1_900}


def arm_gcc() -> str:
    return require_executable("arm-none-eabi-gcc", "gcc-arm-none-eabi")


def qemu() -> str:
    return require_executable("qemu-system-arm", "qemu-system-arm")


def uf2_tool():
    """firmware_io/protocol/firmware/rp2040/uf2.py as a module (it is a standalone build script)."""
    spec = importlib.util.spec_from_file_location("rp2040_uf2", RP2040_DIR / "uf2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_firmware(out: Path, **variables: str) -> Path:
    """``make -C .../rp2040 OUT=out VAR=value...``; returns the UF2's path."""
    arm_gcc()
    args = ["make", "-s", "-C", str(RP2040_DIR), f"OUT={out}"] + [f"{k}={v}" for k, v in variables.items()]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return out / "bearing-rp2040.uf2"


@cache
def semihosted_elf(cpu: str, out: Path, *sources: Path, defines: tuple[str, ...] = ()) -> Path:
    """A newlib + semihosting program for QEMU's Cortex-M boards (built once per session and args)."""
    elf = out / f"{sources[-2].stem}_{cpu}{''.join(defines)}.elf"
    cmd = [arm_gcc(), *CPUS[cpu], "-std=c99", *WARNINGS, "-O2", "-ffunction-sections", "-fdata-sections",
           *defines, "--specs=rdimon.specs", "-Wl,--section-start=.vectors=0", "-o", str(elf),
           str(QEMU_DIR / "vectors.c"), *map(str, sources)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return elf


def run_semihosted(cpu: str, elf: Path, *args: str, icount: bool = False, timeout: float = 60) -> str:
    """Run ``elf`` on QEMU with semihosting (argv = args); returns its stdout, asserts exit status 0."""
    semi = ",".join(["enable=on", "target=native", "arg=prog", *(f"arg={a}" for a in args)])
    cmd = [qemu(), "-M", QEMU_BOARD[cpu], "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", semi, "-kernel", str(elf)]
    if icount:
        cmd[1:1] = ["-icount", "shift=0,align=off,sleep=off"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


# --- the RP2040 firmware image ------------------------------------------------------------------

@pytest.fixture(scope="module")
def firmware(tmp_path_factory) -> Path:
    return build_firmware(tmp_path_factory.mktemp("rp2040"))


def test_boot2_crc_is_the_bootroms_crc32_variant() -> None:
    uf2 = uf2_tool()
    # CRC-32/MPEG-2 (poly 0x04c11db7, init all ones, not reflected, no final xor): check value 0x0376e6e7
    assert uf2.boot2_crc(b"123456789") == 0x0376E6E7
    with pytest.raises(ValueError, match="at most 252"):
        uf2.boot2_block(bytes(253))


def test_make_firmware_gives_a_uf2_that_the_bootrom_accepts(firmware: Path) -> None:
    uf2 = uf2_tool()
    data = firmware.read_bytes()
    assert len(data) % 512 == 0
    for n in range(len(data) // 512):  # every block: RP2040 family, 256 bytes at consecutive addresses
        magic0, magic1, flags, addr, size, number, total, family = struct.unpack_from("<8I", data, n * 512)
        assert (magic0, magic1, flags, family) == (0x0A324655, 0x9E5D5157, 0x2000, 0xE48BFF56)
        assert (addr, size, number, total) == (0x10000000 + 256 * n, 256, n, len(data) // 512)
    base, image = uf2.from_uf2(data)
    assert base == 0x10000000
    assert uf2.check_boot2(image) is None
    flat = (firmware.parent / "bearing-rp2040.bin").read_bytes()
    assert image[:len(flat)] == flat and not any(image[len(flat):])  # the last block is padded with zeros
    # boot2 jumps through the vector table at 0x10000100: stack top in SRAM, reset handler in flash (Thumb)
    sp, reset = struct.unpack_from("<2I", image, 0x100)
    assert sp == 0x20042000
    assert reset & 1 and 0x10000100 < reset < 0x10000000 + len(image)
    # one flipped bit of boot2 and the bootrom refuses it
    broken = bytearray(image)
    broken[10] ^= 0x01
    assert "bootrom expects" in uf2.check_boot2(bytes(broken))
    assert uf2.main(["--check", str(firmware)]) == 0


def test_uf2_tool_refuses_a_file_that_is_not_uf2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "x.uf2"
    bad.write_bytes(b"\0" * 512)
    assert uf2_tool().main(["--check", str(bad)]) == 1
    assert "block 0: bad UF2 magic" in capsys.readouterr().err


# --- the encoder on ARM -------------------------------------------------------------------------

@pytest.mark.parametrize("cpu", sorted(CPUS))
@pytest.mark.parametrize("crc", ["nibble", "byte"])
def test_encoder_cross_compiles_warning_free_within_its_size_budget(cpu: str, crc: str, tmp_path: Path) -> None:
    obj = tmp_path / "bearing_frame.o"
    defines = ["-DBF_CRC32_BYTE_TABLE"] if crc == "byte" else []
    for std in ("c99", "c11"):
        done = subprocess.run([arm_gcc(), *CPUS[cpu], f"-std={std}", *WARNINGS, "-Wconversion", "-Wshadow", "-Os",
                               *defines, "-c", "-o", str(obj), str(FIRMWARE / "bearing_frame.c")],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    size = subprocess.run(["arm-none-eabi-size", str(obj)], capture_output=True, text=True, check=True).stdout
    text = int(size.splitlines()[1].split()[0])
    print(f"bearing_frame.o {cpu} -Os {crc} CRC-32 table: {text} bytes of text")
    assert text <= SIZE_BUDGET[(cpu, crc)]


@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_vectors_made_on_an_emulated_cortex_m_equal_the_committed_ones(cpu: str, tmp_path: Path) -> None:
    elf = semihosted_elf(cpu, tmp_path, FIRMWARE / "host" / "vectors_main.c", FIRMWARE / "bearing_frame.c")
    out = tmp_path / "out"
    out.mkdir()
    run_semihosted(cpu, elf, str(vector_cases.CASES_FILE), str(out))
    committed = sorted(p.name for p in VECTORS.glob("*.bin"))
    assert sorted(p.name for p in out.iterdir()) == committed
    for name in committed:
        assert (out / name).read_bytes() == (VECTORS / name).read_bytes(), name
    assert run_semihosted(cpu, elf, "--check").split() == ["crc16", "29B1", "crc32", "CBF43926"]

"""The reference RP2040 firmware's figures: code size, encoder instructions, core share, boot time, overruns.

* Code size: ``make firmware``'s ELF (``arm-none-eabi-size``) and the UF2.
* Encoder: instructions per 256 x 4 frame, counted exactly by QEMU (``-icount shift=0``) on Cortex-M0+
  code, with the nibble-table CRC-32 (the encoder's default) and the byte table the firmware uses.
* On emulated silicon (rp2040js through the real bootrom when ``../shared/firmware/`` has it): the
  share of the core that is awake while streaming 4 x 20 kHz at 2 Mbaud (goal < 15 %), instructions per
  sample, boot to the first frame (StreamInfo) and to the first Samples frame, and at 1 Mbaud the
  samples the device drops per second. rp2040js counts one cycle per instruction plus bus cycles, no
  flash-cache misses or exception entry cost: the share is a model, not silicon.

Run: ``python -m benchmarks.bench_firmware`` (needs gcc-arm-none-eabi, qemu-system-arm, node and
``npm ci`` in firmware_io/emulation; ``make test``'s system-package step installs them).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.harness import BenchResult
from firmware_io.errors import BearingEdgeError
from firmware_io.protocol import frames as fr
from firmware_io.protocol.decoder import StreamDecoder
from firmware_io.protocol.vector_cases import CASES_FILE
from firmware_io.recordings import ims as datasets
from firmware_io.recordings import reader as rec

FIRMWARE = CASES_FILE.parent.parent / "firmware"
EMULATION = datasets.REPO_ROOT / "firmware_io" / "emulation"
BOOTROM = datasets.REPO_ROOT.parent / "shared" / "firmware" / "rp2040-bootrom-b1.bin"
G_PER_COUNT = 0.0025  # the front end of docs/hardware.md


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BearingEdgeError(f"{tool} not found: install the Debian package '{package}'")
    return path


def build(out: Path, **variables: str) -> Path:
    need("arm-none-eabi-gcc", "gcc-arm-none-eabi")
    args = ["make", "-s", "-C", str(FIRMWARE / "rp2040"), f"OUT={out}", *(f"{k}={v}" for k, v in variables.items())]
    subprocess.run(args, check=True, capture_output=True, text=True)
    return out / "bearing-rp2040.uf2"


def elf_size(elf: Path) -> dict[str, int]:
    line = subprocess.run(["arm-none-eabi-size", str(elf)], check=True, capture_output=True,
                          text=True).stdout.splitlines()[1].split()
    return {"text": int(line[0]), "data": int(line[1]), "bss": int(line[2])}


def frame_cost(out: Path, byte_table: bool) -> dict[str, float]:
    """QEMU's exact instruction counts for one 256 x 4 frame, Cortex-M0+ code at -O2."""
    qemu = need("qemu-system-arm", "qemu-system-arm")
    elf = out / f"frame_cost_{int(byte_table)}.elf"
    subprocess.run([need("arm-none-eabi-gcc", "gcc-arm-none-eabi"), "-mcpu=cortex-m0plus", "-mthumb", "-std=c99",
                    "-O2", "-ffunction-sections", "-fdata-sections", *(["-DBF_CRC32_BYTE_TABLE"] * byte_table),
                    "--specs=rdimon.specs", "-Wl,--section-start=.vectors=0", "-o", str(elf),
                    str(FIRMWARE / "qemu" / "vectors.c"), str(FIRMWARE / "qemu" / "frame_cost.c"),
                    str(FIRMWARE / "bearing_frame.c")], check=True, capture_output=True, text=True)
    text = subprocess.run([qemu, "-icount", "shift=0,align=off,sleep=off", "-M", "mps2-an385", "-nographic",
                           "-monitor", "none", "-serial", "none", "-semihosting-config", "enable=on,target=native",
                           "-kernel", str(elf)], check=True, capture_output=True, text=True, timeout=120).stdout
    return {k: float(v) for k, v in (line.split() for line in text.splitlines())}


def emulate(out: Path, uf2: Path, seconds: float) -> tuple[dict, list]:
    """Run the UF2 in rp2040js on the 25 bundled IMS snapshots (as fast as it goes); figures and frames."""
    node = need("node", "nodejs")
    if not (EMULATION / "node_modules" / "rp2040js").is_dir():
        raise BearingEdgeError(f"rp2040js is not installed: run 'npm ci' in {EMULATION}")
    files = sorted(p for p in datasets.RAW_TEST2_DIR.iterdir() if p.name[:4].isdigit())
    g = np.concatenate([rec.read_snapshot_file(f) for f in files])
    codes = np.clip(np.rint(g / G_PER_COUNT) + 2048, 0, 4095).astype("<u2")
    adc, capture, stats = out / "adc.u16", out / f"{uf2.parent.name}.bin", out / f"{uf2.parent.name}.json"
    codes.tofile(adc)
    cmd = [node, str(EMULATION / "run_rp2040.mjs"), "--uf2", str(uf2), "--adc", str(adc), "--seconds", str(seconds),
           "--capture", str(capture), "--stats", str(stats)]
    if BOOTROM.is_file():
        cmd += ["--bootrom", str(BOOTROM)]
    subprocess.run(["nice", "-n", "10", *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return json.loads(stats.read_text()), StreamDecoder().feed(capture.read_bytes())


def run(quick: bool = False) -> BenchResult:
    seconds = 3.0 if quick else 10.0
    with tempfile.TemporaryDirectory(prefix="bench-firmware-") as tmp:
        out = Path(tmp)
        uf2 = build(out / "fw2M")
        uf2_1m = build(out / "fw1M", UART_BAUD="1000000")
        size = elf_size(out / "fw2M" / "firmware.elf")
        nibble, byte = frame_cost(out, False), frame_cost(out, True)
        stats, frames = emulate(out, uf2, seconds)
        stats_1m, frames_1m = emulate(out, uf2_1m, seconds)
        uf2_bytes = uf2.stat().st_size

    samples = [f for f in frames if isinstance(f, fr.Samples)]
    values_sent = sum(f.n_samples for f in samples) * 4
    status_1m = [f for f in frames_1m if isinstance(f, fr.DeviceStatus)]
    lost_1m = status_1m[-1].adc_overruns / (status_1m[-1].uptime_ms / 1000) if status_1m[-1].uptime_ms else 0.0
    figures = {
        "firmware_text_bytes": size["text"], "firmware_bss_bytes": size["bss"], "uf2_bytes": uf2_bytes,
        "frame_instructions_nibble_crc": nibble["instructions_per_frame"],
        "frame_instructions_byte_crc": byte["instructions_per_frame"],
        "crc32_instructions_per_byte_nibble": nibble["instructions_per_crc32_byte"],
        "crc32_instructions_per_byte_byte": byte["instructions_per_crc32_byte"],
        "encoder_instructions_per_sample_value": byte["instructions_per_sample_value"],
        "emulated": stats, "emulated_1mbaud": stats_1m,
        "busy_share": stats["busy_share_streaming"],
        "core_instructions_per_sample_value": stats["instructions_streaming"] / values_sent,
        "boot_to_first_frame_ms": stats["first_uart_byte_s"] * 1e3,
        "boot_to_first_samples_frame_ms": stats["uart_bursts_s"][1] * 1e3,
        "samples_lost_per_s_at_1mbaud": lost_1m,
    }
    markdown = "\n".join([
        f"Firmware (Cortex-M0+, -O2): {size['text']:,} B of code, {size['bss']:,} B of RAM; UF2 {uf2_bytes:,} B.",
        "",
        "| per 256 x 4 frame (2,076 B), Cortex-M0+ code, QEMU exact counts | nibble CRC-32 | byte-table CRC-32 |",
        "|---|---|---|",
        f"| instructions | {nibble['instructions_per_frame']:,.0f} | {byte['instructions_per_frame']:,.0f} |",
        f"| CRC-32 instructions a byte | {nibble['instructions_per_crc32_byte']:.2f} | "
        f"{byte['instructions_per_crc32_byte']:.2f} |",
        f"| instructions a sample value | {nibble['instructions_per_sample_value']:.1f} | "
        f"{byte['instructions_per_sample_value']:.1f} |",
        "",
        f"rp2040js ({stats['boot']}, {seconds:.0f} emulated s, 4 x 20 kHz, 2 Mbaud): core awake "
        f"**{stats['busy_share_streaming']:.1%}** of the time while streaming (goal < 15 %), "
        f"{figures['core_instructions_per_sample_value']:.1f} instructions a sample value in all; boot2 entered "
        f"at {stats['boot2_entered_s'] * 1e3:.2f} ms, first frame (StreamInfo) at "
        f"{figures['boot_to_first_frame_ms']:.2f} ms, first Samples frame at "
        f"{figures['boot_to_first_samples_frame_ms']:.2f} ms (emulated); emulation ran "
        f"{stats['emulated_s'] / stats['wall_s']:.1f}x real time. At 1 Mbaud the device dropped "
        f"{lost_1m:,.0f} sample ticks a second (of 20,000), all counted in DeviceStatus.",
    ])
    return BenchResult("firmware", "Reference RP2040 firmware", figures, markdown,
                       {"core awake < 15 % while streaming": stats["busy_share_streaming"] < 0.15})


if __name__ == "__main__":
    print(run().markdown)

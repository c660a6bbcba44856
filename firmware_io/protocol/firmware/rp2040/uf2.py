#!/usr/bin/env python3
"""Make the flash image and the UF2 file a Pico takes over USB, from boot2 and the program.

    uf2.py BOOT2_BIN APP_BIN OUT_UF2 [--flash-bin OUT_BIN]
    uf2.py --check IMAGE_BIN_OR_UF2      verify boot2's CRC as the bootrom does

boot2 (at most 252 bytes of code) is padded with zeros and followed by its CRC-32 in the
form the RP2040 bootrom checks (RP2040 datasheet 2.8.1.3: poly 0x04c11db7, init 0xffffffff,
not reflected, no final xor, stored little-endian at bytes 252..255); the program follows at
flash offset 0x100. The UF2 container is Microsoft's public format (github.com/microsoft/uf2):
512-byte blocks of 256 payload bytes, each naming its flash address, with the RP2040 family id.
Standard library only: `make firmware` needs nothing beyond python3 and the ARM toolchain.
"""
from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

FLASH_BASE = 0x10000000
BOOT2_SIZE = 256
BOOT2_CODE_MAX = BOOT2_SIZE - 4
UF2_MAGIC_START0, UF2_MAGIC_START1, UF2_MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
UF2_FLAG_FAMILY_ID = 0x00002000
RP2040_FAMILY_ID = 0xE48BFF56
UF2_PAYLOAD = 256


def boot2_crc(data: bytes) -> int:
    """CRC-32/MPEG-2: the check the bootrom makes over boot2's first 252 bytes."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def boot2_block(code: bytes) -> bytes:
    """boot2 as it sits in flash: code, zero padding, CRC."""
    if len(code) > BOOT2_CODE_MAX:
        raise ValueError(f"boot2 is {len(code)} bytes: at most {BOOT2_CODE_MAX} fit before its CRC")
    padded = code.ljust(BOOT2_CODE_MAX, b"\0")
    return padded + struct.pack("<I", boot2_crc(padded))


def flash_image(boot2_code: bytes, app: bytes) -> bytes:
    return boot2_block(boot2_code) + app


def to_uf2(image: bytes, base: int = FLASH_BASE) -> bytes:
    """The image as UF2 blocks (the last one padded with zeros)."""
    chunks = [image[i:i + UF2_PAYLOAD] for i in range(0, len(image), UF2_PAYLOAD)]
    out = bytearray()
    for n, chunk in enumerate(chunks):
        header = struct.pack("<8I", UF2_MAGIC_START0, UF2_MAGIC_START1, UF2_FLAG_FAMILY_ID,
                             base + n * UF2_PAYLOAD, UF2_PAYLOAD, n, len(chunks), RP2040_FAMILY_ID)
        out += header + chunk.ljust(476, b"\0") + struct.pack("<I", UF2_MAGIC_END)
    return bytes(out)


def from_uf2(data: bytes) -> tuple[int, bytes]:
    """(base address, flash image) of a UF2 file; raises ValueError naming the bad block."""
    if len(data) == 0 or len(data) % 512:
        raise ValueError(f"a UF2 file is a whole number of 512-byte blocks, this one is {len(data)} bytes")
    blocks = {}
    for n in range(len(data) // 512):
        block = data[n * 512:(n + 1) * 512]
        m0, m1, flags, addr, size, _, _, family = struct.unpack_from("<8I", block)
        (end,) = struct.unpack_from("<I", block, 508)
        if (m0, m1, end) != (UF2_MAGIC_START0, UF2_MAGIC_START1, UF2_MAGIC_END):
            raise ValueError(f"block {n}: bad UF2 magic")
        if flags & UF2_FLAG_FAMILY_ID and family != RP2040_FAMILY_ID:
            raise ValueError(f"block {n}: family id {family:#x} is not the RP2040's")
        if size > 476:
            raise ValueError(f"block {n}: payload size {size} > 476")
        blocks[addr] = block[32:32 + size]
    base = min(blocks)
    image = bytearray(max(a + len(b) for a, b in blocks.items()) - base)
    for addr, payload in blocks.items():
        image[addr - base:addr - base + len(payload)] = payload
    return base, bytes(image)


def check_boot2(image: bytes) -> str | None:
    """None if boot2's CRC is what the bootrom accepts, else what is wrong."""
    if len(image) < BOOT2_SIZE:
        return f"the image is {len(image)} bytes: shorter than boot2 ({BOOT2_SIZE})"
    (stored,) = struct.unpack_from("<I", image, BOOT2_CODE_MAX)
    want = boot2_crc(image[:BOOT2_CODE_MAX])
    return None if stored == want else f"boot2 CRC is {stored:#010x}, the bootrom expects {want:#010x}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", metavar="IMAGE", help="verify boot2's CRC in a .bin or .uf2")
    p.add_argument("boot2", nargs="?", type=Path)
    p.add_argument("app", nargs="?", type=Path)
    p.add_argument("out", nargs="?", type=Path)
    p.add_argument("--flash-bin", type=Path, help="also write the raw flash image")
    a = p.parse_args(argv)
    try:
        if a.check:
            data = Path(a.check).read_bytes()
            image = from_uf2(data)[1] if a.check.endswith(".uf2") else data
            problem = check_boot2(image)
            print(problem or f"{a.check}: boot2 CRC ok")
            return 1 if problem else 0
        if not (a.boot2 and a.app and a.out):
            p.error("give BOOT2_BIN APP_BIN OUT_UF2, or --check IMAGE")
        image = flash_image(a.boot2.read_bytes(), a.app.read_bytes())
        a.out.write_bytes(to_uf2(image))
        if a.flash_bin:
            a.flash_bin.write_bytes(image)
        print(f"{a.out}: {len(image)} bytes of flash in {-(-len(image) // UF2_PAYLOAD)} UF2 blocks")
        return 0
    except (OSError, ValueError) as e:
        print(f"uf2.py: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

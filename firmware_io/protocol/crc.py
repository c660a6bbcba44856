"""The two checks of the protocol, named by their exact catalogue variants.

Both come from the C-backed standard library (``binascii``, ``zlib``), so
checking a 2 KB frame costs about a microsecond.

- Header check: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected,
  xorout 0); check value ``crc16(b"123456789") == 0x29B1``.
- Frame check: CRC-32/ISO-HDLC (the zlib/Ethernet CRC: poly 0x04C11DB7
  reflected, init and xorout 0xFFFFFFFF); check value ``0xCBF43926``.
"""
from __future__ import annotations

import binascii
import zlib

CRC16_CHECK = 0x29B1
CRC32_CHECK = 0xCBF43926


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE of ``data``."""
    return binascii.crc_hqx(data, 0xFFFF)


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC of ``data``."""
    return zlib.crc32(data)

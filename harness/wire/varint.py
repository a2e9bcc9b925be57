"""W4.1 uvarint, W4.2 svarint (ZigZag) and W4.3 CRC-16/CCITT-FALSE."""

from __future__ import annotations

import binascii

from harness.wire.errors import WireError

U64_MAX = (1 << 64) - 1
I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
#: W4.1: a uvarint is at most 10 bytes long: 64 bits in groups of 7.
UVARINT_MAX_BYTES = -(-64 // 7)
#: W4.3: CRC-16/CCITT-FALSE starts from 0xFFFF.
CRC_INIT = 0xFFFF


def encode_uvarint(n: int) -> bytes:
    """The shortest LEB128 encoding of ``n`` (0 … 2^64−1)."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"uvarint value must be an int, not {type(n).__name__}")
    if n < 0 or n > U64_MAX:
        raise ValueError(f"uvarint value {n} is outside 0..2^64-1")
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def uvarint_size(n: int) -> int:
    """``v(n)`` of the spec: the length in bytes of the uvarint encoding of ``n``."""
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def decode_uvarint(data, pos: int = 0, what: str = "uvarint") -> tuple[int, int]:
    """Strictly decode the uvarint at ``data[pos]``; returns ``(value, next_pos)``.

    Truncated, longer than 10 bytes, above 2^64−1 or non-minimal → ``WireError(400)``
    whose reason names ``what`` and the byte offset.
    """
    end = len(data)
    if pos < end:
        b = data[pos]
        if b < 0x80:  # the common one-byte case
            return b, pos + 1
    start = pos
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise WireError(400, f"{what} truncated at byte {start}")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        if pos - start == UVARINT_MAX_BYTES:
            raise WireError(400, f"{what} at byte {start} is longer than {UVARINT_MAX_BYTES} bytes")
        shift += 7
    if b == 0:
        raise WireError(400, f"{what} at byte {start} is not minimally encoded (last byte 00)")
    if result > U64_MAX:
        raise WireError(400, f"{what} at byte {start} exceeds 2^64-1")
    return result, pos


def zigzag(n: int) -> int:
    """W4.2: map a signed 64-bit integer to the unsigned value written as a uvarint."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"svarint value must be an int, not {type(n).__name__}")
    if n < I64_MIN or n > I64_MAX:
        raise ValueError(f"svarint value {n} is outside -2^63..2^63-1")
    return ((n << 1) ^ (n >> 63)) & U64_MAX


def unzigzag(z: int) -> int:
    """Inverse of :func:`zigzag` for 0 … 2^64−1."""
    return (z >> 1) ^ -(z & 1)


def encode_svarint(n: int) -> bytes:
    return encode_uvarint(zigzag(n))


def decode_svarint(data, pos: int = 0, what: str = "svarint") -> tuple[int, int]:
    z, pos = decode_uvarint(data, pos, what)
    return unzigzag(z), pos


def crc16(data) -> int:
    """W4.3 CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, unreflected, xorout 0).

    ``binascii.crc_hqx`` is exactly this polynomial and bit order; the bitwise
    reference of the spec lives in the tests and checks it.
    """
    return binascii.crc_hqx(data, CRC_INIT)

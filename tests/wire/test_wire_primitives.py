"""W4: uvarint, svarint (ZigZag) and CRC-16/CCITT-FALSE."""

import random

import pytest

from harness.wire import (
    WireError, crc16, decode_svarint, decode_uvarint, encode_svarint, encode_uvarint, unzigzag, uvarint_size,
    zigzag,
)

U64_MAX = (1 << 64) - 1

# W4.1 table, plus the extremes
UVARINT_TABLE = [
    (0, "00"), (127, "7f"), (128, "80 01"), (300, "ac 02"), (1700000000000, "80 d0 95 ff bc 31"),
    (U64_MAX, "ff ff ff ff ff ff ff ff ff 01"),
]
# W4.2 table, plus the extremes
SVARINT_TABLE = [
    (0, "00"), (-1, "01"), (1, "02"), (25, "32"), (44, "58"), (45, "5a"), (-64, "7f"), (64, "80 01"),
    (-(1 << 63), "ff ff ff ff ff ff ff ff ff 01"), ((1 << 63) - 1, "fe ff ff ff ff ff ff ff ff 01"),
]


@pytest.mark.parametrize("value,hex_bytes", UVARINT_TABLE)
def test_uvarint_table(value, hex_bytes):
    raw = bytes.fromhex(hex_bytes)
    assert encode_uvarint(value) == raw
    assert uvarint_size(value) == len(raw)
    # decoding at an offset inside a larger buffer returns the position after the varint
    assert decode_uvarint(b"\xaa" + raw + b"\xbb", 1) == (value, 1 + len(raw))


@pytest.mark.parametrize("value,hex_bytes", SVARINT_TABLE)
def test_svarint_table(value, hex_bytes):
    raw = bytes.fromhex(hex_bytes)
    assert encode_svarint(value) == raw
    assert decode_svarint(raw) == (value, len(raw))
    assert unzigzag(zigzag(value)) == value


@pytest.mark.parametrize("hex_bytes,reason", [
    ("", "truncated at byte 0"),
    ("80", "truncated at byte 0"),
    ("ff ff", "truncated at byte 0"),
    ("80 80 80 80 80 80 80 80 80 80 01", "longer than 10 bytes"),
    ("ff ff ff ff ff ff ff ff ff 02", "exceeds 2^64-1"),
    ("ff ff ff ff ff ff ff ff ff 7f", "exceeds 2^64-1"),
    ("80 00", "not minimally encoded"),
    ("ff 80 00", "not minimally encoded"),
])
def test_uvarint_strict_decoding_rejects_with_400(hex_bytes, reason):
    with pytest.raises(WireError) as err:
        decode_uvarint(bytes.fromhex(hex_bytes), 0, "base_time_ms")
    assert err.value.status == 400
    assert reason in err.value.reason
    assert err.value.reason.startswith("base_time_ms")


def test_uvarint_error_names_the_offset_it_started_at():
    with pytest.raises(WireError, match="at byte 3"):
        decode_uvarint(bytes.fromhex("00 00 00 80 00"), 3)


@pytest.mark.parametrize("value,error", [(-1, ValueError), (U64_MAX + 1, ValueError), (True, TypeError),
                                         (1.0, TypeError)])
def test_uvarint_encoder_refuses_values_outside_its_range(value, error):
    with pytest.raises(error):
        encode_uvarint(value)


@pytest.mark.parametrize("value", [-(1 << 63) - 1, 1 << 63])
def test_svarint_encoder_refuses_values_outside_int64(value):
    with pytest.raises(ValueError):
        encode_svarint(value)


def reference_crc(data: bytes) -> int:
    """The bitwise algorithm exactly as W4.3 writes it."""
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def test_crc_check_value():
    assert crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize("data,expected", [
    (bytes.fromhex("01 02 03 04 05"), 0x9304),  # W5.5 worked example B
    (bytes.fromhex("02 01 01"), 0x81EC),        # W5.5 example C
    (b"", 0xFFFF),
])
def test_crc_of_the_spec_examples(data, expected):
    assert crc16(data) == expected


def test_crc_matches_the_bitwise_reference_of_the_spec():
    rng = random.Random(1234)
    samples = [bytes(rng.randrange(256) for _ in range(n)) for n in (1, 2, 7, 64, 300, 4096)]
    for data in samples:
        assert crc16(data) == reference_crc(data)

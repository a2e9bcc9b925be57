"""W5: frame parsing and encoding, and the W5.5 chunker with its worked examples."""

import pytest

from wire_vectors import UPSTREAM_DIR, frame_bytes, load_vectors
from harness.protocol import CAPTURE_LIMITS, SDK_LIMITS, Limits
from harness.wire import WireError, chunk, crc16, encode_frame, parse_frame, reassemble

MESSAGE = bytes.fromhex("01 02 03 04 05")


def small_limits(frame=64, message=100):
    return Limits(frame=frame, message=message, events=5, strings=5, string_bytes=5, all_string_bytes=10,
                  properties=None)


# ---------------------------------------------------------------------------- parsing


def test_parse_single_frame_of_example_c():
    frame = parse_frame(bytes.fromhex("02 ac 02 02 01 01 ec 81"))
    assert (frame.kind, frame.message_id, frame.payload, frame.crc) == ("single", 300, b"\x02\x01\x01", 0x81EC)
    assert frame.offset == 0 and frame.total_length is None and not frame.more and not frame.continuation


def test_parse_the_three_frames_of_example_b():
    init, middle, final = (parse_frame(bytes.fromhex(h)) for h in
                           ("42 07 05 01 02 03", "62 07 03 04", "22 07 04 05 04 93"))
    assert (init.kind, init.message_id, init.total_length, init.offset, init.payload) == ("init", 7, 5, 0, b"\x01\x02\x03")
    assert init.crc is None and init.more and not init.continuation
    assert (middle.kind, middle.offset, middle.payload, middle.crc) == ("middle", 3, b"\x04", None)
    assert middle.more and middle.continuation
    assert (final.kind, final.offset, final.payload, final.crc) == ("final", 4, b"\x05", 0x9304)
    assert not final.more and final.continuation


def test_parse_keeps_the_raw_body():
    body = bytes.fromhex("42 07 05 01 02 03")
    assert parse_frame(bytearray(body)).raw == body


def test_largest_message_id_is_accepted():
    frame = parse_frame(encode_frame("single", 0xFFFFFFFF, b"\x00"))
    assert frame.message_id == 0xFFFFFFFF


@pytest.mark.parametrize("hex_body,reason", [
    ("", "empty frame"),
    ("00 01 00 00 00", "protocol version code 0"),
    ("01 01 00 00 00", "protocol version code 1"),
    ("03 01 00 00 00", "protocol version code 3"),
    ("82 01 00 00 00", "reserved bit 7"),
    ("c2 01 05 00", "reserved bit 7"),
    ("06 01 00 00 00", "source type 1"),
    ("1e 01 00 00 00", "source type 7"),
    ("02", "message_id truncated at byte 1"),
    ("02 80", "message_id truncated at byte 1"),
    ("02 80 00 00 00 00", "message_id at byte 1 is not minimally encoded"),
    ("02 80 80 80 80 10 00 00 00", "exceeds 2^32-1"),
    ("02 01", "too short for its CRC"),
    ("02 01 ff", "too short for its CRC"),
    ("02 01 ff ff", "single frame carries no payload"),
    ("42 01", "total_length truncated"),
    ("42 01 05", "init frame carries no payload"),
    ("42 01 03 aa bb cc", "total_length 3 is not above its payload length 3"),
    ("42 01 02 aa bb cc", "total_length 2 is not above its payload length 3"),
    ("62 01", "offset truncated"),
    ("62 01 00 aa", "middle frame offset is 0"),
    ("62 01 05", "middle frame carries no payload"),
    ("22 01 00 aa 00 00", "final frame offset is 0"),
    ("22 01 05 00 00", "final frame carries no payload"),
    ("22 01 05 00", "too short for its CRC"),
])
def test_frame_rules_are_answered_400(hex_body, reason):
    with pytest.raises(WireError) as err:
        parse_frame(bytes.fromhex(hex_body))
    assert err.value.status == 400
    assert reason in err.value.reason


def test_init_total_length_above_the_message_limit_is_413():
    body = encode_frame("init", 1, b"\x02", total_length=CAPTURE_LIMITS.message + 1)
    with pytest.raises(WireError) as err:
        parse_frame(body)
    assert err.value.status == 413 and "total_length 1048577" in err.value.reason
    # exactly at the limit is fine
    assert parse_frame(encode_frame("init", 1, b"\x02", total_length=CAPTURE_LIMITS.message)).total_length \
        == CAPTURE_LIMITS.message


def test_field_errors_come_before_the_total_length_limit():
    # step 7 (fields, 400) before step 8 (init total_length, 413): a message id above 2^32-1
    body = encode_frame("init", 1 << 32, b"\x02", total_length=CAPTURE_LIMITS.message + 1)
    with pytest.raises(WireError) as err:
        parse_frame(body)
    assert err.value.status == 400 and "message_id" in err.value.reason


def test_body_above_the_frame_limit_is_413_before_any_field_check():
    limits = small_limits(frame=8)
    with pytest.raises(WireError) as err:
        parse_frame(b"\xff" * 9, limits)
    assert err.value.status == 413 and "9 bytes" in err.value.reason
    with pytest.raises(WireError) as err:
        parse_frame(b"\xff" * 8, limits)
    assert err.value.status == 400


def test_sdk_limits_check_a_recorded_frame():
    body = encode_frame("single", 1, b"\x00" * (SDK_LIMITS.frame - 3))
    assert len(body) == SDK_LIMITS.frame + 1
    with pytest.raises(WireError) as err:
        parse_frame(body, SDK_LIMITS)
    assert err.value.status == 413
    assert parse_frame(body).payload == b"\x00" * (SDK_LIMITS.frame - 3)


# ---------------------------------------------------------------------------- encoding


@pytest.mark.parametrize("kind,kwargs,expected", [
    ("single", {}, "02 07 01 02 03 04 05 04 93"),
    ("init", {"total_length": 9}, "42 07 09 01 02 03 04 05"),
    ("middle", {"offset": 300}, "62 07 ac 02 01 02 03 04 05"),
    ("final", {"offset": 4, "crc": 0x1234}, "22 07 04 01 02 03 04 05 34 12"),
])
def test_encode_frame_layouts(kind, kwargs, expected):
    body = encode_frame(kind, 7, MESSAGE, **kwargs)
    assert body == bytes.fromhex(expected)
    frame = parse_frame(body)
    assert frame.kind == kind and frame.payload == MESSAGE


@pytest.mark.parametrize("kind,kwargs,error", [
    ("init", {}, "needs total_length"),
    ("middle", {}, "needs offset"),
    ("final", {"offset": 3}, "needs crc"),
    ("middle", {"offset": 3, "total_length": 9}, "has no total_length"),
    ("init", {"total_length": 9, "crc": 1}, "has no crc"),
    ("last", {}, "unknown frame kind"),
])
def test_encode_frame_refuses_inconsistent_fields(kind, kwargs, error):
    with pytest.raises(ValueError, match=error):
        encode_frame(kind, 7, MESSAGE, **kwargs)


# ---------------------------------------------------------------------------- chunker


def test_worked_example_a_max_frame_40():
    vector = next(v for v in load_vectors(UPSTREAM_DIR) if v["name"] == "multi-frame-non-value-boundary")
    message = reassemble(frame_bytes(vector))
    assert len(message) == 109
    frames = chunk(message, 3, 40)
    assert frames == frame_bytes(vector)
    assert [len(f) for f in frames] == [40, 40, 40]
    assert [f[:3].hex(" ") for f in frames] == ["42 03 6d", "62 03 25", "22 03 4a"]
    assert frames[-1][-2:] == bytes.fromhex("f5 2e") and crc16(message) == 0x2EF5
    # the cuts land inside strings: "1." | "0.0" and "mo" | "de"
    assert message[35:37] == b"1." and message[37:40] == b"0.0"
    assert message[72:74] == b"mo" and message[74:76] == b"de"


def test_worked_example_b_max_frame_6():
    assert chunk(MESSAGE, 7, 6) == [bytes.fromhex("42 07 05 01 02 03"), bytes.fromhex("62 07 03 04"),
                                    bytes.fromhex("22 07 04 05 04 93")]


def test_example_c_single_frame():
    assert chunk(bytes.fromhex("02 01 01"), 300) == [bytes.fromhex("02 ac 02 02 01 01 ec 81")]


def test_message_that_fits_exactly_is_one_frame_and_one_byte_more_is_two():
    # F = 4096, id < 128: final_cap = 4096 - 1 - 1 - 2 = 4092
    assert len(chunk(b"\x00" * 4092, 5)) == 1
    frames = chunk(b"\x00" * 4093, 5)
    assert [parse_frame(f).kind for f in frames] == ["init", "final"]
    assert all(len(f) <= 4096 for f in frames)


def test_sdk_maximum_message_needs_two_frames():
    frames = chunk(bytes(range(256)) * 16, 0x1A2B3C4E)
    assert len(frames) == 2 and len(frames[0]) == 4096
    assert reassemble(frames) == bytes(range(256)) * 16


@pytest.mark.parametrize("size,message_id,max_frame", [
    (200, 7, 6),            # offsets from 128 need two bytes: final_cap 0
    (1, 0xFFFFFFFF, 6),     # a five-byte id leaves no room at all
    (20000, 1, 7),          # offsets from 16384 need three bytes
])
def test_chunker_refuses_a_frame_limit_that_leaves_no_room(size, message_id, max_frame):
    with pytest.raises(WireError) as err:
        chunk(b"\x01" * size, message_id, max_frame)
    assert err.value.status == 413 and f"max_frame {max_frame}" in err.value.reason


@pytest.mark.parametrize("args,error", [
    ((b"", 1, 40), "empty message"),
    ((b"\x01", -1, 40), "outside 0..2\\^32-1"),
    ((b"\x01", 1 << 32, 40), "outside 0..2\\^32-1"),
    ((b"\x01", 1, 5), "below the minimum of 6"),
])
def test_chunker_argument_errors(args, error):
    with pytest.raises(ValueError, match=error):
        chunk(*args)


@pytest.mark.parametrize("max_frame", [6, 7, 9, 13, 40, 100, 4096])
def test_chunks_respect_the_limit_and_reassemble(max_frame):
    message = bytes(range(120))
    frames = chunk(message, 42, max_frame)
    assert all(len(f) <= max_frame for f in frames)
    parsed = [parse_frame(f) for f in frames]
    offsets = [p.offset for p in parsed]
    assert offsets == sorted(offsets) and offsets[0] == 0
    assert reassemble(frames) == message
    assert chunk(message, 42, max_frame) == frames  # deterministic

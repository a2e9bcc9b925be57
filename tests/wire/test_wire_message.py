"""W7 (compact message: canonical encoding, strict decoding, validation), W8 limits, W9 expansion."""

import math
import struct

import pytest

from harness.protocol import CAPTURE_LIMITS, SDK_LIMITS, Limits
from harness.wire import (
    F32, F64, Bytes, Event, Int, Map, Message, Reserved, UInt, WireError, decode_message, encode_message,
    expand_events, string_table, to_decoded_json, validate_message,
)
from harness.wire.vectorgen import (
    REQUIRED_CONTEXT_RAW, REQUIRED_STRINGS, OMIT, assemble, required_context, with_string,
)

BOOT = [Event("boot")]


def msg(events=None, context=None, base=1_700_000_000_000):
    return Message(base, context if context is not None else required_context(), events if events is not None else BOOT)


def status_of(data, limits=CAPTURE_LIMITS, binary_properties=False):
    """The receiver's verdict on a reassembled message: 400/413 (decode), 422 (validate) or 204."""
    try:
        validate_message(decode_message(data, limits), binary_properties)
    except WireError as exc:
        return exc.status, exc.reason
    return 204, ""


def nested(depth, leaf="leaf", kind="array"):
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "array" else Map([("k", value)])
    return value


def event_with(key, value):
    return msg([Event("boot", 0, [(key, value)])])


GOOD = encode_message(msg([Event("boot", 0, [("flag", None)])]))


# ---------------------------------------------------------------------------- 400: structure


def patched(data, at, old, new):
    assert data[at:at + len(old)] == old
    return data[:at] + new + data[at + len(old):]


MALFORMED = [
    ("format version 3", b"\x03" + GOOD[1:], "format_version 3 at byte 0, expected 2"),
    ("format version 1", b"\x01" + GOOD[1:], "format_version 1 at byte 0"),
    ("message kind 0", patched(GOOD, 1, b"\x01", b"\x00"), "message_kind 0 at byte 1"),
    ("message kind 2", patched(GOOD, 1, b"\x01", b"\x02"), "message_kind 2 at byte 1"),
    ("flags 0", patched(GOOD, 2, b"\x01", b"\x00"), "bit 0 (context_promotes_properties) must be set"),
    ("flags 2", patched(GOOD, 2, b"\x01", b"\x02"), "bit 0 (context_promotes_properties) must be set"),
    ("flags 3", patched(GOOD, 2, b"\x01", b"\x03"), "unknown flag bits"),
    ("flag bit 63", patched(GOOD, 2, b"\x01", b"\x81\x80\x80\x80\x80\x80\x80\x80\x80\x01"), "unknown flag bits"),
    ("non-minimal version", b"\x82\x00" + GOOD[1:], "format_version at byte 0 is not minimally encoded"),
    ("non-minimal string length", patched(GOOD, 10, b"\x06", b"\x86\x00"),
     "length of string #0 at byte 10 is not minimally encoded"),
    ("11-byte base time", patched(GOOD, 3, GOOD[3:9], b"\x80" * 10 + b"\x01"), "base_time_ms at byte 3 is longer than 10 bytes"),
    ("base time above 2^64-1", patched(GOOD, 3, GOOD[3:9], b"\xff" * 9 + b"\x02"), "base_time_ms at byte 3 exceeds 2^64-1"),
    ("trailing byte", GOOD + b"\x00", "1 trailing bytes after the last event"),
    ("trailing bytes", GOOD + b"\x01\x07\x00", "3 trailing bytes"),
    ("string count past the end", patched(GOOD, 9, b"", b"\xff\x7f"), "string_count 16383 at byte 9 cannot fit"),
    ("string index out of range",
     assemble(REQUIRED_STRINGS + [b"boot"], REQUIRED_CONTEXT_RAW, b"\x01\x09\x00\x00"),
     "string index 9 out of range at byte 101 (the table has 8 strings)"),
    ("custom key index out of range",
     assemble(REQUIRED_STRINGS + [b"boot"], REQUIRED_CONTEXT_RAW, b"\x01\x07\x00\x01\x13\x00"),
     "string index 9 out of range at byte 104"),
    ("key reference 0", encode_message(event_with(Reserved(0), None)), "key reference 0 at byte"),
    ("key reference 0 in a map", encode_message(event_with("m", Map([(Reserved(0), None)]))), "key reference 0"),
    ("9 nested arrays", encode_message(event_with("a", nested(9))), "nested deeper than 8 containers"),
    ("9 nested maps", encode_message(event_with("a", nested(9, kind="map"))), "map at byte"),
    ("9 containers in context", encode_message(msg(context=required_context() + [(128, nested(9))])),
     "context id 128"),
    ("empty 9th array", encode_message(event_with("a", nested(8, leaf=[]))), "nested deeper than 8"),
    ("context id repeated", encode_message(msg(context=required_context() + [(7, "again")])),
     "context id 7 at byte 106 is not above the previous id 7"),
    ("context ids descending",
     assemble([b"user-1"] + REQUIRED_STRINGS[2:] + [b"boot"],
              b"\x07\x02\x07\x00\x01\x07\x00" + b"".join(bytes((i + 1, 7, i - 1)) for i in range(2, 7)),
              b"\x01\x06\x00\x00"),
     "context id 1 at byte 73 is not above the previous id 2"),
    ("duplicate string", assemble(REQUIRED_STRINGS + [b"boot", b"boot"], REQUIRED_CONTEXT_RAW, b"\x01\x07\x00\x00"),
     "string #8 at byte 78 duplicates string #7"),
    ("duplicate of a context string",
     assemble(REQUIRED_STRINGS + [b"user-1"], REQUIRED_CONTEXT_RAW, b"\x01\x07\x00\x00"),
     "string #7 at byte 73 duplicates string #0"),
    ("unused string", assemble(REQUIRED_STRINGS + [b"boot", b"spare"], REQUIRED_CONTEXT_RAW, b"\x01\x07\x00\x00"),
     "string #8 ('spare') is never referenced"),
    ("out-of-order context strings",
     assemble(REQUIRED_STRINGS + [b"boot"], REQUIRED_CONTEXT_RAW[:12] + b"\x04\x05\x07\x03" + REQUIRED_CONTEXT_RAW[16:],
              b"\x01\x07\x00\x00"),
     "string index 4 at byte 90 is referenced before string index 3"),
    ("out-of-order: value before key",
     assemble(REQUIRED_STRINGS + [b"boot", b"k", b"v"], REQUIRED_CONTEXT_RAW, b"\x01\x07\x00\x01\x13\x07\x08"),
     "string index 9 at byte"),
    ("unknown tag 0b", GOOD[:-1] + b"\x0b", "unknown value tag 0x0b at byte"),
    ("truncated float32", encode_message(event_with("f", F32(1.0)))[:-1], "float32 at byte"),
    ("truncated float64", encode_message(event_with("f", F64(1.0)))[:-3], "float64 at byte"),
    ("truncated bytes", encode_message(event_with("b", Bytes(b"abc")))[:-1], "bytes value at byte"),
    ("bytes length past the end", encode_message(event_with("b", Bytes(b"abc")))[:-4] + b"\xff\x01",
     "needs 255 bytes"),
    ("array count past the end", encode_message(event_with("a", [None]))[:-2] + b"\x05\x00", "array item count 5"),
    ("map count past the end", encode_message(event_with("m", Map([("k", None)])))[:-3] + b"\x09\x13\x00",
     "map pair count 9"),
    ("event count past the end", GOOD[:-6] + b"\x50" + GOOD[-5:], "event_count 80"),
]

UTF8 = [("overlong 2-byte", b"\xc0\xaf"), ("overlong 3-byte", b"\xe0\x80\xaf"),
        ("overlong 4-byte", b"\xf0\x80\x80\xaf"), ("surrogate U+D800", b"\xed\xa0\x80"),
        ("surrogate U+DFFF", b"\xed\xbf\xbf"), ("above U+10FFFF", b"\xf4\x90\x80\x80"), ("byte f5", b"\xf5\x80\x80\x80"),
        ("byte ff", b"\xff"), ("truncated sequence", b"\xe2\x82"), ("lone continuation", b"\x80")]


@pytest.mark.parametrize("data,reason", [pytest.param(d, r, id=i) for i, d, r in MALFORMED])
def test_structural_faults_are_400_with_a_precise_reason(data, reason):
    with pytest.raises(WireError) as err:
        decode_message(data)
    assert err.value.status == 400
    assert reason in err.value.reason


@pytest.mark.parametrize("raw", [pytest.param(r, id=i) for i, r in UTF8])
def test_ill_formed_utf8_is_400(raw):
    placeholder = "P" * len(raw)
    data = with_string(encode_message(event_with("t", placeholder)), placeholder, raw)
    with pytest.raises(WireError) as err:
        decode_message(data)
    assert err.value.status == 400 and "string #9 at byte" in err.value.reason
    assert "ill-formed UTF-8" in err.value.reason


def test_well_formed_utf8_edges_decode():
    for text in ("\u0080", "\u07ff", "\u0800", "\uffff", "\U00010000", "\U0010ffff", "\ud7ff", "\ue000"):
        message = event_with("t", text)
        assert decode_message(encode_message(message)) == message


@pytest.mark.parametrize("tag", range(0x0B, 0x100))
def test_every_reserved_tag_is_400(tag):
    with pytest.raises(WireError) as err:
        decode_message(GOOD[:-1] + bytes((tag,)))
    assert err.value.status == 400 and f"unknown value tag 0x{tag:02x}" in err.value.reason


def test_every_truncation_of_a_valid_message_is_400():
    data = encode_message(msg([Event("scalars", -5, [("u", UInt(300)), ("i", Int(-70)), ("f", F32(1.5)),
                                                     ("d", F64(2.5)), ("b", Bytes(b"xyz")),
                                                     ("a", ["x", [None, True]]), ("m", Map([(Reserved(4), "on")]))])]))
    for cut in range(len(data)):
        with pytest.raises(WireError) as err:
            decode_message(data[:cut])
        assert err.value.status == 400, cut


def test_eight_nested_containers_are_valid():
    for kind in ("array", "map"):
        message = event_with("a", nested(8, kind=kind))
        assert status_of(encode_message(message)) == (204, "")
    assert status_of(encode_message(msg(context=required_context() + [(128, nested(8))]))) == (204, "")


# ---------------------------------------------------------------------------- 413: limits


def limits(**kw):
    values = dict(frame=65536, message=10_000, events=10, strings=20, string_bytes=30, all_string_bytes=200,
                  properties=None)
    values.update(kw)
    return Limits(**values)


@pytest.mark.parametrize("name,limit_kw,make_at,make_over,reason", [
    ("message bytes", {"message": 120}, None, None, "exceeds the 120-byte limit"),
    ("events", {}, lambda: msg([Event("e")] * 10), lambda: msg([Event("e")] * 11), "11 events exceed the limit of 10 per message"),
    ("strings", {}, lambda: event_with("k", [f"s{i}" for i in range(11)]),
     lambda: event_with("k", [f"s{i}" for i in range(12)]), "21 string-table entries exceed the limit of 20"),
    ("string bytes", {}, lambda: event_with("k", "x" * 30), lambda: event_with("k", "x" * 31),
     "string #9 of 31 bytes exceeds the 30-byte limit"),
    # the required context strings hold 56 bytes, "boot" 4 and "k" 1
    ("all string bytes", {"all_string_bytes": 80}, lambda: event_with("k", "x" * 19),
     lambda: event_with("k", "x" * 20), "81 bytes of strings exceed the limit of 80"),
    ("properties", {"properties": 3}, lambda: msg([Event("e", 0, [(f"k{i}", None) for i in range(3)])]),
     lambda: msg([Event("e"), Event("e", 0, [(f"k{i}", None) for i in range(4)])]),
     "event #1 has 4 properties, above the limit of 3"),
])
def test_each_hard_limit_is_413_just_above_and_fine_at_the_limit(name, limit_kw, make_at, make_over, reason):
    lim = limits(**limit_kw)
    if name == "message bytes":
        base = encode_message(event_with("k", "x"))
        lim = limits(message=len(base))
        at, over = base, encode_message(event_with("k", "xx"))
        reason = f"message of {len(over)} bytes exceeds the {len(base)}-byte limit"
    else:
        at, over = encode_message(make_at()), encode_message(make_over())
    assert status_of(at, lim) == (204, "")
    status, why = status_of(over, lim)
    assert (status, why) == (413, reason)


def test_sdk_limits_are_checked_by_the_same_decoder():
    over = msg([Event("e", 0, [(f"k{i}", None) for i in range(SDK_LIMITS.properties + 1)])])
    assert status_of(encode_message(over), SDK_LIMITS)[0] == 413
    assert status_of(encode_message(over))[0] == 204  # capture has no property limit


# ---------------------------------------------------------------------------- precedence


def test_400_wins_over_413():
    data = encode_message(msg([Event("e")] * 11)) + b"\x00"
    assert status_of(data, limits())[0] == 400


def test_413_wins_over_422():
    data = encode_message(msg([Event("")] * 11))
    assert status_of(data, limits())[0] == 413
    assert status_of(data)[0] == 422


def test_400_wins_over_422():
    data = encode_message(msg([Event("boot", 0, [("f", None)])], required_context({7: OMIT})))
    assert status_of(data)[0] == 422
    assert status_of(data[:-1] + b"\x0c")[0] == 400


def test_400_is_found_after_an_earlier_semantic_fault():
    # the structural pass completes before any semantic check: an empty event name early, an
    # unused string at the very end
    data = assemble(REQUIRED_STRINGS + [b"", b"spare"], REQUIRED_CONTEXT_RAW, b"\x01\x07\x00\x00")
    assert status_of(data)[0] == 400


# ---------------------------------------------------------------------------- 422: semantics


SEMANTIC = [
    ("missing distinct_id", msg(context=required_context({1: OMIT})), "required context id 1 (distinct_id) is missing"),
    ("missing $environment", msg(context=required_context({7: OMIT})), "required context id 7 ($environment) is missing"),
    ("no context at all", msg(context=[]), "required context id 1"),
    ("context string as uint", msg(context=required_context({3: UInt(1)})), "context id 3 ($device_model) must be a string"),
    ("context string as map", msg(context=required_context({6: Map([])})), "context id 6 ($sdk_version) must be a string"),
    ("session id not a string", msg(context=required_context() + [(8, None)]), "context id 8 ($session_id) must be a string"),
    ("empty distinct_id", msg(context=required_context({1: ""})), "context id 1 (distinct_id) references the empty string"),
    ("empty session id", msg(context=required_context() + [(8, "")]), "references the empty string"),
    ("device_time_source as string", msg(context=required_context() + [(9, "rtc")]), "must be a uint (tag 03)"),
    ("device_time_source tag 04", msg(context=required_context() + [(9, Int(1))]), "not an int (tag 04)"),
    ("device_time_source 4", msg(context=required_context() + [(9, UInt(4))]), "is 4, above 3"),
    ("capabilities as float", msg(context=required_context() + [(10, F64(1.0))]), "context id 10 (capabilities) must be a uint"),
    ("context id 0", msg(context=[(0, UInt(1))] + required_context()), "context id 0 is reserved"),
    ("context id 11", msg(context=required_context() + [(11, UInt(1))]), "context id 11 is reserved"),
    ("context id 127", msg(context=required_context() + [(127, None)]), "context id 127 is reserved"),
    ("empty string in an extension", msg(context=required_context() + [(200, ["ok", ""])]),
     "the empty string is not allowed in the batch context"),
    ("empty key in an extension", msg(context=required_context() + [(128, Map([("", 1)]))]), "empty custom key"),
    ("zero events", msg([]), "the message holds no events"),
    ("empty name", msg([Event("boot"), Event("")]), "event #1: empty event name"),
    ("empty custom key", event_with("", 1), "property '': empty custom key"),
    ("empty map key", event_with("m", Map([("", 1)])), "'m'{''}: empty custom key"),
    ("reserved id 8", event_with(Reserved(8), "x"), "reserved property id 8 is outside 1-7"),
    ("reserved id 63 in a map", event_with("m", [Map([(Reserved(63), "x")])]), "reserved property id 63"),
    ("custom key distinct_id", event_with("distinct_id", "x"), "spells a promoted context name"),
    ("custom key $device_id", event_with("$device_id", "x"), "spells a promoted context name"),
    ("custom key $session_id in a map", event_with("m", Map([("$session_id", "x")])), "spells a promoted context name"),
    ("repeated custom key", msg([Event("e", 0, [("k", 1), ("j", 2), ("k", 3)])]), "key 'k' repeated"),
    ("repeated reserved key", msg([Event("e", 0, [(Reserved(1), Int(44)), (Reserved(1), Int(45))])]),
     "key $battery_level repeated"),
    ("repeated map key", event_with("m", Map([("a", 1), ("a", 1)])), "key 'a' repeated"),
    ("$battery_level as float", event_with(Reserved(1), F64(50.0)), "$battery_level must be an integer, not a float"),
    ("$wifi_rssi as bool", event_with(Reserved(2), True), "$wifi_rssi must be an integer, not a boolean"),
    ("reset_reason as null", event_with(Reserved(3), None), "reset_reason must be a string, not null"),
    ("new_version as array", event_with(Reserved(6), ["1"]), "new_version must be a string, not an array"),
    ("session_name in a map as uint", event_with("m", Map([(Reserved(7), UInt(1))])), "session_name must be a string"),
    ("NaN float64", event_with("f", F64(math.nan)), "float nan is not finite"),
    ("infinite float32", event_with("f", F32(math.inf)), "float inf is not finite"),
    ("-inf deep in a map", event_with("m", Map([("x", [F64(-math.inf)])])), "float -inf is not finite"),
    ("NaN in the context", msg(context=required_context() + [(130, F32(math.nan))]), "context id 130"),
    ("bytes with binary off", event_with("b", Bytes(b"\x00")), "bytes value while binary properties are off"),
    ("bytes in the context", msg(context=required_context() + [(128, Bytes(b""))]), "bytes value"),
    ("timestamp below 0", Message(10, required_context(), [Event("boot", -11)]), "is outside 0..2^63-1"),
    ("timestamp above 2^63-1", Message(2 ** 63 - 5, required_context(), [Event("boot", 5)]), "is outside 0..2^63-1"),
]


@pytest.mark.parametrize("message,reason", [pytest.param(m, r, id=i) for i, m, r in SEMANTIC])
def test_semantic_faults_are_422_after_a_clean_decode(message, reason):
    data = encode_message(message)
    decoded = decode_message(data)  # structurally fine
    with pytest.raises(WireError) as err:
        validate_message(decoded)
    assert err.value.status == 422
    assert reason in err.value.reason


def test_custom_keys_spelling_reserved_names_are_422_at_every_depth():
    for name in ("$battery_level", "$wifi_rssi", "reset_reason", "state", "previous_version", "new_version",
                 "session_name"):
        placeholder = "Q" * len(name)
        for message in (event_with(placeholder, "x"), event_with("m", Map([(placeholder, "x")]))):
            data = with_string(encode_message(message), placeholder, name.encode())
            status, reason = status_of(data)
            assert status == 422 and "spells a reserved property name" in reason, (name, reason)


def test_boundary_values_that_are_valid():
    valid = [
        msg(context=required_context() + [(9, UInt(0)), (10, UInt(2 ** 64 - 1))]),
        msg(context=required_context() + [(9, UInt(3)), (128, None), (2 ** 64 - 1, "x")]),
        Message(0, required_context(), [Event("boot", 0)]),
        Message(2 ** 63 - 1, required_context(), [Event("boot", 0)]),
        Message(5, required_context(), [Event("boot", -5)]),
        event_with(Reserved(1), UInt(100)),   # receivers accept either integer tag
        event_with(Reserved(2), Int(-90)),
        event_with("$anon_distinct_id", "anon"),
        event_with("$custom", ""),
        event_with("m", Map([("k", ""), ("j", [""])])),
        msg([Event("e", 0, [("k", 1)]), Event("e", 0, [("k", 2)])]),  # keys repeat across events
    ]
    for message in valid:
        assert status_of(encode_message(message)) == (204, ""), message


def test_bytes_are_valid_with_binary_properties_on():
    data = encode_message(event_with("b", [Bytes(b""), Map([("x", Bytes(b"\x00\xff"))])]))
    assert status_of(data)[0] == 422
    assert status_of(data, binary_properties=True) == (204, "")


# ---------------------------------------------------------------------------- canonical encoding


def test_interning_follows_the_first_reference_order_of_w7_2():
    message = Message(1, [
        (200, Map([("ext_key", "ext_value")])),
        (8, "session"), (1, "user"), (2, "user"), (3, "model"), (4, "fw"), (5, "posix"), (6, "sdk"), (7, "env"),
        (128, ["ext_item"]),
    ], [
        Event("first", 0, [("key_a", Map([("inner", ["deep", "value_a"])])), (Reserved(4), "state_value"),
                           ("state", "again"), ("key_b", "value_a")]),
        Event("second", 0, [("key_a", "first")]),
    ])
    assert string_table(message) == [
        "user", "model", "fw", "posix", "sdk", "env", "session", "ext_item", "ext_key", "ext_value",
        "first", "key_a", "inner", "deep", "value_a", "state_value", "again", "key_b", "second",
    ]
    decoded = decode_message(encode_message(message))
    assert decoded.context[0] == (1, "user") and [cid for cid, _ in decoded.context] == [1, 2, 3, 4, 5, 6, 7, 8, 128, 200]


def test_reserved_names_become_reserved_references_at_every_depth():
    message = event_with("m", Map([("state", "on"), ("x", [Map([("$battery_level", Int(3))])])]))
    data = encode_message(message)
    assert b"state" not in data and b"$battery_level" not in data
    decoded = decode_message(data)
    inner = decoded.events[0].properties[0][1]
    assert inner.pairs[0][0] == Reserved(4)
    assert inner.pairs[1][1][0].pairs[0][0] == Reserved(1)
    # map of 2: key ref 08 (state) → string #9 "on"; custom #10 "x" → [ {key ref 02: int 3} ]
    assert data.endswith(bytes.fromhex("0a 02 08 07 09 15 09 01 0a 01 02 04 06"))


def test_section_7_6_value_examples():
    cases = [(UInt(3), "03 03"), (Int(44), "04 58"), (F32(36.5), "05 00 00 12 42"),
             (F64(3.141592653589793), "06 18 2d 44 54 fb 21 09 40"), (Bytes(b"\x00\xff\x10"), "08 03 00 ff 10"),
             (None, "00"), (False, "01"), (True, "02"), (Bytes(b""), "08 00")]
    for value, hex_bytes in cases:
        assert encode_message(event_with("k", value)).endswith(bytes.fromhex(hex_bytes)), value


def test_decode_then_encode_is_byte_identical_for_exotic_values():
    snan32 = F32.from_bits(struct.pack("<I", 0x7FA00001))
    qnan64 = F64.from_bits(struct.pack("<Q", 0x7FF8DEADBEEF0001))
    message = msg([Event("v", -(2 ** 40), [
        ("snan", snan32), ("qnan", qnan64), ("negzero32", F32(-0.0)), ("negzero64", F64(-0.0)),
        ("uint_small", UInt(1)), ("int_small", Int(1)), ("max", UInt(2 ** 64 - 1)), ("min", Int(-(2 ** 63))),
    ])])
    data = encode_message(message)
    decoded = decode_message(data)
    assert decoded == message
    assert encode_message(decoded) == data
    props = dict(decoded.events[0].properties)
    assert props["snan"].bits == struct.pack("<I", 0x7FA00001)
    assert props["uint_small"] != props["int_small"]
    assert math.copysign(1.0, props["negzero64"].value) == -1.0


def test_plain_python_values_follow_the_sdk_mapping():
    plain = event_with("k", {"n": 5, "neg": -5, "f": 0.5, "b": b"\x01", "t": ("a", "b"), "state": "x"})
    explicit = event_with("k", Map([("n", UInt(5)), ("neg", Int(-5)), ("f", F64(0.5)), ("b", Bytes(b"\x01")),
                                    ("t", ["a", "b"]), (Reserved(4), "x")]))
    assert encode_message(plain) == encode_message(explicit)
    assert decode_message(encode_message(plain)) == explicit


@pytest.mark.parametrize("value,error", [
    (object(), "cannot encode a value of type object"),
    ({1: "x"}, "a key must be str or Reserved"),
    ({1.5}, "cannot encode a value of type set"),
])
def test_unencodable_values_raise_type_errors(value, error):
    with pytest.raises(TypeError, match=error):
        encode_message(event_with("k", value))


@pytest.mark.parametrize("make,error", [
    (lambda: UInt(-1), ValueError), (lambda: UInt(2 ** 64), ValueError), (lambda: Int(2 ** 63), ValueError),
    (lambda: UInt(True), TypeError), (lambda: F32(1e39), ValueError), (lambda: F32("1"), TypeError),
    (lambda: Reserved(-1), ValueError), (lambda: Bytes("text"), TypeError), (lambda: Map([("k",)]), TypeError),
])
def test_value_constructors_refuse_bad_input(make, error):
    with pytest.raises(error):
        make()


def test_f32_rounds_to_single_precision():
    assert F32(0.1).value == struct.unpack("<f", struct.pack("<f", 0.1))[0] != 0.1
    assert F32(36.5).value == 36.5


def test_model_context_is_kept_in_id_order():
    assert Message(0, {7: "e", 1: "u"}, []).context == [(1, "u"), (7, "e")]


# ---------------------------------------------------------------------------- expansion (W9)


def test_expansion_promotes_context_and_names_reserved_keys_inside_maps():
    message = Message(1_700_000_000_000, required_context() + [(8, "sess"), (9, UInt(1)), (10, UInt(7)),
                                                               (128, Map([("gw", "a")]))], [
        Event("e", -250, [(Reserved(1), Int(50)), ("m", Map([(Reserved(4), "on"), ("f", F32(36.5))])),
                          ("b", Bytes(b"\x00\xab")), ("l", [UInt(1), Int(-1), None, False])]),
    ])
    validate_message(message, binary_properties=True)
    [event] = expand_events(message)
    assert event == {
        "distinct_id": "user-1",
        "event": "e",
        "timestamp": 1_699_999_999_750,
        "properties": {
            "$device_id": "device-1", "$device_model": "model-x", "$firmware_version": "1.0.0",
            "$sdk_platform": "posix", "$sdk_version": "0.0.0-generated", "$environment": "production",
            "$session_id": "sess",
            "$battery_level": 50, "m": {"state": "on", "f": 36.5}, "b": {"bytes_hex": "00ab"},
            "l": [1, -1, None, False],
        },
    }


def test_session_id_is_only_present_when_sent():
    [event] = expand_events(msg())
    assert "$session_id" not in event["properties"] and "distinct_id" not in event["properties"]


def test_float32_is_widened_exactly():
    [event] = expand_events(event_with("f", F32(0.1)))
    assert event["properties"]["f"] == struct.unpack("<f", struct.pack("<f", 0.1))[0]


def test_decoded_json_names_optional_and_extension_context_entries():
    message = msg(context=required_context() + [(9, UInt(2)), (10, UInt(1)), (128, Map([("state", "x")])),
                                                (129, [F64(math.nan)])])
    decoded = to_decoded_json(message)
    context = decoded["batch_context"]
    assert context["device_time_source"] == 2 and context["capabilities"] == 1
    assert context["extension_128"] == {"state": "x"} and context["extension_129"] == ["NaN"]
    assert decoded["flags"] == ["context_promotes_properties"] and decoded["message_kind"] == "event_batch"
    assert decoded["string_table"][-1] == "boot"

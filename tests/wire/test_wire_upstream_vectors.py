"""The nine upstream wire-v2 vectors (W12), through every layer of the codec."""

import pytest

from wire_vectors import UPSTREAM_DIR, frame_bytes, load_vectors, replay, vector_params
from harness.protocol import CONTEXT_IDS
from harness.wire import (
    Bytes, Event, Map, Message, WireError, chunk, decode_message, encode_message, expand_events, parse_frame, reassemble, to_decoded_json,
    validate_message,
)

VECTORS = vector_params(UPSTREAM_DIR)
#: every vector but duplicate-continuation, whose frames stop before the final one
COMPLETE = [v for v in VECTORS if v.values[0]["name"] != "duplicate-continuation"]
MULTI_FRAME_MAX = 40  # W5.5 worked example A: the upstream multi-frame vectors use F = 40


def intended_message(vector):
    """The message the vector's frames carry; None when the frames never complete it."""
    parsed = [parse_frame(bytes.fromhex(f["hex"])) for f in vector["frames"] if f["kind"] != "duplicate"]
    if parsed[-1].more:
        return None
    if len(parsed) == 1:
        return parsed[0].payload
    return b"".join(p.payload for p in sorted(parsed, key=lambda p: p.offset))


def model_from_decoded_json(decoded):
    """Rebuild a Message from the vector's decoded form with the SDK's value mapping (contract 2.3);
    enough for vectors without floats, whose JSON form loses the tag."""
    names = {name: cid for cid, name in CONTEXT_IDS.items()}

    def value(v):
        if isinstance(v, dict):
            return Bytes(bytes.fromhex(v["bytes_hex"])) if set(v) == {"bytes_hex"} else \
                Map([(k, value(x)) for k, x in v.items()])
        if isinstance(v, list):
            return [value(x) for x in v]
        return v

    context = [(names[k] if k in names else int(k.split("_")[1]), value(v)) for k, v in decoded["batch_context"].items()]
    events = [Event(e["event"], e["time_delta_ms"], [next(iter(p.items())) for p in e["properties"]])
              for e in decoded["events"]]
    for e in events:
        e.properties = [(k, value(v)) for k, v in e.properties]
    return Message(decoded["base_time_ms"], context, events)


def test_all_nine_vectors_are_present():
    assert sorted(v["name"] for v in load_vectors(UPSTREAM_DIR)) == sorted([
        "single-required-context", "single-custom-properties", "multi-frame-non-value-boundary",
        "duplicate-continuation", "crc-failure", "duplicate-reserved-property", "maximum-sdk-limit",
        "value-types", "metadata-context"])


@pytest.mark.parametrize("vector", VECTORS)
def test_every_frame_parses(vector):
    for frame, body in zip(vector["frames"], frame_bytes(vector)):
        parsed = parse_frame(body)
        assert parsed.offset == frame.get("offset", 0)
        expected_kind = {"single": ("single",), "init": ("init",), "corrupt-final": ("single", "final"),
                         "continuation": ("middle", "final"), "duplicate": ("middle", "final")}[frame["kind"]]
        assert parsed.kind in expected_kind


@pytest.mark.parametrize("vector", VECTORS)
def test_expected_code_and_stored_events_through_the_receiver_path(vector):
    verdict = replay(vector)
    assert verdict.status == vector["expected_capture_response_code"], verdict.reason
    assert verdict.events == vector["expanded_event_json"]


@pytest.mark.parametrize("vector", COMPLETE)
def test_message_decodes_to_the_vector_form_and_re_encodes_byte_identically(vector):
    data = intended_message(vector)
    message = decode_message(data)
    assert to_decoded_json(message) == vector["decoded_compact_message"]
    assert encode_message(message) == data


@pytest.mark.parametrize("vector", COMPLETE)
def test_re_chunking_reproduces_the_frames(vector):
    unique = [bytes.fromhex(f["hex"]) for f in vector["frames"] if f["kind"] != "duplicate"]
    data = intended_message(vector)
    message_id = parse_frame(unique[0]).message_id
    max_frame = MULTI_FRAME_MAX if len(unique) > 1 else 4096
    produced = chunk(data, message_id, max_frame)
    if vector["name"] == "crc-failure":
        # the vector's CRC is one bit off the true one; everything before it is identical
        [body], [good] = unique, produced
        assert body[:-2] == good[:-2]
        assert bin(int.from_bytes(body[-2:], "little") ^ int.from_bytes(good[-2:], "little")).count("1") == 1
    else:
        assert produced == unique


def test_incomplete_vector_matches_its_decoded_form():
    """duplicate-continuation stops at 74 of 109 bytes: its decoded form, encoded canonically and
    chunked at F = 40, must begin with exactly the frames the vector sends."""
    vector = next(v for v in load_vectors(UPSTREAM_DIR) if v["name"] == "duplicate-continuation")
    data = encode_message(model_from_decoded_json(vector["decoded_compact_message"]))
    init = parse_frame(frame_bytes(vector)[0])
    assert len(data) == init.total_length == 109
    produced = chunk(data, init.message_id, MULTI_FRAME_MAX)
    assert len(produced) == 3
    assert produced[:2] == frame_bytes(vector)[:2] and frame_bytes(vector)[2] == produced[1]
    assert to_decoded_json(decode_message(data)) == vector["decoded_compact_message"]


@pytest.mark.parametrize("vector", [v for v in VECTORS if v.values[0]["expected_capture_response_code"] == 204])
def test_expansion_of_accepted_vectors(vector):
    message = decode_message(intended_message(vector))
    validate_message(message)
    assert expand_events(message) == vector["expanded_event_json"]


def test_multi_frame_reassembly_and_duplicate():
    vectors = {v["name"]: v for v in load_vectors(UPSTREAM_DIR)}
    assert reassemble(frame_bytes(vectors["multi-frame-non-value-boundary"])) == \
        intended_message(vectors["multi-frame-non-value-boundary"])
    with pytest.raises(ValueError, match="74 of 109 bytes"):
        reassemble(frame_bytes(vectors["duplicate-continuation"]))


def test_crc_failure_is_detected_before_decoding():
    vector = next(v for v in load_vectors(UPSTREAM_DIR) if v["name"] == "crc-failure")
    [body] = frame_bytes(vector)
    assert body[-2:] == bytes.fromhex("88 08")
    with pytest.raises(WireError) as err:
        reassemble([body])
    assert err.value.status == 400 and "0x0888" in err.value.reason and "0x0889" in err.value.reason
    # the payload itself is a valid message: the CRC alone decides
    decode_message(intended_message(vector))


def test_value_types_is_422_with_binary_off_and_stored_with_binary_on():
    vector = next(v for v in load_vectors(UPSTREAM_DIR) if v["name"] == "value-types")
    off = replay(vector, binary_properties=False)
    assert off.status == 422 and "bytes" in off.reason
    on = replay(vector, binary_properties=True)
    assert on.status == 204
    [event] = on.events
    assert event["properties"]["payload"] == {"bytes_hex": "00ff10"}
    assert event["properties"]["temperature_f32"] == 36.5
    assert event["properties"]["voltage_f64"] == 3.141592653589793


def test_duplicate_reserved_property_names_the_key():
    vector = next(v for v in load_vectors(UPSTREAM_DIR) if v["name"] == "duplicate-reserved-property")
    verdict = replay(vector)
    assert verdict.status == 422 and "$battery_level repeated" in verdict.reason

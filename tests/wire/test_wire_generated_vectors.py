"""The project's generated vectors: no drift from the generator, and each one holds."""

import json

import pytest

from wire_vectors import GENERATED_DIR, frame_bytes, load_vectors, replay, vector_params
from harness.protocol import SDK_LIMITS
from harness.wire import Int, Map, chunk, decode_message, encode_message, parse_frame, reassemble, to_decoded_json
from harness.wire import vectorgen

VECTORS = vector_params(GENERATED_DIR)


def test_generated_vectors_match_the_generator(tmp_path):
    vectorgen.main([str(tmp_path)])
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.json")}
    committed = {p.name: p.read_text() for p in GENERATED_DIR.glob("*.json")}
    assert sorted(committed) == sorted(fresh), \
        "regenerate with: python -m harness.wire.vectorgen conformance/vectors/generated (and delete stale files)"
    drifted = [name for name in fresh if fresh[name] != committed[name]]
    assert not drifted, f"vectors differ from the generator: {drifted}"


def test_generation_is_deterministic():
    assert json.dumps(vectorgen.generate(), sort_keys=True) == json.dumps(vectorgen.generate(), sort_keys=True)


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_is_well_formed(vector):
    assert vector["wire_format"] == "honch-wire-v2"
    assert (GENERATED_DIR / f"{vector['name']}.json").exists()
    assert vector["frames"] and all(set(f) <= {"kind", "hex", "offset"} for f in vector["frames"])
    assert vector["expected_capture_response_code"] in (202, 204, 400, 409, 413, 422)
    if vector["expected_capture_response_code"] != 204:
        assert vector["expanded_event_json"] == []


@pytest.mark.parametrize("vector", VECTORS)
def test_expected_code_and_events_through_the_receiver_path(vector):
    verdict = replay(vector)
    assert verdict.status == vector["expected_capture_response_code"], verdict.reason
    assert verdict.events == vector["expanded_event_json"]


@pytest.mark.parametrize("vector", [v for v in VECTORS if "max_frame" in v.values[0]
                                    and v.values[0]["expected_capture_response_code"] == 204])
def test_chunked_vectors_re_chunk_identically(vector):
    frames = frame_bytes(vector)
    message = reassemble([f for f, meta in zip(frames, vector["frames"]) if meta["kind"] != "duplicate"])
    assert chunk(message, vector["message_id"], vector["max_frame"]) == \
        [f for f, meta in zip(frames, vector["frames"]) if meta["kind"] != "duplicate"]
    assert all(len(f) <= vector["max_frame"] for f in frames)


@pytest.mark.parametrize("vector", [v for v in VECTORS if v.values[0]["decoded_compact_message"] is not None
                                    and v.values[0]["expected_capture_response_code"] in (204, 422)])
def test_decoded_form_and_byte_identity(vector):
    frames = [f for f, meta in zip(frame_bytes(vector), vector["frames"]) if meta["kind"] != "duplicate"]
    data = reassemble(frames)
    message = decode_message(data)
    assert to_decoded_json(message) == vector["decoded_compact_message"]
    if vector["name"] not in ("custom-key-spells-reserved-name", "map-key-spells-reserved-name"):
        assert encode_message(message) == data  # those two are deliberately not canonical


def test_coverage_of_what_upstream_lacks():
    by_name = {v["name"]: v for v in load_vectors(GENERATED_DIR)}
    two_byte = by_name["multi-frame-two-byte-message-id"]
    assert two_byte["message_id"] >= 128 and len(two_byte["frames"]) > 2
    assert any(f["offset"] >= 128 for f in two_byte["frames"])
    biggest = by_name["max-size-two-frames"]
    frames = frame_bytes(biggest)
    assert len(frames) == 2 and len(frames[0]) == SDK_LIMITS.frame
    message = reassemble(frames)
    assert len(message) == SDK_LIMITS.message
    decode_message(message, SDK_LIMITS)  # within every SDK limit
    every = by_name["every-tag"]["decoded_compact_message"]
    assert {"$session_id", "device_time_source", "capabilities", "extension_128"} <= set(every["batch_context"])
    tags = {bytes.fromhex(f["hex"])[0] for f in by_name["every-tag"]["frames"]}
    assert tags == {0x02}
    codes = {v["expected_capture_response_code"] for v in by_name.values()}
    assert codes == {202, 204, 400, 409, 413, 422}


def test_every_tag_vector_uses_every_tag_but_bytes():
    vector = next(v for v in load_vectors(GENERATED_DIR) if v["name"] == "every-tag")
    message = decode_message(parse_frame(frame_bytes(vector)[0]).payload)
    seen = set()

    def walk(value):
        seen.add(repr(value) if value is None or isinstance(value, bool) else type(value).__name__)
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, Map):
            for _, item in value.pairs:
                walk(item)

    for event in message.events:
        for _, value in event.properties:
            walk(value)
    assert {"None", "False", "True", "UInt", "Int", "F32", "F64", "str", "list", "Map"} <= seen
    negative = [v for e in message.events for _, v in e.properties if isinstance(v, Int) and v.value < 0]
    assert negative and any(e.time_delta_ms < 0 for e in message.events)

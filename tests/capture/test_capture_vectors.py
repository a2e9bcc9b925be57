"""Upstream vectors through real HTTP, and the W6 reassembly table as the mock applies it."""

from __future__ import annotations

import pytest

from capture_helpers import FakeClock, load_vectors, post, vector
from harness import wire
from harness.capture import CaptureServer, ControlClient

VECTORS = load_vectors()


def stored(events: list[dict]) -> list[dict]:
    return [{k: v for k, v in event.items() if k != "_meta"} for event in events]


def frames_of(name: str) -> list[bytes]:
    return [bytes.fromhex(frame["hex"]) for frame in vector(name)["frames"]]


def test_all_nine_upstream_vectors_are_present():
    assert len(VECTORS) == 9


@pytest.mark.parametrize("case", VECTORS, ids=[v["name"] for v in VECTORS])
def test_upstream_vector_gets_its_code_and_events(server, tenant, case):
    stream_id = f"{VECTORS.index(case) + 1:08x}"  # W12: a fresh stream id per vector
    frames = [bytes.fromhex(frame["hex"]) for frame in case["frames"]]
    for body in frames[:-1]:
        assert post(server.port, body, stream_id=stream_id).status == 202
    assert post(server.port, frames[-1], stream_id=stream_id).status == case["expected_capture_response_code"]
    events = tenant.events()
    assert stored(events) == case["expanded_event_json"]
    message_id = wire.parse_frame(frames[0]).message_id
    for event in events:
        assert (event["_meta"]["stream_id"], event["_meta"]["message_id"]) == (stream_id, message_id)
        assert isinstance(event["_meta"]["received_at"], int)


def test_binary_properties_option_accepts_bytes(server, control):
    control.create_tenant("test-key", binary_properties=True)
    [body] = frames_of("value-types")
    assert post(server.port, body).status == 204
    [event] = control.tenant("test-key").events()
    assert event["properties"]["payload"] == {"bytes_hex": "00ff10"}
    assert event["properties"]["temperature_f32"] == 36.5


def test_reset_turns_binary_properties_off_again(server, control):
    tenant = control.create_tenant("test-key", binary_properties=True)
    tenant.reset()
    assert post(server.port, frames_of("value-types")[0]).status == 422


INIT, MIDDLE, FINAL = frames_of("multi-frame-non-value-boundary")


def test_repeated_identical_init_is_idempotent(server, tenant):
    assert [post(server.port, f).status for f in (INIT, INIT, MIDDLE, FINAL)] == [202, 202, 202, 204]
    assert len(tenant.events()) == 1


def test_differing_init_is_409_and_changes_nothing(server, tenant):
    other = wire.encode_frame("init", 3, b"\x02\x01", total_length=109)
    assert [post(server.port, f).status for f in (INIT, other, MIDDLE, FINAL)] == [202, 409, 202, 204]


def test_gap_is_409_and_changes_nothing(server, tenant):
    assert [post(server.port, f).status for f in (INIT, FINAL, MIDDLE, FINAL)] == [202, 409, 202, 204]


def test_conflicting_duplicate_is_409(server, tenant):
    conflicting = bytearray(MIDDLE)
    conflicting[-1] ^= 0xFF
    assert [post(server.port, f).status for f in (INIT, MIDDLE, bytes(conflicting), FINAL)] == [202, 202, 409, 204]


def test_continuation_after_completion_is_409(server, tenant):
    assert [post(server.port, f).status for f in (INIT, MIDDLE, FINAL, FINAL)] == [202, 202, 204, 409]
    assert len(tenant.events()) == 1


def test_resending_a_completed_message_stores_it_again(server, tenant):
    """W6: no state is kept after completion; delivery is at-least-once."""
    statuses = [post(server.port, f).status for f in (INIT, MIDDLE, FINAL) * 2]
    assert statuses == [202, 202, 204] * 2
    assert len(tenant.events()) == 2


def test_middle_reaching_total_length_is_400_and_changes_nothing(server, tenant):
    too_long = wire.encode_frame("middle", 3, b"\x00" * 80, offset=37)
    assert [post(server.port, f).status for f in (INIT, too_long, MIDDLE, FINAL)] == [202, 400, 202, 204]


def test_partials_are_separated_by_stream_id(server, tenant):
    assert post(server.port, INIT, stream_id="aaaaaaaa").status == 202
    assert post(server.port, MIDDLE, stream_id="bbbbbbbb").status == 409
    assert post(server.port, MIDDLE, stream_id="aaaaaaaa").status == 202


def test_partials_are_separated_by_project_key(server, control):
    control.create_tenant("key-a")
    control.create_tenant("key-b")
    assert post(server.port, INIT, key="key-a").status == 202
    assert post(server.port, MIDDLE, key="key-b").status == 409
    assert [post(server.port, f, key="key-a").status for f in (MIDDLE, FINAL)] == [202, 204]
    assert control.tenant("key-b").events() == []


def test_reset_discards_partials(server, tenant):
    assert post(server.port, INIT).status == 202
    tenant.reset()
    assert post(server.port, MIDDLE).status == 409


@pytest.fixture
def clocked():
    clock = FakeClock()
    with CaptureServer(partial_ttl=60, clock=clock) as running, ControlClient(running.url) as client:
        client.create_tenant("test-key")
        yield running, clock, client


def test_partial_expires_after_its_ttl(clocked):
    server, clock, client = clocked
    assert post(server.port, INIT).status == 202
    clock.advance(60)
    answer = post(server.port, MIDDLE)
    assert answer.status == 409 and "expired" in answer.json["reason"]
    assert client.health()["partial_ttl"] == 60


def test_partial_lives_until_its_ttl(clocked):
    server, clock, client = clocked
    assert post(server.port, INIT).status == 202
    clock.advance(59)
    assert [post(server.port, f).status for f in (MIDDLE, FINAL)] == [202, 204]
    [entry, *_] = client.tenant("test-key").requests()
    assert entry["t"] == 1000.0  # request times come from the same clock

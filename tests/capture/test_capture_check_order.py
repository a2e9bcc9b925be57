"""The W10 mock check order over real sockets: every step on its own, then each
step against the next one (the earlier step must win)."""

from __future__ import annotations

import pytest

from capture_helpers import exchange, post, request_bytes, vector, without_header
from harness import protocol as P
from harness import wire
from harness.capture import CaptureServer, ControlClient
from harness.wire import Event, Message

CONTEXT = [(1, "user-1"), (2, "device-1"), (3, "model-x"), (4, "1.0.0"), (5, "posix"), (6, "0.1.0"),
           (7, "production")]


def message(*events: Event) -> bytes:
    return wire.encode_message(Message(1_700_000_000_000, CONTEXT, list(events) or [Event("boot")]))


def single(payload: bytes, message_id: int = 1) -> bytes:
    return wire.encode_frame("single", message_id, payload)


VALID = single(message())
TOO_MANY_EVENTS = message(*[Event("tick")] * (P.CAPTURE_LIMITS.events + 1))


def test_a_conforming_request_is_stored(server, tenant):
    answer = post(server.port, VALID)
    assert answer.status == 204
    assert answer.body == b""
    [event] = tenant.events()
    assert event["event"] == "boot" and event["distinct_id"] == "user-1"
    assert event["_meta"]["stream_id"] == "1a2b3c4d" and event["_meta"]["message_id"] == 1


# (test id, request as keyword arguments of request_bytes, expected status, words of the reason)
SINGLE_FAULTS = [
    ("other path", dict(path="/events"), 404, "not /capture"),
    ("trailing slash", dict(path="/capture/"), 404, "not /capture"),
    ("query string", dict(path="/capture?x=1"), 404, "not /capture"),
    ("GET", dict(method="GET"), 405, "use POST"),
    ("PUT", dict(method="PUT"), 405, "use POST"),
    ("no key", dict(key=None), 401, "missing X-Honch-Project-Key"),
    ("empty key", dict(key=""), 401, "empty X-Honch-Project-Key"),
    ("unknown key", dict(key="some-other-key"), 401, "unknown project key"),
    ("no content type", dict(content_type=None), 415, "missing Content-Type"),
    ("wrong content type", dict(content_type="application/octet-stream"), 415, "is not application/vnd.honch.chunk"),
    ("content type parameter", dict(content_type=P.CONTENT_TYPE + "; charset=binary"), 415, "has parameters"),
    ("content encoding", dict(extra=[("Content-Encoding", "identity")]), 415, "Content-Encoding"),
    ("HTTP/1.0", dict(version="HTTP/1.0"), 400, "not HTTP/1.1"),
    ("no content length", dict(content_length=None), 400, "missing Content-Length"),
    ("content length not decimal", dict(content_length="0x20"), 400, "not a decimal number"),
    ("negative content length", dict(content_length="-5"), 400, "not a decimal number"),
    ("transfer encoding", dict(extra=[("Transfer-Encoding", "chunked")]), 400, "Transfer-Encoding"),
    ("repeated content type", dict(extra=[("content-type", P.CONTENT_TYPE)]), 400, "appears 2 times"),
    ("repeated stream id", dict(extra=[(P.HEADER_STREAM_ID, "1a2b3c4d")]), 400, "appears 2 times"),
    ("repeated connection type", dict(extra=[("X-Connection-Type", "wifi")] * 2), 400, "appears 2 times"),
    ("stream id too long", dict(stream_id="a" * (P.STREAM_ID_MAX_LEN + 1)), 400, "at most 64"),
    ("stream id with a space", dict(stream_id="1a2b 3c4d"), 400, "outside 0x21-0x7E"),
    ("empty stream id", dict(stream_id=""), 400, "is empty"),
    ("content length above 64 KiB", dict(content_length=P.CAPTURE_LIMITS.frame + 1), 413, "frame limit"),
]


@pytest.mark.parametrize("kwargs, status, words", [case[1:] for case in SINGLE_FAULTS],
                         ids=[case[0] for case in SINGLE_FAULTS])
def test_each_header_step_answers_its_code(server, tenant, kwargs, status, words):
    # The oversized case sends no body at all: the answer must come without reading one.
    body = b"" if status == 413 else VALID
    answer = exchange(server.port, request_bytes(body, port=server.port, **kwargs))
    assert answer.status == status, answer
    assert words in answer.json["reason"]
    assert set(answer.json) == {"error", "reason"}
    assert tenant.events() == []
    if status == 405:
        assert answer.headers["allow"] == "POST"


def test_content_type_is_compared_case_insensitively(server, tenant):
    assert post(server.port, VALID, content_type=P.CONTENT_TYPE.upper()).status == 204


def test_missing_host_is_400(server, tenant):
    answer = exchange(server.port, without_header(request_bytes(VALID, port=server.port), "Host"))
    assert (answer.status, answer.json["reason"]) == (400, "missing Host header")


def test_truncated_body_is_400(server, tenant):
    data = request_bytes(VALID, port=server.port, content_length=len(VALID) + 5)
    answer = exchange(server.port, data, shut_write=True)
    assert answer.status == 400
    assert f"after {len(VALID)} of {len(VALID) + 5} bytes" in answer.json["reason"]


def test_bytes_after_the_body_of_a_closing_request_are_not_processed(server, tenant):
    """Content-Length delimits the body; what follows a ``Connection: close`` request is
    never a request (RFC 9112 9.6), so it neither changes this verdict nor gets one."""
    answer = exchange(server.port, request_bytes(VALID + b"\x00\x00", port=server.port, content_length=len(VALID)))
    assert answer.status == 204 and answer.raw.count(b"HTTP/1.1") == 1
    assert len(tenant.events()) == 1 and len(tenant.requests()) == 1


def test_single_frame_without_stream_id_is_accepted(server, tenant):
    assert post(server.port, VALID, stream_id=None).status == 204
    assert tenant.events()[0]["_meta"]["stream_id"] == ""


def test_sdk_limits_option_lowers_the_frame_limit(server, control):
    control.create_tenant("test-key", limits="sdk")
    answer = post(server.port, b"", content_length=P.SDK_LIMITS.frame + 1)
    assert answer.status == 413 and str(P.SDK_LIMITS.frame) in answer.json["reason"]


def test_oversized_body_is_answered_before_it_is_sent(server, tenant):
    """413 comes while the client still holds the body: the server never waits for it."""
    import socket
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request_bytes(b"", port=server.port, content_length=10 * 1024 * 1024))
        head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 413 ")
        # the server drains what the client goes on sending instead of resetting
        sock.sendall(b"\x00" * 100_000)


FRAME_FAULTS = [
    ("empty body", b"", 400),
    ("garbage", b"\xff\x00garbage", 400),
    ("reserved header bit", b"\x82" + VALID[1:], 400),
    ("init total_length above the message limit",
     wire.encode_frame("init", 1, b"\x02", total_length=P.CAPTURE_LIMITS.message + 1), 413),
    ("continuation without a partial", wire.encode_frame("final", 1, b"\x00", offset=5, crc=0), 409),
    ("CRC mismatch", bytes.fromhex(vector("crc-failure")["frames"][0]["hex"]), 400),
    ("trailing byte after the message", single(message() + b"\x00"), 400),
    ("more events than the capture limit", single(TOO_MANY_EVENTS), 413),
    ("empty event name", single(message(Event(""))), 422),
]


@pytest.mark.parametrize("body, status", [case[1:] for case in FRAME_FAULTS], ids=[case[0] for case in FRAME_FAULTS])
def test_each_frame_step_answers_its_code(server, tenant, body, status):
    answer = post(server.port, body)
    assert answer.status == status, answer
    assert answer.json["reason"]
    assert tenant.events() == []


def test_init_without_stream_id_is_400(server, tenant):
    frames = wire.chunk(message(), 3, max_frame=40)
    answer = post(server.port, frames[0], stream_id=None)
    assert answer.status == 400 and "without X-Honch-Stream-Id" in answer.json["reason"]


# Two faults in one request: the earlier step of W10 decides the answer.
def _both(port, **kwargs):
    return request_bytes(kwargs.pop("body", VALID), port=port, **kwargs)


PRECEDENCE = [
    ("path before method", dict(path="/x", method="GET", key=None, content_type=None), 404),
    ("method before key", dict(method="GET", key=None, content_type=None), 405),
    ("key before content type", dict(key=None, content_type="text/plain", content_length=None), 401),
    ("content type before framing headers", dict(content_type="text/plain", content_length="abc"), 415),
    ("content encoding before transfer encoding", dict(extra=[("Content-Encoding", "gzip"),
                                                              ("Transfer-Encoding", "chunked")]), 415),
    ("framing headers before size", dict(body=b"", stream_id="", content_length=1_000_000), 400),
    ("size before frame", dict(body=b"", content_length=P.CAPTURE_LIMITS.frame + 1), 413),
    ("stream id presence before total_length", dict(
        body=wire.encode_frame("init", 1, b"\x02", total_length=P.CAPTURE_LIMITS.message + 1), stream_id=None), 400),
    ("structure before limits", dict(body=single(TOO_MANY_EVENTS + b"\x00")), 400),
    ("limits before semantics", dict(body=single(message(*[Event("")] * (P.CAPTURE_LIMITS.events + 1)))), 413),
]


@pytest.mark.parametrize("kwargs, status", [case[1:] for case in PRECEDENCE], ids=[case[0] for case in PRECEDENCE])
def test_earlier_step_wins(server, tenant, kwargs, status):
    assert exchange(server.port, _both(server.port, **kwargs)).status == status


def test_crc_is_checked_before_decoding(server, tenant):
    payload = message() + b"\x00"  # would be a structural 400 too, but the CRC must be the reason
    frame = wire.encode_frame("single", 1, payload, crc=wire.crc16(payload) ^ 1)
    answer = post(server.port, frame)
    assert answer.status == 400 and "CRC" in answer.json["reason"]


def test_prefix_moves_the_capture_path():
    with CaptureServer(prefix="/base/") as prefixed, ControlClient(prefixed.url) as client:
        tenant = client.create_tenant("test-key")
        assert prefixed.capture_url.endswith("/base/capture")
        assert client.endpoint == prefixed.url + "/base"
        assert post(prefixed.port, VALID).status == 404
        assert post(prefixed.port, VALID, path="/base/capture").status == 204
        assert len(tenant.events()) == 1


def test_requests_to_other_paths_are_logged_for_the_tenant(server, tenant):
    post(server.port, VALID, path="/v1/capture")
    [entry] = tenant.requests()
    assert (entry["path"], entry["status"]) == ("/v1/capture", 404)


def test_repeated_project_key_with_different_values_is_401(server, control):
    control.create_tenant("test-key")
    control.create_tenant("other-key")
    answer = post(server.port, VALID, extra=[(P.HEADER_PROJECT_KEY, "other-key")])
    assert answer.status == 401 and "different values" in answer.json["reason"]


def test_repeated_identical_project_key_is_400(server, tenant):
    answer = post(server.port, VALID, extra=[(P.HEADER_PROJECT_KEY.lower(), "test-key")])
    assert answer.status == 400 and "appears 2 times" in answer.json["reason"]
    assert "test-key" not in answer.json["reason"]

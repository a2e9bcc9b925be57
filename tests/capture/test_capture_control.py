"""The control API over real sockets: tenants, options, events, request log,
redaction, memory bounds, --open and the control token."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from capture_helpers import Answer, exchange, post, read_to_end, request_bytes, vector
from harness import protocol as P
from harness import wire
from harness.capture import CaptureServer, ControlClient, ControlError
from harness.capture import tenants as tenants_module
from harness.capture.server import is_loopback

VALID = bytes.fromhex(vector("single-required-context")["frames"][0]["hex"])
TWO_EVENTS = bytes.fromhex(vector("single-custom-properties")["frames"][0]["hex"])


def test_put_creates_then_resets(server, control):
    tenant = control.tenant("test-key")
    created = tenant.reset()
    assert created["created"] is True and created["alias"].startswith("k-")
    post(server.port, VALID)
    tenant.add_faults({"status": 500, "persistent": True})
    assert tenant.info()["events"] == 1
    reset = control.call("PUT", "/_hil/tenants/test-key", {})
    assert reset["created"] is False
    assert tenant.events() == [] and tenant.requests() == [] and tenant.pending_faults() == []


def test_put_answers_201_then_200(server):
    url = f"{server.url}/_hil/tenants/test-key"
    assert requests.put(url, json={}).status_code == 201
    assert requests.put(url, json={}).status_code == 200
    assert requests.put(url).status_code == 200  # no body means no options


def test_tenant_info_shows_options(control):
    info = control.create_tenant("test-key", binary_properties=True, limits="sdk").info()
    assert info["options"]["binary_properties"] is True
    assert info["options"]["limits"]["frame"] == P.SDK_LIMITS.frame


BAD_OPTIONS = [
    ({"binary": True}, "unknown tenant option 'binary'"),
    ({"binary_properties": 1}, "binary_properties must be true or false"),
    ({"limits": "huge"}, 'limits must be "capture", "sdk"'),
    ({"limits": {"events": 10}}, "below the SDK limit 50"),
    ({"limits": {"frames": 10_000}}, "unknown limit 'frames'"),
    ({"limits": {"message": 1 << 40}}, "above the server maximum"),
]


@pytest.mark.parametrize("options, words", BAD_OPTIONS, ids=[json.dumps(o) for o, _ in BAD_OPTIONS])
def test_bad_options_are_refused_with_the_reason(control, options, words):
    with pytest.raises(ControlError) as refused:
        control.create_tenant("test-key", **options)
    assert refused.value.status == 400 and words in refused.value.reason


def test_raised_event_limit_accepts_a_bigger_message(server, control):
    big = wire.encode_frame("single", 1, wire.encode_message(wire.Message(
        1_700_000_000_000, [(i, f"v{i}") for i in range(1, 8)], [wire.Event("tick")] * 600)))
    control.create_tenant("test-key")
    assert post(server.port, big).status == 413
    control.create_tenant("test-key", limits={"events": 600})
    assert post(server.port, big).status == 204
    assert len(control.tenant("test-key").events()) == 600


def test_events_have_the_documented_shape_in_arrival_order(server, tenant):
    post(server.port, TWO_EVENTS, stream_id="00000001")
    post(server.port, VALID, stream_id="00000002")
    events = tenant.events()
    assert [e["event"] for e in events] == ["sample", "boot"]
    for event in events:
        assert set(event) == {"event", "distinct_id", "timestamp", "properties", "_meta"}
        assert set(event["_meta"]) == {"stream_id", "message_id", "received_at", "request_t"}
    assert [e["_meta"]["stream_id"] for e in events] == ["00000001", "00000002"]


def test_request_log_records_every_request(server, tenant):
    post(server.port, VALID)
    post(server.port, b"junk", stream_id="x")
    post(server.port, VALID, content_type="text/plain")
    entries = tenant.requests()
    assert [e["status"] for e in entries] == [204, 400, 415]
    first = entries[0]
    assert {"t", "path", "headers", "body_hex", "status", "reason", "fault"} <= set(first)
    assert isinstance(first["t"], float) and entries[0]["t"] <= entries[1]["t"] <= entries[2]["t"]
    assert first["path"] == "/capture"
    assert first["headers"]["content-type"] == P.CONTENT_TYPE  # case-insensitive on the client
    assert first["body_hex"] == VALID.hex()
    assert first["frame"] == {"kind": "single", "message_id": 1, "offset": 0}
    assert first["events"] == 1
    assert entries[1]["body_hex"] == b"junk".hex()


def test_project_key_is_redacted_everywhere_in_the_log(server, control):
    key = "secret-project-key-123"
    tenant = control.create_tenant(key)
    post(server.port, VALID, key=key, extra=[("X-Connection-Type", f"wifi-{key}")])
    post(server.port, VALID, key=key, path=f"/capture?k={key}")
    log = json.dumps(tenant.requests(), default=dict)
    assert key not in log
    entry = tenant.requests()[0]
    assert entry["headers"][P.HEADER_PROJECT_KEY] == "<redacted>"
    assert entry["headers"]["X-Connection-Type"] == "wifi-<redacted>"


def test_request_log_is_bounded(server, tenant, monkeypatch):
    monkeypatch.setattr(tenants_module, "MAX_LOGGED_REQUESTS", 3)
    for stream in range(5):
        post(server.port, VALID, stream_id=f"{stream:08x}")
    answer = tenant._call("GET", "/requests")
    assert answer["dropped"] == 2
    assert [json.loads(json.dumps(e))["headers"][P.HEADER_STREAM_ID] for e in answer["requests"]] == \
        ["00000002", "00000003", "00000004"]


def test_stored_events_are_bounded(server, tenant, monkeypatch):
    monkeypatch.setattr(tenants_module, "MAX_STORED_EVENTS", 2)
    for _ in range(3):
        post(server.port, VALID)
    answer = tenant._call("GET", "/events")
    assert (len(answer["events"]), answer["dropped"]) == (2, 1)


def test_deleted_tenant_is_gone(server, control):
    tenant = control.create_tenant("test-key")
    tenant.delete()
    with pytest.raises(ControlError) as refused:
        tenant.events()
    assert refused.value.status == 404
    assert post(server.port, VALID).status == 401
    with pytest.raises(ControlError):
        tenant.delete()


def test_open_server_creates_tenants_for_unknown_keys():
    with CaptureServer(open_tenants=True) as server, ControlClient(server.url) as control:
        assert control.health()["open"] is True
        assert post(server.port, VALID, key="never-registered").status == 204
        assert len(control.tenant("never-registered").events()) == 1
        assert post(server.port, VALID, key=None).status == 401


def test_keys_with_reserved_url_characters_round_trip(server, control):
    key = "a/b%c?d#e"
    tenant = control.create_tenant(key)
    assert post(server.port, VALID, key=key).status == 204
    assert len(tenant.events()) == 1


def test_key_that_cannot_be_a_header_value_is_refused(control):
    with pytest.raises(ControlError) as refused:
        control.create_tenant("has space")
    assert refused.value.status == 400 and "0x21-0x7E" in refused.value.reason


def test_health(control):
    health = control.health()
    assert health["status"] == "ok" and health["capture_path"] == "/capture"
    assert health["partial_ttl"] == P.PARTIAL_TTL_SECONDS
    assert health["internal_errors"] == 0


CONTROL_ERRORS = [
    ("GET /_hil/nothing", b"GET /_hil/nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    ("POST health", b"POST /_hil/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
    ("invalid JSON", b"PUT /_hil/tenants/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{nope", 400),
    ("deep JSON", b"PUT /_hil/tenants/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"[" * 100000, 400),
    ("body above 1 MiB", b"PUT /_hil/tenants/k HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
    ("repeated Content-Length", b"PUT /_hil/tenants/k HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
     b"Content-Length: 2\r\n\r\n{}", 400),
    ("chunked", b"PUT /_hil/tenants/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
]


@pytest.mark.parametrize("data, status", [c[1:] for c in CONTROL_ERRORS], ids=[c[0] for c in CONTROL_ERRORS])
def test_control_errors(server, data, status):
    answer = exchange(server.port, data)
    assert answer.status == status and answer.json["reason"]


def test_wrong_method_names_the_allowed_ones(server):
    answer = exchange(server.port, b"PATCH /_hil/tenants/k HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.status == 405 and answer.headers["allow"] == "PUT, GET, DELETE"


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                            ("0.0.0.0", False), ("", False), ("::", False)])
def test_loopback_detection(host, loopback):
    assert is_loopback(host) is loopback


def test_non_loopback_bind_needs_a_token():
    with pytest.raises(ValueError, match="control token"):
        CaptureServer(host="0.0.0.0")


def test_token_guards_the_control_api_but_not_capture():
    token = "lab-token-42"
    with CaptureServer(host="0.0.0.0", control_token=token) as server:
        assert server.url.startswith("http://127.0.0.1:")
        with ControlClient(server.url) as anonymous, ControlClient(server.url, "wrong") as wrong:
            for client in (anonymous, wrong):
                with pytest.raises(ControlError) as refused:
                    client.create_tenant("test-key")
                assert refused.value.status == 401
        raw = requests.get(f"{server.url}/_hil/health")
        assert raw.status_code == 401 and raw.headers["WWW-Authenticate"] == "Bearer"
        with ControlClient(server.url, token) as client:
            tenant = client.create_tenant("test-key")
            assert post(server.port, VALID).status == 204
            assert len(tenant.events()) == 1
            assert token not in json.dumps(tenant.requests(), default=dict)


def test_token_on_loopback_is_enforced_too():
    with CaptureServer(control_token="t") as server:
        assert requests.get(f"{server.url}/_hil/health").status_code == 401
        assert ControlClient(server.url, "t").health()["status"] == "ok"


def test_capture_requests_need_no_control_token_but_unknown_keys_are_still_401():
    with CaptureServer(control_token="t") as server:
        assert exchange(server.port, request_bytes(VALID, port=server.port)).status == 401


def test_expect_100_continue_is_honoured(server):
    body = json.dumps({"binary_properties": True}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"PUT /_hil/tenants/k HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert Answer(read_to_end(sock)).status == 201

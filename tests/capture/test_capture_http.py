"""HTTP-level robustness: malformed heads, slow and vanishing clients, garbage.
The server answers with a 4xx (or closes), never a 5xx, and stays healthy."""

from __future__ import annotations

import socket

import pytest

from capture_helpers import Answer, exchange, post, read_to_end, request_bytes, vector
from harness.capture import CaptureServer, ControlClient
from harness.capture.http11 import MAX_HEAD_BYTES

VALID = bytes.fromhex(vector("single-required-context")["frames"][0]["hex"])
INIT = bytes.fromhex(vector("multi-frame-non-value-boundary")["frames"][0]["hex"])

MALFORMED_HEADS = [
    ("bare LF line ends", b"POST /capture HTTP/1.1\nHost: x\n\n", 400, "bare LF"),
    ("obsolete line folding", b"POST /capture HTTP/1.1\r\nHost: x\r\n  folded\r\n\r\n", 400, "line folding"),
    ("header without colon", b"POST /capture HTTP/1.1\r\nHost x\r\n\r\n", 400, "no colon"),
    ("space before colon", b"POST /capture HTTP/1.1\r\nHost : x\r\n\r\n", 400, "invalid header name"),
    ("request line with two parts", b"POST /capture\r\nHost: x\r\n\r\n", 400, "malformed request line"),
    ("double space in request line", b"POST  /capture HTTP/1.1\r\n\r\n", 400, "malformed request line"),
    ("bad version", b"POST /capture HTTP/one\r\n\r\n", 400, "malformed HTTP version"),
    ("control character in a value", b"POST /capture HTTP/1.1\r\nHost: a\x01b\r\n\r\n", 400, "control character"),
    ("bare CR inside a line", b"POST /capture HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "bare CR"),
    ("binary garbage", bytes(range(14, 256)) + b"\r\n\r\n", 400, "malformed request line"),
]


@pytest.mark.parametrize("data, status, words", [c[1:] for c in MALFORMED_HEADS], ids=[c[0] for c in MALFORMED_HEADS])
def test_malformed_heads_are_refused_precisely(server, data, status, words):
    answer = exchange(server.port, data)
    assert answer.status == status
    assert words in answer.json["reason"]


def test_oversized_head_is_431_without_waiting_for_its_end(server):
    head = b"POST /capture HTTP/1.1\r\nX-Filler: " + b"a" * (MAX_HEAD_BYTES + 10)
    answer = exchange(server.port, head)  # no blank line ever comes
    assert answer.status == 431


def test_client_closing_mid_head_gets_400(server):
    answer = exchange(server.port, b"POST /capture HTTP/1.1\r\nHost: x\r\n", shut_write=True)
    assert answer.status == 400 and "before the end of the request head" in answer.json["reason"]


def test_connection_without_bytes_is_closed_quietly(server, control):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.shutdown(socket.SHUT_WR)
        assert read_to_end(sock) == b""
    assert control.health()["status"] == "ok"


@pytest.fixture
def impatient_server():
    with CaptureServer(read_timeout=0.3) as running, ControlClient(running.url) as client:
        client.create_tenant("test-key")
        yield running, client


def test_slow_sender_gets_408_and_is_recorded(impatient_server):
    server, client = impatient_server
    data = request_bytes(VALID, port=server.port)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data[:-10])  # the head and most of the body, then nothing
        answer = Answer(read_to_end(sock))
    assert answer.status == 408
    assert f"{len(VALID) - 10} of {len(VALID)} bytes" in answer.json["reason"]
    [entry] = client.tenant("test-key").requests()
    assert entry["status"] == 408
    assert client.tenant("test-key").events() == []


def test_stalled_head_gets_408(impatient_server):
    server, _ = impatient_server
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /capture HTTP/1.1\r\nHo")
        assert Answer(read_to_end(sock)).status == 408


def test_idle_connection_is_closed_after_the_timeout(impatient_server):
    server, client = impatient_server
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        assert read_to_end(sock) == b""
    assert client.health()["status"] == "ok"


def test_client_vanishing_mid_body_is_recorded_as_unanswered(server, tenant):
    data = request_bytes(VALID, port=server.port)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(data[:-10])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # linger 0: reset, no FIN
    [entry] = tenant.wait_for_requests(1)
    assert entry["status"] == 0 and "connection lost" in entry["reason"]


def test_request_after_many_bad_ones_still_works(server, tenant):
    for data in (b"\x00" * 100 + b"\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n", request_bytes(b"junk", port=server.port)):
        assert 400 <= exchange(server.port, data).status < 500
    assert post(server.port, VALID).status == 204


def test_error_bodies_are_short_json(server, tenant):
    answer = post(server.port, b"junk")
    assert answer.headers["content-type"] == "application/json"
    assert int(answer.headers["content-length"]) == len(answer.body)
    assert answer.json["error"] == "bad_request"
    assert answer.headers["connection"] == "close"


def test_success_answers_have_no_body(server, tenant):
    accepted = post(server.port, INIT)
    assert (accepted.status, accepted.body, accepted.headers["content-length"]) == (202, b"", "0")
    stored = post(server.port, VALID)
    assert stored.status == 204 and stored.body == b"" and "content-length" not in stored.headers

"""HTTP/1.1 message framing: pipelined requests are answered in order whatever the TCP
segmentation, a closing request ends the connection, HEAD answers carry no body."""

from __future__ import annotations

import socket
import time

import pytest

from capture_helpers import Answer, read_to_end, request_bytes, vector
from harness import protocol as P
from harness.capture import CaptureServer, ControlClient
from harness.capture import server as server_module

VALID = bytes.fromhex(vector("single-required-context")["frames"][0]["hex"])
INIT, *REST = [bytes.fromhex(f["hex"]) for f in vector("multi-frame-non-value-boundary")["frames"]]


def persistent(body: bytes, port: int, **kwargs) -> bytes:
    """A capture request without ``Connection: close``: the connection stays open after it."""
    data = request_bytes(body, port=port, **kwargs)
    return data.replace(b"Connection: close\r\n", b"", 1)


def split_answers(raw: bytes) -> list[Answer]:
    """Responses read back to back from one connection (Content-Length or no body)."""
    answers = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, f"truncated response {raw[:80]!r}"
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answers.append(Answer(head + sep + rest[:length]))
        raw = rest[length:]
    return answers


def send_in_pieces(port: int, data: bytes, cuts: list[int]) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = 0
        for cut in [*cuts, len(data)]:
            sock.sendall(data[start:cut])
            start = cut
            time.sleep(0.02)  # let each piece arrive on its own
        sock.shutdown(socket.SHUT_WR)
        return read_to_end(sock)


def pipeline(port: int) -> bytes:
    return (persistent(VALID, port, stream_id="00000001") + persistent(b"junk", port, stream_id="00000002")
            + request_bytes(VALID, port=port, stream_id="00000003"))


@pytest.mark.parametrize("where", ["one write", "split at each boundary", "split inside heads and bodies",
                                   "byte by byte through the second request"])
def test_pipelined_requests_are_answered_in_order_whatever_the_split(server, tenant, where):
    data = pipeline(server.port)
    first = len(persistent(VALID, server.port, stream_id="00000001"))
    second = first + len(persistent(b"junk", server.port, stream_id="00000002"))
    cuts = {"one write": [],
            "split at each boundary": [first, second],
            "split inside heads and bodies": [10, first - 3, first + 40, second - 1, second + 1],
            "byte by byte through the second request": list(range(first - 2, second + 3))}[where]
    answers = split_answers(send_in_pieces(server.port, data, cuts))
    assert [a.status for a in answers] == [204, 400, 204]
    assert "connection" not in answers[0].headers and answers[2].headers["connection"] == "close"
    assert [e["_meta"]["stream_id"] for e in tenant.events()] == ["00000001", "00000003"]
    assert [r["status"] for r in tenant.requests()] == [204, 400, 204]


def test_requests_after_a_closing_request_are_not_processed(server, tenant):
    data = request_bytes(VALID, port=server.port, stream_id="00000001") + \
        request_bytes(VALID, port=server.port, stream_id="00000002")
    answers = split_answers(send_in_pieces(server.port, data, []))
    assert [a.status for a in answers] == [204]
    assert [e["_meta"]["stream_id"] for e in tenant.events()] == ["00000001"]


def test_pipelined_multi_frame_message_completes_in_order(server, tenant):
    data = b"".join(persistent(frame, server.port) for frame in [INIT, *REST])
    answers = split_answers(send_in_pieces(server.port, data, [len(data) // 2]))
    assert [a.status for a in answers] == [202] * len(REST) + [204]


def test_delayed_fault_keeps_the_answers_in_order(server, tenant):
    tenant.add_faults({"delay_ms": 300, "status": 503})
    data = persistent(VALID, server.port, stream_id="00000001") + request_bytes(VALID, port=server.port)
    answers = split_answers(send_in_pieces(server.port, data, []))
    assert [a.status for a in answers] == [503, 204]


def test_idle_persistent_connection_is_closed(server, tenant):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(persistent(VALID, server.port))
        started = time.monotonic()
        answers = split_answers(read_to_end(sock))
    assert [a.status for a in answers] == [204]
    assert time.monotonic() - started < 5


#: Short stand-ins for the idle limit and --read-timeout, far enough apart to tell which applied.
IDLE = 0.25
READ_TIMEOUT = 1.5


@pytest.fixture
def patient_server(monkeypatch):
    monkeypatch.setattr(server_module, "KEEP_ALIVE_IDLE_SECONDS", IDLE)
    with CaptureServer(read_timeout=READ_TIMEOUT) as running, ControlClient(running.url) as client:
        client.create_tenant("test-key")
        yield running


@pytest.mark.parametrize("together", [True, False], ids=["next starts in the same write", "next starts later"])
@pytest.mark.parametrize("rest", [True, False], ids=["rest after the idle limit", "rest never"])
def test_a_started_pipelined_request_has_the_whole_request_deadline(patient_server, together, rest):
    """The idle limit only applies until a byte of the next request is there; a started
    request gets --read-timeout whether its first bytes came with the previous request or not."""
    port = patient_server.port
    first, second = persistent(VALID, port), request_bytes(VALID, port=port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if together:
            sock.sendall(first + second[:40])
        else:
            sock.sendall(first)
            time.sleep(IDLE / 4)  # within the idle limit, after the first answer
            sock.sendall(second[:40])
        started = time.monotonic()
        if rest:
            time.sleep(3 * IDLE)
            sock.sendall(second[40:])
        answers = split_answers(read_to_end(sock))
        waited = time.monotonic() - started
    if rest:
        assert [a.status for a in answers] == [204, 204]
    else:
        assert [a.status for a in answers] == [204, 408]
        assert "request head incomplete" in answers[1].json["reason"]
        assert waited > READ_TIMEOUT / 2  # the whole-request deadline, not the idle limit


@pytest.mark.parametrize("target, status", [(P.CAPTURE_PATH, 405), ("/_hil/health", 200),
                                            ("/_hil/tenants/test-key/events", 200), ("/nowhere", 404)])
def test_head_answers_have_no_body(server, tenant, target, status):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"HEAD {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        raw = read_to_end(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert Answer(raw).status == status and body == b""
    assert int(Answer(raw).headers["content-length"]) > 0  # the length GET would have had

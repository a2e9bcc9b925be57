"""usermod/honch/honch_transport.py: the request bytes, the response parsing, and
post_chunk against a real socket server on CPython and on the unix firmware."""

from __future__ import annotations

import errno
import importlib.util
import json
import socket
import threading

import pytest

from harness import REPO_ROOT
from harness.protocol import CONTENT_TYPE, HEADER_PROJECT_KEY, HEADER_STREAM_ID

_spec = importlib.util.spec_from_file_location("honch_transport_mp",
                                               REPO_ROOT / "usermod" / "honch" / "honch_transport.py")
transport = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(transport)

HEADERS = {"Content-Type": CONTENT_TYPE, HEADER_PROJECT_KEY: "phc_test", HEADER_STREAM_ID: "0a1b2c3d"}


# --- encode_request ----------------------------------------------------------------

def test_request_bytes_are_exactly_the_documented_ones():
    data = transport.encode_request("http://127.0.0.1:8080/base/capture", b"\x02\x00frame", HEADERS)
    assert data == (
        b"POST /base/capture HTTP/1.1\r\n"
        b"Host: 127.0.0.1:8080\r\n"
        b"Content-Type: application/vnd.honch.chunk\r\n"
        b"X-Honch-Project-Key: phc_test\r\n"
        b"X-Honch-Stream-Id: 0a1b2c3d\r\n"
        b"Content-Length: 7\r\n"
        b"Connection: close\r\n"
        b"\r\n"
        b"\x02\x00frame"
    )


def test_headers_as_pairs_keep_their_order():
    pairs = list(HEADERS.items())[::-1]
    data = transport.encode_request("http://h/capture", b"", pairs)
    lines = data.split(b"\r\n")
    assert lines[2:5] == [b"X-Honch-Stream-Id: 0a1b2c3d", b"X-Honch-Project-Key: phc_test",
                          b"Content-Type: application/vnd.honch.chunk"]


@pytest.mark.parametrize("url, host, path", [
    ("http://example.com/capture", "example.com", "/capture"),
    ("https://i.honch.io/capture", "i.honch.io", "/capture"),
    ("https://i.honch.io:8443/capture", "i.honch.io:8443", "/capture"),
    ("http://[::1]:9000/x/capture", "[::1]:9000", "/x/capture"),
    ("HTTP://example.com", "example.com", "/"),
])
def test_host_header_and_path(url, host, path):
    first, second = transport.encode_request(url, b"", {}).split(b"\r\n")[:2]
    assert first == b"POST %s HTTP/1.1" % path.encode()
    assert second == b"Host: %s" % host.encode()


@pytest.mark.parametrize("url, complaint", [
    ("ftp://example.com/capture", "http:// or https://"),
    ("example.com/capture", "http:// or https://"),
    ("http://:80/capture", "no host"),
    ("http://example.com:http/capture", "bad port"),
    ("http://example.com:70000/capture", "port out of range"),
    ("http://user:pw@example.com/capture", "credentials"),
])
def test_bad_urls_are_refused_naming_the_problem(url, complaint):
    with pytest.raises(ValueError, match=complaint):
        transport.encode_request(url, b"", {})


@pytest.mark.parametrize("name, value, complaint", [
    (HEADER_PROJECT_KEY, "key\r\nX-Evil: 1", "X-Honch-Project-Key has a value outside 0x21-0x7E"),
    (HEADER_PROJECT_KEY, "key with space", "outside 0x21-0x7E"),
    (HEADER_PROJECT_KEY, "", "outside 0x21-0x7E"),
    ("Bad Name", "v", "bad header name"),
    ("Host", "evil.example", "added by post_chunk itself"),
    ("content-length", "5", "added by post_chunk itself"),
    ("Connection", "keep-alive", "added by post_chunk itself"),
])
def test_bad_headers_are_refused(name, value, complaint):
    with pytest.raises(ValueError, match=complaint):
        transport.encode_request("http://h/capture", b"", {name: value})


# --- parse_response ------------------------------------------------------------------

@pytest.mark.parametrize("head, expected", [
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", (204, None)),
    (b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\n\r\n", (429, "7")),
    (b"HTTP/1.1 503 Service Unavailable\r\nretry-after:   Wed, 21 Oct 2015 07:28:00 GMT  \r\n\r\nbody",
     (503, "Wed, 21 Oct 2015 07:28:00 GMT")),
    (b"HTTP/1.0 202\r\n\r\n", (202, None)),
    (b"HTTP/1.1 500 Oops\nRetry-After: 3\n\n", (500, "3")),
])
def test_parse_response(head, expected):
    assert transport.parse_response(head) == expected


@pytest.mark.parametrize("head, complaint", [
    (b"", "incomplete"),
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n", "incomplete"),
    (b"SPDY/3 200 OK\r\n\r\n", "unreadable HTTP status line"),
    (b"HTTP/1.1 2x4 OK\r\n\r\n", "unreadable HTTP status line"),
    (b"HTTP/1.1 099 Low\r\n\r\n", "unreadable HTTP status line"),
    (b"\xff\xfe\r\n\r\n", "not UTF-8"),
])
def test_unreadable_responses_raise_value_error(head, complaint):
    with pytest.raises(ValueError, match=complaint):
        transport.parse_response(head)


# --- post_chunk over a real socket, on CPython and on the unix firmware ---------------

class OneShotServer:
    """Accepts one connection on 127.0.0.1, records the request, answers per ``mode``:
    a response (bytes), "silent" (never answers), "close" (closes without answering)."""

    def __init__(self, mode):
        self.mode = mode
        self.received = b""
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            try:
                while b"\r\n\r\n" not in self.received:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    self.received += chunk
                head, _, body = self.received.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(body) < length:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    body += chunk
                self.received = head + b"\r\n\r\n" + body
                if isinstance(self.mode, bytes):
                    conn.sendall(self.mode)
                elif self.mode == "silent":
                    self.done.wait(30)
            except OSError:
                pass

    def close(self):
        self.done.set()
        self.sock.close()
        self.thread.join(timeout=10)


@pytest.fixture
def server_factory():
    servers = []

    def make(mode):
        server = OneShotServer(mode)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def post_on_cpython(url, body, headers, timeout_ms):
    try:
        return {"ok": list(transport.post_chunk(url, body, headers, timeout_ms))}
    except OSError as exc:
        return {"oserror": exc.errno}
    except ValueError as exc:
        return {"valueerror": str(exc)}


_POST_SNIPPET = """
import honch_transport
try:
    result = {"ok": list(honch_transport.post_chunk(os.getenv("URL"), bytes.fromhex(os.getenv("BODY")),
                                                    json.loads(os.getenv("HEADERS")), int(os.getenv("TIMEOUT"))))}
except OSError as exc:
    result = {"oserror": exc.errno}
except ValueError as exc:
    result = {"valueerror": str(exc)}
"""


@pytest.fixture(params=["cpython", "unix-firmware"])
def post(request):
    """post_chunk(url, body, headers, timeout_ms) -> outcome dict, on each runtime."""
    if request.param == "cpython":
        return post_on_cpython
    runner = request.getfixturevalue("micropython")

    def post_on_firmware(url, body, headers, timeout_ms):
        return runner.run(_POST_SNIPPET, env={"URL": url, "BODY": body.hex(), "HEADERS": json.dumps(headers),
                                              "TIMEOUT": str(timeout_ms)})

    return post_on_firmware


def test_post_chunk_sends_exactly_the_encoded_request(post, server_factory):
    server = server_factory(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 12\r\nContent-Length: 0\r\n\r\n")
    url = "http://127.0.0.1:%d/capture" % server.port
    body = bytes(range(256)) * 5
    pairs = list(HEADERS.items())  # pairs: MicroPython dicts do not keep insertion order
    assert post(url, body, pairs, 5000) == {"ok": [429, "12"]}
    server.thread.join(timeout=10)
    assert server.received == transport.encode_request(url, body, pairs)


def test_post_chunk_without_retry_after(post, server_factory):
    server = server_factory(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    assert post("http://127.0.0.1:%d/capture" % server.port, b"\x02", HEADERS, 5000) == {"ok": [204, None]}


def test_no_answer_within_the_deadline_is_etimedout(post, server_factory):
    server = server_factory("silent")
    assert post("http://127.0.0.1:%d/capture" % server.port, b"\x02", HEADERS, 300) == \
        {"oserror": errno.ETIMEDOUT}


def test_refused_connection_is_an_oserror_other_than_etimedout(post):
    outcome = post("http://127.0.0.1:%d/capture" % _closed_port(), b"\x02", HEADERS, 5000)
    assert "oserror" in outcome and outcome["oserror"] != errno.ETIMEDOUT


def test_connection_closed_without_answer_is_unreadable(post, server_factory):
    server = server_factory("close")
    assert post("http://127.0.0.1:%d/capture" % server.port, b"\x02", HEADERS, 5000) == \
        {"valueerror": "incomplete HTTP response head (0 bytes, no blank line)"}

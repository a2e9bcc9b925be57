"""Raw-socket HTTP helpers for the capture server tests.

The tests speak HTTP by hand so that they can send exactly the malformed
requests a library would refuse to produce.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from harness import protocol as P

VECTORS_DIR = Path(__file__).resolve().parents[2] / "conformance" / "vectors" / "upstream" / "wire-v2"


def load_vectors() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(VECTORS_DIR.glob("*.json"))]


def vector(name: str) -> dict:
    return json.loads((VECTORS_DIR / f"{name}.json").read_text())


class FakeClock:
    """A monotonic clock the test moves by hand (partial expiry without sleeping)."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Answer:
    """A parsed response; ``status`` 0 means the server closed without answering."""

    def __init__(self, raw: bytes):
        self.raw = raw
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        if not raw:
            return
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def __repr__(self):
        return f"Answer({self.status}, {self.body[:200]!r})"


def exchange(port: int, data: bytes, *, shut_write: bool = False, timeout: float = 10.0) -> Answer:
    """Send raw bytes on a new connection and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        return Answer(read_to_end(sock))


def read_to_end(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def request_bytes(body: bytes = b"", *, key: str | None = "test-key", stream_id: str | None = "1a2b3c4d",
                  path: str = P.CAPTURE_PATH, method: str = "POST", port: int = 8001,
                  content_type: str | None = P.CONTENT_TYPE, content_length: str | int | None = "auto",
                  extra: list[tuple[str, str]] = (), version: str = "HTTP/1.1") -> bytes:
    """A capture request as a conforming device writes it; every part can be changed
    or left out (None) to build a non-conforming one."""
    headers = [("Host", f"127.0.0.1:{port}")]
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if content_length == "auto":
        content_length = len(body)
    if content_length is not None:
        headers.append(("Content-Length", str(content_length)))
    if key is not None:
        headers.append((P.HEADER_PROJECT_KEY, key))
    if stream_id is not None:
        headers.append((P.HEADER_STREAM_ID, stream_id))
    headers.append(("Connection", "close"))
    headers.extend(extra)
    head = f"{method} {path} {version}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    return head.encode("latin-1") + body


def post(port: int, body: bytes, *, timeout: float = 10.0, **kwargs) -> Answer:
    return exchange(port, request_bytes(body, port=port, **kwargs), timeout=timeout)


def without_header(data: bytes, name: str) -> bytes:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(name.lower().encode() + b":")]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body

"""The tether: HTTP for a board without a network, performed by the host.

The agent on the board replaces ``honch_transport.post_chunk`` with a function
that writes ``{"tether": n, "url", "headers", "body", "timeout_ms"}`` on the
console. The host builds the request bytes with the *firmware's own*
``honch_transport.encode_request`` (``usermod/honch/honch_transport.py``, loaded
here under another module name because the CPython package of the same name is
the host port's), sends them over a real socket, parses the answer with the
firmware's ``parse_response`` and writes ``{"tether": n, "status", "retry_after"}``
back. The capture server therefore sees the bytes a networked board would send.
"""

from __future__ import annotations

import importlib.util
import socket
import ssl
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_TRANSPORT = ROOT / "usermod" / "honch" / "honch_transport.py"
_MODULE_NAME = "honch_hil_firmware_transport"
#: the host keeps trying this much longer than the device waits, so that the
#: device's own timeout decides (its late answer is then ignored on the device)
HOST_GRACE_SECONDS = 1.0


def firmware_transport():
    """The MicroPython ``honch_transport`` module, imported on CPython under another name."""
    module = sys.modules.get(_MODULE_NAME)
    if module is not None:
        return module
    if not FIRMWARE_TRANSPORT.is_file():
        raise FileNotFoundError(f"the tether needs {FIRMWARE_TRANSPORT} (encode_request/parse_response)")
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, FIRMWARE_TRANSPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("encode_request", "parse_response"):
        if not callable(getattr(module, name, None)):
            raise AttributeError(f"{FIRMWARE_TRANSPORT} has no {name}()")
    sys.modules[_MODULE_NAME] = module
    return module


class Tether:
    """Serves tether requests of one board. ``requests`` counts what it sent."""

    def __init__(self, log=None):
        self.transport = firmware_transport()
        self.log = log
        self.requests = 0

    def _note(self, text: str) -> None:
        if self.log is not None:
            self.log.note(text)

    def serve(self, message: dict) -> dict:
        seq = message["tether"]
        url = message["url"]
        headers = message.get("headers") or []
        if isinstance(headers, list):
            headers = {k: v for k, v in headers}
        body = bytes.fromhex(message.get("body") or "")
        timeout_s = max(0.001, int(message.get("timeout_ms") or 0) / 1000) + HOST_GRACE_SECONDS
        try:
            data = self.transport.encode_request(url, body, headers)
            answer = self._exchange(url, bytes(data), timeout_s)
            status, retry_after = self.transport.parse_response(answer)
        except TimeoutError as exc:
            self._note(f"tether {seq}: timeout after {timeout_s:g} s ({exc})")
            return {"tether": seq, "error": "timeout", "message": str(exc) or "timeout"}
        except Exception as exc:  # any other failure is TRANSPORT on the device
            self._note(f"tether {seq}: transport error {exc!r}")
            return {"tether": seq, "error": "transport", "message": f"{type(exc).__name__}: {exc}"}
        self.requests += 1
        self._note(f"tether {seq}: {len(body)} B to {url} -> {status} retry_after={retry_after!r}")
        return {"tether": seq, "status": status, "retry_after": retry_after}

    @staticmethod
    def _exchange(url: str, request: bytes, timeout_s: float) -> bytes:
        """Send ``request`` and read the answer until the server closes, within one deadline."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"tether supports http and https URLs, not {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        deadline = time.monotonic() + timeout_s

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline passed")
            return remaining

        sock = socket.create_connection((parts.hostname, port), timeout=left())
        try:
            if parts.scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
            sock.settimeout(left())
            sock.sendall(request)
            chunks = []
            while True:
                sock.settimeout(left())
                try:
                    data = sock.recv(65536)
                except socket.timeout as exc:
                    raise TimeoutError("no complete answer before the deadline") from exc
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks)
        except socket.timeout as exc:
            raise TimeoutError(str(exc) or "timeout") from exc
        finally:
            sock.close()

"""No project key in any output: a canary key in every position of capture and control
requests, valid and invalid, then a grep of everything the server wrote or answered."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import quote

from capture_helpers import read_to_end, request_bytes
from harness import protocol as P
from harness import wire
from harness.capture import ControlClient

CANARY = "canary-Key-7f3e9c"                 # a tenant known from the start
SPECIAL = 'sp"ec\\ial/k%ey?#'                # a tenant key with characters that get escaped
UNKNOWN = "unknown-canary-4b1d0a"            # a request's own key, never a tenant
LATE = "late-canary-91ce2b"                  # quoted by requests before it becomes a tenant
TOKEN = "control-token-canary-55"
BINARY = "binary-canary-e4a1c7"              # a tenant that keeps bytes properties
SECRETS = (CANARY, SPECIAL, UNKNOWN, LATE, TOKEN, BINARY)
#: the shortest piece of a secret that counts as showing it (our quotes cut values short)
PIECE = 10


def forms(secret: str) -> set[str]:
    return {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote(secret), secret.encode().hex(),
            secret.encode().hex().upper(), ascii(secret)[1:-1], ascii(ascii(secret)[1:-1])[1:-1],
            "".join(f"%{b:02X}" for b in secret.encode())}


def pieces(secret: str) -> set[str]:
    """Every form, and every prefix at least PIECE long of the secret as it reads in a quote."""
    quoted = {secret, json.dumps(secret)[1:-1], ascii(secret)[1:-1]}
    return forms(secret) | {form[:n] for form in quoted for n in range(min(PIECE, len(form)), len(form) + 1)}


def frame_quoting(secret: str) -> bytes:
    """A valid single frame whose event name, property name and value hold ``secret``."""
    context = [(i, f"v{i}") for i in range(1, 8)]
    event = wire.Event(f"ev-{secret}", 0, [(f"p-{secret}", f"value {secret} end")])
    return wire.encode_frame("single", 1, wire.encode_message(wire.Message(1_700_000_000_000, context, [event])))


def raw_exchange(port: int, data: bytes, *, shut: bool = True, reset: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(data)
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return b""
        if shut:
            sock.shutdown(socket.SHUT_WR)
        return read_to_end(sock)


def capture_requests(port: int) -> list[tuple[bytes, dict]]:
    """(raw request, how to send it): every position, for a known and an unknown key."""
    cases = []
    for key in (CANARY, SPECIAL, UNKNOWN):
        extra = [("X-Connection-Type", f"wifi-{key}"), (f"X-{quote(key, safe='')}-Name".replace("%", "")[:40], key),
                 ("X-Relay", LATE)]
        cases += [
            (request_bytes(frame_quoting(key), key=key, stream_id=key, port=port, extra=extra), {}),
            (request_bytes(frame_quoting(LATE), key=key, stream_id=LATE, port=port), {}),
            (request_bytes(b"junk " + key.encode() + b" junk", key=key, port=port, extra=extra), {}),
            (request_bytes(frame_quoting(key), key=key, path=f"/capture?k={quote(key, safe='')}&raw={key}",
                           port=port), {}),
            (request_bytes(frame_quoting(key), key=key, path=f"/{key}/capture", port=port), {}),
            (request_bytes(frame_quoting(key), key=key, method=key.replace('"', "").replace("\\", "")
                           .replace("/", "").replace("?", "").replace("#", "").replace("%", ""), port=port), {}),
            (request_bytes(frame_quoting(key), key=key, stream_id=key * 6, port=port), {}),  # too long: 400
            (request_bytes(b"", key=key, content_length=70_000, port=port, path=f"/capture?{key}"), {}),
            (request_bytes(frame_quoting(key), key=key, content_type=f"text/{key}", port=port), {}),
            # the whole key percent-encoded, every byte
            (request_bytes(frame_quoting(key), key=key, port=port,
                           path="/capture?k=" + "".join(f"%{b:02X}" for b in key.encode())), {}),
            # a quote of the request line cut short inside the key (it quotes 60 bytes)
            (f"POST /capture?{'a' * 36}={key} HTTP/1.1 x\r\n{P.HEADER_PROJECT_KEY}: {key}\r\n\r\n".encode(), {}),
            # the key as the method (a backslash is escaped in the reason)
            (f"{key} /capture HTTP/1.1\r\n{P.HEADER_PROJECT_KEY}: {key}\r\n\r\n".encode(), {}),
            # unparseable heads: the request line and the key header are all the server has
            (f"POST /capture?{key} HTTP/1.1 extra\r\n{P.HEADER_PROJECT_KEY}: {key}\r\n\r\n".encode(), {}),
            (f"POST /capture HTTP/1.1\r\n{P.HEADER_PROJECT_KEY}: {key}\r\nbad {key}\r\n\r\n".encode(), {}),
            # incomplete requests: a read timeout and a reset
            (request_bytes(frame_quoting(key), key=key, path=f"/capture?{key}", port=port)[:-5], {"shut": False}),
            (request_bytes(frame_quoting(key), key=key, path=f"/capture?{key}", port=port)[:-5], {"reset": True}),
        ]
    return cases


def control_requests(key: str) -> list[tuple[str, str, object]]:
    path = "/_hil/tenants/" + quote(key, safe="")
    lower = "/_hil/tenants/" + "".join(f"%{b:02x}" for b in key.encode())  # another client's encoding
    return [
        ("GET", f"{path}/typo/{quote(key, safe='')}", None),
        ("GET", f"{path}/events?after=" + "".join(f"%{b:02x}" for b in key.encode()), None),
        ("GET", f"{lower}/{quote(key, safe='')}", None),
        ("GET", f"{path}/events?after={quote(key, safe='')}", None),
        ("GET", f"{path}/requests?{quote(key, safe='')}=1", None),
        ("PUT", path, {"limits": {key: 1}}),
        ("PUT", path, {key: True}),
        ("POST", f"{path}/faults", {"faults": [{key: 1}]}),
        ("POST", f"{path}/faults", {"faults": [{"status": 503, "headers": {"X-Echo": key}}]}),
        ("POST", f"{path}/faults", {"faults": [{"status": 503, "headers": {key: "v"}}]}),
        ("GET", f"{path}/faults", None),
    ]


def test_no_secret_in_any_output(serve, tmp_path):
    transcript = tmp_path / "transcript.jsonl"
    served = serve("--transcript", str(transcript), "--read-timeout", "0.5", "--control-token", TOKEN)
    control = ControlClient(served.url, TOKEN)
    tenants = {key: control.create_tenant(key) for key in (CANARY, SPECIAL)}
    outputs: list[bytes] = []

    for data, how in capture_requests(served.port):
        outputs.append(raw_exchange(served.port, data, **how))
    for key in (CANARY, SPECIAL, UNKNOWN, LATE):
        for method, path, document in control_requests(key):
            response = control._session.request(method, served.url + path, json=document)
            outputs.append(response.content)
        method = key.replace('/', '').replace('?', '').replace('#', '').replace('"', '').replace('\\', '')
        method_line = f"{method} /_hil/tenants/{quote(method, safe='')} HTTP/1.1"
        outputs.append(raw_exchange(served.port, f"{method_line}\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                                                 f"Connection: close\r\n\r\n".encode()))
    outputs.append(raw_exchange(served.port, f"GET /_hil/health?{TOKEN} HTTP/1.1\r\nHost: x\r\n"
                                             f"Authorization: Bearer {TOKEN}x\r\n\r\n".encode()))
    for key in (UNKNOWN, CANARY):
        path = "/_hil/tenants/" + quote(key, safe="")
        # a control request line that does not parse, and one that times out
        outputs.append(raw_exchange(served.port, f"GET {path}/events?after=1 2 HTTP/1.1\r\nHost: x\r\n\r\n".encode()))
        outputs.append(raw_exchange(served.port, f"{key.replace('/', '')} {path} HTTP/1.1\r\nHost: x\r\n"
                                                 "Content-Length: 5\r\n\r\n".encode(), shut=False))
    # bytes properties: a key as the bytes of a property
    tenants[BINARY] = control.create_tenant(BINARY, binary_properties=True)
    # a tenant whose key is the control token comes and goes: the token stays a secret
    # (CANARY's pending faults echo its key in a header as told; BINARY has none)
    control.create_tenant(TOKEN)
    control._session.delete(f"{served.url}/_hil/tenants/{quote(TOKEN, safe='')}")
    outputs.append(raw_exchange(served.port, request_bytes(frame_quoting(BINARY), key=BINARY, port=served.port,
                                                           extra=[("X-Debug", TOKEN)])))
    for key in (BINARY, CANARY):
        event = wire.Event("blob", 0, [("blob", wire.Bytes(key.encode()))])
        frame = wire.encode_frame("single", 1, wire.encode_message(
            wire.Message(1_700_000_000_000, [(i, f"v{i}") for i in range(1, 8)], [event])))
        outputs.append(raw_exchange(served.port, request_bytes(frame, key=BINARY, port=served.port)))
    time.sleep(1.2)  # the read timeouts
    tenants[LATE] = control.create_tenant(LATE)  # now a secret: data stored before must not show it
    for tenant in tenants.values():
        outputs.append(json.dumps([tenant.events(), tenant.requests(), tenant.pending_faults(), tenant.info()],
                                  default=dict).encode())
        for resource in ("events", "requests"):
            outputs.append(control._session.get(f"{served.url}{tenant._path}/{resource}?limit=3").content)
    outputs.append(json.dumps(control.health()).encode())
    stored = tenants[CANARY].events()
    assert stored and stored[0]["event"] == "ev-<redacted>"  # the data is there, the key is not
    assert stored[0]["properties"]["p-<redacted>"] == "value <redacted> end"
    assert any(r["status"] == 408 for r in tenants[CANARY].requests())
    control.close()

    code, out, err = served.interrupt()
    assert code == 0, err
    everything = {"stdout": out, "stderr": err, "transcript": transcript.read_text(),
                  "answers": b"\n".join(outputs).decode("latin-1")}
    assert out.count("\n") > 100 and everything["transcript"].count("\n") > 100
    for where, text in everything.items():
        # LATE was no key when stdout and the transcript were written; what is read later knows it
        for secret in SECRETS if where == "answers" else set(SECRETS) - {LATE}:
            for piece in pieces(secret):
                assert piece not in text, f"{secret!r} appears as {piece!r} in {where}"

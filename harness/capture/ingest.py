"""The mock's judgement of one /capture request: the check order of W10.

(1) path 404, (2) method 405, (3) project key 401 — ``route`` and ``identify``;
fault injection happens between (3) and (4), in the server; then
(4) Content-Type / Content-Encoding 415, (5) framing headers and stream id 400,
(6) body size 413 — ``check_headers``; (7)-(14) frame, reassembly, CRC, decode,
limits, semantics and store — ``accept_frame`` (the stateful steps, 7-9), then
``judge_message`` (the pure ones, 10-14), built on ``harness.wire``.

Every function returns a ``Verdict``; none raises for bad input.
"""

from __future__ import annotations

import re
import time

from harness import protocol as P
from harness import wire

from .http11 import (FIELD_CONTENT_ENCODING, FIELD_CONTENT_LENGTH, FIELD_CONTENT_TYPE, FIELD_HOST,
                     FIELD_TRANSFER_ENCODING, RequestHead)

#: W3.2: each of these headers MUST appear at most once (compared lower-case).
SINGLE_HEADERS = frozenset(name.lower() for name in (
    "Host", "Content-Type", "Content-Length", P.HEADER_PROJECT_KEY, P.HEADER_STREAM_ID,
    "Connection", P.HEADER_CONNECTION_TYPE, *P.RELAY_HEADERS, "Content-Encoding", "Transfer-Encoding",
))


class Request:
    """A request as received: the parsed head plus what arrived of the body.

    The body is read only when the head announced a usable length: a valid
    Content-Length no larger than the applicable limit and no Transfer-Encoding.
    """

    __slots__ = ("head", "t", "body", "content_length", "body_read", "truncated", "forms")

    def __init__(self, head: RequestHead, t: float, body: bytes = b"", content_length: int | None = None,
                 body_read: bool = False, truncated: bool = False):
        self.head = head
        self.t = t
        self.body = body
        self.content_length = content_length
        self.body_read = body_read
        self.truncated = truncated
        #: (server secrets, redaction forms) cached by the server for this request's outputs
        self.forms = None

    @property
    def body_problem(self) -> str | None:
        """Why the body does not match Content-Length, or None. Bytes after it are the
        next request (pipelining), so only a body cut short can be wrong."""
        if self.truncated:
            return (f"body truncated: connection ended after {len(self.body)} of "
                    f"{self.content_length} bytes announced by Content-Length")
        return None


class Verdict:
    """What the mock answers, and what it learned on the way."""

    __slots__ = ("status", "reason", "headers", "events", "decoded", "frame")

    def __init__(self, status: int, reason: str = "", headers=None, events=None, decoded: int | None = None,
                 frame: dict | None = None):
        self.status = status
        self.reason = reason
        self.headers = headers or []
        #: expanded events stored by this request
        self.events = events or []
        #: number of events in the decoded message (also when it was refused as 413/422)
        self.decoded = decoded
        #: summary of the parsed frame: kind, message_id, offset/total_length
        self.frame = frame

    def __repr__(self):
        return f"Verdict({self.status}, {self.reason!r})"


def capture_path(prefix: str) -> str:
    return prefix.rstrip("/") + P.CAPTURE_PATH


def route(head: RequestHead, path: str) -> Verdict | None:
    """Steps 1 and 2."""
    if head.target != path:
        return Verdict(404, f"path {head.target} is not {path}")
    if head.method != "POST":
        return Verdict(405, f"method {head.method} not allowed on {path}; use POST", headers=[("Allow", "POST")])
    return None


#: The SDK's headers as the head's index (``RequestHead.fields``) holds them.
_PROJECT_KEY = P.HEADER_PROJECT_KEY.lower()
_STREAM_ID = P.HEADER_STREAM_ID.lower()


def project_keys(head: RequestHead) -> list[str]:
    return head.fields.get(_PROJECT_KEY, [])


def identify(head: RequestHead, lookup) -> tuple[object | None, Verdict | None]:
    """Step 3: the tenant named by the project key, or a 401 verdict.

    ``lookup(key)`` returns the tenant or None (it may create one in --open
    mode). A repeated key header must name the same tenant every time; the
    repetition itself is answered 400 at step 5."""
    keys = project_keys(head)
    if not keys:
        return None, Verdict(401, f"missing {P.HEADER_PROJECT_KEY} header")
    if len(keys) > 1 or not keys[0]:  # the usual single non-empty key needs neither look
        if any(not key for key in keys):
            return None, Verdict(401, f"empty {P.HEADER_PROJECT_KEY} header")
        if any(key != keys[0] for key in keys[1:]):
            return None, Verdict(401, f"{P.HEADER_PROJECT_KEY} repeated with different values")
    tenant = lookup(keys[0])
    if tenant is None:
        return None, Verdict(401, "unknown project key")
    return tenant, None


def check_headers(request: Request, frame_limit: int) -> Verdict | None:
    """Steps 4 (415), 5 (400) and 6 (413)."""
    head = request.head
    fields = head.fields  # one dict look-up per header name, no case folding per call
    content_types = fields.get(FIELD_CONTENT_TYPE)
    if not content_types:
        return Verdict(415, "missing Content-Type")
    for value in content_types:
        if ";" in value:
            return Verdict(415, f"Content-Type {value!r} has parameters; send exactly {P.CONTENT_TYPE}")
        if value.lower() != P.CONTENT_TYPE:
            return Verdict(415, f"Content-Type {value!r} is not {P.CONTENT_TYPE}")
    if FIELD_CONTENT_ENCODING in fields:
        return Verdict(415, "Content-Encoding is not allowed")

    if head.version != "HTTP/1.1":
        return Verdict(400, f"protocol {head.version} is not HTTP/1.1")
    repeated = head.repeated(SINGLE_HEADERS)
    if repeated:
        return Verdict(400, f"header {repeated[0]} appears {repeated[1]} times; at most once allowed")
    hosts = fields.get(FIELD_HOST)
    if not hosts or not hosts[0]:
        return Verdict(400, "missing Host header")
    if FIELD_TRANSFER_ENCODING in fields:
        return Verdict(400, "Transfer-Encoding is not allowed; send the frame with Content-Length")
    lengths = fields.get(FIELD_CONTENT_LENGTH)
    if lengths is None:
        return Verdict(400, "missing Content-Length")
    if request.content_length is None:
        return Verdict(400, f"Content-Length {lengths[0]!r} is not a decimal number")
    if request.body_read and request.body_problem:
        return Verdict(400, request.body_problem)
    stream_ids = fields.get(_STREAM_ID)
    if stream_ids is not None:
        problem = stream_id_problem(stream_ids[0])
        if problem:
            return Verdict(400, problem)

    if request.content_length > frame_limit:
        return Verdict(413, f"Content-Length {request.content_length} exceeds the frame limit of {frame_limit} bytes")
    return None


_STREAM_ID_BYTES = re.compile(f"[{re.escape(chr(P.HEADER_VALUE_MIN_BYTE))}-{re.escape(chr(P.HEADER_VALUE_MAX_BYTE))}]*\\Z")


def stream_id_problem(stream_id: str) -> str | None:
    if not stream_id:
        return f"{P.HEADER_STREAM_ID} is empty"
    if len(stream_id) > P.STREAM_ID_MAX_LEN:
        return f"{P.HEADER_STREAM_ID} is {len(stream_id)} bytes long; at most {P.STREAM_ID_MAX_LEN} allowed"
    if not _STREAM_ID_BYTES.match(stream_id):
        return f"{P.HEADER_STREAM_ID} contains bytes outside 0x21-0x7E"
    return None


def accept_frame(request: Request, tenant) -> Verdict | wire.Completed:
    """Steps 7-9: frame, total_length, reassembly, the steps that change the tenant's
    partials. A Verdict when they decide; else the completed message, for
    ``judge_message``. The tenant's own Reassembler makes the project key part of the
    partial-message key (W3.3)."""
    judged = wire.accept_frame(tenant.reassembler, request.body, stream_id=_stream_id(request),
                               limits=tenant.options.limits)
    if type(judged) is wire.Completed:
        return judged
    return _verdict(request, judged)


def judge_message(request: Request, tenant, completed: wire.Completed) -> Verdict:
    """Steps 10-14: CRC, decode, limits, semantics; a 204 verdict carries the expanded
    events with their ``_meta``, for the server to store. Reads only the request and the
    tenant's options, so the server may run it off the event loop."""
    options = tenant.options
    return _verdict(request, wire.judge_message(completed, options.limits, options.binary_properties))


def _stream_id(request: Request) -> str | None:
    stream_ids = request.head.fields.get(_STREAM_ID)
    return stream_ids[0] if stream_ids else None


def _verdict(request: Request, judged: wire.Verdict) -> Verdict:
    frame = judged.frame
    summary = None
    if frame is not None:
        summary = {"kind": frame.kind, "message_id": frame.message_id, "offset": frame.offset}
        if frame.total_length is not None:
            summary["total_length"] = frame.total_length
    decoded = len(judged.message.events) if judged.message is not None else None
    if judged.status != 204:
        return Verdict(judged.status, judged.reason, decoded=decoded, frame=summary)
    events = judged.events
    received_at = int(time.time() * 1000)
    stream_id = _stream_id(request)
    for event in events:
        event["_meta"] = {"stream_id": stream_id or "", "message_id": frame.message_id,
                          "received_at": received_at, "request_t": request.t}
    return Verdict(204, f"stored {len(events)} event{'s' if len(events) != 1 else ''}", events=events,
                   decoded=decoded, frame=summary)

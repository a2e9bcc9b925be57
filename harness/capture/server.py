"""The strict mock capture server: asyncio, stdlib only, one request per connection.

``CaptureServer`` runs it either in a background thread with its own event loop
(tests, fixtures) or in the foreground (``honch-hil serve``). Requests are parsed
by hand (``http11``), judged by ``ingest`` in the W10 check order, and control
requests under ``/_hil/`` go to ``control``.

Connection life: read the head (bounded, 16 KiB), read the body only when the
head announced a usable length, then answer and close. When the mock answers
without consuming everything the client sent (413 without reading the body, a
body longer than Content-Length), it half-closes and drains the input for a
short while before closing, so that the client reads the answer instead of a
reset. Every connection has a deadline for the whole request (slow senders get
408) and for the drain.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from harness import __version__
from harness import protocol as P
from harness.wire import Reassembler

from . import ingest
from .control import CONTROL_PREFIX, MAX_CONTROL_BODY, ControlApi, control_keys, is_control, raw_control_keys
from .http11 import (FIELD_CONNECTION, FIELD_CONTENT_LENGTH, FIELD_EXPECT, FIELD_TRANSFER_ENCODING, MAX_HEAD_BYTES,
                     HeadError, error_body, find_head_end, parse_content_length, parse_head, serialize_response)
from .ingest import Request, Verdict
from .sockets import Listener, bind
from .redact import REDACTED, Redactor, compact_json, raw_project_keys
from .tenants import DEFAULT_MAX_MEMORY, PARTIAL_FRAME_OVERHEAD_BYTES, Budget, Tenants, key_problem, parse_options

#: Whole-request deadline: a device sends ~4 KiB at once; anything slower is a stuck sender.
DEFAULT_READ_TIMEOUT = 10.0
#: How long, and how much, the mock drains after answering early before it closes.
LINGER_SECONDS = 2.0
LINGER_MAX_BYTES = 4 * 1024 * 1024
#: A persistent connection (a request without ``Connection: close``) is closed when the
#: next request does not start within this time; clients that read until the server
#: closes then wait this long.
KEEP_ALIVE_IDLE_SECONDS = 1.0
#: How often the server checks connection deadlines (at most), and sweeps expired partials.
TICK_SECONDS = 0.1
PARTIAL_SWEEP_SECONDS = 1.0
#: Connections the kernel queues while the server is busy (a rack of boards reconnecting at once).
LISTEN_BACKLOG = 1024
#: A completed message above this size is decoded, validated and expanded on a worker
#: thread: that costs ~0.6 µs a byte (about 0.7 s for a 1 MiB message of small
#: properties), which on the loop would hold up every other connection. A message in
#: one frame is at most the frame limit (64 KiB, ~40 ms) and stays on the loop.
JUDGE_OFF_LOOP_BYTES = P.CAPTURE_LIMITS.frame
#: Frame limit applied to a body before the tenant is known (unknown key or wrong path).
DEFAULT_FRAME_LIMIT = P.CAPTURE_LIMITS.frame


def is_loopback(host: str) -> bool:
    """True when ``host`` only ever binds loopback addresses."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def _connect_host(host: str) -> str:
    """Where a local client reaches a server bound to ``host``."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _normalize_prefix(prefix: str) -> str:
    prefix = (prefix or "").rstrip("/")
    if prefix and (not prefix.startswith("/") or any(c in prefix for c in "?# ") or prefix.startswith(CONTROL_PREFIX)):
        raise ValueError(f"capture prefix {prefix!r} must be a path like /base (no query, no fragment, not under /_hil/)")
    return prefix


class _App:
    """Everything behind the sockets; lives on the event loop thread."""

    def __init__(self, *, prefix: str, open_tenants: bool, control_token: str | None, partial_ttl: float,
                 read_timeout: float, clock, observer, max_memory: int):
        self.clock = clock
        self.read_timeout = read_timeout
        self.capture_path = ingest.capture_path(prefix)
        self.open_tenants = open_tenants
        self.observer = observer
        self.redactor = Redactor()
        if control_token:
            self.redactor.add(control_token)
        self.budget = Budget(max_memory)
        self.tenants = Tenants(lambda: Reassembler(partial_ttl, clock=clock,
                                                   frame_overhead=PARTIAL_FRAME_OVERHEAD_BYTES),
                               redactor=self.redactor, budget=self.budget)
        self.internal_errors = 0
        #: the event loop's clock (connection deadlines), looked up once: every connection reads it
        self.loop_time = asyncio.get_running_loop().time
        self.connections: set[_Connection] = set()
        #: judges large messages (JUDGE_OFF_LOOP_BYTES) one at a time, off the event loop
        self.judge_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="honch-hil-judge")
        self.control = ControlApi(self.tenants, token=control_token, info=lambda: {
            "version": __version__, "capture_path": self.capture_path, "open": open_tenants,
            "partial_ttl": partial_ttl, "read_timeout": read_timeout, "internal_errors": self.internal_errors,
            "memory": self.budget.to_json(),
        })

    # -- periodic work -----------------------------------------------------------------

    async def tick_forever(self, interval: float) -> None:
        """Connection deadlines and partial expiry, for busy and idle tenants alike."""
        loop = asyncio.get_running_loop()
        last_sweep = loop.time()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for conn in list(self.connections):
                conn.check_deadline(now)
            if now - last_sweep >= PARTIAL_SWEEP_SECONDS:
                last_sweep = now
                self.tenants.expire_partials()

    # -- limits known from the head --------------------------------------------------

    def body_limit(self, head) -> int:
        if is_control(head.target):
            return MAX_CONTROL_BODY
        keys = ingest.project_keys(head)
        tenant = self.tenants.get(keys[0]) if keys else None
        return tenant.options.limits.frame if tenant else DEFAULT_FRAME_LIMIT

    # -- dispatch ----------------------------------------------------------------------

    def dispatch(self, conn: "_Connection", request: Request) -> None:
        try:
            if is_control(request.head.target):
                self._control(conn, request)
            else:
                self._capture(conn, request)
        except Exception:  # a bug of ours: say so loudly, never take the server down
            self._internal_error(conn, request)

    def _internal_error(self, conn, request, tenant=None) -> None:
        self.internal_errors += 1
        detail = traceback.format_exc()
        print(f"honch-hil capture: internal error\n{self.redactor.text(detail, _keys(request))}", file=sys.stderr)
        verdict = Verdict(500, f"mock internal error: {detail.strip().splitlines()[-1]}")
        try:
            self._answer(conn, request, tenant, verdict, fault=None)
        except Exception:
            conn.drop()

    def _control(self, conn, request: Request) -> None:
        head = request.head
        problem = None
        if head.has("Transfer-Encoding"):
            problem = (400, "Transfer-Encoding is not supported; send Content-Length")
        elif head.count("Content-Length") > 1:
            problem = (400, "Content-Length appears more than once")
        elif head.has("Content-Length") and request.content_length is None:
            problem = (400, f"Content-Length {head.get('Content-Length')!r} is not a decimal number")
        elif request.content_length is not None and request.content_length > MAX_CONTROL_BODY:
            problem = (413, f"control request body above {MAX_CONTROL_BODY} bytes")
        elif request.body_problem:
            problem = (400, request.body_problem)
        reply = self.control.handle(head, request.body, problem)
        conn.respond(reply.status, reply.headers, reply.body)
        self._observe({"kind": "control", "t": request.t, "method": self.redactor.text_with(head.method, reply.forms),
                       "path": reply.log_path, "status": reply.status,
                       "reason": reply.reason, "tenant": reply.tenant_alias})

    def _lookup(self, key: str):
        tenant = self.tenants.get(key)
        if tenant is None and self.open_tenants and key_problem(key) is None and len(self.tenants) < self.tenants.max_tenants:
            tenant, _ = self.tenants.put(key, parse_options({}))
        return tenant

    def _capture(self, conn, request: Request) -> None:
        head = request.head
        keys = ingest.project_keys(head)
        tenant = self.tenants.get(keys[0]) if keys else None  # for the request log, whatever the verdict
        verdict = ingest.route(head, self.capture_path)
        if verdict is None:
            tenant, verdict = ingest.identify(head, self._lookup)
        if verdict is not None:
            self._answer(conn, request, tenant, verdict, fault=None)
            return
        fault = tenant.next_fault()
        if fault is None:
            self._process(conn, request, tenant, lambda verdict: self._answer(conn, request, tenant, verdict,
                                                                              fault=None))
        elif fault.delay_ms:
            # Not tied to the connection: a client that gives up during the delay still has
            # its request processed and recorded, as a real receiver would.
            asyncio.get_running_loop().call_later(
                fault.delay_ms / 1000, self._apply_fault_safely, conn, request, tenant, fault)
        else:
            self._apply_fault(conn, request, tenant, fault)

    def _apply_fault_safely(self, conn, request, tenant, fault) -> None:
        try:
            self._apply_fault(conn, request, tenant, fault)
        except Exception:
            self._internal_error(conn, request, tenant)

    def _apply_fault(self, conn, request, tenant, fault) -> None:
        if fault.status is not None:
            verdict = Verdict(fault.status, "injected status", headers=fault.headers)
            self._answer(conn, request, tenant, verdict, fault=fault, processed=False)
        elif fault.close:
            self._answer(conn, request, tenant, Verdict(0, "injected close: connection closed without an answer"),
                         fault=fault, processed=False)
        else:
            lose = fault.lose_response
            self._process(conn, request, tenant, lambda verdict: self._answer(conn, request, tenant, verdict,
                                                                              fault=fault, lose=lose))

    def _process(self, conn, request: Request, tenant, answer) -> None:
        """Steps 4-14 of W10, then ``answer(verdict)``: at once, or for a message large
        enough to stall every other connection while it is decoded, once a worker thread
        has judged it (the connection waits, reading nothing, as during a delay fault)."""
        verdict = ingest.check_headers(request, tenant.options.limits.frame)
        if verdict is None:
            step = ingest.accept_frame(request, tenant)
            tenant.partials_changed()
            if type(step) is not Verdict:
                if len(step.data) > JUDGE_OFF_LOOP_BYTES:
                    self._judge_off_loop(conn, request, tenant, step, answer)
                    return
                step = ingest.judge_message(request, tenant, step)
            verdict = step
            self._judged(request, tenant, verdict, [compact_json(event) for event in verdict.events])
        answer(verdict)

    def _judged(self, request: Request, tenant, verdict: Verdict, texts: list[str]) -> None:
        """Store the events (``texts``: each one's compact JSON), redacted against the
        secrets as they are now; on the loop thread, which alone reads them."""
        if verdict.events:
            forms = self._forms(request)
            checked = self.redactor.checked
            tenant.store_events([checked(event, text, forms)[1] for event, text in zip(verdict.events, texts)],
                                request.t)
        self.tenants.enforce_budget()

    def _judge_off_loop(self, conn, request: Request, tenant, completed, answer) -> None:
        def judge() -> tuple[Verdict, list[str]]:
            # the secrets change as tenants come and go: the worker does not read them
            verdict = ingest.judge_message(request, tenant, completed)
            return verdict, [compact_json(event) for event in verdict.events]

        def judged(future) -> None:
            try:
                verdict, texts = future.result()
                self._judged(request, tenant, verdict, texts)
                answer(verdict)
            except Exception:
                self._internal_error(conn, request, tenant)

        asyncio.get_running_loop().run_in_executor(self.judge_pool, judge).add_done_callback(judged)

    # -- answering and recording ----------------------------------------------------------

    def _answer(self, conn, request: Request, tenant, verdict: Verdict, *, fault, processed: bool = True,
                lose: bool = False) -> None:
        status = 0 if lose else verdict.status
        forms = self._forms(request)
        # reasons may quote the path or a header; neither answer nor log may carry a key
        reason = self.redactor.text_with(verdict.reason, forms)
        if lose:
            reason = self.redactor.text_with(
                f"injected lose_response: processed as {verdict.status} ({verdict.reason or 'ok'}), "
                "no answer sent", forms)
        if status == 0:
            conn.drop()
        else:
            body = error_body(status, reason, "injected" if fault is not None and fault.status else None) \
                if status >= 400 else b""
            conn.respond(status, verdict.headers, body)
        self._record(request, tenant, status, reason, fault, verdict if processed else None,
                     decoded=verdict.decoded, forms=forms)

    def _record(self, request: Request, tenant, status: int, reason: str, fault, verdict: Verdict | None, *,
                decoded=None, forms) -> None:
        """The request-log entry (when the key names a tenant) and the observer's entry."""
        head = request.head
        headers = head.as_dict()
        key_header = head.sent_name(P.HEADER_PROJECT_KEY)  # as_dict holds it under this name
        if key_header is not None:
            headers[key_header] = REDACTED
        record = {
            "t": request.t,
            "method": head.method,
            "path": head.target,
            "headers": headers,
            "status": status,
            "reason": reason,
            "fault": fault.spec if fault is not None else None,
            # what processing concluded (differs from status under lose_response; null when a
            # fault answered instead of processing)
            "outcome": verdict.status if verdict is not None else None,
            "frame": verdict.frame if verdict is not None else None,
            "events": len(verdict.events) if verdict is not None else 0,
        }
        record, text = self.redactor.document(record, forms=forms)
        body = forms.data(request.body) if request.body else b""
        if tenant is not None:
            # body_hex comes last and is written only when the log is read
            tenant.log_request(request.t, text[:-1] + ',"body_hex":"', body)
            self.tenants.enforce_budget()
        if self.observer is not None:
            self._observe({"kind": "capture", "tenant": tenant.alias if tenant else self._alias_of(request),
                           "decoded": decoded, **record, "body_hex": body.hex()})

    def _forms(self, request: Request):
        """The forms to redact this request's outputs with: the server's secrets (a live
        view) and the request's own keys, put together once per request."""
        forms = request.forms
        if forms is None:
            # forms() skips empty keys itself, so the keys go in as the head holds them
            forms = request.forms = self.redactor.forms(ingest.project_keys(request.head))
        return forms

    def _alias_of(self, request: Request) -> str | None:
        keys = ingest.project_keys(request.head)
        return self.tenants.alias(keys[0]) if keys and keys[0] else None

    def connection_failed(self, conn, head, t: float, status: int, reason: str, raw=b"") -> None:
        """A request that never became complete: record it where it belongs, redacted like any other."""
        if head is not None and not is_control(head.target):
            keys = ingest.project_keys(head)
            request = Request(head, t)
            self._record(request, self.tenants.get(keys[0]) if keys else None, status, reason, None, None,
                         forms=self.redactor.forms(keys))
            return
        keys = raw_project_keys(raw) + raw_control_keys(raw) if head is None else \
            control_keys(head.target) + ingest.project_keys(head)
        forms = self.redactor.forms(keys)
        self._observe({"kind": "capture" if head is None else "control", "t": t,
                       "method": self.redactor.text_with(head.method, forms) if head else None, "path": None,
                       "status": status, "reason": self.redactor.text_with(reason, forms), "tenant": None})

    def _observe(self, entry: dict) -> None:
        if self.observer is None:
            return
        try:
            self.observer(entry)
        except Exception:
            print(f"honch-hil capture: observer failed\n{traceback.format_exc()}", file=sys.stderr)


def _keys(request: Request) -> list[str]:
    return [key for key in ingest.project_keys(request.head) if key]


class _Connection(asyncio.Protocol):
    """One client connection: requests one after the other, each answered in order.

    A request is its head plus exactly Content-Length body bytes; whatever follows is
    the next request (HTTP/1.1 pipelining), never part of this body, so a verdict does
    not depend on how TCP split the bytes. After a request with ``Connection: close``
    (what devices send), or one whose framing is lost (no usable length, a head that
    did not parse), the connection closes after the answer and later bytes are not
    processed (RFC 9112 9.6). The next request is only read once the current one is
    answered, so answers keep the order of the requests even across delay faults."""

    # one of these is made per connection, i.e. per request of a device
    __slots__ = ("app", "transport", "buffer", "state", "deadline", "eof", "discarded", "served", "head",
                 "body_start", "expected", "body_read", "content_length", "consumed", "persistent", "head_only")

    def __init__(self, app: _App):
        self.app = app
        self.transport = None
        self.buffer = bytearray()
        self.state = "head"       # head -> body -> busy -> head (persistent) | linger | closed
        self.deadline = 0.0
        self.eof = False
        self.discarded = 0
        self.served = 0           # requests answered on this connection
        self._reset()

    def _reset(self) -> None:
        self.head = None
        self.body_start = 0
        self.expected = 0
        self.body_read = False
        self.content_length = None
        self.consumed = False     # True when everything the client sent so far was read
        self.persistent = False   # the connection stays open after this request's answer
        self.head_only = False    # HEAD: the answer has no body

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    # -- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.app.connections.add(self)
        self.deadline = self.app.loop_time() + self.app.read_timeout

    def data_received(self, data: bytes) -> None:
        if self.state in ("head", "body"):
            if self.served and not self.buffer and self.state == "head":
                # the next request of a persistent connection: the whole-request deadline starts now
                self.deadline = self.app.loop_time() + self.app.read_timeout
            self.buffer += data
            self._guarded(self._advance)
        elif self.state == "busy":
            self.buffer += data   # the next pipelined request, read once this one is answered
        elif self.state == "linger":
            self.discarded += len(data)
            if self.discarded > LINGER_MAX_BYTES:
                self._close()

    def eof_received(self) -> bool:
        self.eof = True
        if self.state == "head":
            if self.buffer:
                self._fail_head(HeadError(400, "connection closed before the end of the request head"))
            else:
                self._close()
        elif self.state == "body":
            self._guarded(self._advance)
        elif self.state == "linger":
            self._close()
        return True  # keep the transport open so the answer can still be written

    def _guarded(self, step) -> None:
        try:
            step()
        except Exception:  # a bug of ours: report it, drop this connection, keep serving
            self.app.internal_errors += 1
            print(f"honch-hil capture: internal error\n{traceback.format_exc()}", file=sys.stderr)
            self.abort()

    def connection_lost(self, exc) -> None:
        was = self.state
        self.state = "closed"
        self.app.connections.discard(self)
        if was == "body":
            self.app.connection_failed(self, self.head, self.app.clock(), 0,
                                       "connection lost before the request was complete")

    # -- reading ---------------------------------------------------------------------------

    def _advance(self) -> None:
        if self.state == "head":
            try:
                end = find_head_end(self.buffer)
                if end < 0:
                    return
                self.head = parse_head(bytes(self.buffer[:end]))
            except HeadError as exc:
                self._fail_head(exc)
                return
            self.body_start = end + 4
            self._plan_body()
            self.state = "body"
        received = len(self.buffer) - self.body_start
        if self.body_read and received < self.expected and not self.eof:
            return
        self._complete(received)

    def _plan_body(self) -> None:
        head = self.head
        fields = head.fields
        values = fields.get(FIELD_CONTENT_LENGTH, ())
        self.content_length = parse_content_length(values[0]) if values else None
        if FIELD_TRANSFER_ENCODING in fields or len(values) > 1:
            usable = False
        elif not values:
            usable = True  # no Content-Length and no Transfer-Encoding: no body (RFC 9112 6.3)
        else:
            usable = self.content_length is not None and self.content_length <= self.app.body_limit(head)
        self.body_read = usable
        self.expected = (self.content_length or 0) if usable else 0
        self.head_only = head.method == "HEAD"
        if usable and self.expected and FIELD_EXPECT in fields and fields[FIELD_EXPECT][0].lower() == "100-continue" \
                and len(self.buffer) == self.body_start:
            # curl sends this for larger control bodies; devices never do
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _complete(self, received: int) -> None:
        self.state = "busy"
        start = self.body_start
        if self.body_read:
            end = start + self.expected
            body = bytes(self.buffer[start:end])
            truncated = received < self.expected
            del self.buffer[:end]
            self.persistent = not truncated and _keeps_alive(self.head)
            self.consumed = not self.buffer
        else:
            body, truncated = b"", False
            self.consumed = received == 0 and self.eof
            self.buffer = bytearray()
        request = Request(self.head, self.app.clock(), body, self.content_length, self.body_read, truncated)
        self.app.dispatch(self, request)
        if self.state == "busy":
            # Not answered yet (a delay fault): read nothing more until it is. Nothing can be
            # read during dispatch itself, so an answered request (the usual case, after
            # which the connection closes) skips pausing and resuming the transport; a
            # pipelined next request pauses it in _next_request.
            self.transport.pause_reading()

    def _fail_head(self, error: HeadError) -> None:
        self.state = "busy"
        self.consumed = self.eof
        forms = self.app.redactor.forms(raw_project_keys(self.buffer) + raw_control_keys(self.buffer))
        reason = self.app.redactor.text_with(error.reason, forms)
        raw = bytes(self.buffer[:MAX_HEAD_BYTES])
        self.buffer = bytearray()
        self.respond(error.status, [], error_body(error.status, reason))
        self.app.connection_failed(self, None, self.app.clock(), error.status, reason, raw)

    def check_deadline(self, now: float) -> None:
        """Called by the server's ticker: the whole-request and the drain deadlines."""
        if now < self.deadline:
            return
        if self.state == "linger":
            self._close()
            return
        if self.state not in ("head", "body"):
            return
        t = self.app.clock()
        if self.state == "head" and not self.buffer:
            self._close()
            if not self.served:  # an idle persistent connection just ends
                self.app.connection_failed(self, None, t, 0, "no request within the read timeout")
            return
        if self.state == "head":
            reason = f"request head incomplete after {self.app.read_timeout:g} s"
        else:
            reason = (f"body incomplete after {self.app.read_timeout:g} s: "
                      f"{len(self.buffer) - self.body_start} of {self.expected} bytes")
        self.state = "busy"
        self.consumed = False
        self.persistent = False
        head = self.head
        self.respond(408, [], error_body(408, self.app.redactor.text(reason)))
        self.app.connection_failed(self, head, t, 408, reason, bytes(self.buffer[:MAX_HEAD_BYTES]))

    # -- answering ------------------------------------------------------------------------

    def respond(self, status: int, headers, body: bytes) -> None:
        if self.state == "closed":
            return
        persistent = self.persistent and self.state == "busy"
        self.transport.write(serialize_response(status, headers, body, keep_alive=persistent,
                                                head_only=self.head_only))
        if persistent:
            self._next_request()
        elif self.consumed or self.eof:
            self._close()
        else:
            self._linger()

    def _next_request(self) -> None:
        self._reset()
        self.state = "head"
        self.served += 1
        if self.buffer:
            # the next request has started (pipelined behind this one): the whole-request
            # deadline from now, when its bytes start being read, as when its first byte
            # arrives later (data_received); a verdict must not depend on the TCP split
            self.deadline = self.app.loop_time() + self.app.read_timeout
        else:
            self.deadline = self.app.loop_time() + min(self.app.read_timeout, KEEP_ALIVE_IDLE_SECONDS)
        if self.buffer or self.eof:
            # not from inside respond(): a long pipeline must not nest calls; and nothing more
            # is read until the requests already buffered are answered
            self.transport.pause_reading()
            asyncio.get_running_loop().call_soon(self._resume_pipeline)
        else:
            self.transport.resume_reading()

    def _resume_pipeline(self) -> None:
        if self.state != "head":
            return
        if self.buffer:
            self._guarded(self._advance)
        elif self.eof:
            self._close()
        if self.state in ("head", "body"):
            self.transport.resume_reading()

    def drop(self) -> None:
        """Close without an answer."""
        self._close()

    def _linger(self) -> None:
        self.state = "linger"
        self.buffer = bytearray()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.transport.resume_reading()
        self.deadline = self.app.loop_time() + LINGER_SECONDS

    def _close(self) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        self.app.connections.discard(self)
        self.transport.close()

    def abort(self) -> None:
        self.state = "closed"
        self.transport.abort()


def _keeps_alive(head) -> bool:
    """HTTP/1.1 without a ``close`` connection option (RFC 9112 9.3)."""
    if head.version != "HTTP/1.1":
        return False
    values = head.fields.get(FIELD_CONNECTION, ())
    if len(values) == 1 and values[0] in ("close", "Close"):
        return False
    return not any("close" in (token.strip().lower() for token in value.split(","))
                   for value in values)


class CaptureServer:
    """The mock capture server.

    >>> with CaptureServer() as server:          # background thread, port chosen by the OS
    ...     ControlClient(server.url).tenant("key").reset()

    ``honch-hil serve`` calls :meth:`run` instead, which blocks until Ctrl-C.
    ``clock`` (monotonic seconds) drives request times and partial expiry, so tests
    can move time forward instead of sleeping.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, prefix: str = "", open_tenants: bool = False,
                 control_token: str | None = None, partial_ttl: float = P.PARTIAL_TTL_SECONDS,
                 read_timeout: float = DEFAULT_READ_TIMEOUT, clock=time.monotonic, observer=None,
                 max_memory: int = DEFAULT_MAX_MEMORY):
        if not is_loopback(host) and not control_token:
            raise ValueError(f"binding {host or 'all interfaces'} (not loopback) exposes the control API; "
                             "give a control token (--control-token or HONCH_HIL_CONTROL_TOKEN)")
        if partial_ttl <= 0:
            raise ValueError(f"partial_ttl must be positive seconds, got {partial_ttl!r}")
        if read_timeout <= 0:
            raise ValueError(f"read_timeout must be positive seconds, got {read_timeout!r}")
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.prefix = _normalize_prefix(prefix)
        Budget(max_memory)  # refuses a bound too small to hold one request, before anything starts
        self._options = dict(prefix=self.prefix, open_tenants=open_tenants, control_token=control_token,
                             partial_ttl=partial_ttl, read_timeout=read_timeout, clock=clock, observer=observer,
                             max_memory=max_memory)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Future | None = None
        self._thread: threading.Thread | None = None
        self._app: _App | None = None

    @property
    def url(self) -> str:
        """Base URL for local clients (control API and SDK endpoint without the prefix)."""
        if self.port is None:
            raise RuntimeError("the server is not running")
        return f"http://{_connect_host(self.host)}:{self.port}"

    @property
    def endpoint(self) -> str:
        """The endpoint URL an SDK is configured with (its requests go to ``endpoint + /capture``)."""
        return self.url + self.prefix

    @property
    def capture_url(self) -> str:
        return self.url + self.prefix + P.CAPTURE_PATH

    # -- background thread ---------------------------------------------------------------

    def start(self) -> "CaptureServer":
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        ready = threading.Event()
        failure: list[BaseException] = []

        def main():
            try:
                asyncio.run(self._main(ready.set))
            except BaseException as exc:  # reported to start() or lost with the thread
                failure.append(exc)
                ready.set()

        self._thread = threading.Thread(target=main, name="honch-hil-capture", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        loop, stop = self._loop, self._stop_requested
        if loop is not None and stop is not None:
            try:
                loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))
            except RuntimeError:  # loop already closed
                pass
        thread.join()
        self._thread = None
        self.port = None

    def __enter__(self) -> "CaptureServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- foreground ------------------------------------------------------------------------

    def run(self, on_ready=None) -> None:
        """Serve in the calling (main) thread until Ctrl-C (KeyboardInterrupt), SIGTERM
        (returns normally) or :meth:`stop` from another thread."""
        asyncio.run(self._main(on_ready or (lambda: None), stop_on_sigterm=True))

    async def _main(self, on_ready, stop_on_sigterm: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self._app = app = _App(**self._options)
        server = Listener(loop, bind(self.host, self.requested_port, LISTEN_BACKLOG), lambda: _Connection(app),
                          LISTEN_BACKLOG)
        self.port = server.sockets[0].getsockname()[1]
        ticker = loop.create_task(app.tick_forever(min(TICK_SECONDS, app.read_timeout / 4)))
        self._loop = loop
        self._stop_requested = stop = loop.create_future()
        if stop_on_sigterm:
            loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
        try:
            on_ready()
            await self._stop_requested
        finally:
            ticker.cancel()
            for conn in list(app.connections):
                conn.abort()
            server.close()  # and the connections still flushing an answer
            # a judgement still running ends on its own, unanswered (its connection is aborted)
            app.judge_pool.shutdown(wait=False, cancel_futures=True)
            await asyncio.sleep(0)  # the aborted connections' connection_lost
            self._loop = None

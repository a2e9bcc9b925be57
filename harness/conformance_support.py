"""What the conformance suite reads from the capture server, and how it judges timing.

The suite asserts from the server's records, not from what a device says about
itself. This module turns a tenant's request log into the objects those
assertions talk about:

* :class:`Upload` — one recorded request, its headers and its parsed frame;
* :class:`Attempt` — one attempt to send a message: its frames from offset 0 up
  to the request that ended it (the final frame, or a frame that got no ``202``);
  a complete attempt is reassembled, CRC-checked and decoded with the SDK limits;

plus the contract's timing figures (backoff windows, Retry-After) and the
``mandated_wait`` record that ``bench/suite_overhead.py`` sums.
"""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass, field

from harness.protocol import (
    BACKOFF_JITTER_FRACTION, CAPTURE_PATH, HEADER_STREAM_ID, SDK_LIMITS, SPACING_DISABLED,
)
from harness.wire import WireError, crc16, decode_message, parse_frame

STREAM_ID_RE = re.compile(r"^[0-9a-f]{8}$")
#: the user property a test's mandated waits accumulate in (milliseconds)
MANDATED_WAIT_PROPERTY = "mandated_wait_ms"


# --- the request log -------------------------------------------------------------------


@dataclass
class Upload:
    """One request as the capture server recorded it."""

    t: float                  # server monotonic seconds at receipt
    path: str
    headers: dict             # lower-cased name -> value (the project key is redacted)
    header_names: list        # as sent, in order (repeats visible)
    body: bytes
    status: int               # what the device got; 0 when the server closed without answering
    reason: str
    fault: object
    method: str = "POST"
    outcome: int | None = None  # what processing concluded (differs from status under lose_response)
    frame: object = None      # harness.wire.Frame, or None when the body is not a frame
    frame_error: str = ""

    @property
    def stream_id(self) -> str | None:
        return self.headers.get(HEADER_STREAM_ID.lower())

    @property
    def kind(self) -> str | None:
        return self.frame.kind if self.frame is not None else None

    @property
    def message_id(self) -> int | None:
        return self.frame.message_id if self.frame is not None else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def __repr__(self):
        return (f"Upload(t={self.t:.3f}, {self.kind} id={self.message_id} "
                f"offset={getattr(self.frame, 'offset', None)} -> {self.status} {self.reason!r}"
                f"{' fault=' + repr(self.fault) if self.fault else ''})")


def _headers(raw) -> tuple[dict, list]:
    if hasattr(raw, "items"):
        pairs = list(raw.items())
    else:
        pairs = [tuple(p) for p in raw]
    return {k.lower(): v for k, v in pairs}, [k for k, _ in pairs]


def uploads(capture) -> list[Upload]:
    """Every request the tenant received on the capture path, oldest first."""
    out = []
    for r in capture.requests():
        headers, names = _headers(r.get("headers") or {})
        body = bytes.fromhex(r.get("body_hex") or "")
        up = Upload(t=float(r["t"]), path=r.get("path", ""), headers=headers, header_names=names,
                    body=body, status=int(r.get("status") or 0), reason=r.get("reason") or "",
                    fault=r.get("fault"), method=r.get("method") or "", outcome=r.get("outcome"))
        try:
            up.frame = parse_frame(body, SDK_LIMITS)
        except WireError as exc:
            up.frame_error = f"{exc.status}: {exc.reason}"
        out.append(up)
    # the log is written when a request is answered; a delayed answer comes later
    # than the requests after it, so restore the order in which the device sent them
    out.sort(key=lambda u: u.t)
    return [u for u in out if u.path.endswith(CAPTURE_PATH)]


def is_delivered_status(status: int, final: bool) -> bool:
    """W5.6 / contract 8: the answer that completes a message (final frame, 2xx except 202)."""
    return final and 200 <= status < 300 and status != 202


@dataclass
class Attempt:
    """The frames of one message sent from offset 0, in order, until the sender stopped."""

    uploads: list = field(default_factory=list)

    @property
    def stream_id(self):
        return self.uploads[0].stream_id

    @property
    def message_id(self):
        return self.uploads[0].message_id

    @property
    def t(self) -> float:
        return self.uploads[0].t

    @property
    def complete(self) -> bool:
        """Every frame of the message went out (the last one is single or final)."""
        return self.uploads[-1].kind in ("single", "final")

    @property
    def delivered(self) -> bool:
        last = self.uploads[-1]
        return is_delivered_status(last.status, last.kind in ("single", "final"))

    @property
    def stored(self) -> bool:
        """The server stored the message, whether or not the device heard the answer."""
        last = self.uploads[-1]
        return self.complete and is_delivered_status(last.outcome or 0, True)

    @property
    def data(self) -> bytes:
        """The reassembled message bytes (complete attempts only)."""
        if not self.complete:
            raise AssertionError(f"attempt {self!r} did not send its final frame")
        return b"".join(u.frame.payload for u in self.uploads)

    @property
    def body(self) -> bytes:
        return b"".join(u.body for u in self.uploads)

    def message(self):
        """The decoded message, strictly, within the SDK limits (W7.7, W8)."""
        data = self.data
        last = self.uploads[-1].frame
        if crc16(data) != last.crc:
            raise AssertionError(f"message {self.message_id}: CRC 0x{last.crc:04x} does not match "
                                 f"0x{crc16(data):04x} of the reassembled {len(data)} bytes")
        return decode_message(data, SDK_LIMITS)

    def __repr__(self):
        return f"Attempt(id={self.message_id}, {[u.kind + '->' + str(u.status) for u in self.uploads]})"


def attempts(ups: list[Upload]) -> list[Attempt]:
    """Group frame uploads into message attempts.

    A single or init frame starts an attempt; a continuation joins the open
    attempt of the same stream and message id when it continues at its received
    length. Anything else (a stray continuation) becomes an attempt of its own,
    which the wire tests then reject as out of order.
    """
    out: list[Attempt] = []
    open_by_key: dict = {}
    for u in ups:
        if u.frame is None:
            out.append(Attempt([u]))
            continue
        key = (u.stream_id, u.message_id)
        if u.kind in ("single", "init"):
            a = Attempt([u])
            out.append(a)
            open_by_key[key] = a if u.kind == "init" else None
            continue
        a = open_by_key.get(key)
        received = sum(len(x.frame.payload) for x in a.uploads) if a else -1
        if a is not None and u.frame.offset == received:
            a.uploads.append(u)
            if u.kind == "final":
                open_by_key[key] = None
        else:
            out.append(Attempt([u]))
    return out


def delivered_messages(capture):
    """(attempt, decoded message) for every attempt the server accepted, oldest first."""
    return [(a, a.message()) for a in attempts(uploads(capture)) if a.delivered]


# --- duplicates: excused exactly when the device did not get the answer in time -------------


@dataclass(frozen=True)
class LateTetherReply:
    """A tethered request whose reply the host wrote at least the device's timeout after it
    received the request: the device (which starts its clock before the host sees the
    request and reads the reply after the host wrote it) had given up by then."""

    stream_id: str | None
    message_id: int | None
    offset: int
    held_ms: float
    timeout_ms: int


class TetherTimes:
    """Times every tethered request of ``board`` (host side); a no-op for networked boards.

    ``with TetherTimes(device.board) as tether: ...`` then ``tether.late`` lists the
    replies that came after the device's deadline.
    """

    def __init__(self, board):
        self.tether = getattr(board, "tether", None)
        self.late: list[LateTetherReply] = []
        self._serve = None

    def __enter__(self):
        if self.tether is not None:
            import time

            serve = self._serve = self.tether.serve

            def timed(message):
                t0 = time.monotonic()
                reply = serve(message)
                held_ms = (time.monotonic() - t0) * 1000
                timeout_ms = int(message.get("timeout_ms") or 0)
                if held_ms >= timeout_ms:
                    self.late.append(_late_reply(message, held_ms, timeout_ms))
                return reply

            self.tether.serve = timed
        return self

    def __exit__(self, *exc):
        if self._serve is not None:
            self.tether.serve = self._serve
        return False


def _late_reply(message: dict, held_ms: float, timeout_ms: int) -> LateTetherReply:
    headers = message.get("headers") or []
    pairs = headers.items() if isinstance(headers, dict) else [tuple(p) for p in headers]
    stream = next((v for k, v in pairs if k.lower() == HEADER_STREAM_ID.lower()), None)
    try:
        frame = parse_frame(bytes.fromhex(message.get("body") or ""), SDK_LIMITS)
        message_id, offset = frame.message_id, getattr(frame, "offset", 0) or 0
    except WireError:
        message_id, offset = None, 0
    return LateTetherReply(stream, message_id, offset, held_ms, timeout_ms)


@dataclass
class MissedAnswers:
    """What tells that the device did not get a request's answer before its deadline.

    * the server stored the request and sent nothing (``lose_response``);
    * the server held its answer at least ``transport_timeout_ms`` (a ``delay_ms`` fault);
    * a tethered request whose reply the host wrote after the device's deadline
      (:class:`TetherTimes`);
    * a request the device itself reported as timed out: ``device_timeouts`` holds
      (stream id, message id) of messages whose ``flush()`` raised TIMEOUT.
    """

    transport_timeout_ms: int
    tether_late: list = field(default_factory=list)
    device_timeouts: set = field(default_factory=set)

    def reason(self, upload: Upload) -> str:
        """Why the device did not hear this request's answer in time; "" when it must have."""
        fault = upload.fault or {}
        if fault.get("lose_response"):
            return "the server stored it and sent no answer (lose_response)"
        delay = fault.get("delay_ms", 0) or 0
        if delay >= self.transport_timeout_ms:
            return f"the server held its answer {delay} ms, past the {self.transport_timeout_ms} ms transport timeout"
        offset = getattr(upload.frame, "offset", 0) or 0
        for late in self.tether_late:
            if (late.stream_id, late.message_id, late.offset) == (upload.stream_id, upload.message_id, offset):
                return f"the tether's reply came {late.held_ms:.0f} ms after the request ({late.timeout_ms} ms timeout)"
        if (upload.stream_id, upload.message_id) in self.device_timeouts:
            return "the device reported a transport timeout for this message"
        return ""


def unexcused_duplicates(attempt_list: list[Attempt], missed: MissedAnswers) -> list[str]:
    """Messages stored more than once where the device must have heard an earlier success.

    A conforming device resends a stored message only when it did not get the answer to
    the request that completed it in time; so every stored copy but the last must have a
    :meth:`MissedAnswers.reason`. Returns one description per copy that has none.
    """
    copies: dict = {}
    for a in attempt_list:
        if a.stored:
            copies.setdefault((a.stream_id, a.message_id), []).append(a)
    out = []
    for (stream, message_id), stored in copies.items():
        for a in stored[:-1]:
            if not missed.reason(a.uploads[-1]):
                last = a.uploads[-1]
                out.append(f"message {message_id} of stream {stream} was stored at t={last.t:.3f} and answered "
                           f"{last.status} in time, yet sent again ({len(stored)} copies stored)")
    return out


# --- events ----------------------------------------------------------------------------


def names(events) -> list[str]:
    return [e["event"] for e in events]


def named(events, name: str) -> list[dict]:
    return [e for e in events if e["event"] == name]


def user_events(events) -> list[dict]:
    """Events the test tracked itself (names without the SDK's ``$``)."""
    return [e for e in events if not e["event"].startswith("$")]


# --- timing ------------------------------------------------------------------------------


#: The contract's clocks count whole milliseconds (section 5): a wait the device timed
#: as w ms may last up to 1 ms less on the server's finer clock. Lower bounds on
#: server-measured gaps allow exactly this much.
CLOCK_RESOLUTION_MS = 1


def backoff_window_ms(b: int) -> tuple[int, int]:
    """Contract 9: the jittered wait for delay ``b`` lies in [b - q, b + q], q = b // 4."""
    q = int(b * BACKOFF_JITTER_FRACTION)
    return b - q, b + q


def backoff_delays_ms(initial: int, maximum: int, n: int) -> list[int]:
    """The delays ``b`` of n consecutive retryable outcomes (contract 9, with the clamp of 4)."""
    maximum = max(maximum, initial)
    out, b = [], initial
    for _ in range(n):
        out.append(b)
        b = min(2 * b, maximum)
    return out


def http_date(epoch_seconds: float) -> str:
    """IMF-fixdate (RFC 9110 5.6.7), as a server writes it in Retry-After."""
    return email.utils.formatdate(epoch_seconds, usegmt=True)


def mandated_wait(request, ms: float, why: str = "") -> None:
    """Record that the scenario must wait ``ms`` because the contract says so.

    ``request`` is pytest's ``request`` fixture. The waits of one test add up in the
    ``mandated_wait_ms`` user property, which reaches JUnit XML and the run's
    collector; ``bench/suite_overhead.py`` compares their sum with the wall time.
    """
    props = request.node.user_properties
    for i, (k, v) in enumerate(props):
        if k == MANDATED_WAIT_PROPERTY:
            props[i] = (k, int(v) + int(ms))
            return
    props.append((MANDATED_WAIT_PROPERTY, int(ms)))


# --- driving the device ------------------------------------------------------------------

#: Overrides that keep a client from sending on its own: no spacing, an interval and
#: a threshold no scenario reaches, fast retries. Tests state what they change on top.
QUIET = {
    "flush_min_interval_ms": SPACING_DISABLED,
    "flush_interval_seconds": 3600,
    "flush_event_threshold": 1000,
    "flush_retry_initial_ms": 100,
    "flush_retry_max_ms": 800,
}


def quiet(device, **overrides):
    """Re-create the board's client with :data:`QUIET` plus ``overrides``."""
    config = dict(QUIET)
    config.update(overrides)
    device.init(**config)
    return config


def flush_all(device, max_flushes: int = 64) -> int:
    """``flush()`` until the queue is empty (one message per call is the published API;
    flush_max_batches is an extension). Needs spacing disabled, as :data:`QUIET` does.
    Returns the number of calls."""
    for n in range(1, max_flushes + 1):
        device.flush()
        if device.queue_stats()["queued_events"] == 0:
            return n
    raise AssertionError(f"{max_flushes} flush() calls left events queued: {device.queue_stats()}")


def drain_boot(device, capture):
    """Deliver the construction's ``$device_boot`` so a scenario starts with an empty queue."""
    device.flush()
    assert device.queue_stats()["queued_events"] == 0, "flush() left events queued"
    return len(capture.requests())


class RemoteRaised:
    """What :func:`raises` caught: the remote exception's class, bases, status and message."""

    error = None

    @property
    def name(self):
        return self.error.name

    @property
    def status(self):
        return self.error.status

    @property
    def classes(self):
        return list(self.error.classes)

    @property
    def message(self):
        return self.error.message


class raises:
    """``with raises("RateLimitedError", status=5): device.flush()``.

    Passes when the device raised ``cls`` or a subclass of it (``classes`` lists the
    exception's class and its honch bases); the failure message says what the
    device did instead.
    """

    def __init__(self, cls: str, status: int | None = None):
        self.cls = cls
        self.want_status = status
        self.caught = RemoteRaised()

    def __enter__(self):
        return self.caught

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            raise AssertionError(f"expected the device to raise {self.cls}, but the call returned")
        classes = getattr(exc, "classes", None)
        if classes is None:
            return False  # not a remote exception: a harness problem, let it through
        if self.cls not in classes:
            raise AssertionError(f"expected {self.cls}, the device raised {exc.name} "
                                 f"(classes {list(classes)}, status {exc.status}): {exc.message}") from exc
        # Checked where the port carries statuses (C49, capability status_attr): the
        # published wrapper's exceptions have none, which C49 judges, not this clause.
        if self.want_status is not None and exc.status is not None and exc.status != self.want_status:
            raise AssertionError(f"{exc.name} carries status {exc.status}, expected {self.want_status}: "
                                 f"{exc.message}") from exc
        self.caught.error = exc
        return True


# --- building events of a given size -----------------------------------------------------


def single_event_message(reference, name: str, properties):
    """The message a client that sent ``reference`` would send for one event outside a session.

    ``properties`` is a dict or a list of (key, wire value) pairs; the context and base
    time are the reference's, so the result has the size the device's message will have.
    """
    from harness.wire import Event, Message

    context = [(cid, v) for cid, v in reference.context if cid != 8]
    props = list(properties.items()) if isinstance(properties, dict) else list(properties)
    return Message(reference.base_time_ms, context, [Event(name, 0, props)])


def sized_event(reference, name: str, target_len: int) -> dict:
    """Properties for one event ``name`` whose message alone is exactly ``target_len`` bytes.

    ``reference`` is a decoded message the same client sent outside a session (its
    context and base time are what the device will write again). The size comes
    from a list of float64 values (9 bytes each) and a padding string (1-byte steps),
    so it can be tuned to the byte without binary properties.
    """
    from harness.wire import F64, encode_message

    def length(pad: int, floats: int) -> int:
        props = [("pad", "x" * pad), ("fill", [F64(0.5)] * floats)]
        return len(encode_message(single_event_message(reference, name, props)))

    floats = max(0, (target_len - length(1, 0) - 400) // 9)
    for pad in range(1, SDK_LIMITS.string_bytes + 1):
        if length(pad, floats) == target_len:
            return {"pad": "x" * pad, "fill": [0.5] * floats}
    raise ValueError(f"no event of the form pad+floats makes a {target_len}-byte message")


def starved_ms(device, t_from: float, t_to: float) -> float:
    """Milliseconds the board's processes and the harness waited for a CPU between two
    ``time.monotonic()`` instants (server receive times are on that clock).

    Timing upper bounds add this: a board that was runnable but not running on a
    loaded host acts late through no fault of its own. It is about 0 on an idle
    machine, where the bounds are the contract's (harness/boards/starvation.py).
    """
    return device.board.starvation.starved_ms(t_from, t_to)


def pump_until(device, capture, done, max_ms: int, period_ms: int = 10, chunk_ms: int = 50):
    """Tick on the device (``pump``) in chunks until ``done(uploads)`` holds or ``max_ms`` passed.

    The ticking is timed on the device; between chunks the host asks the server
    whether the scenario has finished, so a test waits about as long as the
    contract makes it wait rather than for a fixed worst case. Returns the uploads.

    A starved board may act late, so the window grows by the starvation measured
    since the start, but by at most ``max_ms``: the figure sums the run-queue wait
    of every thread of the board and the harness, so on a host with more runnable
    threads than cores it grows faster than the wall clock, and a scenario whose
    ``done`` never holds (a test that checks nothing is sent) would never end.
    """
    spent, started = 0, time.monotonic()
    while True:
        ups = uploads(capture)
        limit = max_ms + min(starved_ms(device, started, time.monotonic()), max_ms)
        if done(ups) or spent >= limit:
            return ups
        step = int(min(chunk_ms, limit - spent)) or 1
        device.pump(step, period_ms)
        spent += step


def statuses(ups) -> list[int]:
    return [u.status for u in ups]

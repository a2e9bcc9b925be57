"""``AgentClient``: the host side of the agent's line protocol over a link.

It sends requests (``track [...]``, protocol 2, docs/boards.md) and takes the next
reply (``[id]``, ``[id, result]``, ``[id, null, error]``); once a request went
unanswered, requests carry ids (``7 track [...]``) and a late reply to the abandoned
one is dropped. It keeps the last console lines that were not agent lines (for
error messages), notices a MicroPython banner (the board rebooted) and serves
tethered HTTP requests while it waits for a reply.
"""

from __future__ import annotations

import collections
import contextlib
import json
import re
import time

from harness.agent import codec
from harness.boards.links import Link, LinkError

#: a MicroPython boot banner or soft reboot, seen where an agent line was expected
BANNER = re.compile(rb"(MicroPython v\d+\.\d+|soft reboot)")
CONSOLE_TAIL_LINES = 40
#: an op name: what the agent takes for one at the start of a request line
OP_NAME = re.compile(r"[a-z_][A-Za-z0-9_]*")


class AgentFailure(Exception):
    """The board did not answer as the protocol requires. Carries the last console lines."""

    def __init__(self, message: str, board: str, console: list[str], log_path=None):
        self.board = board
        self.console = console
        self.log_path = log_path
        text = f"board {board}: {message}"
        if log_path:
            text += f" (log: {log_path})"
        if console:
            text += "\nlast console lines:\n" + "\n".join("  | " + line for line in console[-15:])
        super().__init__(text)


class AgentTimeout(AgentFailure):
    """No reply within the op timeout: the board is hung."""


class BoardRebooted(AgentFailure):
    """A boot banner appeared while the agent was running."""


class BoardGone(AgentFailure):
    """The link closed (the process exited, the port vanished)."""


class AgentMismatch(AgentFailure):
    """The board runs an agent of another protocol version (a firmware built before it)."""


class RemoteError(Exception):
    """An exception raised on the device. ``name`` is its class, ``classes`` the class
    and its honch bases (most derived first), ``status`` the SDK status or None."""

    def __init__(self, board: str, op: str, name: str, status, message: str, classes: list[str],
                 detail: str | None = None):
        self.board = board
        self.op = op
        self.name = name
        self.status = status
        self.message = message
        self.classes = list(classes)
        self.detail = detail
        text = f"{name}({message!r}"
        if status is not None:
            text += f", status={status}"
        text += f") raised by {op}() on board {board}"
        if detail:
            text += f": {detail}"
        super().__init__(text)

    def is_a(self, class_name: str) -> bool:
        """True when the device exception is ``class_name`` or a subclass of it."""
        return class_name in self.classes


@contextlib.contextmanager
def raises_remote(class_name: str, status: int | None = None):
    """``with raises_remote("RateLimitedError", status=5): device.flush()``.

    Passes when the device raised ``class_name`` (or a subclass) with that status; the
    status is checked where the port's exceptions carry one (capability status_attr)."""
    try:
        yield
    except RemoteError as exc:
        if not exc.is_a(class_name):
            raise AssertionError(f"expected {class_name}, got {exc}") from exc
        if status is not None and exc.status is not None and exc.status != status:
            raise AssertionError(f"expected {class_name} with status {status}, got {exc}") from exc
        return
    raise AssertionError(f"expected the device to raise {class_name}; nothing was raised")


def request(request_id: int | None, op: str, args=(), kwargs=None) -> bytes:
    """A request line (protocol 2): ``ping``, ``track ["sample",{...}]`` or, with keyword
    arguments, ``init {"args":[...],"kwargs":{...}}``; with an id in front (``7 ping``)
    once the host has abandoned a request (``AgentClient.call``)."""
    if not OP_NAME.fullmatch(op):
        raise ValueError(f"an op is a Python identifier, not {op!r}")
    line = op.encode("ascii") if request_id is None else b"%d %s" % (request_id, op.encode("ascii"))
    if kwargs:
        return line + b" " + wire({"args": codec.encode(list(args)), "kwargs": codec.encode(kwargs)})
    if args:
        return line + b" " + wire(codec.encode(list(args)))
    return line + b"\n"


def wire(obj) -> bytes:
    """Compact JSON (no spaces), UTF-8, and the newline that ends a line to the agent."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class AgentClient:
    def __init__(self, link: Link, board: str = "?", op_timeout: float = 10.0, tether=None):
        self.link = link
        self.board = board
        self.op_timeout = op_timeout
        self.tether = tether
        self.console = collections.deque(maxlen=CONSOLE_TAIL_LINES)
        self._buffer = b""
        self._next_id = 1
        #: a request went unanswered: from now on requests carry ids (see call())
        self._abandoned = False
        self.ready_info: dict | None = None
        self.tether_served = 0

    # --- failures --------------------------------------------------------------------

    def _failure(self, cls, message):
        return cls(message, self.board, list(self.console), getattr(self.link.log, "path", None))

    # --- reading ---------------------------------------------------------------------

    def _lines(self, deadline: float, banner_fails: bool = True):
        """Yield decoded agent messages until the deadline; console lines go to the tail.
        With ``banner_fails`` a boot banner raises BoardRebooted at once."""
        while True:
            while b"\n" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\n", 1)
                message = self._take_line(raw.rstrip(b"\r"))
                if banner_fails:
                    self._check_banner()
                if message is not None:
                    yield message
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                self._buffer += self.link.read(min(left, 0.5))
            except LinkError as exc:
                raise self._failure(BoardGone, str(exc)) from None

    def _take_line(self, raw: bytes):
        """An agent message (a list: a reply; a dict: ready, tether) or None for a console
        line. The prefix is looked for from the end: the agent's JSON never holds a raw
        record separator, and stray output may precede the prefix on the same line."""
        at = raw.rfind(codec.PREFIX)
        if at < 0:
            text = raw.decode("utf-8", "replace")
            if text.strip():
                self.console.append(text)
            if BANNER.search(raw):
                self._saw_banner = text
            return self._legacy_ready(raw)
        if at > 0:
            self.console.append(raw[:at].decode("utf-8", "replace"))
        try:
            message = json.loads(raw[at + len(codec.PREFIX):])
        except ValueError:
            self.console.append(raw.decode("utf-8", "replace"))
            return None
        return message if isinstance(message, (list, dict)) else None

    @staticmethod
    def _legacy_ready(raw: bytes):
        """The ready line of a protocol-1 agent (``@@HIL@@ {"ready": true, "agent": 1}``),
        so that wait_ready() can name a stale firmware; any other old line is console."""
        at = raw.find(codec.LEGACY_PREFIX)
        if at < 0:
            return None
        try:
            message = json.loads(raw[at + len(codec.LEGACY_PREFIX):])
        except ValueError:
            return None
        return message if isinstance(message, dict) and message.get("ready") else None

    _saw_banner: str | None = None

    def _check_banner(self):
        if self._saw_banner is not None:
            banner, self._saw_banner = self._saw_banner, None
            raise self._failure(BoardRebooted, f"the board rebooted (banner {banner.strip()!r})")

    # --- protocol --------------------------------------------------------------------

    def wait_ready(self, timeout: float) -> dict:
        """Wait for the agent's start-up line (banners before it are expected)."""
        deadline = time.monotonic() + timeout
        for message in self._lines(deadline, banner_fails=False):
            if isinstance(message, dict) and message.get("ready"):
                if message.get("agent") != codec.AGENT_PROTOCOL:
                    raise self._failure(AgentMismatch, self._mismatch(message.get("agent")))
                self.ready_info = message
                self._saw_banner = None
                return message
        raise self._failure(AgentTimeout, f"the agent did not start within {timeout:g} s")

    @staticmethod
    def _mismatch(version) -> str:
        older = isinstance(version, int) and version < codec.AGENT_PROTOCOL
        return (f"the board runs agent protocol {version!r}, this harness speaks protocol "
                f"{codec.AGENT_PROTOCOL}: its firmware carries {'an older' if older else 'another'} "
                f"honch_agent; rebuild it (honch-hil firmware build TARGET) or copy the agent "
                f"(agent = \"copy\")")

    def send_line(self, obj) -> None:
        """One JSON message to the agent (a tether answer)."""
        self._send(wire(obj))

    def _send(self, line: bytes) -> None:
        try:
            self.link.write(line)
        except LinkError as exc:
            raise self._failure(BoardGone, str(exc)) from None

    def call(self, op: str, *args, timeout: float | None = None, **kwargs):
        """Run ``op`` on the device and return its (decoded) result; raise RemoteError
        for a device exception, AgentTimeout / BoardRebooted / BoardGone otherwise."""
        # The agent answers requests one by one, in order: while every request so far has
        # had its reply, the next reply is this request's and the request needs no id
        # (fewer bytes on links where each byte into the board is dear). Once a request
        # went unanswered (a timeout, an error or an interrupt while waiting) its reply may
        # still come, so every later request carries an id and only its reply is taken.
        request_id = None
        if self._abandoned:
            request_id = self._next_id
            self._next_id += 1
        line = request(request_id, op, args, kwargs)
        self._saw_banner = None
        answered = False
        try:
            self._send(line)
            limit = self.op_timeout if timeout is None else timeout
            deadline = time.monotonic() + limit
            for message in self._lines(deadline):
                if isinstance(message, dict):
                    if "tether" in message:
                        self._serve_tether(message)
                    continue
                if not message or message[0] != request_id:
                    continue  # the late reply to an abandoned request
                answered = True
                if len(message) < 3:  # [id] or [id, result]
                    return codec.decode(message[1]) if len(message) > 1 else None
                error = message[2] if isinstance(message[2], dict) else {}
                raise RemoteError(self.board, op, error.get("class", "?"), error.get("status"),
                                  error.get("message", ""), error.get("classes", []), error.get("detail"))
            self._check_banner()
            raise self._failure(AgentTimeout, f"no reply to {op}() within {limit:g} s")
        finally:
            if not answered:
                self._abandoned = True

    def _serve_tether(self, message: dict) -> None:
        if self.tether is None:
            reply = {"tether": message["tether"], "error": "transport",
                     "message": "this board has no tether on the host side"}
        else:
            reply = self.tether.serve(message)
        self.tether_served += 1
        self.send_line(reply)

"""Tenants of the mock: one per project key, each with its own events, request
log, fault queue, partial messages and options.

Everything here runs on the server's event loop thread; nothing is locked.
Memory is bounded per tenant so that a long soak or a fuzz run cannot grow the
server without limit: the oldest entries are dropped and counted.
"""

from __future__ import annotations

import bisect
import collections
import ctypes
import hashlib
import hmac
import itertools
import heapq
import os
import re
import sys

from harness.protocol import CAPTURE_LIMITS, SDK_LIMITS, Limits

from .faults import MAX_PENDING_FAULTS, Fault

#: Per-tenant request log cap: entries, and bytes held for them (heads and bodies).
MAX_LOGGED_REQUESTS = 10_000
MAX_LOGGED_BYTES = 32 * 1024 * 1024
#: Per-tenant stored events cap.
MAX_STORED_EVENTS = 200_000
#: How many tenants one server holds (relevant with --open, where any key creates one).
MAX_TENANTS = 10_000
#: Server-wide bound on what all tenants hold (``--max-memory``), and its floor: one
#: request may add up to ~1.5 MiB (a 1 MiB message's events, a 64 KiB body).
DEFAULT_MAX_MEMORY = 256 * 1024 * 1024
MIN_MAX_MEMORY = 8 * 1024 * 1024
#: Eviction brings the budget this far below its limit, so it runs once per few MiB.
EVICTION_SLACK = 1 / 64
#: Container slots measured with tracemalloc on CPython 3.11: a queue slot (one pointer
#: plus list over-allocation), a log entry's tuple and its time float.
DEQUE_SLOT_BYTES = 9
LOG_ENTRY_OVERHEAD_BYTES = 64 + 24 + 2 * DEQUE_SLOT_BYTES
#: An event's two deque slots (text, time) plus allocator rounding, measured as RSS
#: growth per stored event (425 B for a 340 B text).
EVENT_OVERHEAD_BYTES = 2 * DEQUE_SLOT_BYTES + 64
#: Per-frame bookkeeping of a partial (offset int, tuple, dict slot) plus bytearray growth slack.
PARTIAL_FRAME_OVERHEAD_BYTES = 192
#: Deleting or resetting a tenant that held this much returns free heap memory to the OS.
TRIM_AFTER_BYTES = 1024 * 1024
#: ``events`` and ``requests`` pages: default and maximum items, and a byte bound so that
#: serializing one page never holds the event loop for long.
PAGE_DEFAULT_LIMIT = 1000
PAGE_MAX_LIMIT = 10_000
PAGE_MAX_BYTES = 512 * 1024
#: Project keys are header values (W3.2); the control API refuses anything else.
MAX_KEY_LENGTH = 1024
#: No configured limit may exceed this; it bounds what one request can make the
#: server hold in memory.
MAX_CONFIGURABLE_BYTES = 16 * 1024 * 1024

_KEY = re.compile(r"[\x21-\x7e]+\Z")
_LIMIT_FIELDS = Limits.__slots__
_OPTION_KEYS = ("binary_properties", "limits")


class OptionsError(ValueError):
    """Tenant options are malformed; the message names what is wrong."""


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a project key, or None when it can."""
    if not key:
        return "project key is empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"project key is longer than {MAX_KEY_LENGTH} characters"
    if not _KEY.match(key):
        return "project key must consist of bytes 0x21-0x7E"
    return None


class TenantOptions:
    __slots__ = ("binary_properties", "limits")

    def __init__(self, binary_properties: bool = False, limits: Limits = CAPTURE_LIMITS):
        self.binary_properties = binary_properties
        self.limits = limits

    def to_json(self) -> dict:
        return {
            "binary_properties": self.binary_properties,
            "limits": {name: getattr(self.limits, name) for name in _LIMIT_FIELDS},
        }


def parse_options(document) -> TenantOptions:
    """Validate the body of ``PUT /_hil/tenants/{key}``.

    ``limits`` is ``"capture"`` (the default: W8 capture hard limits), ``"sdk"``
    (the W8 SDK column, so that a sender exceeding it is answered 413) or an
    object overriding some capture limits. W8 forbids a receiver to go below
    the SDK column, so smaller values are refused.
    """
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise OptionsError("tenant options must be a JSON object")
    unknown = sorted(set(document) - set(_OPTION_KEYS))
    if unknown:
        raise OptionsError(f"unknown tenant option {unknown[0]!r} (allowed: {', '.join(_OPTION_KEYS)})")
    binary = document.get("binary_properties", False)
    if not isinstance(binary, bool):
        raise OptionsError("binary_properties must be true or false")
    return TenantOptions(binary, _parse_limits(document.get("limits", "capture")))


def _parse_limits(given) -> Limits:
    if given == "capture":
        return CAPTURE_LIMITS
    if given == "sdk":
        return SDK_LIMITS
    if not isinstance(given, dict):
        raise OptionsError('limits must be "capture", "sdk" or an object of limit overrides')
    values = {name: getattr(CAPTURE_LIMITS, name) for name in _LIMIT_FIELDS}
    for name, value in given.items():
        if name not in values:
            raise OptionsError(f"unknown limit {name!r} (allowed: {', '.join(_LIMIT_FIELDS)})")
        floor = getattr(SDK_LIMITS, name)
        if value is None and name == "properties":
            values[name] = None
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise OptionsError(f"limits.{name} must be an integer, got {value!r}")
        if value < floor:
            raise OptionsError(f"limits.{name} = {value} is below the SDK limit {floor} (W8 forbids that)")
        if value > MAX_CONFIGURABLE_BYTES:
            raise OptionsError(f"limits.{name} = {value} is above the server maximum {MAX_CONFIGURABLE_BYTES}")
        values[name] = value
    return Limits(**values)


class _Fifo:
    """A queue with O(1) appends and drops at the front and O(k) slices anywhere (a
    deque walks from an end to reach position i, which made late pages slow)."""

    __slots__ = ("_items", "_head")

    def __init__(self):
        self._items: list = []
        self._head = 0

    def __len__(self) -> int:
        return len(self._items) - self._head

    def __bool__(self) -> bool:
        return len(self._items) > self._head

    def first(self):
        return self._items[self._head]

    def append(self, item) -> None:
        self._items.append(item)

    def extend(self, items) -> None:
        self._items.extend(items)

    def popleft(self):
        item = self._items[self._head]
        self._items[self._head] = None
        self._head += 1
        if self._head >= 4096 and self._head * 2 >= len(self._items):
            del self._items[:self._head]
            self._head = 0
        return item

    def slice(self, start: int, stop: int) -> list:
        return self._items[self._head + start:self._head + stop]

    def clear(self) -> None:
        self._items = []
        self._head = 0


class Budget:
    """Memory the server holds for all tenants (stored events, request logs, partials), in
    bytes as really held: the stored JSON text and bodies with their object and container
    overhead, and each partial's payload plus per-frame bookkeeping."""

    def __init__(self, limit: int = DEFAULT_MAX_MEMORY):
        if limit < MIN_MAX_MEMORY:
            raise ValueError(f"max_memory must be at least {MIN_MAX_MEMORY} bytes, got {limit!r}")
        self.limit = limit
        self.used = 0
        #: items removed to keep ``used`` within ``limit`` (oldest first, across tenants)
        self.evicted = 0

    def to_json(self) -> dict:
        return {"used": self.used, "max": self.limit, "evicted": self.evicted}


def _event_cost(text: str) -> int:
    return sys.getsizeof(text) + EVENT_OVERHEAD_BYTES


class TenantState:
    """Everything the mock holds for one project key.

    Events are kept as their JSON text (already redacted), each with the time of the
    request that stored it; request-log entries as (time, JSON text without the body,
    body bytes), the body hex-encoded only when read. Positions count from the
    tenant's creation (or reset), so a reader's cursor survives drops."""

    def __init__(self, key: str, alias: str, options: TenantOptions, reassembler, budget: Budget,
                 generation: int = 0):
        self.key = key
        self.alias = alias
        self.options = options
        self.reassembler = reassembler
        self.budget = budget
        #: the redactor generation this tenant's data was first redacted against
        self.generation = generation
        self.events = _Fifo()        # JSON texts
        self._event_times = _Fifo()  # the time of the request that stored each
        self.events_dropped = 0
        self.requests = _Fifo()      # (time, JSON text without the body, body)
        self.requests_dropped = 0
        self._log_bytes = 0
        self._partial_bytes = 0
        self.held = 0
        self.faults: collections.deque[Fault] = collections.deque()

    # -- faults ------------------------------------------------------------------

    def add_faults(self, faults: list[Fault]) -> None:
        if len(self.faults) + len(faults) > MAX_PENDING_FAULTS:
            raise OptionsError(f"a tenant holds at most {MAX_PENDING_FAULTS} pending faults")
        self.faults.extend(faults)

    def next_fault(self) -> Fault | None:
        """The fault for the request being processed: one-shot faults are consumed,
        a persistent one stays at the head of the queue."""
        if not self.faults:
            return None
        fault = self.faults[0]
        if not fault.persistent:
            self.faults.popleft()
        return fault

    # -- accounting ----------------------------------------------------------------

    def _grow(self, size: int) -> None:
        self.held += size
        self.budget.used += size

    def partials_changed(self) -> None:
        """Call after the reassembler ran: its held bytes move into the budget."""
        now = self.reassembler.buffered_bytes
        self._grow(now - self._partial_bytes)
        self._partial_bytes = now

    @property
    def partial_bytes(self) -> int:
        return self._partial_bytes

    def release(self) -> None:
        """The tenant is deleted or replaced: everything it held leaves the budget, and
        the C heap gives back what it can (CPython keeps freed memory otherwise)."""
        self.budget.used -= self.held
        freed, self.held = self.held, 0
        self.events.clear()
        self._event_times.clear()
        self.requests.clear()
        while self.reassembler.oldest() is not None:
            self.reassembler.discard(self.reassembler.oldest()[0])
        self._partial_bytes = self.reassembler.buffered_bytes
        # a delayed fault may still complete a request for this tenant: it is no longer counted
        self.budget = Budget(MIN_MAX_MEMORY)
        if freed >= TRIM_AFTER_BYTES:
            _trim_heap()

    # -- logs --------------------------------------------------------------------

    def log_request(self, t: float, text: str, body: bytes) -> None:
        size = _entry_cost(text, body)
        self.requests.append((t, text, body))
        self._log_bytes += size
        self._grow(size)
        while len(self.requests) > 1 and (len(self.requests) > MAX_LOGGED_REQUESTS
                                          or self._log_bytes > MAX_LOGGED_BYTES):
            self.drop_oldest_request()

    def drop_oldest_request(self) -> int:
        _, text, body = self.requests.popleft()
        size = _entry_cost(text, body)
        self._log_bytes -= size
        self._grow(-size)
        self.requests_dropped += 1
        return size

    def store_events(self, texts: list[str], t: float) -> None:
        size = 0
        for text in texts:
            size += _event_cost(text)
        self.events.extend(texts)
        self._event_times.extend([t] * len(texts))
        self._grow(size)
        while len(self.events) > MAX_STORED_EVENTS:
            self.drop_oldest_event()

    def drop_oldest_event(self) -> int:
        text = self.events.popleft()
        self._event_times.popleft()
        size = _event_cost(text)
        self._grow(-size)
        self.events_dropped += 1
        return size

    def drop_oldest_partial(self) -> None:
        oldest = self.reassembler.oldest()
        if oldest is not None:
            self.reassembler.discard(oldest[0])
            self.reassembler.discarded += 1
            self.partials_changed()

    def oldest(self):
        """(time, drop function) of each non-empty store, for server-wide eviction."""
        found = []
        if self.events:
            found.append((self._event_times.first(), self.drop_oldest_event))
        if self.requests:
            found.append((self.requests.first()[0], self.drop_oldest_request))
        partial = self.reassembler.oldest()
        if partial is not None:
            found.append((partial[1], self.drop_oldest_partial))
        return found

    # -- reading -----------------------------------------------------------------

    def events_page(self, after: int, limit: int, redactor) -> tuple[list[str], int, int]:
        """JSON texts of the events at positions ``after``.. (at most ``limit`` and about
        PAGE_MAX_BYTES), the position to continue from, and how many remain after it.
        Secrets that ``redactor`` learnt after this tenant was created are removed too."""
        start = max(after, self.events_dropped)
        texts = _within_page_bytes(self.events.slice(start - self.events_dropped,
                                                     start - self.events_dropped + limit), len)
        late = redactor.added_since(self.generation)
        if late:
            texts = [redactor.recheck(text, late) for text in texts]
        end = start + len(texts)
        return texts, end, _remaining(self.events_dropped + len(self.events), end)

    def requests_page(self, after: int, limit: int, redactor) -> tuple[list[str], int, int]:
        start = max(after, self.requests_dropped)
        entries = _within_page_bytes(self.requests.slice(start - self.requests_dropped,
                                                         start - self.requests_dropped + limit),
                                     lambda entry: len(entry[1]) + 2 * len(entry[2]))
        late = redactor.added_since(self.generation)
        texts = []
        for _, text, body in entries:
            if late:
                text = redactor.recheck(text + '"}', late)[:-2]
                body = redactor.data_with(body, late)
            texts.append(text + body.hex() + '"}')
        end = start + len(texts)
        return texts, end, _remaining(self.requests_dropped + len(self.requests), end)


def _remaining(total: int, end: int) -> int:
    """How many items follow position ``end`` of ``total``: none for a page asked for
    past the end (``after`` beyond the last position, e.g. a cursor kept across a reset)."""
    return max(0, total - end)


def _within_page_bytes(items: list, size) -> list:
    """The longest prefix of ``items`` within PAGE_MAX_BYTES (at least one item), found
    without a Python-level loop: a page must cost the event loop only a few ms."""
    sizes = list(itertools.accumulate(map(size, items)))
    if not sizes or sizes[-1] <= PAGE_MAX_BYTES:
        return items
    return items[:max(1, bisect.bisect_right(sizes, PAGE_MAX_BYTES))]


def _trim_heap() -> None:
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: freed memory stays reusable, just not returned
        pass


def _entry_cost(text: str, body: bytes) -> int:
    return LOG_ENTRY_OVERHEAD_BYTES + sys.getsizeof(text) + sys.getsizeof(body)


class Tenants:
    """The tenant registry. Aliases are salted hashes of the key, so logs can tell
    tenants apart without ever showing a key. Every tenant key is a secret of ``redactor``."""

    def __init__(self, reassembler_factory, *, redactor, budget: Budget, max_tenants: int = MAX_TENANTS):
        self._by_key: dict[str, TenantState] = {}
        self._reassembler_factory = reassembler_factory
        self._salt = os.urandom(16)
        self.redactor = redactor
        self.budget = budget
        self.max_tenants = max_tenants

    def alias(self, key: str) -> str:
        digest = hmac.new(self._salt, key.encode("latin-1", "replace"), hashlib.sha256).hexdigest()
        return "k-" + digest[:8]

    def get(self, key: str) -> TenantState | None:
        return self._by_key.get(key)

    def put(self, key: str, options: TenantOptions) -> tuple[TenantState, bool]:
        """Create the tenant, or reset it (fresh state, new options). Returns (tenant, created)."""
        old = self._by_key.get(key)
        if old is None and len(self._by_key) >= self.max_tenants:
            raise OptionsError(f"the server holds at most {self.max_tenants} tenants; delete some first")
        if old is None:
            self.redactor.add(key)  # one owner per tenant: delete() gives it back
        else:
            old.release()
        tenant = TenantState(key, self.alias(key), options, self._reassembler_factory(), self.budget,
                             self.redactor.generation)
        self._by_key[key] = tenant
        return tenant, old is None

    def delete(self, key: str) -> bool:
        tenant = self._by_key.pop(key, None)
        if tenant is None:
            return False
        tenant.release()
        self.redactor.discard(key)
        return True

    def __iter__(self):
        return iter(list(self._by_key.values()))

    def __len__(self) -> int:
        return len(self._by_key)

    def expire_partials(self) -> None:
        """Drop expired partials of every tenant, active or idle."""
        for tenant in self._by_key.values():
            if len(tenant.reassembler) and tenant.reassembler.expire():
                tenant.partials_changed()

    def enforce_budget(self) -> None:
        """Over the server-wide bound: drop the oldest items across all tenants (events,
        log entries, partials, by arrival time) until it is a little below it."""
        budget = self.budget
        if budget.used <= budget.limit:
            return
        target = budget.limit * (1 - EVICTION_SLACK)
        heap = []
        for number, tenant in enumerate(self._by_key.values()):
            for stamp, (t, drop) in enumerate(tenant.oldest()):
                heap.append((t, number, stamp, tenant, drop))
        heapq.heapify(heap)
        while heap and budget.used > target:
            _, number, stamp, tenant, drop = heapq.heappop(heap)
            drop()
            budget.evicted += 1
            for t, again in tenant.oldest():
                if getattr(again, "__func__", None) is drop.__func__:
                    heapq.heappush(heap, (t, number, stamp, tenant, again))

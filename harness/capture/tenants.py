"""Tenants of the mock: one per project key, each with its own events, request
log, fault queue, partial messages and options.

Everything here runs on the server's event loop thread; nothing is locked.
Memory is bounded per tenant so that a long soak or a fuzz run cannot grow the
server without limit: the oldest entries are dropped and counted.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import os
import re

from harness.protocol import CAPTURE_LIMITS, SDK_LIMITS, Limits

from .faults import MAX_PENDING_FAULTS, Fault

#: Per-tenant request log cap: entries, and bytes of recorded bodies.
MAX_LOGGED_REQUESTS = 10_000
MAX_LOGGED_BODY_BYTES = 32 * 1024 * 1024
#: Per-tenant stored events cap.
MAX_STORED_EVENTS = 200_000
#: How many tenants one server holds (relevant with --open, where any key creates one).
MAX_TENANTS = 10_000
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


class TenantState:
    """Everything the mock holds for one project key."""

    def __init__(self, key: str, alias: str, options: TenantOptions, reassembler):
        self.key = key
        self.alias = alias
        self.options = options
        self.reassembler = reassembler
        self.events: collections.deque[dict] = collections.deque()
        self.events_dropped = 0
        #: (log entry, recorded body bytes), oldest first
        self.requests: collections.deque[tuple[dict, int]] = collections.deque()
        self.requests_dropped = 0
        self._logged_body_bytes = 0
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

    # -- logs --------------------------------------------------------------------

    def log_request(self, record: dict, body_size: int) -> None:
        self.requests.append((record, body_size))
        self._logged_body_bytes += body_size
        while len(self.requests) > MAX_LOGGED_REQUESTS or (
                self._logged_body_bytes > MAX_LOGGED_BODY_BYTES and len(self.requests) > 1):
            _, dropped_size = self.requests.popleft()
            self._logged_body_bytes -= dropped_size
            self.requests_dropped += 1

    def store_events(self, events: list[dict]) -> None:
        self.events.extend(events)
        overflow = len(self.events) - MAX_STORED_EVENTS
        for _ in range(max(0, overflow)):
            self.events.popleft()
            self.events_dropped += 1

    def requests_json(self) -> list[dict]:
        return [record for record, _ in self.requests]


class Tenants:
    """The tenant registry. Aliases are salted hashes of the key, so logs can tell
    tenants apart without ever showing a key."""

    def __init__(self, reassembler_factory, *, max_tenants: int = MAX_TENANTS):
        self._by_key: dict[str, TenantState] = {}
        self._reassembler_factory = reassembler_factory
        self._salt = os.urandom(16)
        self.max_tenants = max_tenants

    def alias(self, key: str) -> str:
        digest = hmac.new(self._salt, key.encode("latin-1", "replace"), hashlib.sha256).hexdigest()
        return "k-" + digest[:8]

    def get(self, key: str) -> TenantState | None:
        return self._by_key.get(key)

    def put(self, key: str, options: TenantOptions) -> tuple[TenantState, bool]:
        """Create the tenant, or reset it (fresh state, new options). Returns (tenant, created)."""
        created = key not in self._by_key
        if created and len(self._by_key) >= self.max_tenants:
            raise OptionsError(f"the server holds at most {self.max_tenants} tenants; delete some first")
        tenant = TenantState(key, self.alias(key), options, self._reassembler_factory())
        self._by_key[key] = tenant
        return tenant, created

    def delete(self, key: str) -> bool:
        return self._by_key.pop(key, None) is not None

    def __len__(self) -> int:
        return len(self._by_key)

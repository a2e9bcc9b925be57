"""Fault objects of the control API (W10 "Fault injection").

A fault is a scripted answer for the next /capture request of a tenant:

* ``{"status": 429, "headers": {"Retry-After": "2"}}`` answer this status without processing;
* ``{"close": true}`` close the connection without an answer;
* ``{"delay_ms": 3000}`` wait, then process normally (alone) or apply the other action;
* ``{"lose_response": true}`` process and store normally, then close without an answer.

``"persistent": true`` keeps the fault at the head of the tenant's queue until the
faults are cleared, so it applies to every request from then on.
"""

from __future__ import annotations

import re

from .http11 import FIELD_CONNECTION, FIELD_CONTENT_LENGTH, FIELD_TRANSFER_ENCODING

MAX_DELAY_MS = 600_000
MAX_PENDING_FAULTS = 10_000
#: Headers the mock writes itself; a fault may not replace them because the
#: answer would no longer be a well-framed HTTP response.
FRAMING_HEADERS = (FIELD_CONTENT_LENGTH, FIELD_TRANSFER_ENCODING, FIELD_CONNECTION)

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*\Z")
_KEYS = ("status", "headers", "close", "delay_ms", "lose_response", "persistent")


class FaultError(ValueError):
    """A fault object is malformed; the message names what is wrong."""


class Fault:
    __slots__ = ("status", "headers", "close", "delay_ms", "lose_response", "persistent", "spec")

    def __init__(self, spec: dict):
        self.spec = spec
        self.status: int | None = spec.get("status")
        self.headers: list[tuple[str, str]] = list(spec.get("headers", {}).items())
        self.close: bool = spec.get("close", False)
        self.delay_ms: int = spec.get("delay_ms", 0)
        self.lose_response: bool = spec.get("lose_response", False)
        self.persistent: bool = spec.get("persistent", False)

    def __repr__(self):
        return f"Fault({self.spec!r})"


def parse_faults(document) -> list[Fault]:
    """Validate the body of ``POST /_hil/tenants/{key}/faults``."""
    if not isinstance(document, dict) or set(document) != {"faults"}:
        raise FaultError('body must be an object {"faults": [...]}')
    items = document["faults"]
    if not isinstance(items, list):
        raise FaultError('"faults" must be a list of fault objects')
    return [parse_fault(item, index) for index, item in enumerate(items)]


def parse_fault(item, index: int = 0) -> Fault:
    where = f"faults[{index}]"
    if not isinstance(item, dict):
        raise FaultError(f"{where} must be an object, got {type(item).__name__}")
    unknown = sorted(set(item) - set(_KEYS))
    if unknown:
        raise FaultError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(_KEYS)})")
    spec: dict = {}
    for flag in ("close", "lose_response", "persistent"):
        if flag in item:
            if not isinstance(item[flag], bool):
                raise FaultError(f"{where}.{flag} must be true or false")
            if item[flag]:
                spec[flag] = True
    if "status" in item:
        status = item["status"]
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise FaultError(f"{where}.status must be an integer HTTP status 100-599, got {status!r}")
        spec["status"] = status
    if "headers" in item:
        if "status" not in spec:
            raise FaultError(f"{where}.headers needs a status to go with")
        spec["headers"] = _parse_headers(item["headers"], where)
    if "delay_ms" in item:
        delay = item["delay_ms"]
        if not isinstance(delay, int) or isinstance(delay, bool) or not 0 <= delay <= MAX_DELAY_MS:
            raise FaultError(f"{where}.delay_ms must be an integer 0-{MAX_DELAY_MS}, got {delay!r}")
        spec["delay_ms"] = delay
    actions = [name for name in ("status", "close", "lose_response") if name in spec]
    if len(actions) > 1:
        raise FaultError(f"{where}: {' and '.join(actions)} cannot be combined; give one action per fault")
    if not actions and "delay_ms" not in spec:
        raise FaultError(f"{where} does nothing: give status, close, lose_response or delay_ms")
    if "persistent" in spec:
        # Keep the key order readable in request records.
        spec["persistent"] = spec.pop("persistent")
    return Fault(spec)


def _parse_headers(headers, where: str) -> dict[str, str]:
    if not isinstance(headers, dict):
        raise FaultError(f"{where}.headers must be an object of name: value")
    out = {}
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise FaultError(f"{where}.headers: invalid header name {name!r}")
        if name.lower() in FRAMING_HEADERS:
            raise FaultError(f"{where}.headers: {name} is written by the server and cannot be injected")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _HEADER_VALUE.match(value):
            raise FaultError(f"{where}.headers[{name!r}] must be a printable ASCII string")
        out[name] = value
    return out

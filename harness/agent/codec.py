"""Host side of the agent's value encoding (the device side is in ``honch_agent.py``).

JSON carries None, bools, ints, finite floats, str, lists and str-keyed dicts as
themselves. Everything else the contract talks about travels as an escape object
``{"$hil": KIND, ...}``:

=====================  =========================================================
``bytes``/``bytearray`` ``{"$hil": "bytes"|"bytearray", "hex": "00ff"}``
NaN, +inf, -inf         ``{"$hil": "float", "value": "nan"|"inf"|"-inf"}``
tuple                   ``{"$hil": "tuple", "items": [...]}``
dict (non-str keys,     ``{"$hil": "dict", "items": [[key, value], ...]}``
or a ``"$hil"`` key)
unsupported object      ``{"$hil": "object"}`` (the device makes an instance of a
                        class the SDK does not accept); from the device also
                        ``"type"`` and ``"repr"``
event buffer            ``{"$hil": "buffer", "size": n, "type": ..., "name": ...}``
the agent's callback    ``{"$hil": "online_callback"}``
=====================  =========================================================
"""

from __future__ import annotations

import math

ESCAPE = "$hil"
#: what prefixes every agent line on the console (same constant as in honch_agent.py):
#: the ASCII record separator, as in RFC 7464 JSON text sequences
PREFIX = b"\x1e"
#: the protocol this host speaks; the agent names its own in the ready line
AGENT_PROTOCOL = 2
#: the prefix of protocol 1 (agents before 2), recognised only to name a stale firmware
LEGACY_PREFIX = b"@@HIL@@ "


class Unsupported:
    """A value of a type the SDK does not accept; the device builds one of its own.

    Coming back from the device it carries the device-side type name and repr."""

    def __init__(self, type_name: str = "Unsupported", text: str = "<Unsupported>"):
        self.type_name = type_name
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Unsupported) and other.type_name == self.type_name

    def __hash__(self):
        return hash(self.type_name)

    def __repr__(self):
        return f"Unsupported({self.type_name!r})"


class EventBuffer:
    """An ``event_buffer`` created on the device.

    ``type`` is ``bytearray`` (default), ``memoryview`` (writable view),
    ``bytes`` or ``readonly_memoryview`` (both refused by the SDK). A ``name``
    keeps the buffer on the device so a later ``init`` can reuse the same object
    (contract C44)."""

    TYPES = ("bytearray", "memoryview", "bytes", "readonly_memoryview")

    def __init__(self, size: int, type: str = "bytearray", name: str | None = None):
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"EventBuffer size must be an int >= 0, got {size!r}")
        if type not in self.TYPES:
            raise ValueError(f"EventBuffer type must be one of {self.TYPES}, got {type!r}")
        self.size = size
        self.type = type
        self.name = name

    def __repr__(self):
        return f"EventBuffer({self.size}, type={self.type!r}, name={self.name!r})"


class _OnlineCallback:
    def __repr__(self):
        return "ONLINE_CALLBACK"


#: pass as ``connectivity_callback``: the device uses the agent's callback, which
#: returns what ``device.set_online(value)`` last set (initially True).
ONLINE_CALLBACK = _OnlineCallback()

#: pass to ``device.set_online()`` to make the callback raise instead of returning.
CALLBACK_RAISES = {ESCAPE: "raise", "message": "connectivity callback failed"}


def encode(value):
    """Host value -> JSON-safe value for the agent."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return {ESCAPE: "float", "value": "nan"}
        if math.isinf(value):
            return {ESCAPE: "float", "value": "inf" if value > 0 else "-inf"}
        return value
    if isinstance(value, bytearray):
        return {ESCAPE: "bytearray", "hex": bytes(value).hex()}
    if isinstance(value, (bytes, memoryview)):
        return {ESCAPE: "bytes", "hex": bytes(value).hex()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {ESCAPE: "tuple", "items": [encode(v) for v in value]}
    if isinstance(value, dict):
        if value is CALLBACK_RAISES or (value.get(ESCAPE) == "raise" and len(value) == 2):
            return dict(value)
        if all(type(k) is str and k != ESCAPE for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {ESCAPE: "dict", "items": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, Unsupported):
        return {ESCAPE: "object"}
    if isinstance(value, EventBuffer):
        out = {ESCAPE: "buffer", "size": value.size, "type": value.type}
        if value.name is not None:
            out["name"] = value.name
        return out
    if value is ONLINE_CALLBACK:
        return {ESCAPE: "online_callback"}
    raise TypeError(f"the agent protocol cannot carry a {type(value).__name__}; "
                    "use codec.Unsupported() for 'a value of an unsupported type'")


def decode(value):
    """JSON value from the agent -> host value."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(ESCAPE)
    if kind is None:
        return {k: decode(v) for k, v in value.items()}
    if kind == "bytes":
        return bytes.fromhex(value["hex"])
    if kind == "bytearray":
        return bytearray.fromhex(value["hex"])
    if kind == "float":
        return float(value["value"])
    if kind == "tuple":
        return tuple(decode(v) for v in value["items"])
    if kind == "dict":
        return {_hashable(decode(k)): decode(v) for k, v in value["items"]}
    if kind == "object":
        return Unsupported(value.get("type", "Unsupported"), value.get("repr", ""))
    raise ValueError(f"unknown escape {kind!r} in an agent reply")


def _hashable(key):
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    if isinstance(key, bytearray):
        return bytes(key)
    return key

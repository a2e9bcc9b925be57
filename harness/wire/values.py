"""The value model of the compact message (W7.6) and the Message/Event containers.

Every wire distinction survives decoding so that decode → encode is byte-identical:
``UInt`` (tag 03) and ``Int`` (tag 04) are different values even when equal as numbers,
``F32``/``F64`` keep their exact bits (NaN payloads and -0.0 included), map keys are
``str`` (custom) or ``Reserved(id)``, and maps and events keep their pairs in order
(repeated keys are representable, so that a 422 case can be modelled).

For convenience the encoder also takes plain Python values the way the SDK maps them
(contract 2.3): ``int`` → ``UInt`` when non-negative else ``Int``, ``float`` → ``F64``,
``bytes``/``bytearray`` → ``Bytes``, ``tuple`` → array, ``dict`` → ``Map``. The decoder
always returns the explicit types.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from harness.protocol import RESERVED_PROPERTIES
from harness.wire.varint import I64_MAX, I64_MIN, U64_MAX


def _check_int(value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    return value


class UInt:
    """An unsigned integer value (tag 03), 0 … 2^64−1."""

    __slots__ = ("value",)

    def __init__(self, value: int):
        _check_int(value, "UInt value")
        if not 0 <= value <= U64_MAX:
            raise ValueError(f"UInt({value}) is outside 0..2^64-1")
        self.value = value

    def __eq__(self, other):
        return type(other) is UInt and other.value == self.value

    def __hash__(self):
        return hash((UInt, self.value))

    def __repr__(self):
        return f"UInt({self.value})"


class Int:
    """A signed integer value (tag 04, ZigZag), −2^63 … 2^63−1."""

    __slots__ = ("value",)

    def __init__(self, value: int):
        _check_int(value, "Int value")
        if not I64_MIN <= value <= I64_MAX:
            raise ValueError(f"Int({value}) is outside -2^63..2^63-1")
        self.value = value

    def __eq__(self, other):
        return type(other) is Int and other.value == self.value

    def __hash__(self):
        return hash((Int, self.value))

    def __repr__(self):
        return f"Int({self.value})"


class _Float:
    __slots__ = ("bits",)
    _format = ""

    def __init__(self, value: float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(f"{type(self).__name__} value must be a float, not {type(value).__name__}")
        try:
            self.bits = struct.pack(self._format, value)
        except OverflowError:
            raise ValueError(f"{value!r} is out of range for {type(self).__name__}") from None

    @classmethod
    def from_bits(cls, raw: bytes):
        raw = bytes(raw)
        if len(raw) != struct.calcsize(cls._format):
            raise ValueError(f"{cls.__name__} needs {struct.calcsize(cls._format)} bytes, got {len(raw)}")
        obj = cls.__new__(cls)
        obj.bits = raw
        return obj

    @property
    def value(self) -> float:
        """The value as a Python float (float32 widened exactly)."""
        return struct.unpack(self._format, self.bits)[0]

    def is_finite(self) -> bool:
        return math.isfinite(self.value)

    def __eq__(self, other):
        return type(other) is type(self) and other.bits == self.bits

    def __hash__(self):
        return hash((type(self), self.bits))

    def __repr__(self):
        return f"{type(self).__name__}({self.value!r})"


class F32(_Float):
    """A binary32 value (tag 05); ``F32(x)`` rounds ``x`` to the nearest float32."""

    __slots__ = ()
    _format = "<f"


class F64(_Float):
    """A binary64 value (tag 06)."""

    __slots__ = ()
    _format = "<d"


class Bytes:
    """A bytes value (tag 08)."""

    __slots__ = ("data",)

    def __init__(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Bytes value must be bytes, not {type(data).__name__}")
        self.data = bytes(data)

    def __eq__(self, other):
        return type(other) is Bytes and other.data == self.data

    def __hash__(self):
        return hash((Bytes, self.data))

    def __repr__(self):
        return f"Bytes({self.data!r})"


class Reserved:
    """A reserved property key, written as key ref ``2·id`` (W7.5)."""

    __slots__ = ("id",)

    def __init__(self, id: int):
        _check_int(id, "Reserved id")
        if id < 0:
            raise ValueError(f"Reserved id {id} is negative")
        self.id = id

    @property
    def name(self) -> str | None:
        """The reserved property name, or None for an id outside 1–7."""
        entry = RESERVED_PROPERTIES.get(self.id)
        return entry[0] if entry else None

    def __eq__(self, other):
        return type(other) is Reserved and other.id == self.id

    def __hash__(self):
        return hash((Reserved, self.id))

    def __repr__(self):
        return f"Reserved({self.id})"


def _pairs(pairs, what: str) -> list:
    if isinstance(pairs, dict):
        pairs = pairs.items()
    out = []
    for pair in pairs:
        try:
            key, value = pair
        except (TypeError, ValueError):
            raise TypeError(f"{what} must be (key, value) pairs, got {pair!r}") from None
        out.append((key, value))
    return out


class Map:
    """A map value (tag 0a): an ordered list of ``(key, value)`` pairs."""

    __slots__ = ("pairs",)
    __hash__ = None

    def __init__(self, pairs=()):
        self.pairs = _pairs(pairs, "Map entries")

    def __eq__(self, other):
        return type(other) is Map and other.pairs == self.pairs

    def __len__(self):
        return len(self.pairs)

    def __iter__(self):
        return iter(self.pairs)

    def __repr__(self):
        return f"Map({self.pairs!r})"


@dataclass
class Event:
    """One wire event: ``timestamp = base_time_ms + time_delta_ms``."""

    name: str
    time_delta_ms: int = 0
    properties: list = field(default_factory=list)

    def __post_init__(self):
        self.properties = _pairs(self.properties, "Event properties")


@dataclass
class Message:
    """A compact event message; the string table is implied (W7.2 interning order)."""

    base_time_ms: int
    context: list
    events: list

    def __post_init__(self):
        # the wire carries context ids ascending; a stable sort keeps repeats visible
        self.context = sorted(_pairs(self.context, "Message context"), key=lambda pair: pair[0])
        self.events = list(self.events)

    def context_value(self, context_id: int, default=None):
        for cid, value in self.context:
            if cid == context_id:
                return value
        return default

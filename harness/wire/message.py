"""W7: the compact event message — canonical encoder, strict decoder, semantic validator."""

from __future__ import annotations

import math
import struct

from harness.protocol import (
    CAPTURE_LIMITS, CONTEXT_EXTENSION_MIN, CONTEXT_IDS, DEVICE_TIME_SOURCE_MAX,
    FLAG_CONTEXT_PROMOTES_PROPERTIES, MAX_NESTING, MESSAGE_KIND_EVENT_BATCH, PROMOTED_CONTEXT_IDS,
    PROMOTED_NAMES, REQUIRED_CONTEXT_IDS, RESERVED_PROPERTIES, RESERVED_PROPERTY_ID_BY_NAME, TAG_ARRAY, TAG_BYTES,
    TAG_F32, TAG_F64, TAG_FALSE, TAG_INT, TAG_MAP, TAG_NULL, TAG_STRING, TAG_TRUE, TAG_UINT,
    WIRE_VERSION, Limits,
)
from harness.wire.errors import WireError
from harness.wire.values import F32, F64, Bytes, Event, Int, Map, Message, Reserved, UInt
from harness.wire.varint import I64_MAX, decode_uvarint, encode_uvarint, unzigzag, zigzag

CONTEXT_ID_BY_NAME = {name: cid for cid, name in CONTEXT_IDS.items()}
DISTINCT_ID_CONTEXT_ID = CONTEXT_ID_BY_NAME["distinct_id"]
DEVICE_TIME_SOURCE_ID = CONTEXT_ID_BY_NAME["device_time_source"]
#: W7.3: distinct_id and the promoted entries are string references, the others (9, 10) uints
STRING_CONTEXT_IDS = (DISTINCT_ID_CONTEXT_ID,) + PROMOTED_CONTEXT_IDS
UINT_CONTEXT_IDS = tuple(cid for cid in CONTEXT_IDS if cid not in STRING_CONTEXT_IDS)
F32_SIZE = struct.calcsize("<f")
F64_SIZE = struct.calcsize("<d")
#: The encoder refuses models deeper than this instead of hitting Python's recursion limit.
ENCODER_MAX_DEPTH = 200

# --------------------------------------------------------------------------- encoder


class _Writer:
    """Writes the message body while interning strings in first-reference order."""

    __slots__ = ("out", "strings")

    def __init__(self):
        self.out = bytearray()
        self.strings: dict[str, int] = {}

    def ref(self, s: str) -> int:
        index = self.strings.get(s)
        if index is None:
            index = self.strings[s] = len(self.strings)
        return index

    def uvarint(self, n: int) -> None:
        self.out += encode_uvarint(n)

    def key(self, key) -> None:
        if type(key) is Reserved:
            self.uvarint(2 * key.id)
        elif isinstance(key, str):
            rid = RESERVED_PROPERTY_ID_BY_NAME.get(key)
            # W7.5: a reserved name is always written as its reserved reference
            self.uvarint(2 * rid if rid is not None else 2 * self.ref(key) + 1)
        else:
            raise TypeError(f"a key must be str or Reserved, not {type(key).__name__}")

    def value(self, v, depth: int = 0) -> None:
        out = self.out
        if v is None:
            out.append(TAG_NULL)
        elif v is False:
            out.append(TAG_FALSE)
        elif v is True:
            out.append(TAG_TRUE)
        elif isinstance(v, str):
            out.append(TAG_STRING)
            self.uvarint(self.ref(v))
        elif type(v) is UInt:
            out.append(TAG_UINT)
            self.uvarint(v.value)
        elif type(v) is Int:
            out.append(TAG_INT)
            self.uvarint(zigzag(v.value))
        elif isinstance(v, int):
            self.value(UInt(v) if v >= 0 else Int(v), depth)
        elif type(v) is F32:
            out.append(TAG_F32)
            out += v.bits
        elif type(v) is F64:
            out.append(TAG_F64)
            out += v.bits
        elif isinstance(v, float):
            self.value(F64(v), depth)
        elif isinstance(v, (Bytes, bytes, bytearray)):
            data = v.data if type(v) is Bytes else bytes(v)
            out.append(TAG_BYTES)
            self.uvarint(len(data))
            out += data
        elif isinstance(v, (list, tuple)):
            self._depth(depth)
            out.append(TAG_ARRAY)
            self.uvarint(len(v))
            for item in v:
                self.value(item, depth + 1)
        elif isinstance(v, (Map, dict)):
            self._depth(depth)
            pairs = v.pairs if type(v) is Map else list(v.items())
            out.append(TAG_MAP)
            self.uvarint(len(pairs))
            for key, item in pairs:
                self.key(key)
                self.value(item, depth + 1)
        else:
            raise TypeError(f"cannot encode a value of type {type(v).__name__}: {v!r}")

    @staticmethod
    def _depth(depth: int) -> None:
        if depth >= ENCODER_MAX_DEPTH:
            raise ValueError(f"value nested deeper than {ENCODER_MAX_DEPTH} containers")


def _write(msg: Message) -> tuple[bytes, list[str]]:
    if not isinstance(msg, Message):
        raise TypeError(f"expected a Message, not {type(msg).__name__}")
    body = _Writer()
    context = sorted(msg.context, key=lambda pair: pair[0])
    body.uvarint(len(context))
    for cid, value in context:
        body.uvarint(cid)
        body.value(value)
    body.uvarint(len(msg.events))
    for event in msg.events:
        if not isinstance(event, Event):
            raise TypeError(f"expected an Event, not {type(event).__name__}")
        if not isinstance(event.name, str):
            raise TypeError(f"event name must be a str, not {type(event.name).__name__}")
        body.uvarint(body.ref(event.name))
        body.uvarint(zigzag(event.time_delta_ms))
        body.uvarint(len(event.properties))
        for key, value in event.properties:
            body.key(key)
            body.value(value)
    strings = list(body.strings)
    head = bytearray()
    for n in (WIRE_VERSION, MESSAGE_KIND_EVENT_BATCH, FLAG_CONTEXT_PROMOTES_PROPERTIES, msg.base_time_ms,
              len(strings)):
        head += encode_uvarint(n)
    for s in strings:
        raw = s.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError: not encodable
        head += encode_uvarint(len(raw))
        head += raw
    return bytes(head + body.out), strings


def encode_message(msg: Message) -> bytes:
    """The canonical W7 encoding of ``msg``.

    Strings are interned in first-reference order (W7.2), keys equal to a reserved
    property name become reserved references at every depth, context ids are written
    ascending, varints are shortest. Semantic faults (422 cases) are written as given, so
    that invalid messages can be built on purpose.
    """
    return _write(msg)[0]


def string_table(msg: Message) -> list[str]:
    """The string table the canonical encoding of ``msg`` carries."""
    return _write(msg)[1]


# --------------------------------------------------------------------------- decoder


class _Stats:
    __slots__ = ("string_lengths", "max_properties")

    def __init__(self):
        self.string_lengths: list[int] = []
        self.max_properties = (0, -1)  # (count, event index)


class _Reader:
    """The structural pass (every 400 rule of W7.7), in reading order."""

    __slots__ = ("data", "pos", "end", "strings", "next_new", "stats")

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.strings: list[str] = []
        self.next_new = 0  # the index the next first reference must use
        self.stats = _Stats()

    def fail(self, reason: str):
        raise WireError(400, reason)

    def uvarint(self, what: str) -> int:
        value, self.pos = decode_uvarint(self.data, self.pos, what)
        return value

    def count(self, what: str, min_item_size: int) -> int:
        start = self.pos
        n = self.uvarint(what)
        left = self.end - self.pos
        if n * min_item_size > left:
            self.fail(f"{what} {n} at byte {start} cannot fit in the {left} bytes left (truncated)")
        return n

    def take(self, n: int, what: str, start: int) -> bytes:
        if self.pos + n > self.end:
            self.fail(f"{what} at byte {start} truncated: needs {n} bytes, {self.end - self.pos} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def string_ref(self, what: str) -> str:
        start = self.pos
        return self._string_at(self.uvarint(what), start, what)

    def _string_at(self, index: int, start: int, what: str) -> str:
        if index >= len(self.strings):
            self.fail(f"string index {index} out of range at byte {start} "
                      f"(the table has {len(self.strings)} strings) in {what}")
        if index >= self.next_new:
            if index > self.next_new:
                self.fail(f"string index {index} at byte {start} is referenced before string index "
                          f"{self.next_new} (strings must be interned in order of first reference)")
            self.next_new += 1
        return self.strings[index]

    def key(self, what: str):
        start = self.pos
        ref = self.uvarint(what)
        if ref == 0:
            self.fail(f"key reference 0 at byte {start} in {what}")
        if ref & 1:
            return self._string_at(ref >> 1, start, what)
        return Reserved(ref >> 1)

    def value(self, depth: int, what: str):
        start = self.pos
        if start >= self.end:
            self.fail(f"{what}: value truncated at byte {start}")
        tag = self.data[start]
        self.pos = start + 1
        if tag == TAG_STRING:
            return self.string_ref(what)
        if tag == TAG_UINT:
            return _uint(self.uvarint(what))
        if tag == TAG_INT:
            return _int(unzigzag(self.uvarint(what)))
        if tag == TAG_NULL:
            return None
        if tag == TAG_FALSE:
            return False
        if tag == TAG_TRUE:
            return True
        if tag == TAG_F32:
            return F32.from_bits(self.take(F32_SIZE, f"{what}: float32", start))
        if tag == TAG_F64:
            return F64.from_bits(self.take(F64_SIZE, f"{what}: float64", start))
        if tag == TAG_BYTES:
            n = self.uvarint(f"{what}: bytes length")
            return Bytes(self.take(n, f"{what}: bytes value", start))
        if tag == TAG_ARRAY or tag == TAG_MAP:
            kind = "array" if tag == TAG_ARRAY else "map"
            if depth >= MAX_NESTING:
                self.fail(f"{what}: {kind} at byte {start} is nested deeper than {MAX_NESTING} containers")
            if tag == TAG_ARRAY:
                n = self.count(f"{what}: array item count", 1)
                return [self.value(depth + 1, f"{what}[{i}]") for i in range(n)]
            n = self.count(f"{what}: map pair count", 2)
            pairs = []
            for i in range(n):
                key = self.key(f"{what}: key of map pair {i}")
                pairs.append((key, self.value(depth + 1, f"{what}{{{_key_label(key)}}}")))
            return Map(pairs)
        self.fail(f"{what}: unknown value tag 0x{tag:02x} at byte {start}")

    def message(self) -> Message:
        version = self.uvarint("format_version")
        if version != WIRE_VERSION:
            self.fail(f"format_version {version} at byte 0, expected {WIRE_VERSION}")
        start = self.pos
        kind = self.uvarint("message_kind")
        if kind != MESSAGE_KIND_EVENT_BATCH:
            self.fail(f"message_kind {kind} at byte {start}, expected {MESSAGE_KIND_EVENT_BATCH} (event_batch)")
        start = self.pos
        flags = self.uvarint("flags")
        if not flags & FLAG_CONTEXT_PROMOTES_PROPERTIES:
            self.fail(f"flags 0x{flags:x} at byte {start}: bit 0 (context_promotes_properties) must be set")
        if flags != FLAG_CONTEXT_PROMOTES_PROPERTIES:
            self.fail(f"flags 0x{flags:x} at byte {start}: unknown flag bits set")
        base_time_ms = self.uvarint("base_time_ms")

        n_strings = self.count("string_count", 1)
        index_of: dict[str, int] = {}
        lengths = self.stats.string_lengths
        for i in range(n_strings):
            start = self.pos
            n = self.uvarint(f"length of string #{i}")
            raw = self.take(n, f"string #{i}", start)
            try:
                s = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.fail(f"string #{i} at byte {start} is ill-formed UTF-8 "
                          f"(its byte {exc.start}: {exc.reason})")
            if s in index_of:
                self.fail(f"string #{i} at byte {start} duplicates string #{index_of[s]}")
            index_of[s] = i
            self.strings.append(s)
            lengths.append(n)

        n_context = self.count("context_count", 2)
        context = []
        previous = None
        for _ in range(n_context):
            start = self.pos
            cid = self.uvarint("context id")
            if previous is not None and cid <= previous:
                self.fail(f"context id {cid} at byte {start} is not above the previous id {previous} "
                          "(context ids must be strictly ascending)")
            previous = cid
            context.append((cid, self.value(0, f"context id {cid}")))

        n_events = self.count("event_count", 3)
        events = []
        for i in range(n_events):
            name = self.string_ref(f"name of event #{i}")
            delta = unzigzag(self.uvarint(f"time_delta_ms of event #{i}"))
            n_props = self.count(f"property_count of event #{i}", 2)
            if n_props > self.stats.max_properties[0]:
                self.stats.max_properties = (n_props, i)
            properties = []
            for j in range(n_props):
                key = self.key(f"key of property {j} of event #{i}")
                properties.append((key, self.value(0, f"event #{i} property {_key_label(key)}")))
            events.append(_event(name, delta, properties))

        if self.pos != self.end:
            self.fail(f"{self.end - self.pos} trailing bytes after the last event, at byte {self.pos}")
        if self.next_new != len(self.strings):
            self.fail(f"string #{self.next_new} ({_short(self.strings[self.next_new])}) is never referenced")
        return _message(base_time_ms, context, events)


def _uint(n: int) -> UInt:
    v = UInt.__new__(UInt)
    v.value = n
    return v


def _int(n: int) -> Int:
    v = Int.__new__(Int)
    v.value = n
    return v


def _event(name, delta, properties) -> Event:
    ev = Event.__new__(Event)
    ev.name, ev.time_delta_ms, ev.properties = name, delta, properties
    return ev


def _message(base_time_ms, context, events) -> Message:
    msg = Message.__new__(Message)
    msg.base_time_ms, msg.context, msg.events = base_time_ms, context, events
    return msg


def _short(s: str, limit: int = 40) -> str:
    return repr(s if len(s) <= limit else s[:limit] + "…")


def _key_label(key) -> str:
    if type(key) is Reserved:
        return key.name or f"reserved id {key.id}"
    return _short(key)


def _check_limits(data: bytes, stats: _Stats, msg: Message, limits: Limits) -> None:
    if len(data) > limits.message:
        raise WireError(413, f"message of {len(data)} bytes exceeds the {limits.message}-byte limit")
    if len(msg.events) > limits.events:
        raise WireError(413, f"{len(msg.events)} events exceed the limit of {limits.events} per message")
    lengths = stats.string_lengths
    if len(lengths) > limits.strings:
        raise WireError(413, f"{len(lengths)} string-table entries exceed the limit of {limits.strings}")
    if lengths and max(lengths) > limits.string_bytes:
        for i, n in enumerate(lengths):
            if n > limits.string_bytes:
                raise WireError(413, f"string #{i} of {n} bytes exceeds the {limits.string_bytes}-byte limit")
    total = sum(lengths)
    if total > limits.all_string_bytes:
        raise WireError(413, f"{total} bytes of strings exceed the limit of {limits.all_string_bytes}")
    if limits.properties is not None:
        count, index = stats.max_properties
        if count > limits.properties:
            raise WireError(413, f"event #{index} has {count} properties, above the limit of {limits.properties}")


def decode_message(data, limits: Limits = CAPTURE_LIMITS) -> Message:
    """Strictly decode one reassembled message.

    A complete structural pass first (``WireError(400)`` in reading order), then the
    hard limits of ``limits`` (413). Semantic rules (422) are :func:`validate_message`'s.

    The structural pass is tried first by :func:`_decode_fast`, which builds the same
    model without composing any reason; whenever it meets anything it does not accept
    (a malformed byte, a truncation, an unusual encoding), the strict ``_Reader`` reads
    the message again from the start and decides, so every rejection and its reason
    come from the one strict reader.
    """
    data = bytes(data)
    decoded = _decode_fast(data)
    if decoded is None:
        reader = _Reader(data)
        msg = reader.message()
        stats = reader.stats
    else:
        msg, stats = decoded
    _check_limits(data, stats, msg, limits)
    return msg


class _Fallback(Exception):
    """The fast decoder leaves this message to the strict reader."""


_FALLBACK = _Fallback()


def _long_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    """A uvarint of two or more bytes at ``data[pos]`` (its first byte has the high bit
    set); anything the strict reader would refuse raises ``_Fallback``."""
    start = pos
    result = 0
    shift = 0
    while True:
        b = data[pos]  # IndexError when truncated
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            break
        if pos - start == 10:
            raise _FALLBACK
        shift += 7
    if b == 0 or result > 0xFFFF_FFFF_FFFF_FFFF:
        raise _FALLBACK
    return result, pos


def _decode_fast(data: bytes):
    """The structural pass of ``_Reader.message`` for a well-formed message, with the
    one-byte varint case inline and no reason text built: (Message, _Stats), or None
    when the strict reader must decide (it then raises the exact WireError, or, should
    this pass have been more cautious than the rules, accepts the message itself)."""
    try:
        return _decode_fast_or_raise(data)
    except (_Fallback, IndexError, UnicodeDecodeError, ValueError, TypeError, OverflowError, RecursionError):
        return None


def _decode_fast_or_raise(data: bytes):
    end = len(data)
    # format_version, message_kind and flags are one-byte varints with fixed values
    # (any other first byte is another value or a non-minimal encoding)
    if end < 4 or data[0] != WIRE_VERSION or data[1] != MESSAGE_KIND_EVENT_BATCH \
            or data[2] != FLAG_CONTEXT_PROMOTES_PROPERTIES:
        raise _FALLBACK
    b = data[3]
    if b < 0x80:
        base_time_ms, pos = b, 4
    else:
        base_time_ms, pos = _long_uvarint(data, 3)

    # string table
    n = data[pos]
    if n < 0x80:
        pos += 1
    else:
        n, pos = _long_uvarint(data, pos)
    if n > end - pos:
        raise _FALLBACK
    strings: list[str] = []
    lengths: list[int] = []
    for _ in range(n):
        size = data[pos]
        if size < 0x80:
            pos += 1
        else:
            size, pos = _long_uvarint(data, pos)
        stop = pos + size
        if stop > end:
            raise _FALLBACK
        strings.append(data[pos:stop].decode("utf-8"))  # UnicodeDecodeError: the strict reader says where
        lengths.append(size)
        pos = stop
    n_strings = len(strings)
    if len(set(strings)) != n_strings:
        raise _FALLBACK  # a duplicate string

    # string references must be first used in table order: ``fresh`` is the index the
    # next first reference must use
    fresh = 0

    def first_use(index: int) -> None:
        nonlocal fresh
        if index != fresh or index >= n_strings:
            raise _FALLBACK
        fresh += 1

    # Varints are read inline below (one-byte case, else _long_uvarint): a call per
    # varint was a fifth of the server's request path before this pass existed.

    def value(pos: int, depth: int):
        tag = data[pos]
        pos += 1
        if tag == TAG_STRING:
            index = data[pos]
            if index < 0x80:
                pos += 1
            else:
                index, pos = _long_uvarint(data, pos)
            if index >= fresh:
                first_use(index)
            return strings[index], pos
        if tag == TAG_UINT or tag == TAG_INT:
            number = data[pos]
            if number < 0x80:
                pos += 1
            else:
                number, pos = _long_uvarint(data, pos)
            if tag == TAG_UINT:
                v = UInt.__new__(UInt)
                v.value = number
            else:
                v = Int.__new__(Int)
                v.value = (number >> 1) ^ -(number & 1)
            return v, pos
        if tag <= TAG_TRUE:  # TAG_NULL, TAG_FALSE, TAG_TRUE
            return (None, False, True)[tag], pos
        if tag == TAG_F32 or tag == TAG_F64:
            size = F32_SIZE if tag == TAG_F32 else F64_SIZE
            if pos + size > end:
                raise _FALLBACK
            v = F32.__new__(F32) if tag == TAG_F32 else F64.__new__(F64)
            v.bits = data[pos:pos + size]
            return v, pos + size
        if tag == TAG_BYTES:
            size = data[pos]
            if size < 0x80:
                pos += 1
            else:
                size, pos = _long_uvarint(data, pos)
            if pos + size > end:
                raise _FALLBACK
            v = Bytes.__new__(Bytes)
            v.data = data[pos:pos + size]
            return v, pos + size
        if tag == TAG_ARRAY or tag == TAG_MAP:
            if depth >= MAX_NESTING:
                raise _FALLBACK
            count = data[pos]
            if count < 0x80:
                pos += 1
            else:
                count, pos = _long_uvarint(data, pos)
            if tag == TAG_ARRAY:
                if count > end - pos:
                    raise _FALLBACK
                items = []
                for _ in range(count):
                    item, pos = value(pos, depth + 1)
                    items.append(item)
                return items, pos
            if 2 * count > end - pos:
                raise _FALLBACK
            pairs = []
            for _ in range(count):
                key, pos = key_at(pos)
                item, pos = value(pos, depth + 1)
                pairs.append((key, item))
            v = Map.__new__(Map)
            v.pairs = pairs
            return v, pos
        raise _FALLBACK  # unknown tag

    def key_at(pos: int):
        ref = data[pos]
        if ref < 0x80:
            pos += 1
        else:
            ref, pos = _long_uvarint(data, pos)
        if ref & 1:
            index = ref >> 1
            if index >= fresh:
                first_use(index)
            return strings[index], pos
        if ref == 0:
            raise _FALLBACK
        key = Reserved.__new__(Reserved)
        key.id = ref >> 1
        return key, pos

    # batch context, ids strictly ascending
    n = data[pos]
    if n < 0x80:
        pos += 1
    else:
        n, pos = _long_uvarint(data, pos)
    if 2 * n > end - pos:
        raise _FALLBACK
    context = []
    previous = -1
    for _ in range(n):
        cid = data[pos]
        if cid < 0x80:
            pos += 1
        else:
            cid, pos = _long_uvarint(data, pos)
        if cid <= previous:
            raise _FALLBACK
        previous = cid
        if data[pos] == TAG_STRING and data[pos + 1] < 0x80:
            # what value() does for a one-byte string reference, the usual context entry,
            # without its two calls
            index = data[pos + 1]
            pos += 2
            if index >= fresh:
                if index != fresh or index >= n_strings:
                    raise _FALLBACK
                fresh += 1
            item = strings[index]
        else:
            item, pos = value(pos, 0)
        context.append((cid, item))

    # events
    n = data[pos]
    if n < 0x80:
        pos += 1
    else:
        n, pos = _long_uvarint(data, pos)
    if 3 * n > end - pos:
        raise _FALLBACK
    events = []
    most = (0, -1)
    for i in range(n):
        index = data[pos]
        if index < 0x80:
            pos += 1
        else:
            index, pos = _long_uvarint(data, pos)
        if index >= fresh:  # first_use(), inline
            if index != fresh or index >= n_strings:
                raise _FALLBACK
            fresh += 1
        name = strings[index]
        delta = data[pos]
        if delta < 0x80:
            pos += 1
        else:
            delta, pos = _long_uvarint(data, pos)
        count = data[pos]
        if count < 0x80:
            pos += 1
        else:
            count, pos = _long_uvarint(data, pos)
        if 2 * count > end - pos:
            raise _FALLBACK
        if count > most[0]:
            most = (count, i)
        properties = []
        for _ in range(count):
            key, pos = key_at(pos)
            item, pos = value(pos, 0)
            properties.append((key, item))
        ev = Event.__new__(Event)
        ev.name, ev.time_delta_ms, ev.properties = name, (delta >> 1) ^ -(delta & 1), properties
        events.append(ev)

    if pos != end or fresh != n_strings:
        raise _FALLBACK  # trailing bytes, or a string never referenced
    stats = _Stats.__new__(_Stats)  # both fields set here: no __init__ defaults to overwrite
    stats.string_lengths = lengths
    stats.max_properties = most
    return _message(base_time_ms, context, events), stats


# --------------------------------------------------------------------------- validator

_RESERVED_NAMES = frozenset(RESERVED_PROPERTY_ID_BY_NAME)
_PROMOTED_NAMES = frozenset(PROMOTED_NAMES)


def _reject(reason: str):
    raise WireError(422, reason)


def _is_integer(v) -> bool:
    return type(v) in (UInt, Int) or (isinstance(v, int) and not isinstance(v, bool))


class _Validator:
    __slots__ = ("binary_properties",)

    def __init__(self, binary_properties: bool):
        self.binary_properties = binary_properties

    def key(self, key, where: str) -> None:
        if type(key) is Reserved:
            if key.id not in RESERVED_PROPERTIES:
                _reject(f"{where}: reserved property id {key.id} is outside 1-7")
        elif isinstance(key, str):
            if not key:
                _reject(f"{where}: empty custom key")
            if key in _RESERVED_NAMES:
                _reject(f"{where}: custom key {key!r} spells a reserved property name "
                        "(it must be sent as its reserved reference)")
            if key in _PROMOTED_NAMES:
                _reject(f"{where}: custom key {key!r} spells a promoted context name")
        else:
            raise TypeError(f"{where}: a key must be str or Reserved, not {type(key).__name__}")

    def pairs(self, pairs, where: str, in_context: bool, properties: bool = False) -> None:
        """Event properties (``properties=True``) or the pairs of a map at ``where``."""
        seen = set()
        for key, value in pairs:
            label = _key_label(key) if isinstance(key, (str, Reserved)) else repr(key)
            item = f"{where} property {label}" if properties else f"{where}{{{label}}}"
            self.key(key, item)
            if key in seen:
                _reject(f"{where}: key {label} repeated")
            seen.add(key)
            if type(key) is Reserved:
                name, kind = RESERVED_PROPERTIES[key.id]
                if kind == "int" and not _is_integer(value):
                    _reject(f"{item}: {name} must be an integer, not {_kind_of(value)}")
                if kind == "str" and not isinstance(value, str):
                    _reject(f"{item}: {name} must be a string, not {_kind_of(value)}")
            self.value(value, item, in_context)

    def value(self, v, where: str, in_context: bool) -> None:
        if isinstance(v, str):
            if not v and in_context:
                _reject(f"{where}: the empty string is not allowed in the batch context")
        elif type(v) in (F32, F64):
            if not v.is_finite():
                _reject(f"{where}: float {v.value!r} is not finite")
        elif isinstance(v, float):
            if not math.isfinite(v):
                _reject(f"{where}: float {v!r} is not finite")
        elif isinstance(v, (Bytes, bytes, bytearray)):
            if not self.binary_properties:
                _reject(f"{where}: bytes value while binary properties are off")
        elif isinstance(v, (list, tuple)):
            for i, item in enumerate(v):
                self.value(item, f"{where}[{i}]", in_context)
        elif type(v) is Map:
            self.pairs(v.pairs, where, in_context)
        elif isinstance(v, dict):
            self.pairs(list(v.items()), where, in_context)


def _kind_of(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, str):
        return "a string"
    if _is_integer(v):
        return "an integer"
    if type(v) in (F32, F64) or isinstance(v, float):
        return "a float"
    if isinstance(v, (Bytes, bytes, bytearray)):
        return "bytes"
    if isinstance(v, (list, tuple)):
        return "an array"
    return "a map"


_STRING_CONTEXT_IDS = frozenset(STRING_CONTEXT_IDS)
_UINT_CONTEXT_IDS = frozenset(UINT_CONTEXT_IDS)
_REQUIRED_CONTEXT_IDS = frozenset(REQUIRED_CONTEXT_IDS)
_FORBIDDEN_CUSTOM_KEYS = _RESERVED_NAMES | _PROMOTED_NAMES
_SCALAR_TYPES = (str, UInt, Int, type(None), bool)


def _clean_value(v, in_context: bool, binary: bool) -> bool:
    t = type(v)
    if t is str:
        return bool(v) or not in_context
    if t is UInt or t is Int or v is None or t is bool:
        return True
    if t is F32 or t is F64:
        return v.is_finite()
    if t is Bytes:
        return binary
    if t is list:
        for item in v:
            if not _clean_value(item, in_context, binary):
                return False
        return True
    if t is Map:
        return _clean_pairs(v.pairs, in_context, binary)
    return False  # not a decoder type: the strict validator decides


def _clean_pairs(pairs, in_context: bool, binary: bool) -> bool:
    seen = set()
    for key, value in pairs:
        t = type(key)
        if t is str:
            if not key or key in _FORBIDDEN_CUSTOM_KEYS:
                return False
        elif t is Reserved:
            entry = RESERVED_PROPERTIES.get(key.id)
            if entry is None:
                return False
            kind = entry[1]
            if kind == "int":
                if type(value) is not UInt and type(value) is not Int:
                    return False
            elif kind == "str" and type(value) is not str:
                return False
        else:
            return False
        seen.add(key)
        if not _clean_value(value, in_context, binary):
            return False
    return len(seen) == len(pairs)


def _looks_valid(msg: Message, binary_properties: bool) -> bool:
    """True only when :func:`validate_message` certainly finds nothing: the same rules,
    checked without composing any reason, for the value types the decoder produces.
    False leaves the verdict (and the reason of the first fault) to the strict rules."""
    previous = -1
    present = 0
    for cid, value in msg.context:
        if type(cid) is not int or cid <= previous:
            return False
        previous = cid
        if cid in _STRING_CONTEXT_IDS:
            if type(value) is not str or not value:
                return False
        elif cid in _UINT_CONTEXT_IDS:
            if type(value) is not UInt:
                return False
            if cid == DEVICE_TIME_SOURCE_ID and value.value > DEVICE_TIME_SOURCE_MAX:
                return False
        elif cid >= CONTEXT_EXTENSION_MIN:
            if not _clean_value(value, True, binary_properties):
                return False
        else:
            return False
        if cid in _REQUIRED_CONTEXT_IDS:
            present += 1
    if present != len(_REQUIRED_CONTEXT_IDS) or not msg.events:
        return False
    base = msg.base_time_ms
    for event in msg.events:
        name = event.name
        if type(name) is not str or not name:
            return False
        delta = event.time_delta_ms
        if type(delta) is not int or type(base) is not int or not 0 <= base + delta <= I64_MAX:
            return False
        if not _clean_pairs(event.properties, False, binary_properties):
            return False
    return True


def validate_message(msg: Message, binary_properties: bool = False) -> None:
    """The semantic rules of W7 (every 422 of W7.7), first fault in reading order.

    ``binary_properties`` is the project option that allows bytes values. A message
    that ``_looks_valid`` passes at once; any other is judged by the rules below,
    which compose the reason of its first fault.
    """
    if _looks_valid(msg, binary_properties):
        return
    check = _Validator(binary_properties)
    present = set()
    for cid, value in msg.context:
        where = f"context id {cid}"
        if cid in present:
            # cannot come from the wire (the decoder refuses it with 400); a hand-built model
            raise WireError(400, f"{where} repeated (context ids must be strictly ascending)")
        present.add(cid)
        if cid in STRING_CONTEXT_IDS:
            name = CONTEXT_IDS[cid]
            if not isinstance(value, str):
                _reject(f"{where} ({name}) must be a string reference, not {_kind_of(value)}")
            if not value:
                _reject(f"{where} ({name}) references the empty string")
        elif cid in UINT_CONTEXT_IDS:
            name = CONTEXT_IDS[cid]
            if type(value) is UInt:
                number = value.value
            elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                number = value
            elif type(value) is Int:
                _reject(f"{where} ({name}) must be a uint (tag 03), not an int (tag 04)")
            else:
                _reject(f"{where} ({name}) must be a uint (tag 03), not {_kind_of(value)}")
            if cid == DEVICE_TIME_SOURCE_ID and number > DEVICE_TIME_SOURCE_MAX:
                _reject(f"{where} ({name}) is {number}, above {DEVICE_TIME_SOURCE_MAX}")
        elif cid >= CONTEXT_EXTENSION_MIN:
            check.value(value, where, in_context=True)
        else:
            _reject(f"{where} is reserved (ids 0 and 11-{CONTEXT_EXTENSION_MIN - 1} are not defined)")
    for cid in REQUIRED_CONTEXT_IDS:
        if cid not in present:
            _reject(f"required context id {cid} ({CONTEXT_IDS[cid]}) is missing")
    if not msg.events:
        _reject("the message holds no events")
    for i, event in enumerate(msg.events):
        where = f"event #{i}"
        if not event.name:
            _reject(f"{where}: empty event name")
        where = f"event #{i} ({_short(event.name)})"
        timestamp = msg.base_time_ms + event.time_delta_ms
        if not 0 <= timestamp <= I64_MAX:
            _reject(f"{where}: timestamp {msg.base_time_ms} + {event.time_delta_ms} = {timestamp} "
                    "is outside 0..2^63-1")
        check.pairs(event.properties, where, in_context=False, properties=True)

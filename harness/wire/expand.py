"""W9: expansion into stored events, and the vectors' ``decoded_compact_message`` form."""

from __future__ import annotations

import math

from harness.protocol import (
    CONTEXT_EXTENSION_MIN, CONTEXT_IDS, FLAG_CONTEXT_PROMOTES_PROPERTIES, MESSAGE_KIND_EVENT_BATCH,
    PROMOTED_CONTEXT_IDS, RESERVED_PROPERTIES, WIRE_VERSION,
)
from harness.wire.message import DISTINCT_ID_CONTEXT_ID, string_table
from harness.wire.values import F32, F64, Bytes, Int, Map, Message, Reserved, UInt

FLAG_NAMES = {FLAG_CONTEXT_PROMOTES_PROPERTIES: "context_promotes_properties"}
MESSAGE_KIND_NAMES = {MESSAGE_KIND_EVENT_BATCH: "event_batch"}
#: JSON has no NaN or infinity; the decoded form spells them as strings.
NON_FINITE_NAMES = {math.inf: "Infinity", -math.inf: "-Infinity"}


def key_name(key) -> str:
    """The expanded name of a property or map key."""
    if type(key) is Reserved:
        entry = RESERVED_PROPERTIES.get(key.id)
        return entry[0] if entry else f"reserved_{key.id}"
    return key


def context_name(context_id: int) -> str:
    """The name of a context entry in ``decoded_compact_message["batch_context"]``."""
    if context_id in CONTEXT_IDS:
        return CONTEXT_IDS[context_id]
    if context_id >= CONTEXT_EXTENSION_MIN:
        return f"extension_{context_id}"
    return f"context_{context_id}"


def json_value(v):
    """A value as W9 stores it: native JSON, bytes as ``{"bytes_hex": ...}``, float32 widened."""
    if v is None or isinstance(v, (bool, str)):
        return v
    t = type(v)
    if t is UInt or t is Int:
        return v.value
    if t is F32 or t is F64:
        return _float(v.value)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return _float(v)
    if t is Bytes:
        return {"bytes_hex": v.data.hex()}
    if isinstance(v, (bytes, bytearray)):
        return {"bytes_hex": bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [json_value(item) for item in v]
    if t is Map:
        return {key_name(k): json_value(item) for k, item in v.pairs}
    if isinstance(v, dict):
        return {key_name(k): json_value(item) for k, item in v.items()}
    raise TypeError(f"cannot express a value of type {type(v).__name__} as JSON")


def _float(x: float):
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else NON_FINITE_NAMES[x]


#: (context id, property name) of the promoted context entries, in promotion order
_PROMOTED = tuple((cid, CONTEXT_IDS[cid]) for cid in PROMOTED_CONTEXT_IDS)


def expand_events(msg: Message) -> list[dict]:
    """The stored events of a message that passed :func:`validate_message` (W9)."""
    context = dict(msg.context)
    if DISTINCT_ID_CONTEXT_ID not in context:
        raise ValueError("cannot expand a message without distinct_id (validate it first)")
    distinct_id = context[DISTINCT_ID_CONTEXT_ID]
    # strings (most values, every custom key) are their own JSON form: no call for them
    promoted = {}
    for cid, name in _PROMOTED:
        if cid in context:
            value = context[cid]
            promoted[name] = value if type(value) is str else json_value(value)
    events = []
    for event in msg.events:
        properties = dict(promoted)
        for key, value in event.properties:
            properties[key if type(key) is str else key_name(key)] = \
                value if type(value) is str else json_value(value)
        events.append({
            "distinct_id": distinct_id,
            "event": event.name,
            "properties": properties,
            "timestamp": msg.base_time_ms + event.time_delta_ms,
        })
    return events


def to_decoded_json(msg: Message) -> dict:
    """The message in the shape of the vectors' ``decoded_compact_message`` (W12).

    Works for any decodable message, valid or not; non-finite floats appear as the
    strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
    """
    return {
        "format_version": WIRE_VERSION,
        "message_kind": MESSAGE_KIND_NAMES[MESSAGE_KIND_EVENT_BATCH],
        "flags": [FLAG_NAMES[FLAG_CONTEXT_PROMOTES_PROPERTIES]],
        "base_time_ms": msg.base_time_ms,
        "string_table": string_table(msg),
        "batch_context": {context_name(cid): json_value(value) for cid, value in msg.context},
        "events": [
            {
                "event": event.name,
                "time_delta_ms": event.time_delta_ms,
                "properties": [{key_name(k): json_value(v)} for k, v in event.properties],
            }
            for event in msg.events
        ],
    }

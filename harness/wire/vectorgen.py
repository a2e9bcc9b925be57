"""The project's own wire-v2 vectors: ``python -m harness.wire.vectorgen OUT_DIR``.

They use the upstream JSON shape (W12) and cover what the nine upstream vectors do
not: multi-byte message ids, every value tag, the optional context entries, the
largest SDK message, the reassembly table of W6 and one rejection case per rule of
W5.3 and W7.7 (with the 400 → 413 → 422 precedence). Output is deterministic; the
drift test in tests/wire regenerates them and compares.

Informational keys (W12 lets readers ignore them): ``message_id``; ``max_frame`` when
the frames are the W5.5 chunking of the message at that frame limit; ``tenant_options``
when the expected code assumes a non-default project (``{"binary_properties": true}``).
``decoded_compact_message`` is null when no message can be decoded (a malformed
message, or one above the capture limits).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.protocol import CAPTURE_LIMITS, SDK_LIMITS, U32_MAX, Limits
from harness.wire.errors import WireError
from harness.wire.expand import to_decoded_json
from harness.wire.frame import chunk, encode_frame, parse_frame
from harness.wire.message import decode_message, encode_message
from harness.wire.reassembly import Reassembler
from harness.wire.receive import judge_frame
from harness.wire.values import F32, F64, Bytes, Event, Int, Map, Message, Reserved, UInt
from harness.wire.varint import I64_MAX, U64_MAX, crc16, encode_uvarint

GENERATED_BY = "harness/wire/vectorgen.py"
WIRE_FORMAT = "honch-wire-v2"
SDK_VERSION = "0.0.0-generated"
BASE_TIME_MS = 1_700_000_000_000
UNLIMITED = Limits(frame=1 << 62, message=1 << 62, events=1 << 62, strings=1 << 62,
                   string_bytes=1 << 62, all_string_bytes=1 << 62, properties=None)


def base_time(message_id: int) -> int:
    return BASE_TIME_MS + 1000 * (message_id - 1)


#: ``required_context({7: OMIT})`` leaves context id 7 out.
OMIT = object()


def required_context(overrides: dict | None = None) -> list:
    """Context ids 1-7 with the values of the upstream vectors; ``overrides`` maps id -> value."""
    values = {1: "user-1", 2: "device-1", 3: "model-x", 4: "1.0.0", 5: "posix", 6: SDK_VERSION,
              7: "production"}
    values.update(overrides or {})
    return [(cid, v) for cid, v in sorted(values.items()) if v is not OMIT]


def simple_message(message_id: int, events=None, context=None) -> Message:
    return Message(base_time(message_id), context if context is not None else required_context(),
                   events if events is not None else [Event("boot")])


def with_string(data: bytes, placeholder: str, replacement: bytes) -> bytes:
    """Swap the bytes of one string-table entry (same length) for ``replacement``."""
    old = encode_uvarint(len(placeholder.encode())) + placeholder.encode()
    if len(replacement) != len(placeholder.encode()) or data.count(old) != 1:
        raise AssertionError(f"placeholder {placeholder!r} must be unique and as long as its replacement")
    return data.replace(old, encode_uvarint(len(replacement)) + replacement)


def assemble(strings: list[bytes], context: bytes, events: bytes, head: bytes = b"\x02\x01\x01",
             base: int = BASE_TIME_MS) -> bytes:
    """Hand-assemble a message from raw parts (for string-table faults the encoder cannot make)."""
    out = bytearray(head) + encode_uvarint(base) + encode_uvarint(len(strings))
    for s in strings:
        out += encode_uvarint(len(s)) + s
    return bytes(out + context + events)


REQUIRED_STRINGS = [b"user-1", b"device-1", b"model-x", b"1.0.0", b"posix", SDK_VERSION.encode(),
                    b"production"]
REQUIRED_CONTEXT_RAW = b"\x07" + b"".join(bytes((i + 1, 0x07, i)) for i in range(7))


class Builder:
    def __init__(self):
        self.vectors: dict[str, dict] = {}

    def add(self, name: str, description: str, code: int, frames: list[dict], *, message=None,
            message_id: int, max_frame: int | None = None, binary: bool = False) -> None:
        if name in self.vectors:
            raise AssertionError(f"vector {name} defined twice")
        decoded = None
        if message is not None:
            try:
                decoded = to_decoded_json(decode_message(message, CAPTURE_LIMITS))
            except WireError:
                decoded = None
        # the declared code must be what the codec answers; a mismatch is a bug in one of them
        reassembler = Reassembler()
        verdict = None
        for frame in frames:
            verdict = judge_frame(reassembler, bytes.fromhex(frame["hex"]), stream_id="gen",
                                  binary_properties=binary)
        if verdict.status != code:
            raise AssertionError(f"{name}: declared {code}, codec answers {verdict.status} ({verdict.reason})")
        vector = {
            "wire_format": WIRE_FORMAT,
            "name": name,
            "description": description,
            "expected_capture_response_code": code,
            "frames": frames,
            "decoded_compact_message": decoded,
            "expanded_event_json": verdict.events if code == 204 else [],
            "generated_by": GENERATED_BY,
            "message_id": message_id,
        }
        if max_frame is not None:
            vector["max_frame"] = max_frame
        if binary:
            vector["tenant_options"] = {"binary_properties": True}
        self.vectors[name] = vector

    def message(self, name: str, description: str, code: int, msg, *, message_id: int,
                max_frame: int = SDK_LIMITS.frame, binary: bool = False) -> None:
        """A message (model or bytes) sent as the W5.5 chunking at ``max_frame``."""
        data = msg if isinstance(msg, bytes) else encode_message(msg)
        bodies = chunk(data, message_id, max_frame)
        self.add(name, description, code, chunk_frames(bodies, message_id), message=data,
                 message_id=message_id, max_frame=max_frame if len(bodies) > 1 else None, binary=binary)

    def single(self, name: str, description: str, code: int, body: bytes, *, message_id: int,
               message: bytes | None = None, kind: str = "single") -> None:
        """One hand-made body (usually a malformed frame)."""
        self.add(name, description, code, [{"kind": kind, "hex": body.hex()}], message=message,
                 message_id=message_id)


def chunk_frames(bodies: list[bytes], message_id: int) -> list[dict]:
    if len(bodies) == 1:
        return [{"kind": "single", "hex": bodies[0].hex()}]
    return [{"kind": "init" if i == 0 else "continuation", "hex": body.hex(),
             "offset": parse_frame(body, UNLIMITED).offset}
            for i, body in enumerate(bodies)]


def every_tag_message(message_id: int) -> Message:
    """Every tag (bytes aside), both integer tags on both signs, reserved keys in nested maps."""
    return Message(base_time(message_id), required_context() + [
        (8, "session-42"), (9, UInt(1)), (10, UInt(0)),
        (128, Map([("gateway", "gw-7"), ("state", "relay"), ("hops", [UInt(1), Int(-2)])])),
        (300, [None, True]),
    ], [
        Event("scalars", -5, [
            ("null", None), ("false", False), ("true", True),
            ("u0", UInt(0)), ("u127", UInt(127)), ("u128", UInt(128)), ("umax", UInt(U64_MAX)),
            ("i5", Int(5)), ("ineg1", Int(-1)), ("ineg64", Int(-64)), ("ineg65", Int(-65)),
            ("imin", Int(-(1 << 63))), ("imax", Int(I64_MAX)),
            ("f32", F32(36.5)), ("f32neg", F32(-0.15625)), ("f64", F64(3.141592653589793)),
            ("f64negzero", F64(-0.0)), ("text", "héllo ✓ 𝄞"), ("empty", ""),
        ]),
        Event("containers", 0, [
            ("list", ["a", UInt(1), Int(-1), ["nested", None], Map([("k", "v")])]),
            ("empty_list", []), ("empty_map", Map([])),
            ("map", Map([("state", "idle"), ("inner", Map([("$battery_level", Int(-3)),
                                                           ("reset_reason", "watchdog"),
                                                           ("deep", [Map([("session_name", "s")])])]))])),
            (Reserved(1), Int(87)), (Reserved(2), Int(-61)), (Reserved(3), "power_on"),
            (Reserved(4), "running"), (Reserved(5), "1.0.0"), (Reserved(6), "1.1.0"),
            (Reserved(7), "morning"),
        ]),
        Event("scalars", 300, [("text", "héllo ✓ 𝄞"), ("$anon_distinct_id", "anon-1")]),
    ])


def max_size_message(message_id: int) -> Message:
    """A message of exactly SDK_LIMITS.message bytes that stays inside every SDK limit."""
    target = SDK_LIMITS.message
    events_count = SDK_LIMITS.events

    def build(items: int, bump: bool) -> Message:
        events = []
        for i in range(events_count):
            n = items // events_count + (1 if i < items % events_count else 0)
            values = [UInt(i % 100)] * n
            if bump and i == 0:
                values[0] = UInt(200)  # a two-byte uvarint: one byte more
            events.append(Event("sample", i, [("seq", UInt(i)), ("values", values)]))
        return Message(base_time(message_id), required_context({9: UInt(1)}), events)

    low, high = 0, target  # the largest item count whose message fits (size grows with items)
    while low < high:
        mid = (low + high + 1) // 2
        if len(encode_message(build(mid, False))) <= target:
            low = mid
        else:
            high = mid - 1
    items = low
    for bump in (False, True):
        msg = build(items, bump)
        data = encode_message(msg)
        if len(data) == target:
            decode_message(data, SDK_LIMITS)  # raises if any SDK limit is exceeded
            return msg
    raise AssertionError("cannot reach the target size")  # the size steps are 1 and 2 bytes


def generate() -> dict[str, dict]:
    b = Builder()
    mid = 1000  # generated vectors use ids from 1000 so they never collide with upstream ones

    # ---- accepted messages (204) --------------------------------------------------------
    b.message("multi-frame-two-byte-message-id",
              "Message id 300 (uvarint ac 02) chunked at max_frame 40 into frames whose offsets "
              "reach two-byte uvarints; reassembly across value boundaries.", 204,
              every_tag_message(300), message_id=300, max_frame=40)
    b.message("multi-frame-max-message-id",
              "Message id 2^32-1 (a five-byte uvarint) chunked at max_frame 24.", 204,
              simple_message(mid - 1, [Event("capture", 10, [("mode", "hdr")])]),
              message_id=U32_MAX, max_frame=24)
    b.message("every-tag",
              "Every value tag except bytes: null, booleans, uint up to 2^64-1, int (tag 04) of both "
              "signs down to -2^63, float32, float64 (with -0.0), UTF-8 strings and the empty string "
              "value, arrays, empty containers, nested maps whose reserved names are reserved "
              "references, all seven reserved properties, a negative time delta, session context id 8, "
              "device_time_source, capabilities and two extension context entries.", 204,
              every_tag_message(mid), message_id=mid)
    b.message("bytes-binary-properties",
              "Bytes values (empty, in an array and in a map) on a project with binary properties on.",
              204, simple_message(mid + 1, [Event("blob", 0, [
                  ("raw", Bytes(b"\x00\xff\x10")), ("empty", Bytes(b"")),
                  ("list", [Bytes(b"\x01"), "x"]), ("map", Map([("b", Bytes(b"\xfe"))]))])]),
              message_id=mid + 1, binary=True)
    b.message("session-context",
              "Context id 8 ($session_id) is promoted into properties; device_time_source 2 is not; "
              "SDK-stamped battery and RSSI use tag 04; session_name is a reserved reference.", 204,
              simple_message(mid + 2, [Event("$session_start", 0, [(Reserved(7), "commute")]),
                                       Event("reading", 1500, [(Reserved(1), Int(80)), (Reserved(2), Int(-70)),
                                                               ("celsius", F64(21.25))])],
                             required_context() + [(8, "0123456789abcdef"), (9, UInt(2))]),
              message_id=mid + 2)
    b.message("device-time-source-gateway",
              "device_time_source 3 (assigned by a gateway), the largest valid value.", 204,
              simple_message(mid + 3, context=required_context() + [(9, UInt(3))]), message_id=mid + 3)
    b.message("distinct-id-equals-device-id",
              "distinct_id equals $device_id: both context entries reference string #0.", 204,
              simple_message(mid + 4, context=required_context({1: "device-1"})), message_id=mid + 4)
    b.message("empty-string-property-value",
              "The empty string is valid as a property value, an array item and a map value.", 204,
              simple_message(mid + 5, [Event("note", 0, [("text", ""), ("list", ["", "a"]),
                                                         ("map", Map([("k", "")]))])]),
              message_id=mid + 5)
    nest8 = "leaf"
    for _ in range(8):
        nest8 = [nest8]
    b.message("nesting-eight-containers",
              "A string inside 8 nested containers (arrays and maps) is valid.", 204,
              simple_message(mid + 6, [Event("deep", 0, [("a", nest8),
                                                         ("m", Map([("x", [[[[[[Map([("y", 1)])]]]]]])]))])]),
              message_id=mid + 6)
    b.message("max-size-two-frames",
              "A message of exactly 4096 bytes within every SDK limit needs two frames at max_frame "
              "4096: an init frame of 4096 bytes and a final frame.", 204,
              max_size_message(mid + 7), message_id=mid + 7)
    b.message("maximum-strings-sdk-limit",
              "128 string-table entries (the SDK maximum).", 204,
              simple_message(mid + 8, [Event("strings", 0, [("list", [f"s{i:03d}" for i in range(119)])])]),
              message_id=mid + 8)

    # ---- reassembly (W6) ------------------------------------------------------------------
    rid = mid + 20
    rf = 52  # three frames: init, middle, final
    data = encode_message(simple_message(rid, [Event("capture", 10, [("mode", "hdr"), ("n", UInt(7))])]))
    f = chunk(data, rid, rf)
    frames = chunk_frames(f, rid)
    assert len(frames) == 3, len(frames)
    b.add("duplicate-init", "The init frame sent twice byte for byte is accepted idempotently.", 202,
          [frames[0], dict(frames[0], kind="duplicate")], message=data, message_id=rid, max_frame=rf)
    b.add("duplicate-continuation-then-final",
          "A repeated middle frame is idempotent; the final frame then completes the message.", 204,
          [frames[0], frames[1], dict(frames[1], kind="duplicate"), frames[2]], message=data,
          message_id=rid, max_frame=rf)
    other = bytes.fromhex(frames[0]["hex"])
    other = other[:-1] + bytes((other[-1] ^ 0x01,))
    b.add("conflicting-init", "A second init frame for the same message id with a different payload.", 409,
          [frames[0], {"kind": "conflict", "hex": other.hex(), "offset": 0}], message=data, message_id=rid,
          max_frame=rf)
    b.add("continuation-without-partial", "A middle frame for a message that was never started.", 409,
          [frames[1]], message=data, message_id=rid, max_frame=rf)
    conflicting = bytes.fromhex(frames[1]["hex"])
    conflicting = conflicting[:-1] + bytes((conflicting[-1] ^ 0x01,))
    b.add("conflicting-duplicate",
          "A middle frame at an accepted offset with a different payload.", 409,
          [frames[0], frames[1], {"kind": "conflict", "hex": conflicting.hex(), "offset": frames[1]["offset"]}],
          message=data, message_id=rid, max_frame=rf)
    b.add("offset-gap", "The final frame arrives while the middle frame is missing.", 409,
          [frames[0], frames[2]], message=data, message_id=rid, max_frame=rf)
    b.add("final-after-completion",
          "The final frame repeated after the message completed: no partial remains.", 409,
          frames + [dict(frames[2], kind="duplicate")], message=data, message_id=rid, max_frame=rf)
    crc_bad = bytes.fromhex(frames[2]["hex"])
    crc_bad = crc_bad[:-2] + ((crc16(data) ^ 0x0001).to_bytes(2, "little"))
    b.add("crc-mismatch-multi-frame", "The final frame of a three-frame message carries a wrong CRC.", 400,
          [frames[0], frames[1], {"kind": "corrupt-final", "hex": crc_bad.hex(), "offset": frames[2]["offset"]}],
          message=data, message_id=rid, max_frame=rf)
    long_final = encode_frame("final", rid, data[frames[2]["offset"]:] + b"\x00", offset=frames[2]["offset"],
                              crc=crc16(data + b"\x00"))
    b.add("final-past-total-length",
          "A final frame one byte longer than the rest of the message (past total_length).", 400,
          frames[:2] + [{"kind": "malformed", "hex": long_final.hex(), "offset": frames[2]["offset"]}],
          message=data, message_id=rid, max_frame=rf)
    short_middle = encode_frame("middle", rid, data[frames[1]["offset"]:], offset=frames[1]["offset"])
    b.add("middle-reaches-total-length",
          "A middle frame whose payload reaches total_length (it would have to be final).", 400,
          [frames[0], {"kind": "malformed", "hex": short_middle.hex(), "offset": frames[1]["offset"]}],
          message=data, message_id=rid, max_frame=rf)

    # ---- frame rules (W5.1–5.3) ------------------------------------------------------------
    fid = mid + 40
    good = encode_message(simple_message(fid))
    single = chunk(good, fid)[0]
    for name, header, what in (("frame-version-code-1", 0x01, "protocol version code 1"),
                               ("frame-version-code-3", 0x03, "protocol version code 3"),
                               ("frame-reserved-bit", 0x82, "bit 7 set"),
                               ("frame-source-type-1", 0x06, "source type 1")):
        b.single(name, f"Frame header 0x{header:02x}: {what}.", 400, bytes((header,)) + single[1:],
                 message_id=fid, kind="malformed")
    b.single("frame-message-id-above-32-bits", "A message id of 2^32 does not fit the 32-bit field.", 400,
             encode_frame("single", 1 << 32, good), message_id=1 << 32, kind="malformed")
    b.single("frame-message-id-truncated", "The frame ends inside its message id uvarint.", 400,
             bytes.fromhex("0280"), message_id=fid, kind="malformed")
    b.single("frame-single-without-payload", "A single frame holding only its message id and a CRC.", 400,
             bytes.fromhex("02") + encode_uvarint(fid) + crc16(b"").to_bytes(2, "little"),
             message_id=fid, kind="malformed")
    b.single("frame-single-without-crc", "A single frame one byte short of a CRC.", 400,
             bytes.fromhex("02") + encode_uvarint(fid) + b"\x02", message_id=fid, kind="malformed")
    b.single("frame-init-total-not-above-payload",
             "An init frame whose total_length equals its payload length.", 400,
             encode_frame("init", fid, good, total_length=len(good)), message_id=fid, kind="malformed")
    b.single("frame-init-without-payload", "An init frame with no payload byte.", 400,
             encode_frame("init", fid, b"", total_length=10), message_id=fid, kind="malformed")
    b.single("frame-continuation-offset-zero", "A middle frame at offset 0.", 400,
             encode_frame("middle", fid, good[:5], offset=0), message_id=fid, kind="malformed")
    b.single("frame-final-offset-zero", "A final frame at offset 0.", 400,
             encode_frame("final", fid, good, offset=0, crc=crc16(good)), message_id=fid, kind="malformed")
    b.single("frame-init-total-length-above-limit",
             f"An init frame announcing {CAPTURE_LIMITS.message + 1} bytes, above the capture message limit.",
             413, encode_frame("init", fid, good, total_length=CAPTURE_LIMITS.message + 1),
             message_id=fid, kind="init")

    # ---- structural message faults (400) ---------------------------------------------------
    sid = mid + 60

    def malformed(name, description, data, message_id):
        b.single(name, description, 400, chunk(data, message_id)[0], message_id=message_id, message=data)

    good = encode_message(simple_message(sid, [Event("boot", 0, [("flag", None)])]))
    malformed("format-version-3", "format_version 3.", b"\x03" + good[1:], sid)
    malformed("message-kind-2", "message_kind 2 (only 1, event_batch, exists).", good[:1] + b"\x02" + good[2:], sid)
    malformed("flags-bit-0-clear", "flags 00: context_promotes_properties must be set.",
              good[:2] + b"\x00" + good[3:], sid)
    malformed("flags-unknown-bit", "flags 03: bit 1 is not defined.", good[:2] + b"\x03" + good[3:], sid)
    malformed("uvarint-not-minimal", "format_version written as 82 00 (a non-minimal uvarint).",
              b"\x82\x00" + good[1:], sid)
    base_at = 3
    base_len = len(encode_uvarint(base_time(sid)))
    malformed("uvarint-longer-than-10-bytes", "base_time_ms written with 11 bytes.",
              good[:base_at] + b"\x80" * 10 + b"\x01" + good[base_at + base_len:], sid)
    malformed("uvarint-above-64-bits", "base_time_ms of 10 bytes whose value exceeds 2^64-1.",
              good[:base_at] + b"\xff" * 9 + b"\x02" + good[base_at + base_len:], sid)
    malformed("message-truncated", "The message ends one byte early (inside the last event).", good[:-1], sid)
    malformed("trailing-bytes", "One byte after the last event.", good + b"\x00", sid)
    malformed("unknown-tag-0b", "Value tag 0b is reserved.", good[:-1] + b"\x0b", sid)
    malformed("unknown-tag-ff", "Value tag ff is reserved.", good[:-1] + b"\xff", sid)
    n_strings = len(REQUIRED_STRINGS) + 2
    oob = assemble(REQUIRED_STRINGS + [b"boot"], REQUIRED_CONTEXT_RAW,
                   b"\x01" + encode_uvarint(n_strings) + b"\x00\x00", base=base_time(sid))
    malformed("string-index-out-of-range", f"An event name referencing string #{n_strings} of a "
              f"{n_strings - 1}-entry table.", oob, sid)
    malformed("key-ref-zero", "Key reference 0 in an event property.",
              encode_message(simple_message(sid, [Event("boot", 0, [(Reserved(0), None)])])), sid)
    nest9 = "leaf"
    for _ in range(9):
        nest9 = [nest9]
    malformed("nesting-nine-containers", "A property inside 9 nested arrays.",
              encode_message(simple_message(sid, [Event("deep", 0, [("a", nest9)])])), sid)
    nest9m = Map([("x", "leaf")])
    for _ in range(8):
        nest9m = Map([("x", nest9m)])
    malformed("nesting-nine-maps", "A value inside 9 nested maps in an extension context entry.",
              encode_message(simple_message(sid, context=required_context() + [(128, nest9m)])), sid)
    malformed("context-id-repeated", "Context id 7 appears twice (ids must be strictly ascending).",
              encode_message(simple_message(sid, context=required_context() + [(7, "staging")])), sid)
    swapped = assemble(REQUIRED_STRINGS[:1] + REQUIRED_STRINGS[2:] + [b"boot"],
                       b"\x07" + b"\x02\x07\x00\x01\x07\x00" + b"".join(bytes((i + 1, 0x07, i - 1)) for i in range(2, 7)),
                       b"\x01\x06\x00\x00", base=base_time(sid))
    malformed("context-ids-descending", "Context id 1 after id 2.", swapped, sid)
    dup = assemble(REQUIRED_STRINGS + [b"boot", b"boot"], REQUIRED_CONTEXT_RAW, b"\x01\x07\x00\x00",
                   base=base_time(sid))
    malformed("string-table-duplicate", "The string table holds \"boot\" twice.", dup, sid)
    unused = assemble(REQUIRED_STRINGS + [b"boot", b"spare"], REQUIRED_CONTEXT_RAW, b"\x01\x07\x00\x00",
                      base=base_time(sid))
    malformed("string-table-unused-entry", "The last string-table entry is never referenced.", unused, sid)
    ctx = bytearray(REQUIRED_CONTEXT_RAW)
    ctx[1 + 3 * 3 + 2], ctx[1 + 3 * 4 + 2] = 4, 3  # id 4 -> #4 and id 5 -> #3
    out_of_order = assemble(REQUIRED_STRINGS + [b"boot"], bytes(ctx), b"\x01\x07\x00\x00", base=base_time(sid))
    malformed("string-table-out-of-order",
              "Context id 4 references string #4 before any reference to #3 (interning order).", out_of_order, sid)
    for name, raw, what in (("utf8-overlong", b"\xc0\xaf", "an overlong encoding of '/'"),
                            ("utf8-surrogate", b"\xed\xa0\x80", "the surrogate U+D800"),
                            ("utf8-above-max", b"\xf4\x90\x80\x80", "a code point above U+10FFFF"),
                            ("utf8-truncated-sequence", b"\xe2\x82", "a 3-byte sequence cut after 2 bytes"),
                            ("utf8-lone-continuation", b"\x80", "a lone continuation byte")):
        placeholder = "PLACEHOLDR"[:len(raw)]
        data = encode_message(simple_message(sid, [Event("boot", 0, [("t", placeholder)])]))
        malformed(name, f"A string value holding {what}.", with_string(data, placeholder, raw), sid)
    f32_cut = encode_message(simple_message(sid, [Event("boot", 0, [("f", F32(1.0))])]))[:-1]
    malformed("float32-truncated", "The message ends inside a float32 value.", f32_cut, sid)
    bytes_cut = encode_message(simple_message(sid, [Event("boot", 0, [("b", Bytes(b"abc"))])]))[:-1]
    malformed("bytes-length-past-end", "A bytes value announcing more bytes than the message holds.", bytes_cut, sid)
    count_big = assemble(REQUIRED_STRINGS + [b"boot"], REQUIRED_CONTEXT_RAW,
                         b"\x01\x07\x00" + encode_uvarint(1 << 40), base=base_time(sid))
    malformed("property-count-past-end", "A property_count of 2^40 in a message of a few bytes.", count_big, sid)

    # ---- capture hard limits (413) -----------------------------------------------------------
    lid = mid + 100
    too_many = simple_message(lid, [Event("e", 0) for _ in range(CAPTURE_LIMITS.events + 1)])
    b.message("too-many-events", f"{CAPTURE_LIMITS.events + 1} events, above the capture limit.", 413,
              too_many, message_id=lid)
    b.message("string-too-long", f"A string of {CAPTURE_LIMITS.string_bytes + 1} bytes.", 413,
              simple_message(lid + 1, [Event("boot", 0, [("t", "x" * (CAPTURE_LIMITS.string_bytes + 1))])]),
              message_id=lid + 1)
    extra = CAPTURE_LIMITS.strings + 1 - len(REQUIRED_STRINGS) - 2
    b.message("too-many-strings", f"{CAPTURE_LIMITS.strings + 1} string-table entries.", 413,
              simple_message(lid + 2, [Event("boot", 0, [("t", [f"{i:x}" for i in range(extra)])])]),
              message_id=lid + 2)

    # ---- semantic faults (422) ---------------------------------------------------------------
    vid = mid + 120

    def invalid(name, description, msg, binary=False, keep_base=False):
        nonlocal vid
        vid += 1
        if isinstance(msg, Message) and not keep_base:
            msg.base_time_ms = base_time(vid)
        b.message(name, description, 422, msg, message_id=vid, binary=binary)

    ev = [Event("boot")]
    for cid in (1, 7):
        invalid(f"context-missing-id-{cid}", f"Required context id {cid} is missing.",
                simple_message(0, ev, required_context({cid: OMIT})))
    invalid("context-string-as-uint", "$device_id (id 2) carried as a uint.",
            simple_message(0, ev, required_context({2: UInt(5)})))
    invalid("context-empty-distinct-id", "distinct_id references the empty string.",
            simple_message(0, ev, required_context({1: ""})))
    invalid("context-empty-session-id", "$session_id (id 8) references the empty string.",
            simple_message(0, ev, required_context() + [(8, "")]))
    invalid("context-id-11", "Context id 11 is reserved.", simple_message(0, ev, required_context() + [(11, UInt(1))]))
    invalid("context-id-127", "Context id 127 is reserved.", simple_message(0, ev, required_context() + [(127, "x")]))
    invalid("device-time-source-4", "device_time_source 4 (above 3).",
            simple_message(0, ev, required_context() + [(9, UInt(4))]))
    invalid("device-time-source-tag-04", "device_time_source written with tag 04.",
            simple_message(0, ev, required_context() + [(9, Int(1))]))
    invalid("capabilities-string", "capabilities (id 10) as a string.",
            simple_message(0, ev, required_context() + [(10, "all")]))
    invalid("extension-context-empty-string", "The empty string inside an extension context value.",
            simple_message(0, ev, required_context() + [(128, Map([("k", "")]))]))
    invalid("zero-events", "A message with no events.", simple_message(0, []))
    invalid("empty-event-name", "An event named by the empty string.", simple_message(0, [Event("")]))
    invalid("empty-custom-key", "A property whose custom key is the empty string.",
            simple_message(0, [Event("boot", 0, [("", UInt(1))])]))
    invalid("empty-map-key", "A map key that is the empty string.",
            simple_message(0, [Event("boot", 0, [("m", Map([("", UInt(1))]))])]))
    invalid("reserved-id-8", "Reserved property id 8 (key ref 10) is not defined.",
            simple_message(0, [Event("boot", 0, [(Reserved(8), "x")])]))
    invalid("reserved-id-8-in-map", "Reserved id 8 as a nested map key.",
            simple_message(0, [Event("boot", 0, [("m", Map([(Reserved(8), "x")]))])]))
    spelled = encode_message(simple_message(0, [Event("boot", 0, [("$battery_levex", Int(5))])]))
    invalid("custom-key-spells-reserved-name", "A custom key spelling $battery_level (it must be key ref 02).",
            with_string(spelled, "$battery_levex", b"$battery_level"))
    spelled_map = encode_message(simple_message(0, [Event("boot", 0, [("m", Map([("statX", "x")]))])]))
    invalid("map-key-spells-reserved-name", "A nested map key spelling state (it must be key ref 08).",
            with_string(spelled_map, "statX", b"state"))
    for promoted in ("distinct_id", "$session_id", "$sdk_version"):
        invalid(f"custom-key-promoted-{promoted.lstrip('$').replace('_', '-')}",
                f"A custom key spelling the promoted context name {promoted}.",
                simple_message(0, [Event("boot", 0, [(promoted, "x")])]))
    invalid("repeated-custom-key", "The same custom key twice in one event.",
            simple_message(0, [Event("boot", 0, [("k", UInt(1)), ("k", UInt(2))])]))
    invalid("repeated-map-key", "The same key twice in a nested map.",
            simple_message(0, [Event("boot", 0, [("m", [Map([(Reserved(4), "a"), (Reserved(4), "b")])])])]))
    invalid("battery-level-as-string", "$battery_level must be an integer.",
            simple_message(0, [Event("boot", 0, [(Reserved(1), "full")])]))
    invalid("wifi-rssi-as-float", "$wifi_rssi must be an integer.",
            simple_message(0, [Event("boot", 0, [(Reserved(2), F64(-60.5))])]))
    invalid("state-as-uint", "state (reserved id 4) must be a string.",
            simple_message(0, [Event("boot", 0, [(Reserved(4), UInt(1))])]))
    invalid("reserved-type-in-nested-map", "reset_reason inside a nested map must be a string.",
            simple_message(0, [Event("boot", 0, [("m", Map([(Reserved(3), None)]))])]))
    invalid("float64-nan", "A float64 NaN property.", simple_message(0, [Event("boot", 0, [("f", F64(float("nan")))])]))
    invalid("float32-infinity", "A float32 +infinity inside an array.",
            simple_message(0, [Event("boot", 0, [("f", [F32(float("inf"))])])]))
    invalid("float64-negative-infinity-in-context", "A float64 -infinity in an extension context entry.",
            simple_message(0, ev, required_context() + [(129, F64(float("-inf")))]))
    invalid("bytes-binary-off", "A bytes value nested in a map while binary properties are off.",
            simple_message(0, [Event("boot", 0, [("m", Map([("b", Bytes(b"\x01"))]))])]))
    neg = simple_message(0, [Event("boot", -1)])
    neg_msg = Message(0, neg.context, neg.events)
    invalid("timestamp-negative", "base_time_ms 0 and time delta -1: timestamp -1.", neg_msg, keep_base=True)
    vid += 1
    big = Message(I64_MAX, required_context(), [Event("boot", 1)])
    b.message("timestamp-above-int64", "base_time_ms 2^63-1 and time delta +1.", 422, big, message_id=vid)

    # ---- precedence 400 > 413 > 422 -----------------------------------------------------------
    pid = mid + 200
    many_bad = encode_message(simple_message(pid, [Event("", 0) for _ in range(CAPTURE_LIMITS.events + 1)]))
    b.message("precedence-413-over-422", "Too many events (413) whose names are empty (422).", 413,
              many_bad, message_id=pid)
    b.message("precedence-400-over-413", "Too many events (413) and a trailing byte (400).", 400,
              encode_message(simple_message(pid + 1, [Event("e") for _ in range(CAPTURE_LIMITS.events + 1)]))
              + b"\x00", message_id=pid + 1)
    missing = encode_message(simple_message(pid + 2, [Event("boot", 0, [("f", None)])],
                                            required_context({7: OMIT})))
    b.message("precedence-400-over-422", "A missing required context entry (422) and an unknown tag (400) "
              "after it.", 400, missing[:-1] + b"\x0c", message_id=pid + 2)
    return b.vectors


def write(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, vector in sorted(generate().items()):
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(vector, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n")
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.wire.vectorgen", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path, help="directory for the <name>.json files")
    args = parser.parse_args(argv)
    written = write(args.out_dir)
    print(f"wrote {len(written)} vectors to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

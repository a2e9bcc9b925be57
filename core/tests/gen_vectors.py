"""Generate C test data from the upstream wire-v2 vectors (run by core/Makefile).

For every vector whose decoded message the SDK can express through its API, it
writes the events as writer calls, the context strings, the message id, the
expected message bytes and the expected frames, so that core/tests can check
that the core's encoder and chunker reproduce them byte for byte. Vectors the
SDK cannot express are listed with the reason.

Usage: python gen_vectors.py VECTOR_DIR OUTPUT.h   (run with the repo root on sys.path)
"""

import json
import sys
from pathlib import Path

from harness import protocol
from harness.wire import (
    F32, F64, Bytes, Event, Int, Map, Message, Reserved, UInt, decode_message, encode_message, parse_frame, reassemble,
)
from harness.wire.varint import crc16


class Inexpressible(Exception):
    pass


def c_bytes(data: bytes) -> str:
    # Octal escapes: unlike \x they never swallow a following character.
    return '"' + "".join(f"\\{b:03o}" for b in data) + '"'


def value_ops(v, ops):
    if v is None:
        ops.append("{'N'}")
    elif v is True:
        ops.append("{'T'}")
    elif v is False:
        ops.append("{'F'}")
    elif isinstance(v, UInt):
        ops.append(f"{{'u', 0, 0, {v.value}ull}}")
    elif isinstance(v, Int):
        if v.value >= 0:
            raise Inexpressible("a non-negative integer with the int tag (the SDK uses the uint tag)")
        ops.append(f"{{'i', 0, 0, 0, {v.value}ll}}")
    elif isinstance(v, F32):
        raise Inexpressible("a float32 value (the SDK sends every float as float64, tag 06)")
    elif isinstance(v, F64):
        ops.append(f"{{'f', 0, 0, 0, 0, {v.value!r}}}")
    elif isinstance(v, str):
        b = v.encode()
        ops.append(f"{{'s', {c_bytes(b)}, {len(b)}}}")
    elif isinstance(v, Bytes):
        b = bytes(v.data)
        ops.append(f"{{'b', {c_bytes(b)}, {len(b)}}}")
    elif isinstance(v, list):
        ops.append(f"{{'a', 0, {len(v)}}}")
        for item in v:
            value_ops(item, ops)
        ops.append("{'e'}")
    elif isinstance(v, Map):
        pairs = list(v)
        ops.append(f"{{'m', 0, {len(pairs)}}}")
        pairs_ops(pairs, ops)
        ops.append("{'e'}")
    else:
        raise Inexpressible(f"a value of type {type(v).__name__}")


def pairs_ops(pairs, ops):
    seen = set()
    for key, value in pairs:
        if isinstance(key, Reserved):
            name, kind = protocol.RESERVED_PROPERTIES[int(key.id)]
            if name in protocol.RESERVED_KEYS:
                raise Inexpressible(f"the reserved key {name} (refused by the API)")
        else:
            name = key
            if name in protocol.RESERVED_KEYS:
                raise Inexpressible(f"the reserved key {name} (refused by the API)")
        if name in seen:
            raise Inexpressible(f"the key {name} twice in one event or map")
        seen.add(name)
        b = name.encode()
        ops.append(f"{{'k', {c_bytes(b)}, {len(b)}}}")
        value_ops(value, ops)


def from_decoded_json(d: dict) -> Message:
    """The message of a vector's decoded_compact_message (strings and uints only)."""
    def val(v):
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, int) and v >= 0:
            return UInt(v)
        if isinstance(v, str):
            return v
        if isinstance(v, list):
            return [val(x) for x in v]
        raise Inexpressible("a decoded value this generator cannot rebuild")
    ids = {name: i for i, name in protocol.CONTEXT_IDS.items()}
    context = [(ids[k], val(v)) for k, v in d["batch_context"].items()]
    events = [Event(e["event"], e["time_delta_ms"], [(k, val(v)) for p in e["properties"] for k, v in p.items()])
              for e in d["events"]]
    return Message(d["base_time_ms"], sorted(context), events)


def convert(path: Path):
    vec = json.loads(path.read_text())
    frames = [bytes.fromhex(f["hex"]) for f in vec["frames"]]
    kinds = [f["kind"] for f in vec["frames"]]
    message_id = parse_frame(frames[0]).message_id
    if kinds == ["corrupt-final"]:
        message = bytes(parse_frame(frames[0]).payload)  # the frame's CRC is wrong on purpose
    else:
        try:
            message = reassemble(frames)
        except ValueError:
            # duplicate-continuation stops before the final frame: rebuild the whole message
            # from its decoded form and make sure the frames hold its first bytes.
            message = encode_message(from_decoded_json(vec["decoded_compact_message"]))
            held = b"".join(bytes(parse_frame(f).payload) for f, k in zip(frames, kinds) if k != "duplicate")
            assert message.startswith(held), "decoded form disagrees with the frames"
    msg = decode_message(message)

    context = dict(msg.context)
    ctx_ids = set(context)
    if ctx_ids - {1, 2, 3, 4, 5, 6, 7, 8, 9}:
        extra = sorted(ctx_ids - {1, 2, 3, 4, 5, 6, 7, 8, 9})
        raise Inexpressible(f"context ids {extra} (the SDK sends ids 1-9 only)")
    ts = int(context[9]) if 9 in context else "HC_TS_OMIT"
    ctx_strings = [context[i] for i in range(1, 8)]
    session = context.get(8)

    events = []
    ops = []
    for ev in msg.events:
        start = len(ops)
        pairs_ops(list(ev.properties), ops)
        events.append((ev.name, msg.base_time_ms + ev.time_delta_ms, start, len(ops) - start))

    multi = len(frames) > 1
    max_frame = max(len(f) for f in frames) if multi else protocol.SDK_LIMITS.frame
    expected_frames = []
    for kind, f in zip(kinds, frames):
        if kind == "duplicate":
            continue  # the same bytes as the continuation it repeats (checked by the test too)
        if kind == "corrupt-final":
            crc = crc16(message)
            f = f[:-2] + bytes([crc & 0xFF, crc >> 8])
        expected_frames.append(f)
    return {
        "name": vec["name"], "ctx": ctx_strings, "session": session, "ts": ts, "events": events, "ops": ops,
        "message_id": message_id, "message": message, "frames": expected_frames, "max_frame": max_frame,
        "complete": vec["expected_capture_response_code"] != 202, "base": msg.base_time_ms,
    }


def main(vector_dir: str, out: str):
    done, skipped = [], []
    for path in sorted(Path(vector_dir).glob("*.json")):
        try:
            done.append(convert(path))
        except Inexpressible as e:
            skipped.append((path.stem, str(e)))
    lines = ["/* Generated by core/tests/gen_vectors.py from conformance/vectors/upstream/wire-v2. */", ""]
    for i, v in enumerate(done):
        lines.append(f"static const vec_op_t vec_ops_{i}[] = {{")
        lines += [f"    {op}," for op in v["ops"]] or ["    {0},"]
        lines.append("};")
        lines.append(f"static const vec_event_t vec_events_{i}[] = {{")
        for name, ts, start, n in v["events"]:
            b = name.encode()
            lines.append(f"    {{{c_bytes(b)}, {len(b)}, {ts}ull, vec_ops_{i} + {start}, {n}}},")
        lines.append("};")
        lines.append(f"static const char *const vec_frames_{i}[] = {{")
        lines += [f'    "{f.hex()}",' for f in v["frames"]]
        lines.append("};")
    lines.append("static const vec_t vectors[] = {")
    for i, v in enumerate(done):
        ctx = ", ".join(c_bytes(s.encode()) for s in v["ctx"])
        sess = c_bytes(v["session"].encode()) if v["session"] else "0"
        lines.append(
            f'    {{"{v["name"]}", {{{ctx}}}, {sess}, {v["ts"]}, vec_events_{i}, {len(v["events"])}, '
            f'{v["message_id"]}u, "{v["message"].hex()}", vec_frames_{i}, {len(v["frames"])}, {v["max_frame"]}u, '
            f'{v["base"]}ull}},')
    lines.append("};")
    lines.append("static const char *const vectors_skipped[][2] = {")
    lines += [f'    {{"{n}", "{reason}"}},' for n, reason in skipped]
    lines.append("};")
    Path(out).write_text("\n".join(lines) + "\n")
    print(f"{len(done)} vectors expressible, {len(skipped)} not: " + "; ".join(f"{n}: {r}" for n, r in skipped))


if __name__ == "__main__":
    main(*sys.argv[1:])

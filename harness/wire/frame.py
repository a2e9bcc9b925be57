"""W5: chunk frames — parse, encode, and the normative chunker of W5.5."""

from __future__ import annotations

from typing import NamedTuple

from harness.protocol import (
    CAPTURE_LIMITS, FRAME_KIND_BY_HEADER, MIN_MAX_FRAME, SDK_LIMITS, SOURCE_TYPE_COMPACT_EVENTS,
    U32_MAX, WIRE_VERSION, Limits,
)
from harness.wire.errors import WireError
from harness.wire.varint import crc16, decode_uvarint, encode_uvarint, uvarint_size

CRC_SIZE = 2
HEADER_VERSION_MASK = 0x03
HEADER_SOURCE_TYPE_MASK = 0x1C
HEADER_SOURCE_TYPE_SHIFT = 2
HEADER_RESERVED_BIT = 0x80
HEADER_BY_KIND = {kind: header for header, kind in FRAME_KIND_BY_HEADER.items()}


class Frame(NamedTuple):
    """One parsed frame (one request body); immutable. A named tuple rather than a frozen
    dataclass: the server parses one per request, and a frozen dataclass sets each field
    through ``object.__setattr__``."""

    kind: str                 # "single", "init", "middle" or "final"
    message_id: int
    payload: bytes
    offset: int               # position of the payload in the message (0 for single and init)
    total_length: int | None  # init frames only
    crc: int | None           # single and final frames: the CRC of the complete message
    raw: bytes                # the whole body, for the byte-for-byte init comparison of W6

    @property
    def more(self) -> bool:
        return self.kind in ("init", "middle")

    @property
    def continuation(self) -> bool:
        return self.kind in ("middle", "final")


def parse_frame(body, limits: Limits = CAPTURE_LIMITS) -> Frame:
    """Parse one request body; every W5.1–5.3 rule raises ``WireError``.

    400 for header and field errors; 413 for a body above ``limits.frame`` (step 6 of
    the mock's check order) and, once the fields are sound, for an init
    ``total_length`` above ``limits.message`` (step 8). Checks that need the partial
    message (offset + length against ``total_length``) belong to :class:`Reassembler`.
    """
    body = bytes(body)
    size = len(body)
    if size > limits.frame:
        raise WireError(413, f"frame of {size} bytes exceeds the {limits.frame}-byte limit")
    if size == 0:
        raise WireError(400, "empty frame")
    header = body[0]
    if header & HEADER_VERSION_MASK != WIRE_VERSION:
        raise WireError(400, f"frame header 0x{header:02x}: protocol version code "
                             f"{header & HEADER_VERSION_MASK}, expected {WIRE_VERSION}")
    if header & HEADER_RESERVED_BIT:
        raise WireError(400, f"frame header 0x{header:02x}: reserved bit 7 is set")
    source_type = (header & HEADER_SOURCE_TYPE_MASK) >> HEADER_SOURCE_TYPE_SHIFT
    if source_type != SOURCE_TYPE_COMPACT_EVENTS:
        raise WireError(400, f"frame header 0x{header:02x}: source type {source_type} is not defined")
    kind = FRAME_KIND_BY_HEADER[header]
    message_id, pos = decode_uvarint(body, 1, "frame message_id")
    if message_id > U32_MAX:
        raise WireError(400, f"frame message_id {message_id} exceeds 2^32-1")
    total_length = None
    offset = 0
    if kind == "init":
        total_length, pos = decode_uvarint(body, pos, "init frame total_length")
        payload_len = size - pos
        if payload_len < 1:
            raise WireError(400, "init frame carries no payload")
        if total_length <= payload_len:
            raise WireError(400, f"init frame total_length {total_length} is not above its "
                                 f"payload length {payload_len} (the message must continue)")
        if total_length > limits.message:
            raise WireError(413, f"init frame total_length {total_length} exceeds the "
                                 f"{limits.message}-byte message limit")
        return Frame(kind, message_id, body[pos:], 0, total_length, None, body)
    if kind in ("middle", "final"):
        offset, pos = decode_uvarint(body, pos, f"{kind} frame offset")
        if offset < 1:
            raise WireError(400, f"{kind} frame offset is 0 (a continuation starts at offset 1 or later)")
    if kind == "middle":
        if size - pos < 1:
            raise WireError(400, "middle frame carries no payload")
        return Frame(kind, message_id, body[pos:], offset, None, None, body)
    # single or final: payload, then the CRC of the whole message
    left = size - pos
    if left < CRC_SIZE:
        raise WireError(400, f"{kind} frame too short for its CRC ({left} bytes after the fields)")
    if left == CRC_SIZE:
        raise WireError(400, f"{kind} frame carries no payload")
    crc = body[-2] | (body[-1] << 8)
    return Frame(kind, message_id, body[pos:-CRC_SIZE], offset, None, crc, body)


def encode_frame(kind: str, message_id: int, payload, *, total_length: int | None = None,
                 offset: int | None = None, crc: int | None = None) -> bytes:
    """Write the W5.2 layout of one frame exactly as asked.

    ``single`` computes the CRC of its payload unless ``crc`` is given; ``init`` needs
    ``total_length``; ``middle`` needs ``offset``; ``final`` needs ``offset`` and ``crc``
    (of the whole message). No rule of W5.3 is enforced, so that tests can build
    frames a receiver must refuse; :func:`chunk` is the conforming sender.
    """
    if kind not in HEADER_BY_KIND:
        raise ValueError(f"unknown frame kind {kind!r}; expected one of {sorted(HEADER_BY_KIND)}")
    payload = bytes(payload)
    wants = {"single": (), "init": ("total_length",), "middle": ("offset",),
             "final": ("offset", "crc")}[kind]
    given = {"total_length": total_length, "offset": offset, "crc": crc}
    for name, value in given.items():
        if name in wants and value is None:
            raise ValueError(f"a {kind} frame needs {name}")
        if name not in wants and value is not None and not (kind == "single" and name == "crc"):
            raise ValueError(f"a {kind} frame has no {name}")
    out = bytearray((HEADER_BY_KIND[kind],))
    out += encode_uvarint(message_id)
    if kind == "init":
        out += encode_uvarint(total_length)
    elif kind in ("middle", "final"):
        out += encode_uvarint(offset)
    out += payload
    if kind in ("single", "final"):
        if crc is None:
            crc = crc16(payload)
        if not 0 <= crc <= 0xFFFF:
            raise ValueError(f"crc {crc} is not a 16-bit value")
        out += crc.to_bytes(CRC_SIZE, "little")
    return bytes(out)


def chunk(message, message_id: int, max_frame: int = SDK_LIMITS.frame) -> list[bytes]:
    """Split ``message`` into frames exactly as W5.5 prescribes for a frame limit ``max_frame``.

    Raises ``WireError(413)`` when the algorithm meets ``final_cap`` or ``cap`` below 1
    (the SDK's encoding failure: the message cannot be framed within ``max_frame``).
    """
    message = bytes(message)
    total = len(message)
    if total < 1:
        raise ValueError("cannot chunk an empty message")
    if not 0 <= message_id <= U32_MAX:
        raise ValueError(f"message_id {message_id} is outside 0..2^32-1")
    if max_frame < MIN_MAX_FRAME:
        raise ValueError(f"max_frame {max_frame} is below the minimum of {MIN_MAX_FRAME} (W5.4)")
    crc = crc16(message)
    id_size = uvarint_size(message_id)
    frames = []
    o = 0
    while True:
        c = o != 0
        remaining = total - o
        final_cap = max_frame - 1 - id_size - (uvarint_size(o) if c else 0) - CRC_SIZE
        if final_cap < 1:
            raise WireError(413, f"max_frame {max_frame} leaves no payload room for the last frame "
                                 f"at offset {o} (final_cap {final_cap})")
        if remaining <= final_cap:
            if c:
                frames.append(encode_frame("final", message_id, message[o:], offset=o, crc=crc))
            else:
                frames.append(encode_frame("single", message_id, message, crc=crc))
            return frames
        cap = max_frame - 1 - id_size - uvarint_size(o if c else total)
        if cap < 1:
            raise WireError(413, f"max_frame {max_frame} leaves no payload room at offset {o} (cap {cap})")
        n = min(remaining, cap)
        if n == remaining:  # would swallow the end without room for the CRC
            n = remaining - final_cap
        if c:
            frames.append(encode_frame("middle", message_id, message[o:o + n], offset=o))
        else:
            frames.append(encode_frame("init", message_id, message[:n], total_length=total))
        o += n

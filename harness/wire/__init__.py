"""The wire-v2 codec: pure functions over bytes, no I/O, one error type (``WireError``).

See docs/architecture.md ("Wire codec") and docs/spec/wire-v2.md. The usual receiver
path is ``parse_frame`` → ``Reassembler.accept`` → ``decode_message`` (400, then 413) →
``validate_message`` (422) → ``expand_events``; :func:`judge_frame` runs all of it.
"""

from harness.wire.errors import WireError
from harness.wire.expand import expand_events, json_value, key_name, to_decoded_json
from harness.wire.frame import Frame, chunk, encode_frame, parse_frame
from harness.wire.message import decode_message, encode_message, string_table, validate_message
from harness.wire.reassembly import Progress, Reassembler
from harness.wire.receive import Completed, Verdict, accept_frame, decode_frames, judge_frame, judge_message, reassemble
from harness.wire.values import F32, F64, Bytes, Event, Int, Map, Message, Reserved, UInt
from harness.wire.varint import (
    crc16, decode_svarint, decode_uvarint, encode_svarint, encode_uvarint, unzigzag, uvarint_size, zigzag,
)

__all__ = [
    "WireError",
    "UInt", "Int", "F32", "F64", "Bytes", "Map", "Reserved", "Event", "Message",
    "encode_uvarint", "decode_uvarint", "encode_svarint", "decode_svarint", "zigzag", "unzigzag",
    "uvarint_size", "crc16",
    "Frame", "parse_frame", "encode_frame", "chunk",
    "Reassembler", "Progress",
    "encode_message", "decode_message", "validate_message", "string_table",
    "expand_events", "to_decoded_json", "json_value", "key_name",
    "Verdict", "Completed", "accept_frame", "judge_message", "judge_frame", "reassemble", "decode_frames",
]

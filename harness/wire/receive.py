"""The receiver's judgement of one frame (steps 6–14 of the mock check order, W10),
without any I/O, and a convenience to decode a recorded frame sequence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Iterable, NamedTuple

from harness.protocol import (
    CAPTURE_LIMITS, FRAME_FINAL, FRAME_INIT, FRAME_KIND_BY_HEADER, FRAME_MIDDLE, HEADER_STREAM_ID,
    SOURCE_TYPE_COMPACT_EVENTS, Limits,
)
from harness.wire.errors import WireError
from harness.wire.expand import expand_events
from harness.wire.frame import Frame, parse_frame
from harness.wire.message import decode_message, validate_message
from harness.wire.reassembly import Reassembler
from harness.wire.values import Message


MULTI_FRAME_HEADERS = (FRAME_INIT, FRAME_MIDDLE, FRAME_FINAL)


@dataclass
class Verdict:
    """The answer to one frame: ``status`` is 202, 204 or a rejection code."""

    status: int
    reason: str
    frame: Frame | None = None        # None when the frame itself could not be parsed
    message: Message | None = None    # the decoded message (set on 204, and on 422 rejections)
    events: list = field(default_factory=list)  # the expanded events to store (204 only)


class Completed(NamedTuple):
    """A frame that completed its message: what :func:`judge_message` judges next."""

    frame: Frame
    data: bytes


def accept_frame(reassembler: Reassembler, body, *, stream_id: str | None, namespace: Hashable = None,
                 limits: Limits = CAPTURE_LIMITS) -> Verdict | Completed:
    """Steps 6–9 of one request body that already passed the HTTP checks (steps 1–5): the
    frame and its reassembly, the only steps that read or change state. A Verdict when
    they decide (202, or a rejection), else the completed message.

    The partial is keyed by ``(namespace, stream_id or "", source type, message id)``; a
    capture server passes the project key as ``namespace``, so that the key is W3.3's
    tuple. ``stream_id=None`` means the header was absent, which only a single frame may do.
    Never raises ``WireError``: rejections come back as a Verdict with their status.
    """
    body = bytes(body)
    # stream id presence is step 7, before the init total_length limit of step 8 (which
    # parse_frame applies) but after the body size of step 6
    if (stream_id is None and body and len(body) <= limits.frame
            and body[0] in MULTI_FRAME_HEADERS):
        return Verdict(400, f"{FRAME_KIND_BY_HEADER[body[0]]} frame without {HEADER_STREAM_ID}: "
                            "a stream id is required on every frame of a multi-frame message")
    try:
        frame = parse_frame(body, limits)
    except WireError as exc:
        return Verdict(exc.status, exc.reason)
    key = (namespace, stream_id or "", SOURCE_TYPE_COMPACT_EVENTS, frame.message_id)
    try:
        progress = reassembler.accept(key, frame)
    except WireError as exc:
        return Verdict(exc.status, exc.reason, frame)
    if progress.message is None:
        what = "repeat of an accepted frame" if progress.repeat else "frame stored"
        return Verdict(202, f"{what}: {progress.received} of {progress.total} message bytes", frame)
    return Completed(frame, progress.message)


def judge_message(completed: Completed, limits: Limits = CAPTURE_LIMITS,
                  binary_properties: bool = False) -> Verdict:
    """Steps 10–14 of a completed message: decode, limits, semantics, expansion. A pure
    function of its arguments (no state is read or changed), so it may run on any thread."""
    message = None
    try:
        message = decode_message(completed.data, limits)
        validate_message(message, binary_properties)
    except WireError as exc:
        return Verdict(exc.status, exc.reason, completed.frame, message)
    events = expand_events(message)
    return Verdict(204, f"message stored: {len(events)} events", completed.frame, message, events)


def judge_frame(reassembler: Reassembler, body, *, stream_id: str | None, namespace: Hashable = None,
                limits: Limits = CAPTURE_LIMITS, binary_properties: bool = False) -> Verdict:
    """Judge one request body that already passed the HTTP checks (steps 1–5): steps 6–14,
    :func:`accept_frame` then, when the frame completed its message, :func:`judge_message`."""
    step = accept_frame(reassembler, body, stream_id=stream_id, namespace=namespace, limits=limits)
    if type(step) is Completed:
        return judge_message(step, limits, binary_properties)
    return step


def reassemble(frames: Iterable[bytes], limits: Limits = CAPTURE_LIMITS) -> bytes:
    """The message carried by the frames of ONE message, in sending order.

    Rejections raise ``WireError`` as a receiver would answer them; idempotent repeats are
    allowed. Raises ``ValueError`` when the frames end before the message is complete or
    continue after it.
    """
    reassembler = Reassembler()
    message = None
    progress = None
    for i, body in enumerate(frames):
        if message is not None:
            raise ValueError(f"frame #{i} follows the frame that completed the message")
        frame = parse_frame(body, limits)
        progress = reassembler.accept(frame.message_id, frame)
        message = progress.message
    if message is None:
        held = f"{progress.received} of {progress.total} bytes" if progress else "no frames"
        raise ValueError(f"the frames end before the message is complete ({held})")
    return message


def decode_frames(frames: Iterable[bytes], limits: Limits = CAPTURE_LIMITS) -> Message:
    """:func:`reassemble`, then :func:`decode_message` (400/413; validation is the caller's)."""
    return decode_message(reassemble(frames, limits), limits)

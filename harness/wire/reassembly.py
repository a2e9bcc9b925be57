"""W6: reassembly of multi-frame messages (the receiver's partial-message table)."""

from __future__ import annotations

import time
from typing import Callable, Hashable, NamedTuple

from harness.protocol import PARTIAL_TTL_SECONDS
from harness.wire.errors import WireError
from harness.wire.frame import Frame
from harness.wire.varint import crc16

#: Memory bounds of one Reassembler (a receiver policy, not a protocol fact).
DEFAULT_MAX_PARTIALS = 4096
DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024


class Progress(NamedTuple):
    """What :meth:`Reassembler.accept` did with a frame it did not refuse."""

    message: bytes | None  # the complete message (CRC verified) when this frame completed it
    received: int          # message bytes held for the key after this frame
    total: int             # the message's total length
    repeat: bool           # an idempotent repeat of an accepted frame: nothing changed


class _Partial:
    __slots__ = ("init_fields", "total", "data", "frames", "created")

    def __init__(self, frame: Frame, created: float):
        # the init frame without its payload, which ``data`` already holds: the W6 byte-for-byte
        # comparison of a repeated init needs no second copy of it
        self.init_fields = frame.raw[:len(frame.raw) - len(frame.payload)]
        self.total = frame.total_length
        self.data = bytearray(frame.payload)
        # offset -> (more bit, payload length); the payload itself is data[offset:offset+length]
        self.frames = {0: (True, len(frame.payload))}
        self.created = created


class Reassembler:
    """The W6 table, keyed by an opaque hashable key.

    A capture server uses ``(project key, stream id, source type, message id)``; keys are
    never put into reasons. ``accept(key, frame)`` returns a :class:`Progress` (answer
    ``202`` unless ``progress.message`` is set, in which case the caller decodes and
    validates it) or raises ``WireError`` (400 for total-length and CRC errors, 409 for
    the conflicts of the table, 413 when the frame cannot be buffered at all).

    Partials expire ``ttl_seconds`` after creation (measured with ``clock``, default
    ``time.monotonic``); an expired partial is dropped and its continuations get 409.

    Memory is bounded by ``max_partials`` live partials and ``max_buffered_bytes`` of
    buffered payload. When a new init frame would exceed either bound, or an appended
    frame would exceed the byte bound, the oldest *other* partials are discarded until it
    fits; their later continuations are answered 409 (W6 "discarded"), which makes a
    conforming sender restart them from offset 0. A single message whose total length
    alone exceeds ``max_buffered_bytes`` is refused with 413.

    ``frame_overhead`` is added to the buffered bytes for every frame held, so that a
    server can make the byte bound count its per-frame bookkeeping too (0: payload only).

    Not thread-safe: one event loop (or one lock) per instance.
    """

    def __init__(self, ttl_seconds: float = PARTIAL_TTL_SECONDS, *,
                 max_partials: int = DEFAULT_MAX_PARTIALS,
                 max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES,
                 clock: Callable[[], float] = time.monotonic, frame_overhead: int = 0):
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds}")
        if max_partials < 1:
            raise ValueError(f"max_partials must be at least 1, not {max_partials}")
        if max_buffered_bytes < 1:
            raise ValueError(f"max_buffered_bytes must be at least 1, not {max_buffered_bytes}")
        self.ttl_seconds = ttl_seconds
        self.max_partials = max_partials
        self.max_buffered_bytes = max_buffered_bytes
        self._clock = clock
        self.frame_overhead = frame_overhead
        # insertion order == creation order, so the oldest partial is always first
        self._partials: dict[Hashable, _Partial] = {}
        self._buffered = 0
        self.discarded = 0  # partials dropped to respect the memory bounds

    def __len__(self) -> int:
        return len(self._partials)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._partials

    @property
    def buffered_bytes(self) -> int:
        return self._buffered

    def discard(self, key: Hashable) -> bool:
        """Forget the partial for ``key``; True when there was one."""
        partial = self._partials.pop(key, None)
        if partial is None:
            return False
        self._buffered -= self._cost(partial)
        return True

    def _cost(self, partial: _Partial) -> int:
        return len(partial.data) + self.frame_overhead * len(partial.frames)

    def oldest(self) -> tuple[Hashable, float] | None:
        """(key, creation time) of the oldest live partial, or None."""
        for key, partial in self._partials.items():
            return key, partial.created
        return None

    def expire(self) -> int:
        """Drop every expired partial now; returns how many were dropped."""
        now = self._clock()
        dropped = 0
        while self._partials:
            key = next(iter(self._partials))
            if now - self._partials[key].created < self.ttl_seconds:
                break
            self.discard(key)
            dropped += 1
        return dropped

    def received(self, key: Hashable) -> int | None:
        """Bytes held for ``key``, or None when there is no live partial."""
        partial = self._partials.get(key)
        return None if partial is None else len(partial.data)

    def _make_room(self, keep: Hashable, extra_partials: int, extra_bytes: int) -> None:
        while self._partials and (len(self._partials) + extra_partials > self.max_partials
                                  or self._buffered + extra_bytes > self.max_buffered_bytes):
            oldest = next(iter(self._partials))
            if oldest == keep:
                # the partial being extended is the oldest: skip it, evict the next one
                others = iter(self._partials)
                next(others)
                oldest = next(others, None)
                if oldest is None:
                    return
            self.discard(oldest)
            self.discarded += 1

    def accept(self, key: Hashable, frame: Frame) -> Progress:
        if self._partials:  # nothing can expire in an empty table (no clock reading needed)
            self.expire()
        if frame.kind == "single":
            message = frame.payload
            _check_crc(message, frame.crc)
            return Progress(message, len(message), len(message), False)
        partial = self._partials.get(key)
        if frame.kind == "init":
            if partial is not None:
                if (frame.raw[:len(frame.raw) - len(frame.payload)] == partial.init_fields
                        and partial.data[:len(frame.payload)] == frame.payload
                        and partial.frames[0][1] == len(frame.payload)):
                    return Progress(None, len(partial.data), partial.total, True)
                raise WireError(409, "init frame differs from the accepted init frame of this message")
            if frame.total_length > self.max_buffered_bytes:
                raise WireError(413, f"message of {frame.total_length} bytes exceeds the reassembly "
                                     f"buffer of {self.max_buffered_bytes} bytes")
            self._make_room(key, 1, len(frame.payload) + self.frame_overhead)
            self._partials[key] = _Partial(frame, self._clock())
            self._buffered += len(frame.payload) + self.frame_overhead
            return Progress(None, len(frame.payload), frame.total_length, False)

        # continuation
        if partial is None:
            raise WireError(409, f"{frame.kind} frame at offset {frame.offset}: no partial message "
                                 "(never started, expired, completed or discarded)")
        end = frame.offset + len(frame.payload)
        if frame.kind == "middle" and end >= partial.total:
            raise WireError(400, f"middle frame at offset {frame.offset} with {len(frame.payload)} bytes "
                                 f"reaches {end}, not below total_length {partial.total}")
        if frame.kind == "final" and end != partial.total:
            raise WireError(400, f"final frame at offset {frame.offset} with {len(frame.payload)} bytes "
                                 f"ends at {end}, not at total_length {partial.total}")
        received = len(partial.data)
        if frame.offset < received:
            accepted = partial.frames.get(frame.offset)
            if (accepted is not None and accepted == (frame.more, len(frame.payload))
                    and partial.data[frame.offset:end] == frame.payload):
                return Progress(None, received, partial.total, True)
            raise WireError(409, f"{frame.kind} frame at offset {frame.offset} conflicts with the "
                                 f"{received} bytes already received")
        if frame.offset > received:
            raise WireError(409, f"{frame.kind} frame at offset {frame.offset} leaves a gap after the "
                                 f"{received} bytes received")
        if frame.kind == "middle":
            self._make_room(key, 0, len(frame.payload) + self.frame_overhead)
            partial.data += frame.payload
            partial.frames[frame.offset] = (True, len(frame.payload))
            self._buffered += len(frame.payload) + self.frame_overhead
            return Progress(None, len(partial.data), partial.total, False)
        # final: the partial goes whatever the outcome
        self.discard(key)
        message = bytes(partial.data) + frame.payload
        _check_crc(message, frame.crc)
        return Progress(message, len(message), partial.total, False)


def _check_crc(message: bytes, crc: int) -> None:
    actual = crc16(message)
    if actual != crc:
        raise WireError(400, f"CRC mismatch: frame carries 0x{crc:04x}, message has 0x{actual:04x}")

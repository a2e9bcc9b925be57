"""The exception classes of the contract (section 3) and the status -> class map.

The same classes, hierarchy and constructor as the published wrapper
(honch-micropython 0.3.1): ``HonchError(*args)`` like any Exception. Errors the SDK
raises for a status also carry ``status`` (the int of contract 3) and ``detail``
(what exactly was wrong, or None); a class raised without a status carries its
default. MicroPython-compatible: this module is frozen into the firmware unchanged
and imports without ``_honch_core``.
"""

# Contract 3, indexed by status value. tests/host/test_host_errors.py checks this
# copy against harness.protocol.STATUSES, the project's one source, and against the
# core's ERROR_* constants.
_STATUS_TEXTS = (
    "ok", "invalid argument", "out of memory", "io error", "transport error", "rate limited",
    "server error", "rejected", "not initialized", "already initialized", "queue full",
    "timeout", "internal error", "busy", "not supported", "offline",
)
INVALID_ARGUMENT = 1
IO = 3
TRANSPORT = 4
RATE_LIMITED = 5
SERVER = 6
REJECTED = 7
NOT_INITIALIZED = 8
QUEUE_FULL = 10
TIMEOUT = 11
INTERNAL = 12
BUSY = 13
NOT_SUPPORTED = 14
OFFLINE = 15


def status_text(status):
    """The contract's text for ``status``; ``"unknown"`` for a value outside the table."""
    if isinstance(status, int) and 0 <= status < len(_STATUS_TEXTS):
        return _STATUS_TEXTS[status]
    return "unknown"


class HonchError(Exception):
    """Base of every SDK error; ``status`` is its contract-3 status value."""

    status = INTERNAL
    detail = None


class InvalidArgumentError(HonchError):
    status = INVALID_ARGUMENT


class StorageError(HonchError):
    status = QUEUE_FULL


class TransportError(HonchError):
    status = TRANSPORT


class OfflineError(TransportError):
    status = OFFLINE


class RateLimitedError(TransportError):
    status = RATE_LIMITED


class ServerError(TransportError):
    status = SERVER


class RejectedError(HonchError):
    status = REJECTED


class CompressionUnavailableError(HonchError):
    """Kept for API compatibility; wire v2 never compresses, so nothing raises it."""
    status = NOT_SUPPORTED


class NotInitializedError(HonchError):
    status = NOT_INITIALIZED


_CLASS_BY_STATUS = {
    INVALID_ARGUMENT: InvalidArgumentError,
    IO: StorageError,
    TRANSPORT: TransportError,
    RATE_LIMITED: RateLimitedError,
    SERVER: ServerError,
    REJECTED: RejectedError,
    NOT_INITIALIZED: NotInitializedError,
    QUEUE_FULL: StorageError,
    TIMEOUT: TransportError,
    OFFLINE: OfflineError,
}


def error_for_status(status, detail=None):
    """The exception the contract prescribes for ``status``: message the status text,
    ``status`` and ``detail`` attributes."""
    exc = _CLASS_BY_STATUS.get(status, HonchError)(status_text(status))
    exc.status = status
    exc.detail = detail
    if detail:
        # CPython >= 3.11 prints notes under the traceback; MicroPython has none.
        add_note = getattr(exc, "add_note", None)
        if add_note is not None:
            add_note(detail)
    return exc

"""The exception classes of the contract (section 3) and the status -> class map.

MicroPython-compatible: this module is frozen into the firmware unchanged.
"""

# Status texts indexed by status value (contract 3). tests/host/test_host_errors.py
# checks this copy against harness.protocol.STATUSES, the project's one source.
_STATUS_TEXTS = (
    "ok", "invalid argument", "out of memory", "io error", "transport error", "rate limited",
    "server error", "rejected", "not initialized", "already initialized", "queue full",
    "timeout", "internal error", "busy", "not supported", "offline",
)

import _honch_core as _core

# Status values come from the core, the one implementation of the contract.
INVALID_ARGUMENT = _core.ERROR_INVALID_ARGUMENT
BUSY = _core.ERROR_BUSY


def status_text(status):
    """The contract's text for ``status``; ``"unknown"`` for a value outside the table."""
    if isinstance(status, int) and 0 <= status < len(_STATUS_TEXTS):
        return _STATUS_TEXTS[status]
    return "unknown"


class HonchError(Exception):
    """Base of every SDK error. ``status`` is the contract-3 status value and
    ``str(exc)`` its text; ``detail`` (or None) says what exactly went wrong."""

    default_status = _core.ERROR_INTERNAL  # when constructed without a status

    def __init__(self, status=None, detail=None):
        if status is None:
            status = self.default_status
        super().__init__(status_text(status))
        self.status = status
        self.detail = detail
        if detail:
            # CPython >= 3.11 prints notes under the traceback; MicroPython has none.
            add_note = getattr(self, "add_note", None)
            if add_note is not None:
                add_note(detail)


class InvalidArgumentError(HonchError):
    default_status = _core.ERROR_INVALID_ARGUMENT


class StorageError(HonchError):
    default_status = _core.ERROR_QUEUE_FULL


class TransportError(HonchError):
    default_status = _core.ERROR_TRANSPORT


class OfflineError(TransportError):
    default_status = _core.ERROR_OFFLINE


class RateLimitedError(TransportError):
    default_status = _core.ERROR_RATE_LIMITED


class ServerError(TransportError):
    default_status = _core.ERROR_SERVER


class RejectedError(HonchError):
    default_status = _core.ERROR_REJECTED


class NotInitializedError(HonchError):
    default_status = _core.ERROR_NOT_INITIALIZED


class CompressionUnavailableError(HonchError):
    """Kept for API compatibility; wire v2 never compresses, so nothing raises it."""
    default_status = _core.ERROR_NOT_SUPPORTED


_CLASS_BY_STATUS = {
    _core.ERROR_INVALID_ARGUMENT: InvalidArgumentError,
    _core.ERROR_IO: StorageError,
    _core.ERROR_TRANSPORT: TransportError,
    _core.ERROR_RATE_LIMITED: RateLimitedError,
    _core.ERROR_SERVER: ServerError,
    _core.ERROR_REJECTED: RejectedError,
    _core.ERROR_NOT_INITIALIZED: NotInitializedError,
    _core.ERROR_QUEUE_FULL: StorageError,
    _core.ERROR_TIMEOUT: TransportError,
    _core.ERROR_OFFLINE: OfflineError,
}


def error_for_status(status, detail=None):
    """The exception instance the contract prescribes for ``status``."""
    return _CLASS_BY_STATUS.get(status, HonchError)(status, detail)

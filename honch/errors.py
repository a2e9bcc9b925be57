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

INVALID_ARGUMENT = 1
BUSY = 13


def status_text(status):
    """The contract's text for ``status``; ``"unknown"`` for a value outside the table."""
    if isinstance(status, int) and 0 <= status < len(_STATUS_TEXTS):
        return _STATUS_TEXTS[status]
    return "unknown"


class HonchError(Exception):
    """Base of every SDK error. ``status`` is the contract-3 status value and
    ``str(exc)`` its text; ``detail`` (or None) says what exactly went wrong."""

    default_status = 12  # INTERNAL, when constructed without a status

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
    default_status = 1


class StorageError(HonchError):
    default_status = 10


class TransportError(HonchError):
    default_status = 4


class OfflineError(TransportError):
    default_status = 15


class RateLimitedError(TransportError):
    default_status = 5


class ServerError(TransportError):
    default_status = 6


class RejectedError(HonchError):
    default_status = 7


class NotInitializedError(HonchError):
    default_status = 8


class CompressionUnavailableError(HonchError):
    """Kept for API compatibility; wire v2 never compresses, so nothing raises it."""
    default_status = 14


_CLASS_BY_STATUS = {
    1: InvalidArgumentError,
    3: StorageError,
    4: TransportError,
    5: RateLimitedError,
    6: ServerError,
    7: RejectedError,
    8: NotInitializedError,
    10: StorageError,
    11: TransportError,
    15: OfflineError,
}


def error_for_status(status, detail=None):
    """The exception instance the contract prescribes for ``status``."""
    return _CLASS_BY_STATUS.get(status, HonchError)(status, detail)

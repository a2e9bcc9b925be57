"""honch: the Honch device analytics SDK (contract section 2).

A drop-in for the published wrapper (honch-micropython 0.3.1): the same modules
(``honch.client``, ``honch.config``, ``honch.validation``, ``honch.errors``), public
names, signatures and defaults; ``tests/sdk`` compares them with the pinned wheel.
The same files run on CPython over the host extension ``_honch_core`` and, frozen,
on MicroPython over the user C module of the same name.
"""

from .client import Honch
from .config import SDK_VERSION
from .errors import (
    CompressionUnavailableError,
    HonchError,
    InvalidArgumentError,
    NotInitializedError,
    OfflineError,
    RateLimitedError,
    RejectedError,
    ServerError,
    StorageError,
    TransportError,
)

__version__ = SDK_VERSION

__all__ = (
    "Honch",
    "HonchError",
    "InvalidArgumentError",
    "StorageError",
    "TransportError",
    "OfflineError",
    "RateLimitedError",
    "ServerError",
    "RejectedError",
    "CompressionUnavailableError",
    "NotInitializedError",
)

try:
    import logging as _logging
    _Handler = _logging.Handler
except (ImportError, AttributeError):
    _Handler = None

if _Handler is not None:
    class HonchLogHandler(_Handler):
        """A ``logging`` handler that reports records as ``$error`` (contract 11.5):
        ``client.report_log_error(formatted record, logger name)``. Level ERROR by default."""

        def __init__(self, client, level=_logging.ERROR):
            _Handler.__init__(self, level)
            self.client = client

        def emit(self, record):
            if record.name == "honch" or record.name.startswith("honch."):
                return  # the SDK's own diagnostics never come back as $error
            try:
                message = self.format(record)
                if message.strip():
                    self.client.report_log_error(message, component=record.name)
            except NotInitializedError:
                pass  # the client was shut down; logging goes on without it
            except Exception:
                self.handleError(record)


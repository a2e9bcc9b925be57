"""honch: the Honch device analytics SDK (contract section 2).

The same files run on CPython over the host extension ``_honch_core`` and,
frozen, on MicroPython over the user C module of the same name. All behaviour
lives in the C core; this layer validates the configuration, owns the
connectivity callback, maps statuses to exceptions and captures crashes.
MicroPython-compatible: no dataclasses, typing, f-string ``=`` or CPython-only
imports at module level.
"""

import sys

import _honch_core

from honch import _crash
from honch.errors import (
    BUSY, INVALID_ARGUMENT, CompressionUnavailableError, HonchError, InvalidArgumentError,
    NotInitializedError, OfflineError, RateLimitedError, RejectedError, ServerError, StorageError,
    TransportError, error_for_status,
)

__all__ = [
    "Honch", "HonchError", "InvalidArgumentError", "StorageError", "TransportError", "OfflineError",
    "RateLimitedError", "ServerError", "RejectedError", "NotInitializedError",
    "CompressionUnavailableError", "SDK_VERSION",
]

SDK_VERSION = _honch_core.SDK_VERSION

_REQUIRED_STR_KEYS = ("api_key", "device_id", "device_model", "firmware_version")
_OPTIONAL_STR_KEYS = ("endpoint_url", "environment")
# Contract 4; tests/host/test_host_config.py checks this list against
# harness.protocol.CONFIG_DEFAULTS.
_NUMERIC_KEYS = (
    "batch_size", "max_queued_events", "max_event_bytes", "transport_timeout_ms",
    "flush_interval_seconds", "flush_min_interval_ms", "flush_event_threshold",
    "flush_max_batches", "flush_retry_initial_ms", "flush_retry_max_ms", "battery_low_threshold",
)
_U32_MAX = 0xFFFFFFFF
# Hooks of the host C core (contract 2.1): refused from users, reachable for tests
# and the harness through Honch._with_port_hooks().
_HOST_HOOK_KEYS = ("platform", "transport", "battery_callback", "auto_properties_callback")
_PORT_HOOK_KEYS = _HOST_HOOK_KEYS + ("state_path", "crash_report")

# machine.reset_cause() constant -> reset_reason (contract 11.2).
_RESET_CAUSES = (
    ("PWRON_RESET", "power_on"), ("HARD_RESET", "external"), ("WDT_RESET", "watchdog"),
    ("DEEPSLEEP_RESET", "deep_sleep"), ("SOFT_RESET", "software"), ("BROWNOUT_RESET", "brownout"),
)


def _invalid(detail):
    return InvalidArgumentError(INVALID_ARGUMENT, detail)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _reset_reason():
    try:
        import machine
    except ImportError:
        return "unknown"  # CPython: the core takes it from a crash report, if any
    reset_cause = getattr(machine, "reset_cause", None)
    if reset_cause is None:
        return "unknown"
    try:
        cause = reset_cause()
    except Exception:
        return "unknown"
    for name, reason in _RESET_CAUSES:
        if hasattr(machine, name) and getattr(machine, name) == cause:
            return reason
    return "unknown"


def _core_config(config):
    """Validate the user's configuration (contract 2.1, 4) into the dict ``_honch_core.Client`` takes.

    Type and key rules live here so that every port refuses the same things; the
    content rules (blank strings, lengths, URL form, buffer) are the core's.
    """
    core = {}
    for key in config:
        if key in _HOST_HOOK_KEYS:
            raise _invalid("%s is a host hook of the C core, not a configuration key" % key)
        if key not in _REQUIRED_STR_KEYS and key not in _OPTIONAL_STR_KEYS and key not in _NUMERIC_KEYS \
                and key not in ("event_buffer", "connectivity_callback"):
            raise _invalid("unknown configuration key %r" % (key,))
    for key in _REQUIRED_STR_KEYS:
        value = config.get(key)
        if value is None:
            raise _invalid("%s is required" % key)
        if not isinstance(value, str):
            raise _invalid("%s must be a str, not %s" % (key, type(value).__name__))
        core[key] = value
    if config.get("event_buffer") is None:
        raise _invalid("event_buffer is required (a bytearray or writable memoryview)")
    core["event_buffer"] = config["event_buffer"]
    for key in _OPTIONAL_STR_KEYS:
        value = config.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _invalid("%s must be a str or None, not %s" % (key, type(value).__name__))
        core[key] = value
    for key in _NUMERIC_KEYS:
        value = config.get(key)
        if value is None:
            continue
        if not _is_int(value):
            raise _invalid("%s must be an int or None, not %s" % (key, type(value).__name__))
        if value < 0 or value > _U32_MAX:
            raise _invalid("%s must be within 0..0xFFFFFFFF, got %d" % (key, value))
        core[key] = value
    callback = config.get("connectivity_callback")
    if callback is not None and not callable(callback):
        raise _invalid("connectivity_callback must be callable or None")
    return core


class Honch:
    """A Honch client: ``Honch(api_key=..., device_id=..., device_model=...,
    firmware_version=..., event_buffer=bytearray(8192), ...)``."""

    def __init__(self, **config):
        self._open(config, None)

    @classmethod
    def _with_port_hooks(cls, port_hooks, **config):
        """Internal constructor for tests and the harness: ``port_hooks`` is a dict of
        host hooks (``platform``, ``transport``, ``battery_callback``,
        ``auto_properties_callback``, ``state_path``, ``crash_report``) passed to the
        C core next to ``config``. Ports without hooks (MicroPython) refuse them."""
        for key in port_hooks:
            if key not in _PORT_HOOK_KEYS:
                raise _invalid("unknown port hook %r" % (key,))
        client = object.__new__(cls)  # MicroPython classes have no __new__ attribute
        client._open(config, port_hooks)
        return client

    def _open(self, config, port_hooks):
        self._core = None
        self._closed = False
        self._in_connectivity_callback = False
        self._previous_excepthook = None
        self._excepthook = None
        core_config = _core_config(config)
        self._connectivity_callback = config.get("connectivity_callback")
        core_config["reset_reason"] = _reset_reason()
        if port_hooks:
            for key in port_hooks:
                core_config[key] = port_hooks[key]
        self._core = self._call(_honch_core.Client, core_config)

    # -- plumbing ---------------------------------------------------------------------

    def _call(self, function, *args):
        try:
            return function(*args)
        except _honch_core.Error as exc:
            status = exc.args[0] if exc.args else None
            raise error_for_status(status, getattr(exc, "detail", None)) from None

    def _online(self):
        """Contract 10.1: True or an int > 0 means online; anything else, or an exception, offline."""
        callback = self._connectivity_callback
        if callback is None:
            return True
        self._in_connectivity_callback = True
        try:
            state = callback()
        except Exception:
            return False
        finally:
            self._in_connectivity_callback = False
        return state is True or (_is_int(state) and state > 0)

    def _refuse_reentry(self, method):
        if self._in_connectivity_callback:
            raise HonchError(BUSY, "%s() called from inside connectivity_callback" % method)

    def _require_open(self):
        if self._closed:
            raise NotInitializedError(None, "the client was shut down")

    # -- events -----------------------------------------------------------------------

    def track(self, name, properties=None):
        # The hot path calls the core directly: going through _call would allocate a
        # bound method and an argument tuple on the GC heap for every event.
        try:
            self._core.track(name, properties)
        except _honch_core.Error as exc:
            raise error_for_status(exc.args[0] if exc.args else None, getattr(exc, "detail", None)) from None

    def identify(self, distinct_id, traits=None):
        self._call(self._core.identify, distinct_id, traits)

    def set_property(self, key, value):
        self._call(self._core.set_property, key, value)

    def session_start(self, name=None):
        self._call(self._core.session_start, name)

    def session_end(self):
        self._call(self._core.session_end)

    def report_log_error(self, message, component=None):
        self._call(self._core.report_log_error, message, component)

    def connectivity_changed(self, state):
        self._call(self._core.connectivity_changed, state)

    def connected(self):
        self.connectivity_changed(True)

    def disconnected(self):
        self.connectivity_changed(False)

    # -- delivery and lifecycle -------------------------------------------------------

    def tick(self):
        self._require_open()  # contract 7.2/7.3 step 1: closed before re-entry, before the callback
        self._refuse_reentry("tick")
        self._call(self._core.tick, self._online())

    def flush(self):
        self._require_open()  # contract 7.2/7.3 step 1: closed before re-entry, before the callback
        self._refuse_reentry("flush")
        self._call(self._core.flush, self._online())

    def reset(self):
        self._require_open()  # contract 7.2/7.3 step 1: closed before re-entry, before the callback
        self._refuse_reentry("reset")
        self._call(self._core.reset)

    def shutdown(self):
        """Queue ``$device_shutdown``, send at most one message and close (contract 7.4)."""
        if self._closed:
            return None
        self._refuse_reentry("shutdown")
        try:
            self._call(self._core.shutdown, self._online())
        except HonchError as exc:
            if exc.status != BUSY:
                self._close()
            raise
        self._close()

    def _close(self):
        self._closed = True
        self._uninstall_error_hook()

    def get_device_id(self):
        return self._call(self._core.get_device_id)

    def queue_stats(self):
        return self._call(self._core.queue_stats)

    def stream_id(self):
        """The 8-hex-digit stream id of this client (W3.4)."""
        return self._call(self._core.stream_id)

    # -- crash capture (contract 11.4) ------------------------------------------------

    def _report_exception(self, exc, skip_outer_frames):
        """Queue ``$crash`` for ``exc``; never raises (the original error matters more)."""
        try:
            self._core.report_crash(_crash.crash_properties(exc, skip_outer_frames))
            return True
        except Exception:
            return False

    def run(self, fn, *args, **kwargs):
        """Call ``fn``; if it raises an Exception, report ``$crash``, try one flush, re-raise."""
        self._require_open()
        if not callable(fn):
            raise _invalid("run() needs a callable, got %s" % type(fn).__name__)
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            # The outermost frame is this method's own call of fn.
            if self._report_exception(exc, 1):
                try:
                    self.flush()
                except Exception:
                    pass
            raise

    def install_error_hook(self):
        """Report unhandled exceptions as ``$crash`` via ``sys.excepthook``; False where none exists."""
        self._require_open()
        if not hasattr(sys, "excepthook"):
            return False
        if self._excepthook is not None:
            return True
        previous = sys.excepthook
        client = self

        def honch_excepthook(exc_type, exc, tb):
            if client._excepthook is honch_excepthook and isinstance(exc, Exception):
                client._report_exception(exc, 0)
            previous(exc_type, exc, tb)

        self._previous_excepthook = previous
        self._excepthook = honch_excepthook
        sys.excepthook = honch_excepthook
        return True

    def uninstall_error_hook(self):
        """Put the hook found by ``install_error_hook()`` back; nothing when none is installed."""
        self._require_open()
        self._uninstall_error_hook()

    def _uninstall_error_hook(self):
        hook = self._excepthook
        if hook is None:
            return
        self._excepthook = None  # a hook chained above ours now passes straight through
        if getattr(sys, "excepthook", None) is hook:
            sys.excepthook = self._previous_excepthook
        self._previous_excepthook = None


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
                    self.client.report_log_error(message, record.name)
            except NotInitializedError:
                pass  # the client was shut down; logging goes on without it
            except Exception:
                self.handleError(record)

    __all__.append("HonchLogHandler")

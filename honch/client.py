"""``Honch``: a Honch client over the C core ``_honch_core`` (contract 2).

The published wrapper's class (honch-micropython 0.3.1): same methods, signatures
and defaults. All behaviour lives in the C core; this layer validates the
configuration, owns the connectivity callback, maps statuses to exceptions and
captures crashes. The same file runs on CPython over the host extension and,
frozen, on MicroPython over the user C module. MicroPython-compatible: no
dataclasses, typing or CPython-only imports at module level.
"""

import sys

try:
    import _honch_core
except ImportError:  # honch imports anywhere; a client needs the core
    _honch_core = None

from . import _crash
from .config import HOST_HOOK_KEYS, HonchConfig, _invalid, _is_int
from .errors import (  # noqa: F401 (the published module's namespace)
    BUSY, NOT_INITIALIZED, HonchError, InvalidArgumentError, NotInitializedError, OfflineError,
    RateLimitedError, RejectedError, ServerError, StorageError, TransportError, error_for_status,
)
from .validation import (  # noqa: F401 (the published module's namespace)
    require_distinct_id, require_event_name, require_properties, require_text, require_value,
)

# Hooks of the host C core (contract 2.1), reachable for tests and the harness
# through Honch._with_port_hooks().
_PORT_HOOK_KEYS = HOST_HOOK_KEYS + ("state_path", "crash_report")


def _mapped(exc):
    """The contract's exception for a ``_honch_core.Error``."""
    return error_for_status(getattr(exc, "status", None), getattr(exc, "detail", None))


class Honch:
    """A Honch client: ``Honch(api_key=..., device_id=..., device_model=...,
    firmware_version=..., event_buffer=bytearray(8192), ...)``."""

    def __init__(self, **kwargs):
        self._open(kwargs, None)

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
        if _honch_core is None:
            raise ImportError("Honch needs firmware (or a host build) with the _honch_core C module")
        self.config = HonchConfig(**config)
        core_config = self.config.core_dict()
        if port_hooks:
            for key in port_hooks:
                core_config[key] = port_hooks[key]
        self._core = self._call(_honch_core.Client, core_config)

    # -- plumbing ---------------------------------------------------------------------

    def _call(self, function, *args):
        try:
            return function(*args)
        except _honch_core.Error as exc:
            raise _mapped(exc) from None

    def _online(self):
        """Contract 10.1: True or an int > 0 means online; anything else, or an exception, offline."""
        callback = self.config.connectivity_callback
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
            raise error_for_status(BUSY, "%s() called from inside connectivity_callback" % method)

    def _require_open(self):
        if self._closed:
            raise error_for_status(NOT_INITIALIZED, "the client was shut down")

    # -- events -----------------------------------------------------------------------

    def track(self, event_name, properties=None):
        # The hot path calls the core directly: going through _call would allocate a
        # bound method and an argument tuple on the GC heap for every event.
        try:
            self._core.track(event_name, properties)
        except _honch_core.Error as exc:
            raise _mapped(exc) from None

    def identify(self, distinct_id, traits=None):
        self._call(self._core.identify, distinct_id, traits)

    def set_property(self, key, value=None):
        self._call(self._core.set_property, key, value)

    def session_start(self, session_name=None):
        self._call(self._core.session_start, session_name)

    def session_end(self):
        self._call(self._core.session_end)

    def report_log_error(self, message, *, component=None):
        """Capture a logged error as a bounded, coalesced ``$error`` (contract 11.5)."""
        self._call(self._core.report_log_error, component, message)

    def connectivity_changed(self, connected):
        self._call(self._core.connectivity_changed, connected)

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
            if getattr(exc, "status", None) != BUSY:
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

    def last_error(self):
        """The most recent failure: ``{status, reason, http, os_error, message, component}``;
        ``status`` ``"ok"`` and ``reason`` ``"none"`` until something failed (contract C51)."""
        return self._core.last_error()

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

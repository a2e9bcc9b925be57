"""``HonchConfig(**kwargs)``: the validated configuration of a client (contract 2.1, 4).

The published wrapper's names and attributes (honch-micropython 0.3.1), with the
contract's rules: a missing or mistyped key, an unknown key, a host hook key or a
numeric option that is not an int within 0..0xFFFFFFFF raises
InvalidArgumentError. The attributes hold the effective values (defaults and
clamps applied); the C core applies the same rules again and owns the content
checks (blank strings, byte lengths, URL form, buffer). MicroPython-compatible.
"""

import sys

from .errors import INVALID_ARGUMENT, InvalidArgumentError, error_for_status  # noqa: F401 (published namespace)

# tests/sdk checks this against core/VERSION and _honch_core.SDK_VERSION.
SDK_VERSION = "0.4.0"
SDK_PLATFORM = "micropython" if sys.implementation.name == "micropython" else "posix"
DEFAULT_ENDPOINT_URL = "https://i.honch.io"

DEFAULT_BATCH_SIZE = 20
MAX_BATCH_SIZE = 50
DEFAULT_MAX_QUEUED_EVENTS = 1000
DEFAULT_MAX_EVENT_BYTES = 8192
DEFAULT_TRANSPORT_TIMEOUT_MS = 8000
MAX_TRANSPORT_TIMEOUT_MS = 10000
DEFAULT_FLUSH_INTERVAL_SECONDS = 120
DEFAULT_FLUSH_MIN_INTERVAL_MS = 15000
FLUSH_MIN_INTERVAL_DISABLED_MS = 0xFFFFFFFF
DEFAULT_FLUSH_EVENT_THRESHOLD = 20
DEFAULT_FLUSH_MAX_BATCHES = 1
DEFAULT_FLUSH_RETRY_INITIAL_MS = 1000
DEFAULT_FLUSH_RETRY_MAX_MS = 300000
DEFAULT_BATTERY_LOW_THRESHOLD = 15
DEFAULT_ENVIRONMENT = "production"

_U32_MAX = 0xFFFFFFFF
REQUIRED_KEYS = ("api_key", "device_id", "device_model", "firmware_version", "event_buffer")
_OPTIONAL_STR_KEYS = ("endpoint_url", "environment")
#: option -> default (contract 4); tests/host/test_host_config.py checks these
#: against harness.protocol.CONFIG_DEFAULTS.
NUMERIC_DEFAULTS = (
    ("batch_size", DEFAULT_BATCH_SIZE),
    ("max_queued_events", DEFAULT_MAX_QUEUED_EVENTS),
    ("max_event_bytes", DEFAULT_MAX_EVENT_BYTES),
    ("transport_timeout_ms", DEFAULT_TRANSPORT_TIMEOUT_MS),
    ("flush_interval_seconds", DEFAULT_FLUSH_INTERVAL_SECONDS),
    ("flush_min_interval_ms", DEFAULT_FLUSH_MIN_INTERVAL_MS),
    ("flush_event_threshold", DEFAULT_FLUSH_EVENT_THRESHOLD),
    ("flush_max_batches", DEFAULT_FLUSH_MAX_BATCHES),
    ("flush_retry_initial_ms", DEFAULT_FLUSH_RETRY_INITIAL_MS),
    ("flush_retry_max_ms", DEFAULT_FLUSH_RETRY_MAX_MS),
    ("battery_low_threshold", DEFAULT_BATTERY_LOW_THRESHOLD),
)
#: Hooks of the host C core (contract 2.1): refused from users; the harness reaches
#: them through Honch._with_port_hooks().
HOST_HOOK_KEYS = ("platform", "transport", "battery_callback", "auto_properties_callback")


def is_blank(value):
    return value is None or str(value).strip() == ""


def _invalid(detail):
    return error_for_status(INVALID_ARGUMENT, detail)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class HonchConfig:
    def __init__(self, **kwargs):
        numeric_keys = [key for key, _ in NUMERIC_DEFAULTS]
        for key in kwargs:
            if key in HOST_HOOK_KEYS:
                raise _invalid("%s is a host hook of the C core, not a configuration key" % key)
            if key not in REQUIRED_KEYS and key not in _OPTIONAL_STR_KEYS and key not in numeric_keys \
                    and key != "connectivity_callback":
                raise _invalid("unknown configuration key %r" % (key,))
        for key in REQUIRED_KEYS:
            value = kwargs.get(key)
            if value is None:
                raise _invalid("missing required config: " + key)
            if key != "event_buffer" and not isinstance(value, str):
                raise _invalid("%s must be a str, not %s" % (key, type(value).__name__))
        #: the optional options the caller gave (None and absent left out), for the core
        self.given = {}
        for key in _OPTIONAL_STR_KEYS:
            value = kwargs.get(key)
            if value is not None and not isinstance(value, str):
                raise _invalid("%s must be a str or None, not %s" % (key, type(value).__name__))
            if value is not None:
                self.given[key] = value
        for key in numeric_keys:
            value = kwargs.get(key)
            if value is None:
                continue
            if not _is_int(value):
                raise _invalid("%s must be an int or None, not %s" % (key, type(value).__name__))
            if value < 0 or value > _U32_MAX:
                raise _invalid("%s must be within 0..0xFFFFFFFF, got %d" % (key, value))
            self.given[key] = value
        callback = kwargs.get("connectivity_callback")
        if callback is not None and not callable(callback):
            raise _invalid("connectivity_callback must be callable or None")

        self.api_key = kwargs["api_key"]
        self.endpoint_url = kwargs.get("endpoint_url") or DEFAULT_ENDPOINT_URL
        self.device_id = kwargs["device_id"]
        self.device_model = kwargs["device_model"]
        self.firmware_version = kwargs["firmware_version"]
        self.environment = kwargs.get("environment") or DEFAULT_ENVIRONMENT
        self.event_buffer = kwargs["event_buffer"]
        for key, default in NUMERIC_DEFAULTS:
            setattr(self, key, self.given.get(key) or default)  # 0 selects the default
        self.batch_size = min(self.batch_size, MAX_BATCH_SIZE)
        if SDK_PLATFORM == "micropython":
            self.transport_timeout_ms = min(self.transport_timeout_ms, MAX_TRANSPORT_TIMEOUT_MS)
        self.flush_retry_max_ms = max(self.flush_retry_max_ms, self.flush_retry_initial_ms)
        self.battery_callback = None
        self.auto_properties_callback = None
        self.connectivity_callback = callback

    def core_dict(self):
        """The dict ``_honch_core.Client`` takes: the published wrapper's keys, with the
        optional ones as given (the core applies defaults, clamps and content rules)."""
        core = {
            "api_key": self.api_key, "device_id": self.device_id, "device_model": self.device_model,
            "firmware_version": self.firmware_version, "event_buffer": self.event_buffer,
        }
        for key in self.given:
            core[key] = self.given[key]
        return core

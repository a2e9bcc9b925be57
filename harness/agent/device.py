"""``Device``: an SDK client on a board, one method per agent op.

This is what the ``device`` fixture hands to tests. Every method runs on the
board; a device-side exception raises ``RemoteError`` (``.name``, ``.status``,
``.message``, ``.classes``, ``.is_a(cls)``). docs/boards.md documents the API.
"""

from __future__ import annotations

import uuid

from harness.agent.codec import EventBuffer

DEFAULT_FIRMWARE_VERSION = "1.0.0"
DEFAULT_EVENT_BUFFER_BYTES = 8192


class _Omit:
    def __repr__(self):
        return "OMIT"


#: ``device.init(api_key=OMIT)`` leaves the key out of the configuration entirely
OMIT = _Omit()


class Device:
    def __init__(self, board, endpoint_url: str, api_key: str):
        self.board = board
        self.endpoint_url = endpoint_url
        self.api_key = api_key
        self.device_id = f"hil-{board.name}-{uuid.uuid4().hex[:8]}"
        self.config: dict = {}
        board.log.redact(api_key)

    def __repr__(self):
        return f"Device(board={self.board.name!r}, device_id={self.device_id!r})"

    def default_config(self) -> dict:
        return {
            "api_key": self.api_key,
            "device_id": self.device_id,
            "device_model": self.board.spec.device_model or f"hil-{self.board.name}",
            "firmware_version": DEFAULT_FIRMWARE_VERSION,
            "event_buffer": EventBuffer(DEFAULT_EVENT_BUFFER_BYTES),
            "endpoint_url": self.endpoint_url,
        }

    def call(self, op: str, *args, timeout: float | None = None, **kwargs):
        """Any agent op by name (see docs/boards.md)."""
        return self.board.call(op, *args, timeout=timeout, **kwargs)

    # --- construction ----------------------------------------------------------------

    def init(self, host_hooks: dict | None = None, **overrides) -> None:
        """(Re-)create the client: the default configuration with ``overrides``
        applied (``OMIT`` removes a key). ``host_hooks`` (host board only):
        ``battery`` (initial level), ``state_path``, ``crash_report``, ``wall_clock_ms``
        (a wall clock that reads that value until ``set_wall_clock(ms)``), ``monotonic_ms``
        (the same for the monotonic clock, ``set_monotonic(ms)``), ``auto_properties``
        (a dict the ``auto_properties_callback`` returns for every event)."""
        config = self.default_config()
        for key, value in overrides.items():
            if value is OMIT:
                config.pop(key, None)
            else:
                config[key] = value
        if isinstance(config.get("api_key"), str):
            self.board.log.redact(config["api_key"])
        self.config = config
        if host_hooks:
            self.call("init", config, host_hooks=host_hooks)
        else:
            self.call("init", config)

    def drop(self) -> None:
        """Forget the client on the board without shutting it down."""
        self.call("drop")

    # --- the SDK API (contract 2.2) ---------------------------------------------------

    def track(self, name, properties=None):
        return self.call("track", name, properties)

    def identify(self, distinct_id, traits=None):
        return self.call("identify", distinct_id, traits)

    def set_property(self, key, value):
        return self.call("set_property", key, value)

    def session_start(self, name=None):
        return self.call("session_start", name)

    def session_end(self):
        return self.call("session_end")

    def report_log_error(self, message, component=None):
        """``client.report_log_error(message, component=...)``: component is keyword-only
        in the published API."""
        if component is None:
            return self.call("report_log_error", message)
        return self.call("report_log_error", message, component=component)

    def install_error_hook(self) -> bool:
        return self.call("install_error_hook")

    def uninstall_error_hook(self):
        return self.call("uninstall_error_hook")

    def connectivity_changed(self, state):
        return self.call("connectivity_changed", state)

    def connected(self):
        return self.call("connected")

    def disconnected(self):
        return self.call("disconnected")

    def tick(self):
        return self.call("tick")

    def flush(self):
        return self.call("flush")

    def reset(self):
        return self.call("reset")

    def shutdown(self):
        return self.call("shutdown")

    def get_device_id(self) -> str:
        return self.call("get_device_id")

    def queue_stats(self) -> dict:
        return self.call("queue_stats")

    def last_error(self) -> dict:
        """Capability ``last_error`` (honch-micropython 0.3.1)."""
        return self.call("last_error")

    def stream_id(self) -> str:
        """Capability ``stream_id``; tests take the stream id from the server's records."""
        return self.call("stream_id")

    # --- harness ops -----------------------------------------------------------------

    def run(self, exception: str | None = None, message: str | None = None, depth: int = 1,
            result=None) -> dict:
        """``client.run(fn)`` where ``fn`` returns ``result`` or raises ``exception(message)``
        ``depth`` calls deep. Returns ``{"returned": value}`` or ``{"raised": {"class",
        "status", "message", "classes", "same_object"}}``."""
        return self.call("run", exception=exception, message=message, depth=depth, result=result)

    def unhandled(self, exception: str, message: str | None = None, depth: int = 1) -> dict:
        """Hand a raised exception to ``sys.excepthook`` (interpreters that have one).
        Returns ``{"previous_hook_called": bool}``."""
        return self.call("unhandled", exception=exception, message=message, depth=depth)

    def excepthook_state(self) -> dict:
        """``{"has_excepthook", "is_base" (the agent's own hook is installed), "base_calls"}``."""
        return self.call("excepthook_state")

    def set_online(self, value, reenter: str | None = None) -> dict:
        """What ``ONLINE_CALLBACK`` returns from now on (``CALLBACK_RAISES`` to raise);
        ``reenter`` names a client method the callback calls once (BUSY checks)."""
        return self.call("set_online", value, reenter=reenter)

    def callback_log(self) -> dict:
        """``{"calls": n, "reentries": [...]}`` since the last call."""
        return self.call("callback_log")

    def pump(self, duration_ms: int, period_ms: int = 10) -> dict:
        """``tick()`` every ``period_ms`` for ``duration_ms``, timed on the device."""
        timeout = self.board.spec.op_timeout + duration_ms / 1000
        return self.call("pump", duration_ms, period_ms, timeout=timeout)

    def set_battery(self, level: int) -> None:
        """Host board: what the battery hook reports from now on."""
        return self.call("set_battery", level)

    def set_wall_clock(self, ms: int) -> None:
        """Host board, client made with the ``wall_clock_ms`` hook: the wall clock reads ``ms`` now."""
        return self.call("set_wall_clock", ms)

    def set_monotonic(self, ms: int) -> None:
        """Host board, client made with the ``monotonic_ms`` hook: the monotonic clock reads
        ``ms`` now (it never goes back)."""
        return self.call("set_monotonic", ms)

    def exports(self, names) -> dict:
        """How the board's ``honch`` package exports each name (attribute, ``__all__``, star-import, bases)."""
        return self.call("exports", list(names))

    def info(self) -> dict:
        return self.call("info")

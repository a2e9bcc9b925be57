"""honch-hil on-device agent: drives the ``honch`` SDK from JSON-lines requests.

Runs unchanged on MicroPython (1.25, frozen into the firmware as module
``honch_agent``) and on CPython (the ``host`` board runs this file as its main
program). It only needs ``json``, ``sys``, ``time`` and ``gc``; ``select`` is used
when present so that a tethered request times out on the device while it waits
(without it, an answer arriving after the timeout is refused), and ``errno`` for
the port's own error numbers.

Protocol (one JSON document per line; see docs/boards.md):

* requests on stdin:  ``{"id": 7, "op": "track", "args": [...], "kwargs": {...}}``
* replies on stdout:  ``@@HIL@@ {"id": 7, "ok": true, "result": ...}`` or
  ``@@HIL@@ {"id": 7, "ok": false, "error": {"class", "status", "message", "classes"}}``
* at start-up:        ``@@HIL@@ {"ready": true, "agent": 1, ...}``
* tether request:     ``@@HIL@@ {"tether": 3, "url", "headers", "body" (hex), "timeout_ms"}``,
  answered on stdin by ``{"tether": 3, "status": 204, "retry_after": null}`` or
  ``{"tether": 3, "error": "timeout" | "transport", "message": "..."}``.

Every agent line starts with PREFIX, so banners, stray prints and tracebacks on
the same console never break parsing. Values JSON cannot carry travel as
``{"$hil": KIND, ...}`` objects (bytes, NaN/inf, tuples, non-str dict keys, an
unsupported object, event buffers, the agent's connectivity callback).
"""

import gc
import json
import sys
import time

try:
    import select
except ImportError:  # a port without select: tether timeouts are checked after the fact
    select = None

PREFIX = "@@HIL@@ "
AGENT_PROTOCOL = 1
ESCAPE = "$hil"
try:  # the port's own values (newlib builds differ from Linux: ETIMEDOUT is 116 there)
    from errno import ECONNREFUSED, ETIMEDOUT
except ImportError:
    ETIMEDOUT = 110
    ECONNREFUSED = 111

_IS_MICROPYTHON = sys.implementation.name == "micropython"


class AgentError(Exception):
    """A request the agent itself cannot carry out (unknown op, bad arguments)."""


class AgentCustomError(Exception):
    """A user-defined exception class, for crash reports naming a non-builtin type."""


class Unsupported:
    """An object of a type the SDK does not accept as a value."""

    def __repr__(self):
        return "<Unsupported>"


_BUILTIN_EXCEPTIONS = {
    "BaseException": BaseException, "Exception": Exception, "ValueError": ValueError,
    "TypeError": TypeError, "RuntimeError": RuntimeError, "KeyError": KeyError,
    "IndexError": IndexError, "ZeroDivisionError": ZeroDivisionError, "OSError": OSError,
    "MemoryError": MemoryError, "AttributeError": AttributeError,
    "NotImplementedError": NotImplementedError, "AssertionError": AssertionError,
    "KeyboardInterrupt": KeyboardInterrupt, "SystemExit": SystemExit,
    "StopIteration": StopIteration, "OverflowError": OverflowError, "NameError": NameError,
    "ImportError": ImportError, "UnicodeError": UnicodeError,
    "AgentCustomError": AgentCustomError, "AgentError": AgentError,
}


# --- clocks -----------------------------------------------------------------------

if hasattr(time, "ticks_ms"):
    def _now_ms():
        return time.ticks_ms()

    def _elapsed_ms(start):
        return time.ticks_diff(time.ticks_ms(), start)

    def _sleep_ms(ms):
        if ms > 0:
            time.sleep_ms(ms)
else:
    def _now_ms():
        return int(time.monotonic() * 1000)

    def _elapsed_ms(start):
        return int(time.monotonic() * 1000) - start

    def _sleep_ms(ms):
        if ms > 0:
            time.sleep(ms / 1000)


# --- hex (bytes.hex is optional on MicroPython) -------------------------------------

def _hex(data):
    try:
        return bytes(data).hex()
    except AttributeError:
        return "".join(["%02x" % b for b in data])


def _unhex(text):
    try:
        return bytes.fromhex(text)
    except AttributeError:
        out = bytearray(len(text) // 2)
        for i in range(len(out)):
            out[i] = int(text[2 * i:2 * i + 2], 16)
        return bytes(out)


# --- value codec -------------------------------------------------------------------

def encode_value(value):
    """Python value -> JSON-safe value (the host decodes the escapes)."""
    if value is None or value is True or value is False:
        return value
    t = type(value)
    if t is int or t is str:
        return value
    if t is float:
        if value != value:
            return {ESCAPE: "float", "value": "nan"}
        if value in (float("inf"), float("-inf")):
            return {ESCAPE: "float", "value": "inf" if value > 0 else "-inf"}
        return value
    if t is bytes:
        return {ESCAPE: "bytes", "hex": _hex(value)}
    if t is bytearray:
        return {ESCAPE: "bytearray", "hex": _hex(value)}
    if t is list:
        return [encode_value(v) for v in value]
    if t is tuple:
        return {ESCAPE: "tuple", "items": [encode_value(v) for v in value]}
    if t is dict:
        plain = True
        for k in value:
            if type(k) is not str or k == ESCAPE:
                plain = False
                break
        if plain:
            out = {}
            for k in value:
                out[k] = encode_value(value[k])
            return out
        return {ESCAPE: "dict", "items": [[encode_value(k), encode_value(value[k])] for k in value]}
    if isinstance(value, int):  # bool handled above; int subclasses
        return int(value)
    if isinstance(value, str):
        return str(value)
    return {ESCAPE: "object", "type": t.__name__, "repr": repr(value)}


class Agent:
    def __init__(self, stdin=None, stdout=None):
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self._out = getattr(self.stdout, "buffer", None)
        self._in = getattr(self.stdin, "buffer", self.stdin)
        # CPython's buffered stdin would hide pending bytes from poll(); read raw and
        # keep our own line buffer there. MicroPython's stdin has no such buffer.
        self._raw = getattr(self._in, "raw", None)
        self._pending = b""
        self._poller = None
        if select is not None and hasattr(select, "poll"):
            try:
                self._poller = select.poll()
                self._poller.register(self._raw if self._raw is not None else self._in, select.POLLIN)
            except Exception:
                self._poller = None
        self.client = None
        self.honch = None
        self.buffers = {}
        self.online = True
        self.callback_calls = 0
        self.reenter_op = None
        self.callback_log = []
        self.battery = -1
        self.tether_seq = 0
        self.tether_on = False
        self.tether_bare_status = False
        self.base_hook_calls = []
        self.running = True
        self._saved_transport = None

    # --- console I/O --------------------------------------------------------------

    def emit(self, obj):
        line = PREFIX + json.dumps(obj) + "\n"
        if self._out is not None:
            self._out.write(line.encode("utf-8"))
        else:
            self.stdout.write(line)
        try:
            self.stdout.flush()
        except AttributeError:
            pass

    def _wait_readable(self, timeout_ms):
        if self._poller is None:
            return True
        try:
            return bool(self._poller.poll(max(0, timeout_ms)))
        except Exception:
            return True

    def read_line(self, timeout_ms=None):
        """One line from stdin without the newline; None on timeout, b"" at EOF."""
        start = _now_ms()
        if self._raw is not None:
            while b"\n" not in self._pending:
                if timeout_ms is not None:
                    left = timeout_ms - _elapsed_ms(start)
                    if left <= 0 or not self._wait_readable(left):
                        return None
                chunk = self._raw.read(65536)
                if not chunk:
                    if self._pending:
                        line, self._pending = self._pending, b""
                        return line
                    return b""
                self._pending += chunk
            i = self._pending.index(b"\n")
            line, self._pending = self._pending[:i], self._pending[i + 1:]
            return line.rstrip(b"\r") or b"\r"  # a blank line is not EOF
        if timeout_ms is not None and not self._wait_readable(timeout_ms):
            return None
        line = self._in.readline()
        if not line:
            return b""
        if isinstance(line, str):
            line = line.encode("utf-8")
        return line.rstrip(b"\r\n") or b"\r"

    # --- value decoding (device side) ----------------------------------------------

    def decode_value(self, value):
        t = type(value)
        if t is list:
            return [self.decode_value(v) for v in value]
        if t is not dict:
            return value
        kind = value.get(ESCAPE)
        if kind is None:
            out = {}
            for k in value:
                out[k] = self.decode_value(value[k])
            return out
        if kind == "bytes":
            return _unhex(value["hex"])
        if kind == "bytearray":
            return bytearray(_unhex(value["hex"]))
        if kind == "float":
            return float(value["value"])
        if kind == "tuple":
            return tuple([self.decode_value(v) for v in value["items"]])
        if kind == "dict":
            out = {}
            for pair in value["items"]:
                out[self.decode_value(pair[0])] = self.decode_value(pair[1])
            return out
        if kind == "object":
            return Unsupported()
        if kind == "buffer":
            return self._buffer(value)
        if kind == "online_callback":
            return self.connectivity_callback
        if kind == "raise":
            return value  # set_online(): the callback raises instead of returning
        raise AgentError("unknown value escape %r" % (kind,))

    def _buffer(self, spec):
        size = spec["size"]
        name = spec.get("name")
        kind = spec.get("type", "bytearray")
        buf = self.buffers.get(name) if name is not None else None
        if buf is None or len(buf) != size:
            if kind == "bytearray":
                buf = bytearray(size)
            elif kind == "memoryview":
                buf = memoryview(bytearray(size))
            elif kind == "bytes":
                buf = bytes(size)
            elif kind == "readonly_memoryview":
                buf = memoryview(bytes(size))
            else:
                raise AgentError("unknown buffer type %r" % (kind,))
            if name is not None:
                self.buffers[name] = buf
        return buf

    # --- errors -------------------------------------------------------------------

    def describe_exception(self, exc):
        honch_classes = []
        if self.honch is not None:
            base = getattr(self.honch, "HonchError", None)
            for name in dir(self.honch):
                obj = getattr(self.honch, name)
                if base is not None and isinstance(obj, type) and issubclass(obj, base) \
                        and isinstance(exc, obj):
                    honch_classes.append(obj)
        # most derived first: a class with more matching ancestors is deeper
        ranked = []
        for c in honch_classes:
            depth = 0
            for other in honch_classes:
                if issubclass(c, other):
                    depth += 1
            ranked.append((depth, c.__name__))
        ranked.sort()
        classes = [name for _, name in reversed(ranked)]
        own = type(exc).__name__
        if own not in classes:
            classes.insert(0, own)
        status = getattr(exc, "status", None)
        if type(status) is not int:
            status = None
        detail = getattr(exc, "detail", None)
        info = {"class": own, "status": status, "message": str(exc), "classes": classes}
        if type(detail) is str:
            info["detail"] = detail
        return info

    # --- SDK access ------------------------------------------------------------------

    def _import_honch(self):
        if self.honch is None:
            import honch
            self.honch = honch
        return self.honch

    def op_wrapper(self):
        """Where ``honch`` came from and its version (which wrapper this board runs)."""
        honch = self._import_honch()
        return {"file": getattr(honch, "__file__", None), "version": getattr(honch, "__version__", None)}

    def _client(self):
        if self.client is None:
            raise AgentError("no client on the device: call init first")
        return self.client

    def connectivity_callback(self):
        self.callback_calls += 1
        op = self.reenter_op
        if op is not None:
            self.reenter_op = None
            try:
                getattr(self.client, op)()
                self.callback_log.append({"op": op, "ok": True})
            except Exception as exc:
                entry = self.describe_exception(exc)
                entry["op"] = op
                entry["ok"] = False
                self.callback_log.append(entry)
        value = self.online
        if isinstance(value, dict) and value.get(ESCAPE) == "raise":
            raise RuntimeError(value.get("message", "connectivity callback failed"))
        return value

    def battery_callback(self):
        return self.battery

    # --- ops -----------------------------------------------------------------------

    def op_ping(self):
        return None

    def op_echo(self, value):
        return value

    def op_info(self):
        info = {
            "implementation": sys.implementation.name,
            "version": ".".join([str(v) for v in sys.implementation.version[:3]]),
            "platform": sys.platform,
            "agent": AGENT_PROTOCOL,
            "has_excepthook": hasattr(sys, "excepthook"),
            "mem_free": gc.mem_free() if hasattr(gc, "mem_free") else None,
            "float_bits": 64 if 1.0 + 2.0 ** -40 != 1.0 else 32,
            "maxsize": sys.maxsize,
        }
        try:
            import _honch_core
            info["honch_core"] = True
            info["sdk_platform"] = getattr(_honch_core, "PLATFORM", None)
        except ImportError:
            _honch_core = None
            info["honch_core"] = False
            info["sdk_platform"] = None
        try:
            honch = self._import_honch()
        except ImportError as exc:
            honch = None
            info["wrapper_error"] = str(exc)
        # The port's own version, from the public API: information, never a requirement.
        version = getattr(honch, "__version__", None) if honch is not None else None
        if version is None and _honch_core is not None:
            version = getattr(_honch_core, "SDK_VERSION", getattr(_honch_core, "__version__", None))
        info["sdk_version"] = version
        info["wrapper_file"] = getattr(honch, "__file__", None) if honch is not None else None
        info["capabilities"] = self._capabilities(honch, _honch_core) if honch is not None else []
        info["tether"] = self.tether_on
        return info

    def _capabilities(self, honch, core):
        """What this port offers beyond the published API (docs/porting.md), by probing it."""
        found = []
        cls = getattr(honch, "Honch", None)
        if cls is None:
            return found
        try:  # construction without a configuration fails before any I/O
            cls()
        except Exception as exc:
            if type(getattr(exc, "status", None)) is int:
                found.append("status_attr")
        try:
            from honch import config as config_module
            probe = config_module.HonchConfig(api_key="probe", device_id="probe", device_model="probe",
                                              firmware_version="0", event_buffer=bytearray(1),
                                              flush_max_batches=2)
            if getattr(probe, "flush_max_batches", None) == 2:
                found.append("flush_max_batches")
        except Exception:
            pass
        for name in ("stream_id", "last_error"):
            if hasattr(cls, name):
                found.append(name)
        if hasattr(cls, "_with_port_hooks") and core is not None and getattr(core, "PLATFORM", None) == "posix":
            found.append("host_hooks")
        if hasattr(sys, "excepthook") and hasattr(cls, "install_error_hook"):
            found.append("excepthook")
        return found

    def op_gc(self):
        gc.collect()
        return gc.mem_free() if hasattr(gc, "mem_free") else None

    def op_sleep(self, ms):
        _sleep_ms(ms)
        return None

    def op_drop(self):
        """Forget the client without shutting it down (between tests)."""
        self._forget_client()
        self.online = True
        self.reenter_op = None
        self.callback_log = []
        self.callback_calls = 0
        gc.collect()
        return None

    def op_exit(self):
        self.running = False
        return None

    def _forget_client(self):
        if self.client is not None:
            try:
                self.client.uninstall_error_hook()  # never leave a stale hook chained
            except Exception:
                pass
        self.client = None

    def op_init(self, config, host_hooks=None):
        honch = self._import_honch()
        self._forget_client()
        gc.collect()
        if host_hooks:
            self.client = self._construct_with_hooks(honch, config, host_hooks)
        else:
            self.client = honch.Honch(**config)
        return None

    def _construct_with_hooks(self, honch, config, host_hooks):
        hooks = {}
        for key in host_hooks:
            if key == "battery":
                self.battery = host_hooks[key]
                hooks["battery_callback"] = self.battery_callback
            elif key in ("state_path", "crash_report"):
                hooks[key] = host_hooks[key]
            else:
                raise AgentError("unknown host hook %r (known: battery, state_path, crash_report)" % (key,))
        # the wrapper's internal constructor for host hooks (docs/sdk.md): capability host_hooks
        with_hooks = getattr(honch.Honch, "_with_port_hooks", None)
        if with_hooks is None:
            raise AgentError("this port has no host hooks (capability host_hooks)")
        return with_hooks(hooks, **config)

    def op_set_battery(self, level):
        self.battery = level
        return None

    def op_set_online(self, value, reenter=None):
        self.online = value
        self.reenter_op = reenter
        return {"calls": self.callback_calls}

    def op_callback_log(self):
        log = self.callback_log
        self.callback_log = []
        return {"calls": self.callback_calls, "reentries": log}

    def op_pump(self, duration_ms, period_ms=10):
        client = self._client()
        start = _now_ms()
        ticks = 0
        while True:
            client.tick()
            ticks += 1
            elapsed = _elapsed_ms(start)
            if elapsed >= duration_ms:
                break
            _sleep_ms(min(period_ms, duration_ms - elapsed))
        return {"ticks": ticks, "elapsed_ms": _elapsed_ms(start)}

    def _raiser(self, cls, message, depth):
        if depth > 1:
            return self._raiser(cls, message, depth - 1)
        if message is None:
            raise cls()
        raise cls(message)

    def _exception_class(self, name):
        if self.honch is not None:
            cls = getattr(self.honch, name, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                return cls
        cls = _BUILTIN_EXCEPTIONS.get(name)
        if cls is None:
            raise AgentError("unknown exception class %r" % (name,))
        return cls

    def op_run(self, exception=None, message=None, depth=1, result=None):
        """client.run(fn): fn returns ``result`` or raises ``exception(message)`` at ``depth``."""
        client = self._client()
        cls = self._exception_class(exception) if exception is not None else None
        raised = []

        def crash_site():
            if cls is None:
                return result
            try:
                self._raiser(cls, message, depth)
            except BaseException as exc:
                raised.append(exc)
                raise

        try:
            value = client.run(crash_site)
        except BaseException as exc:
            info = self.describe_exception(exc)
            info["same_object"] = bool(raised) and exc is raised[0]
            return {"raised": info}
        return {"returned": value}

    def _base_excepthook(self, exc_type, exc, tb):
        self.base_hook_calls.append(exc_type.__name__)

    def op_unhandled(self, exception, message=None, depth=1):
        """Hand a real raised exception to sys.excepthook, as the interpreter does."""
        if not hasattr(sys, "excepthook"):
            raise AgentError("this interpreter has no sys.excepthook")
        cls = self._exception_class(exception)
        before = len(self.base_hook_calls)
        try:
            self._raiser(cls, message, depth)
        except BaseException as exc:
            sys.excepthook(type(exc), exc, getattr(exc, "__traceback__", None))
        return {"previous_hook_called": len(self.base_hook_calls) > before}

    def op_excepthook_state(self):
        if not hasattr(sys, "excepthook"):
            return {"has_excepthook": False, "is_base": False, "base_calls": 0}
        hook = sys.excepthook
        return {"has_excepthook": True,
                "is_base": getattr(hook, "__func__", None) is Agent._base_excepthook
                and getattr(hook, "__self__", None) is self,
                "base_calls": len(self.base_hook_calls)}

    def op_tether(self, enable=True, reply="status_and_retry_after"):
        """Route honch_transport.post_chunk over the console. ``reply`` is what this port's
        post_chunk returns: ``(status, retry_after)`` (contract 12) or a bare ``status``."""
        import honch_transport
        self.tether_bare_status = reply == "status"
        if enable and not self.tether_on:
            self._saved_transport = getattr(honch_transport, "post_chunk", None)
            honch_transport.post_chunk = self.tether_post_chunk
            self.tether_on = True
        elif not enable and self.tether_on:
            honch_transport.post_chunk = self._saved_transport
            self.tether_on = False
        return self.tether_on

    def tether_post_chunk(self, url, body, headers, timeout_ms):
        """honch_transport.post_chunk over the console: the host makes the real request."""
        self.tether_seq += 1
        seq = self.tether_seq
        if isinstance(headers, dict):
            pairs = [[k, headers[k]] for k in headers]
        else:
            pairs = [[k, v] for k, v in headers]
        self.emit({"tether": seq, "url": url, "headers": pairs, "body": _hex(body),
                   "timeout_ms": timeout_ms})
        start = _now_ms()
        while True:
            left = timeout_ms - _elapsed_ms(start)
            if left <= 0:
                raise OSError(ETIMEDOUT, "tether request timed out")
            line = self.read_line(left)
            if line is None:
                raise OSError(ETIMEDOUT, "tether request timed out")
            if line == b"":
                raise OSError(ECONNREFUSED, "console closed")
            msg = self._parse(line)
            if msg is None or msg.get("tether") != seq:
                continue  # a late answer to an earlier request, or noise
            if _elapsed_ms(start) > timeout_ms:
                raise OSError(ETIMEDOUT, "tether answer arrived after the timeout")
            err = msg.get("error")
            if err == "timeout":
                raise OSError(ETIMEDOUT, msg.get("message") or "timeout")
            if err is not None:
                raise OSError(ECONNREFUSED, msg.get("message") or err)
            if self.tether_bare_status:
                return msg["status"]
            return msg["status"], msg.get("retry_after")

    # --- main loop -----------------------------------------------------------------

    def _parse(self, line):
        try:
            msg = json.loads(line)
        except (ValueError, TypeError):
            return None
        return msg if type(msg) is dict else None

    def handle(self, msg):
        rid = msg.get("id")
        op = msg.get("op")
        try:
            args = self.decode_value(msg.get("args") or [])
            kwargs = self.decode_value(msg.get("kwargs") or {})
            method = getattr(self, "op_" + op, None) if type(op) is str else None
            if method is not None:
                result = method(*args, **kwargs)
            elif op in CLIENT_OPS:
                result = getattr(self._client(), op)(*args, **kwargs)
            else:
                raise AgentError("unknown op %r" % (op,))
            reply = {"id": rid, "ok": True, "result": encode_value(result)}
        except Exception as exc:
            reply = {"id": rid, "ok": False, "error": self.describe_exception(exc)}
        self.emit(reply)

    def serve(self):
        if hasattr(sys, "excepthook"):
            sys.excepthook = self._base_excepthook
        self.emit({"ready": True, "agent": AGENT_PROTOCOL, "implementation": sys.implementation.name})
        while self.running:
            line = self.read_line()
            if line == b"":
                break
            msg = self._parse(line)
            if msg is None or "op" not in msg:
                continue  # blank lines, echoes, late tether answers
            self.handle(msg)


#: SDK methods that map one-to-one onto an op of the same name.
CLIENT_OPS = ("track", "identify", "set_property", "session_start", "session_end",
              "report_log_error", "install_error_hook", "uninstall_error_hook",
              "connectivity_changed", "connected", "disconnected", "tick", "flush", "reset",
              "shutdown", "queue_stats", "get_device_id", "last_error", "stream_id")


def main():
    Agent().serve()


if __name__ == "__main__":
    main()

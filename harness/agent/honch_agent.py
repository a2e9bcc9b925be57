r"""honch-hil on-device agent: drives the ``honch`` SDK from request lines on its console.

Runs unchanged on MicroPython (1.25, frozen into the firmware as module
``honch_agent``) and on CPython (the ``host`` board runs this file as its main
program). It only needs ``json``, ``sys``, ``time`` and ``gc``; ``select`` is used
when present so that a tethered request times out on the device while it waits
(without it, an answer arriving after the timeout is refused), and ``errno`` for
the port's own error numbers.

Protocol 2 (one request or message per line; see docs/boards.md):

* requests on stdin:  ``ping``, ``track ["sample",{"n":1}]`` (the op and, when there
  are any, the positional arguments as a JSON list) or, with keyword arguments,
  ``init {"args":[...],"kwargs":{...}}``; with an id in front (``7 track [...]``)
  when the host wants one (after it gave up waiting for a reply). The older JSON
  form ``{"id": 7, "op": "track", "args": [...], "kwargs": {...}}`` is still
  understood (the harness ends an agent of any version with it).
* replies on stdout, in order:  ``\x1e[ID]`` (None), ``\x1e[ID,RESULT]`` or
  ``\x1e[ID,null,{"class","status","message","classes"}]`` (an exception), compact
  JSON; ID is the request's id, null for a request without one
* at start-up:        ``\x1e{"ready":true,"agent":2,"implementation":...}``
* tether request:     ``\x1e{"tether":3,"url","headers","body" (hex),"timeout_ms"}``,
  answered on stdin by ``{"tether":3,"status":204,"retry_after":null}`` or
  ``{"tether":3,"error":"timeout"|"transport","message":"..."}``.

Every agent line starts with PREFIX, the ASCII record separator (as in RFC 7464
JSON text sequences), which printable output never contains and JSON escapes, so
banners, stray prints and tracebacks on the same console never break parsing.
Values JSON cannot carry travel as ``{"$hil": KIND, ...}`` objects (bytes,
NaN/inf, tuples, non-str dict keys, an unsupported object, event buffers, the
agent's connectivity callback).
"""

import gc
import json
import sys
import time

try:
    import select
except ImportError:  # a port without select: tether timeouts are checked after the fact
    select = None

PREFIX = "\x1e"
AGENT_PROTOCOL = 2
ESCAPE = "$hil"
try:  # the port's own values (newlib builds differ from Linux: ETIMEDOUT is 116 there)
    from errno import ECONNREFUSED, ETIMEDOUT
except ImportError:
    ETIMEDOUT = 110
    ECONNREFUSED = 111

_IS_MICROPYTHON = sys.implementation.name == "micropython"
#: write replies straight into the console stream (bare-metal ports: a UART or USB
#: buffer takes each piece as cheaply as one line); an OS port (unix) builds the line,
#: so that one reply is one write(2)
_STREAM_REPLIES = _IS_MICROPYTHON and sys.platform not in ("linux", "darwin", "win32", "freebsd")

try:  # compact JSON (no spaces): MicroPython 1.25 and CPython take separators=
    json.dumps([1, {"a": 1}], separators=(",", ":"))

    def _dumps(obj):
        return json.dumps(obj, separators=(",", ":"))

    def _dump(obj, stream):
        json.dump(obj, stream, separators=(",", ":"))
except TypeError:  # a port built without MICROPY_PY_JSON_SEPARATORS
    def _dumps(obj):
        return json.dumps(obj)

    def _dump(obj, stream):
        json.dump(obj, stream)


def _has_escape(line):
    """Whether a request line may hold a ``$hil`` escape (also spelled with \\u escapes)."""
    return b"hil" in line or b"\\u" in line


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


def _new_buffer(kind, size):
    if kind == "bytearray":
        return bytearray(size)
    if kind == "memoryview":
        return memoryview(bytearray(size))
    if kind == "bytes":
        return bytes(size)
    return memoryview(bytes(size))  # readonly_memoryview


class PortClock:
    """The host port's ``platform`` hook with clocks that read what they were set to
    (host hooks ``wall_clock_ms`` and ``monotonic_ms``): each stands still until set
    again, so a test can put the client exactly on a boundary. A clock not given, and
    the random bytes, stay the port's own (the binding uses the host's for any method
    the object lacks).
    """

    def __init__(self):
        self._ms = {}

    def set(self, name, ms):
        if type(ms) is not int or ms < 0:
            raise AgentError("%s must be an int >= 0, got %r" % (name, ms))
        if name in self._ms and name == "monotonic_ms" and ms < self._ms[name]:
            raise AgentError("monotonic_ms must not go back (%d after %d)" % (ms, self._ms[name]))
        self._ms[name] = ms
        clock = self._ms
        # an instance attribute: the binding looks the method up on the object
        setattr(self, "wall_ms" if name == "wall_clock_ms" else "monotonic_ms", lambda: clock[name])

    def has(self, name):
        return name in self._ms


class Agent:
    def __init__(self, stdin=None, stdout=None):
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self._out = getattr(self.stdout, "buffer", None)
        # replies go straight into the interpreter's own console stream (json.dump needs
        # a native stream); any other stdout gets whole lines
        self._stream = _STREAM_REPLIES and stdout is None
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
        self.port_clock = None
        self.tether_seq = 0
        self.tether_on = False
        self.tether_bare_status = False
        self.base_hook_calls = []
        self.running = True
        self._saved_transport = None
        self._ops = {}  # op name -> the agent's own op_ method, or None (an SDK method or unknown)

    # --- console I/O --------------------------------------------------------------

    def emit(self, obj):
        if self._stream:
            # MicroPython's stream writer takes str and bytes alike: half the time of
            # building, encoding and writing the line
            out = self._out if self._out is not None else self.stdout
            out.write(PREFIX)
            _dump(obj, out)
            out.write("\n")  # MicroPython's console is unbuffered: nothing to flush
            return
        if self._out is not None:
            self._out.write((PREFIX + _dumps(obj) + "\n").encode("utf-8"))
        else:
            self.stdout.write(PREFIX + _dumps(obj) + "\n")
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
            if kind not in ("bytearray", "memoryview", "bytes", "readonly_memoryview"):
                raise AgentError("unknown buffer type %r" % (kind,))
            try:
                buf = _new_buffer(kind, size)
            except MemoryError:
                # Arguments are decoded before the operation runs, so the previous
                # client and its buffer are still alive here; on a small MCU heap
                # that is the difference between fitting and not. Free what the
                # next init would free anyway, then try once more.
                self._forget_client()
                self.buffers = {}
                buf = None
                gc.collect()
                buf = _new_buffer(kind, size)
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

    def op_exports(self, names):
        """How the package ``honch`` exports each of ``names``: as an attribute, in
        ``__all__`` (None without one), through ``from honch import *`` (None where the
        port has no ``exec``), and a class's base class names."""
        honch = self._import_honch()
        listed = getattr(honch, "__all__", None)
        star = {}
        try:
            run = exec
        except NameError:  # a port built without exec
            star = None
        else:
            try:
                run("from honch import *", star)
            except Exception:  # e.g. __all__ names something the package lacks
                star = {}
        out = {}
        for name in names:
            obj = getattr(honch, name, None)
            bases = getattr(obj, "__bases__", None) if isinstance(obj, type) else None
            out[name] = {"attribute": obj is not None,
                         "all": None if listed is None else name in listed,
                         "star": None if star is None else name in star,
                         "bases": None if bases is None else [b.__name__ for b in bases]}
        return out

    def _client(self):
        if self.client is None:
            raise AgentError("no client on the device: call init first")
        return self.client

    def _reenter(self, op, where):
        """Call ``op`` on the client from inside a callback it is running; log the outcome."""
        try:
            getattr(self.client, op)()
            self.callback_log.append({"op": op, "ok": True, "from": where})
        except Exception as exc:
            entry = self.describe_exception(exc)
            entry["op"] = op
            entry["ok"] = False
            entry["from"] = where
            self.callback_log.append(entry)

    def connectivity_callback(self):
        self.callback_calls += 1
        op = self.reenter_op
        if op is not None:
            self.reenter_op = None
            self._reenter(op, "connectivity_callback")
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
        self.buffers = {}  # a named buffer lives for one test (C44), not the session
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
        self.port_clock = None

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
            elif key in ("wall_clock_ms", "monotonic_ms"):
                if self.port_clock is None:
                    self.port_clock = PortClock()
                self.port_clock.set(key, host_hooks[key])
                hooks["platform"] = self.port_clock
            elif key == "reenter_transport":
                hooks["transport"] = self._reentering_transport(host_hooks[key])
            elif key == "auto_properties":
                auto = host_hooks[key]  # already decoded with the other arguments
                hooks["auto_properties_callback"] = lambda: auto
            else:
                raise AgentError("unknown host hook %r (known: battery, state_path, crash_report, wall_clock_ms, "
                                 "monotonic_ms, auto_properties, reenter_transport)" % (key,))
        # the wrapper's internal constructor for host hooks (docs/sdk.md): capability host_hooks
        with_hooks = getattr(honch.Honch, "_with_port_hooks", None)
        if with_hooks is None:
            raise AgentError("this port has no host hooks (capability host_hooks)")
        return with_hooks(hooks, **config)

    def _reentering_transport(self, op):
        """The host port's own transport (honch_transport.post_chunk), which first calls
        ``op`` on the client once, from inside the request the client is making."""
        import honch_transport  # host port only

        pending = [op]

        def transport(*args, **kwargs):
            if pending:
                self._reenter(pending.pop(), "transport")
            return honch_transport.post_chunk(*args, **kwargs)
        return transport

    def op_set_wall_clock(self, ms):
        """Set the wall clock of a client made with the ``wall_clock_ms`` host hook."""
        self._port_clock("wall_clock_ms").set("wall_clock_ms", ms)

    def op_set_monotonic(self, ms):
        """Set the monotonic clock of a client made with the ``monotonic_ms`` host hook."""
        self._port_clock("monotonic_ms").set("monotonic_ms", ms)

    def _port_clock(self, name):
        if self.port_clock is None or not self.port_clock.has(name):
            raise AgentError("the client has no settable clock %s (host hook %s)" % (name, name))
        return self.port_clock

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
            if type(msg) is not dict or msg.get("tether") != seq:
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
        t = type(msg)
        return msg if t is list or t is dict else None

    def request(self, line):
        """A request line as ``[id, op, args, kwargs]`` (id None when the line has none), or
        None for a line that is not one (blank lines, late tether answers, noise)."""
        c = line[0] if line else 0
        if c == 123:  # "{": the older JSON form; also tether answers, which are no request
            msg = self._parse(line)
            if type(msg) is not dict or "op" not in msg:
                return None
            return [msg.get("id"), msg.get("op"), msg.get("args"), msg.get("kwargs")]
        rid = None
        parts = line.split(b" ", 1)
        if 48 <= c <= 57:  # a digit: "7 op ..." carries an id
            try:
                rid = int(parts[0])
            except ValueError:
                return None
            if len(parts) < 2:
                return None
            parts = parts[1].split(b" ", 1)
            c = parts[0][0] if parts[0] else 0
        if not (97 <= c <= 122 or c == 95):  # an op starts with a-z or "_"
            return None
        try:
            op = parts[0].decode()
        except UnicodeError:
            return None
        if len(parts) < 2:
            return [rid, op, None, None]
        data = self._parse(parts[1])
        if type(data) is list:
            return [rid, op, data, None]
        if type(data) is dict:
            return [rid, op, data.get("args"), data.get("kwargs")]
        return [rid, op, _MALFORMED, None]

    def handle(self, msg, escapes=True):
        """Run one request ``[id, op, args, kwargs]`` (args and kwargs may be None) and
        emit its reply. ``escapes=False``: the request line holds no ``$hil`` escape,
        so its values need no decoding."""
        rid, op, args, kwargs = msg
        try:
            if args is _MALFORMED:
                raise AgentError("the arguments of %r are not a JSON list or object" % (op,))
            if escapes:
                args = self.decode_value(args or [])
                kwargs = self.decode_value(kwargs or {})
            method = None
            if type(op) is str:
                try:
                    method = self._ops[op]
                except KeyError:
                    method = self._ops[op] = getattr(self, "op_" + op, None)
            if method is None:
                if op not in CLIENT_OPS:
                    raise AgentError("unknown op %r" % (op,))
                method = getattr(self._client(), op)
            if kwargs:
                result = method(*(args or ()), **kwargs)
            elif args:
                result = method(*args)
            else:
                result = method()
            reply = [rid] if result is None else [rid, encode_value(result)]
        except Exception as exc:
            reply = [rid, None, self.describe_exception(exc)]
        self.emit(reply)

    def serve(self):
        if hasattr(sys, "excepthook"):
            sys.excepthook = self._base_excepthook
        self.emit({"ready": True, "agent": AGENT_PROTOCOL, "implementation": sys.implementation.name})
        # MicroPython's stdin has no buffer of its own to bypass: its readline() straight
        # in the loop (read_line() serves the tether's waits, with their timeouts)
        readline = self._in.readline if self._raw is None else None
        request = self.request
        handle = self.handle
        while self.running:
            if readline is None:
                line = self.read_line()
                if line == b"":
                    break
            else:
                line = readline()
                if not line:
                    break
                if type(line) is str:
                    line = line.encode("utf-8")
                line = line.rstrip(b"\r\n")
            msg = request(line)
            if msg is not None:
                handle(msg, _has_escape(line))


#: request arguments that are not JSON (the agent answers with an AgentError)
_MALFORMED = object()

#: SDK methods that map one-to-one onto an op of the same name.
CLIENT_OPS = ("track", "identify", "set_property", "session_start", "session_end",
              "report_log_error", "install_error_hook", "uninstall_error_hook",
              "connectivity_changed", "connected", "disconnected", "tick", "flush", "reset",
              "shutdown", "queue_stats", "get_device_id", "last_error", "stream_id")


def main():
    Agent().serve()


if __name__ == "__main__":
    main()

"""``boards.toml``: the board inventory, parsed with tomllib and validated field by field.

Every error names the file, the board and the field. The file format is
documented in docs/boards.md and by the shipped ``boards.toml`` itself.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BOARDS_FILE = ROOT / "boards.toml"

KINDS = ("host", "unix", "qemu", "serial", "labgrid")
NETWORKS = ("host", "wifi", "tether")
#: reset methods: restart the process (host/unix), soft reset (Ctrl-D in the raw REPL),
#: a pulse on DTR / RTS / both (ESP32 auto-reset circuit), machine.reset(), QEMU restart
RESETS = ("restart", "soft", "dtr", "rts", "dtr+rts", "machine", "qemu-restart")
#: the reset methods each kind supports, the first one its default. On QEMU,
#: machine.reset() ends the emulator (semihosting exit) instead of rebooting it; labgrid's
#: exporter runs ser2net with modem lines ignored, so DTR/RTS do not reach the board.
RESETS_BY_KIND = {
    "host": ("restart",), "unix": ("restart",), "qemu": ("qemu-restart", "soft"),
    "serial": ("soft", "dtr", "rts", "dtr+rts", "machine"), "labgrid": ("soft", "machine"),
}
DEFAULT_RESET = {kind: resets[0] for kind, resets in RESETS_BY_KIND.items()}
#: how the agent gets onto a serial board: frozen in our firmware, or copied with mpremote
AGENT_SOURCES = ("frozen", "copy")
#: kinds whose agent is started in a MicroPython raw REPL over a serial link
RAW_REPL_KINDS = ("qemu", "serial", "labgrid")
#: every kind but host runs MicroPython (a unix-port binary or a raw REPL), so such a
#: board has the ``micropython`` tag whether or not its file declares it
MICROPYTHON_KINDS = ("unix",) + RAW_REPL_KINDS
#: the wrapper a board runs unless it names one: the host has no firmware to freeze into
DEFAULT_WRAPPER = {"host": "project", "unix": "frozen", "qemu": "frozen", "serial": "frozen", "labgrid": "frozen"}
#: a board's name: one safe path component (boards/<name>/ holds its logs), not an option
BOARD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: the labgrid coordinator when a board names none (labgrid's own default address)
DEFAULT_COORDINATOR = "127.0.0.1:20408"


class BoardsFileError(ValueError):
    """``boards.toml`` is malformed. ``errors`` holds every problem found, one line each,
    naming the file, the board and the field."""

    def __init__(self, errors):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


@dataclass
class BoardSpec:
    name: str
    kind: str
    network: str = "host"
    port: str | None = None
    baudrate: int = 115200
    firmware: str = "build"
    agent: str = "frozen"
    machine: str = "mps2-an385"
    args: list[str] = field(default_factory=list)
    capture_host: str | None = None
    capture_url: str | None = None
    reset: str = "restart"
    op_timeout: float = 10.0
    start_timeout: float = 30.0
    tags: tuple[str, ...] = ()
    enabled: bool = True
    device_model: str | None = None
    setup: str | None = None
    description: str = ""
    place: str | None = None
    place_tags: dict[str, str] = field(default_factory=dict)
    coordinator: str = DEFAULT_COORDINATOR
    acquire_timeout: float = 300.0
    #: the honch package the board runs (harness.sdk.wrappers): "frozen", "project",
    #: "honch-micropython==X.Y.Z" or a directory holding honch/
    wrapper: str = "frozen"
    #: what the port's honch_transport.post_chunk returns, so the tether answers alike:
    #: "status_and_retry_after" (contract 12) or a bare "status"
    tether_reply: str = "status_and_retry_after"
    #: the board's known deviations (harness/report/expectations.py), resolved against the boards file
    expectations: str | None = None
    #: where relative ``firmware`` and ``wrapper`` paths start: the directory of the boards
    #: file the board comes from (None: the checkout). Not a boards.toml field.
    base_dir: str | None = None

    @property
    def firmware_is_ours(self) -> bool:
        """``build`` or ``build:<target>``: a firmware this harness builds (agent frozen)."""
        return self.firmware == "build" or self.firmware.startswith("build:")

    @property
    def base(self) -> Path:
        """Where the board's relative paths start: its boards file's directory, else the checkout."""
        return Path(self.base_dir) if self.base_dir else ROOT

    def resolve(self, path: str) -> Path:
        """A path the board names (firmware, wrapper directory), relative ones from ``base``."""
        resolved = Path(path).expanduser()
        return resolved if resolved.is_absolute() else self.base / resolved

    @property
    def port_kind(self) -> str:
        """What the link is: ``subprocess``, ``pty``, ``tty``, ``rfc2217``, ``socket``, ``labgrid``."""
        if self.kind in ("host", "unix"):
            return "subprocess"
        if self.kind in ("qemu", "labgrid"):
            return "pty" if self.kind == "qemu" else "labgrid"
        scheme = self.port.split("://", 1)[0] if "://" in self.port else "tty"
        return scheme

    @property
    def where(self) -> str:
        """Where the board is, for listings and error lines."""
        if self.kind == "labgrid":
            target = self.place or "tags " + ",".join(f"{k}={v}" for k, v in self.place_tags.items())
            return f"labgrid {target} @ {self.coordinator}"
        return self.port or self.port_kind

    def capture_endpoint(self, capture_url: str) -> str:
        """The capture server's URL as this board reaches it."""
        if self.capture_url:
            return self.capture_url
        if self.capture_host:
            parts = urlsplit(capture_url)
            netloc = self.capture_host if ":" in self.capture_host or parts.port is None \
                else f"{self.capture_host}:{parts.port}"
            return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        return capture_url

    def has_tags(self, tags) -> bool:
        return set(tags) <= set(self.tags)


# --- field checks: each returns the problem with a value, or None ----------------------

def _one_of(choices):
    return lambda value: None if value in choices else f"{value!r} is not one of {', '.join(choices)}"


def _positive(value):
    return None if value > 0 else f"must be positive, got {value}"


def _strings(what):
    return lambda items: next((f"every {what} must be a non-empty string, got {item!r}"
                               for item in items if not isinstance(item, str) or not item), None)


def _string_values(table):
    return next((f"{key!r} must map to a string, got {value!r}"
                 for key, value in table.items() if not isinstance(value, str)), None)


def _http_url(value):
    parts = urlsplit(value)
    return None if parts.scheme in ("http", "https") and parts.hostname else f"{value!r} is not an http(s) URL with a host"


def _host_port(value):
    host, _, port = value.rpartition(":")
    return None if host and port.isdigit() else f"{value!r} is not HOST:PORT (e.g. {DEFAULT_COORDINATOR})"


def _wrapper_spec(value):
    from harness.sdk.wrappers import check_spec

    return check_spec(value)


def _qemu_machine(value):
    from harness.boards.qemu import MACHINES

    if value in MACHINES:
        return None
    close = difflib.get_close_matches(value, MACHINES, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (f"{value!r} is not a QEMU machine the harness knows ({hint}known: {', '.join(sorted(MACHINES))}; "
            f"harness/boards/qemu.py)")


#: pyserial URL schemes that reach a board over TCP: HOST:PORT is checked when the file is read
NETWORK_PORT_SCHEMES = ("rfc2217", "socket")
#: every pyserial URL scheme a serial board can be reached by (besides a tty path)
PORT_SCHEMES = NETWORK_PORT_SCHEMES + ("loop", "spy", "hwgrep", "alt")


def serial_port_problem(value):
    """A tty path (its existence is checked when the board is opened) or a pyserial URL;
    ``rfc2217://`` and ``socket://`` need a host and a port 1-65535."""
    if not value.strip():
        return "must not be empty"
    scheme, sep, _ = value.partition("://")
    if not sep or scheme not in NETWORK_PORT_SCHEMES:
        return None
    parts = urlsplit(value)
    digits = parts.netloc.rpartition(":")[2]
    port = int(digits) if ":" in parts.netloc and digits.isascii() and digits.isdigit() else None
    if not parts.hostname or port is None or not 1 <= port <= 65535:
        return f"{value!r} is not {scheme}://HOST:PORT with a port 1-65535 (e.g. {scheme}://lab-3:4001)"
    return None


TETHER_REPLIES = ("status_and_retry_after", "status")


def _non_empty(value):
    return None if value.strip() else "must not be empty"


NUMBER = (int, float)
ANY_KIND = KINDS
SERIAL_LINKED = ("serial", "qemu", "labgrid")


@dataclass(frozen=True)
class Field:
    """One ``boards.toml`` field: its TOML type, the kinds that have it, a value check,
    and whether ``[defaults]`` may set it."""
    type: type | tuple
    kinds: tuple[str, ...] = ANY_KIND
    check: object = None
    defaultable: bool = False


#: every field a board may have (a new field is one line here and one in BoardSpec)
FIELDS = {
    "kind": Field(str, check=_one_of(KINDS)),
    "network": Field(str, check=_one_of(NETWORKS)),
    "port": Field(str, ("serial",), serial_port_problem),
    "baudrate": Field(int, SERIAL_LINKED, _positive, defaultable=True),
    "firmware": Field(str, ("unix", "qemu", "serial", "labgrid"), _non_empty),
    "agent": Field(str, ("serial", "labgrid"), _one_of(AGENT_SOURCES)),
    "machine": Field(str, ("qemu",), _qemu_machine),
    "args": Field(list, ("host", "unix"), _strings("argument")),
    "capture_host": Field(str, check=_non_empty),
    "capture_url": Field(str, check=_http_url),
    "reset": Field(str, check=_one_of(RESETS)),
    "op_timeout": Field(NUMBER, check=_positive, defaultable=True),
    "start_timeout": Field(NUMBER, check=_positive, defaultable=True),
    "tags": Field(list, check=_strings("tag")),
    "enabled": Field(bool),
    "device_model": Field(str, check=_non_empty),
    "setup": Field(str, RAW_REPL_KINDS),
    "description": Field(str),
    "place": Field(str, ("labgrid",), _non_empty),
    "place_tags": Field(dict, ("labgrid",), _string_values),
    "coordinator": Field(str, ("labgrid",), _host_port, defaultable=True),
    "acquire_timeout": Field(NUMBER, ("labgrid",), _positive, defaultable=True),
    "wrapper": Field(str, check=_wrapper_spec),
    "tether_reply": Field(str, check=_one_of(TETHER_REPLIES)),
    "expectations": Field(str, check=_non_empty),
}


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return "a number"
    return {str: "a string", int: "an integer", list: "an array", bool: "a boolean", dict: "a table"}[t]


def _type_problem(expected, value) -> str | None:
    if isinstance(value, bool) and expected is not bool:
        return f"must be {_type_name(expected)}, not a boolean"
    if not isinstance(value, expected):
        return f"must be {_type_name(expected)}, not {type(value).__name__}"
    return None


def _unknown_field(key: str) -> str:
    close = difflib.get_close_matches(key, FIELDS, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(FIELDS))}"
    return f"unknown field ({hint})"


def _cross_field_problems(kind: str, merged: dict) -> list[tuple[str, str]]:
    """(field, problem) for what single values cannot show."""
    problems = []
    reset = merged.get("reset", DEFAULT_RESET[kind])
    allowed = RESETS_BY_KIND[kind]
    if reset in RESETS and reset not in allowed:
        problems.append(("reset", f"a {kind} board resets by {' or '.join(allowed)}, not {reset!r}"))
    if reset == "machine" and "emulated" in merged.get("tags", []):
        problems.append(("reset", "machine.reset() ends the emulator of an emulated board "
                                  "(tag 'emulated'); use reset = \"soft\""))
    if kind == "serial" and not merged.get("port"):
        problems.append(("port", "is required for a serial board (a tty path, "
                                 "rfc2217://host:port or socket://host:port)"))
    if kind == "labgrid" and bool(merged.get("place")) == bool(merged.get("place_tags")):
        problems.append(("place", "a labgrid board names a place or place_tags (a reservation "
                                  "by tags), exactly one of them"))
    if kind == "qemu" and merged.get("firmware") == "preinstalled":
        problems.append(("firmware", "a qemu board needs a firmware image: \"build\" or a path to an ELF"))
    if "tether_reply" in merged and merged.get("network", "host") != "tether":
        problems.append(("tether_reply", "describes the answers the tether relays; this board's "
                                         f"network is {merged.get('network', 'host')!r}, not \"tether\""))
    if kind == "host" and "micropython" in merged.get("tags", []):
        problems.append(("tags", "a host board runs CPython, not MicroPython: drop 'micropython'"))
    if merged.get("capture_url") and merged.get("capture_host"):
        problems.append(("capture_host", "give capture_host or capture_url, not both"))
    wrapper = merged.get("wrapper", DEFAULT_WRAPPER[kind])
    if wrapper != "frozen" and kind == "qemu":
        problems.append(("wrapper", "a qemu board has no filesystem to put a wrapper on: freeze it into the firmware"))
    if wrapper != "frozen" and kind in ("serial", "labgrid") and merged.get("agent", "frozen") != "copy":
        problems.append(("wrapper", "a wrapper other than \"frozen\" is copied onto the board: set agent = \"copy\""))
    if wrapper == "frozen" and kind == "host":
        problems.append(("wrapper", "a host board has no firmware to freeze a wrapper into: use \"project\", "
                                    "\"honch-micropython==X.Y.Z\" or a directory"))
    return problems


def _spec(name: str, table, defaults: dict, where: str) -> tuple[BoardSpec | None, list[str]]:
    """The board's spec and every problem with it (the spec is None when there is one)."""
    head = f"{where}: board {name!r}"
    if not isinstance(table, dict):
        return None, [f"{head} must be a table, not {type(table).__name__}"]
    errors = []

    def fail(field_name, message):
        failed.add(field_name)
        errors.append(f"{head}, field {field_name!r}: {message}")

    failed = set()
    kind = table.get("kind")
    if kind is None:
        fail("kind", f"is required (one of {', '.join(KINDS)})")
    merged = {key: value for key, value in defaults.items() if kind in FIELDS[key].kinds}
    merged.update(table)
    for key, value in merged.items():
        spec_field = FIELDS.get(key)
        if spec_field is None:
            fail(key, _unknown_field(key))
            continue
        problem = _type_problem(spec_field.type, value)
        if problem is None and spec_field.check is not None:
            problem = spec_field.check(value)
        if problem is None and kind in KINDS and kind not in spec_field.kinds:
            problem = f"only {' and '.join(spec_field.kinds)} boards have this field, not a {kind} board"
        if problem is not None:
            fail(key, problem)
    if kind not in KINDS:
        return None, errors
    for key, problem in _cross_field_problems(kind, merged):
        if key not in failed:  # one error per field: the value's own problem comes first
            fail(key, problem)
    if errors:
        return None, errors
    values = {key: value for key, value in merged.items() if key in FIELDS}
    values.setdefault("reset", DEFAULT_RESET[kind])
    values.setdefault("wrapper", DEFAULT_WRAPPER[kind])
    if values.get("expectations"):
        values["expectations"] = str(Path(where).parent / values["expectations"])
    values.setdefault("firmware", "build" if kind in ("unix", "qemu") else "preinstalled")
    values["tags"] = tuple(values.get("tags", ()))
    if kind in MICROPYTHON_KINDS and "micropython" not in values["tags"]:
        values["tags"] += ("micropython",)
    for key in ("op_timeout", "start_timeout", "acquire_timeout"):
        if key in values:
            values[key] = float(values[key])
    return BoardSpec(name=name, **values), []


def _defaults(data, where: str) -> tuple[dict, list[str]]:
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        return {}, [f"{where}: [defaults] must be a table"]
    allowed = sorted(k for k, f in FIELDS.items() if f.defaultable)
    errors = [f"{where}: [defaults], field {key!r}: only {', '.join(allowed)} have defaults"
              for key in defaults if key not in allowed]
    errors += [f"{where}: [defaults], field {key!r}: {problem}" for key, value in defaults.items()
               if key in allowed and (problem := _type_problem(FIELDS[key].type, value)
                                      or (FIELDS[key].check and FIELDS[key].check(value)))]
    return {k: v for k, v in defaults.items() if k in allowed}, errors


def parse_boards(text: str, where: str = "boards.toml") -> dict[str, BoardSpec]:
    """Every board of the inventory; every problem of the file at once in the error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BoardsFileError(f"{where}: not valid TOML: {exc}") from None
    errors = []
    unknown = set(data) - {"boards", "defaults"}
    if unknown:
        errors.append(f"{where}: unknown top-level key(s) {sorted(unknown)} (expected [defaults] and [boards.NAME])")
    defaults, problems = _defaults(data, where)
    errors += problems
    boards = data.get("boards")
    if not isinstance(boards, dict) or not boards:
        raise BoardsFileError(errors + [f"{where}: no boards: add at least one [boards.NAME] table"])
    specs = {}
    for name, table in boards.items():
        if not BOARD_NAME.fullmatch(name):
            errors.append(f"{where}: board {name!r}: not a board name: letters, digits, '.', '_' and '-', "
                          f"starting with a letter or digit (it names the board's log directory)")
            continue
        spec, problems = _spec(name, table, defaults, where)
        errors += problems
        if spec is not None:
            specs[name] = spec
    if errors:
        raise BoardsFileError(errors)
    return specs


def load_boards(path: str | Path | None = None) -> dict[str, BoardSpec]:
    """Read and validate the inventory (default: ``boards.toml`` of the checkout)."""
    path = Path(path) if path is not None else DEFAULT_BOARDS_FILE
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BoardsFileError(f"cannot read the board inventory {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BoardsFileError(not_utf8(path, data, exc)) from None
    specs = parse_boards(text, str(path))
    base = str(path.resolve().parent)
    for spec in specs.values():
        spec.base_dir = base
    return specs


def path_problems(spec: BoardSpec, where: str) -> list[str]:
    """What is wrong with the paths a board names (its firmware file, its wrapper
    directory), one line each naming the file, the board and the field. Checked for the
    boards a run selects, before anything starts: a boards file may describe boards of
    other hosts whose paths do not exist here."""
    from harness.sdk.wrappers import FROZEN, PROJECT, published_version

    head = f"{where}: board {spec.name!r}"
    problems = []
    if spec.kind in ("unix", "qemu") and not spec.firmware_is_ours:
        path = spec.resolve(spec.firmware)
        if not path.is_file():
            problems.append(f"{head}, field 'firmware': {path} is not a file")
        elif spec.kind == "unix" and not os.access(path, os.X_OK):
            problems.append(f"{head}, field 'firmware': {path} is not executable (a MicroPython unix-port binary)")
    wrapper = spec.wrapper
    if wrapper not in (FROZEN, PROJECT) and published_version(wrapper) is None:
        path = spec.resolve(wrapper)
        if not (path / "honch" / "__init__.py").is_file():
            problems.append(f"{head}, field 'wrapper': {path} holds no honch/__init__.py")
    return problems


def not_utf8(path, data: bytes, exc: UnicodeDecodeError) -> str:
    """The error line of a file that is not UTF-8 text: the file, the first bad byte and where it is."""
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return (f"{path}: not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} "
            f"(line {line}, column {column}); save the file as UTF-8")

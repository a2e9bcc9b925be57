"""``boards.toml``: the board inventory, parsed with tomllib and validated field by field.

Every error names the file, the board and the field. The file format is
documented in docs/boards.md and by the shipped ``boards.toml`` itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BOARDS_FILE = ROOT / "boards.toml"

KINDS = ("host", "unix", "qemu", "serial")
NETWORKS = ("host", "wifi", "tether")
#: reset methods: restart the process (host/unix), soft reset (Ctrl-D in the raw REPL),
#: a pulse on DTR / RTS / both (ESP32 auto-reset circuit), machine.reset(), QEMU restart
RESETS = ("restart", "soft", "dtr", "rts", "dtr+rts", "machine", "qemu-restart")
#: how the agent gets onto a serial board: frozen in our firmware, or copied with mpremote
AGENT_SOURCES = ("frozen", "copy")
DEFAULT_RESET = {"host": "restart", "unix": "restart", "qemu": "qemu-restart", "serial": "soft"}


class BoardsFileError(ValueError):
    """``boards.toml`` is malformed; the message names the board and the field."""


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
    #: the board's known deviations (harness/report/expectations.py), resolved against the boards file
    expectations: str | None = None

    @property
    def port_kind(self) -> str:
        """What the link is: ``subprocess``, ``pty``, ``tty``, ``rfc2217``, ``socket``."""
        if self.kind in ("host", "unix"):
            return "subprocess"
        if self.kind == "qemu":
            return "pty"
        scheme = self.port.split("://", 1)[0] if "://" in self.port else "tty"
        return scheme

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


_FIELDS = {
    "kind": str, "network": str, "port": str, "baudrate": int, "firmware": str, "agent": str,
    "machine": str, "args": list, "capture_host": str, "capture_url": str, "reset": str,
    "op_timeout": (int, float), "start_timeout": (int, float), "tags": list, "enabled": bool,
    "device_model": str, "setup": str, "description": str, "expectations": str,
}


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return "a number"
    return {str: "a string", int: "an integer", list: "an array", bool: "a boolean"}[t]


def _spec(name: str, table: dict, defaults: dict, where: str) -> BoardSpec:
    def fail(field_name: str, message: str):
        raise BoardsFileError(f"{where}: board {name!r}, field {field_name!r}: {message}")

    if not isinstance(table, dict):
        raise BoardsFileError(f"{where}: board {name!r} must be a table, not {type(table).__name__}")
    merged = dict(defaults)
    merged.update(table)
    for key, value in merged.items():
        expected = _FIELDS.get(key)
        if expected is None:
            fail(key, f"unknown field (known: {', '.join(sorted(_FIELDS))})")
        if isinstance(value, bool) and expected is not bool:
            fail(key, f"must be {_type_name(expected)}, not a boolean")
        if not isinstance(value, expected):
            fail(key, f"must be {_type_name(expected)}, not {type(value).__name__}")
    kind = merged.get("kind")
    if kind is None:
        fail("kind", f"is required (one of {', '.join(KINDS)})")
    if kind not in KINDS:
        fail("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    network = merged.get("network", "host")
    if network not in NETWORKS:
        fail("network", f"{network!r} is not one of {', '.join(NETWORKS)}")
    reset = merged.get("reset", DEFAULT_RESET[kind])
    if reset not in RESETS:
        fail("reset", f"{reset!r} is not one of {', '.join(RESETS)}")
    if kind in ("host", "unix") and reset != "restart":
        fail("reset", f"a {kind} board can only be restarted (reset = \"restart\")")
    if kind == "qemu" and reset not in ("qemu-restart", "soft"):
        # machine.reset() ends QEMU (semihosting exit) instead of rebooting it
        fail("reset", "a qemu board resets by qemu-restart or soft")
    if kind == "serial" and reset == "restart":
        fail("reset", "a serial board resets by soft, dtr, rts, dtr+rts or machine")
    port = merged.get("port")
    if kind == "serial":
        if not port:
            fail("port", "is required for a serial board (a tty path, rfc2217://host:port or socket://host:port)")
    elif port is not None:
        fail("port", f"only serial boards have a port; a {kind} board's link is created by the harness")
    if network == "tether" and kind == "host":
        pass  # allowed: exercises the tether without firmware
    baudrate = merged.get("baudrate", 115200)
    if baudrate <= 0:
        fail("baudrate", f"must be positive, got {baudrate}")
    agent = merged.get("agent", "frozen")
    if agent not in AGENT_SOURCES:
        fail("agent", f"{agent!r} is not one of {', '.join(AGENT_SOURCES)}")
    firmware = merged.get("firmware", "build" if kind in ("unix", "qemu") else "preinstalled")
    if kind == "serial" and firmware != "preinstalled" and not firmware:
        fail("firmware", "must be a path or \"preinstalled\"")
    if kind == "qemu" and firmware == "preinstalled":
        fail("firmware", "a qemu board needs a firmware image: \"build\" or a path to an ELF")
    for key in ("op_timeout", "start_timeout"):
        if key in merged and merged[key] <= 0:
            fail(key, f"must be a positive number of seconds, got {merged[key]}")
    tags = merged.get("tags", [])
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            fail("tags", f"every tag must be a non-empty string, got {tag!r}")
    args = merged.get("args", [])
    for arg in args:
        if not isinstance(arg, str):
            fail("args", f"every argument must be a string, got {arg!r}")
    capture_url = merged.get("capture_url")
    if capture_url is not None:
        parts = urlsplit(capture_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            fail("capture_url", f"{capture_url!r} is not an http(s) URL with a host")
    if capture_url and merged.get("capture_host"):
        fail("capture_host", "give capture_host or capture_url, not both")
    return BoardSpec(
        name=name, kind=kind, network=network, port=port, baudrate=baudrate, firmware=firmware,
        agent=agent, machine=merged.get("machine", "mps2-an385"), args=list(args),
        capture_host=merged.get("capture_host"), capture_url=capture_url, reset=reset,
        op_timeout=float(merged.get("op_timeout", 10.0)),
        start_timeout=float(merged.get("start_timeout", 30.0)), tags=tuple(tags),
        enabled=merged.get("enabled", True), device_model=merged.get("device_model"),
        setup=merged.get("setup"), description=merged.get("description", ""),
        expectations=str(Path(where).parent / merged["expectations"]) if merged.get("expectations") else None,
    )


def parse_boards(text: str, where: str = "boards.toml") -> dict[str, BoardSpec]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BoardsFileError(f"{where}: not valid TOML: {exc}") from None
    unknown = set(data) - {"boards", "defaults"}
    if unknown:
        raise BoardsFileError(f"{where}: unknown top-level key(s) {sorted(unknown)} (expected [defaults] and [boards.NAME])")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise BoardsFileError(f"{where}: [defaults] must be a table")
    for key in defaults:
        if key not in ("op_timeout", "start_timeout", "baudrate"):
            raise BoardsFileError(f"{where}: [defaults], field {key!r}: only op_timeout, start_timeout and baudrate have defaults")
    boards = data.get("boards")
    if not isinstance(boards, dict) or not boards:
        raise BoardsFileError(f"{where}: no boards: add at least one [boards.NAME] table")
    specs = {}
    for name, table in boards.items():
        if not name or any(c in name for c in "/\\ \t"):
            raise BoardsFileError(f"{where}: board {name!r}: a name must be non-empty, without slashes or spaces")
        specs[name] = _spec(name, table, defaults, where)
    return specs


def load_boards(path: str | Path | None = None) -> dict[str, BoardSpec]:
    """Read and validate the inventory (default: ``boards.toml`` of the checkout)."""
    path = Path(path) if path is not None else DEFAULT_BOARDS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BoardsFileError(f"cannot read the board inventory {path}: {exc.strerror}") from None
    return parse_boards(text, str(path))

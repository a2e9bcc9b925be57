"""Ad hoc boards: ``--firmware PATH`` (a unix board running that MicroPython binary) and
``--port URL`` (a serial board at that pyserial URL), without editing ``boards.toml``."""

from __future__ import annotations

import os
import re
from pathlib import Path

from harness.boards.inventory import PORT_SCHEMES, BoardSpec, serial_port_problem


class AdhocBoardError(ValueError):
    """An ad hoc board option is unusable; the message names the option and the value."""


def _name(prefix: str, value: str, taken) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", value).strip("-")[-40:] or "board"
    name = f"{prefix}-{stem}"
    n = 2
    while name in taken:
        name, n = f"{prefix}-{stem}-{n}", n + 1
    return name


def firmware_board(path: str, taken=(), expectations: str | None = None) -> BoardSpec:
    binary = Path(path).expanduser().resolve()
    if not binary.is_file():
        raise AdhocBoardError(f"--firmware {path}: no such file")
    if not os.access(binary, os.X_OK):
        raise AdhocBoardError(f"--firmware {path}: not executable (a MicroPython unix-port binary)")
    spec = BoardSpec(name=_name("firmware", binary.name, taken), kind="unix", firmware=str(binary),
                     args=["-X", "heapsize=1M"], tags=("micropython", "wall_clock"),
                     description=f"ad hoc unix board running {binary}")
    _set_expectations(spec, expectations)
    return spec


def port_board(url: str, taken=(), expectations: str | None = None) -> BoardSpec:
    if "://" in url:
        scheme = url.split("://", 1)[0]
        if scheme not in PORT_SCHEMES:
            raise AdhocBoardError(f"--port {url}: unknown scheme {scheme!r} "
                                  f"(a tty path or {', '.join(s + '://' for s in PORT_SCHEMES)})")
    elif not url.startswith("/"):
        raise AdhocBoardError(f"--port {url}: not a tty path (/dev/ttyUSB0) or a pyserial URL (rfc2217://host:port)")
    problem = serial_port_problem(url)
    if problem:
        raise AdhocBoardError(f"--port {url}: {problem}")
    # Stock firmware with _honch_core: the agent is copied over (honch is the board's own: a board
    # without one is reported as such when it starts); no network: the tether.
    spec = BoardSpec(name=_name("port", url.split("://")[-1], taken), kind="serial", port=url,
                     firmware="preinstalled", agent="copy", network="tether", reset="soft",
                     tags=("micropython", "tether"), description=f"ad hoc serial board at {url}")
    _set_expectations(spec, expectations)
    return spec


def _set_expectations(spec: BoardSpec, expectations: str | None) -> None:
    if expectations:
        spec.expectations = str(Path(expectations).expanduser().resolve())


def adhoc_boards(firmwares, ports, taken, expectations: str | None = None) -> list[BoardSpec]:
    """The ad hoc boards of the options, named so that they clash with no inventory board."""
    taken = set(taken)
    specs = []
    for path in firmwares or ():
        specs.append(firmware_board(path, taken, expectations))
        taken.add(specs[-1].name)
    for url in ports or ():
        specs.append(port_board(url, taken, expectations))
        taken.add(specs[-1].name)
    return specs

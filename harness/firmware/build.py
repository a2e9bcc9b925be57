"""MicroPython firmware with the SDK: the unix port and the emulated boards of the qemu port.

``ensure_firmware(target)`` returns the artifact under ``build/firmware/<target>/``,
building it first when it is missing or stale. A build is stale when its stamp
(a digest of the project's C and Python sources that go into the firmware, the
MicroPython source identity, the make variables and the compiler) differs from
the one recorded by the last successful build. Make itself rebuilds
incrementally; a change of source tree, make variables or compiler starts from a
clean object directory.

Targets:

* ``unix``: ports/unix, standard variant -> ``build/firmware/unix/micropython``
* ``qemu`` (MPS2_AN385, Cortex-M3), ``qemu-microbit`` (MICROBIT, Cortex-M0),
  ``qemu-sabrelite`` (SABRELITE, Cortex-A9), ``qemu-rv32`` (VIRT_RV32, RV32IMC):
  ports/qemu with the board's overlay ``boards/<BOARD>`` here ->
  ``build/firmware/<target>/firmware.elf``
* ``<qemu target>-no-usermod``: the same firmware without ``USER_C_MODULES``, the
  baseline of the footprint benchmark (bench/mp_footprint.py); not needed by the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from harness import REPO_ROOT
from harness.firmware.errors import FirmwareError, require_tool
from harness.firmware.source import MicroPythonSource, locate_source

FIRMWARE_ROOT = REPO_ROOT / "build" / "firmware"
USERMOD_DIR = REPO_ROOT / "usermod"
BOARDS_DIR = Path(__file__).resolve().parent / "boards"
#: At most two jobs: the machine's cores are shared (docs/firmware.md).
MAKE_JOBS = 2

#: Project files whose content goes into every firmware (directories are walked).
PROJECT_INPUTS = (
    "core/VERSION",
    "core/include",
    "core/src",
    "usermod",
    "honch",
    "harness/agent/honch_agent.py",
    "harness/firmware/build.py",
)
_IGNORED_PARTS = ("__pycache__",)
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp")

#: Variables of the calling environment that would leak into MicroPython's makefiles.
_MAKE_ENV_DROP = (
    "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "CFLAGS", "CPPFLAGS", "CXXFLAGS",
    "LDFLAGS", "CFLAGS_EXTRA", "LDFLAGS_EXTRA", "BUILD", "BOARD", "BOARD_DIR", "VARIANT",
    "VARIANT_DIR", "FROZEN_MANIFEST", "USER_C_MODULES", "CROSS_COMPILE", "PROG", "DEBUG",
)


@dataclass(frozen=True)
class Toolchain:
    """A cross compiler and the C library a port links, each with its Debian package."""

    prefix: str             # arm-none-eabi-: gcc, size, nm are prefix + tool
    package: str
    libc_package: str
    libc_probe: tuple[str, ...]  # compiler flags under which the C library must be found

    @property
    def compiler(self) -> str:
        return self.tool("gcc")

    def tool(self, name: str) -> str:
        return self.prefix + name


HOST = Toolchain("", "build-essential", "libc6-dev", ())
ARM = Toolchain("arm-none-eabi-", "gcc-arm-none-eabi", "libnewlib-arm-none-eabi",
                ("-mthumb", "-mcpu=cortex-m3", "-print-file-name=libc.a"))
RISCV = Toolchain("riscv64-unknown-elf-", "gcc-riscv64-unknown-elf", "picolibc-riscv64-unknown-elf",
                  ("-print-file-name=picolibc.specs",))


class Target:
    """One firmware the harness builds."""

    def __init__(self, name, port, artifact, toolchain: Toolchain, with_usermod, manifest, board=None,
                 wrapper=None):
        self.name = name
        self.port = port  # directory under ports/
        self.artifact = artifact  # file name inside the make BUILD directory
        self.toolchain = toolchain
        self.with_usermod = with_usermod
        self.manifest = manifest
        #: a published wrapper frozen instead of this project's honch/ (harness.sdk.wrappers)
        self.wrapper = wrapper
        self.board = board  # the qemu port's BOARD; its overlay is boards/<BOARD> here

    @property
    def compiler(self) -> str:
        return self.toolchain.compiler

    @property
    def board_dir(self) -> Path | None:
        return BOARDS_DIR / self.board if self.board else None

    @property
    def extra_inputs(self) -> tuple[Path, ...]:
        return (self.board_dir, BOARDS_DIR / "common") if self.board else ()

    @property
    def out_dir(self) -> Path:
        return FIRMWARE_ROOT / self.name

    @property
    def artifact_path(self) -> Path:
        return self.out_dir / self.artifact

    @property
    def obj_dir(self) -> Path:
        return self.out_dir / "obj"

    @property
    def stamp_path(self) -> Path:
        return self.out_dir / "stamp.json"

    @property
    def obj_key_path(self) -> Path:
        """The ``clean`` inputs the object directory was last built with."""
        return self.out_dir / "obj-key.json"

    @property
    def log_path(self) -> Path:
        return self.out_dir / "build.log"


_HIL_MANIFEST = USERMOD_DIR / "honch" / "manifest_hil.py"
#: The emulated boards: firmware target -> (the qemu port's BOARD, toolchain). Which
#: QEMU machine boots which target is harness/boards/qemu.py's MACHINES.
QEMU_BOARDS = {
    "qemu": ("MPS2_AN385", ARM),
    "qemu-microbit": ("MICROBIT", ARM),
    "qemu-sabrelite": ("SABRELITE", ARM),
    "qemu-rv32": ("VIRT_RV32", RISCV),
}
#: The suffix of a footprint baseline: the same board without USER_C_MODULES.
NO_USERMOD = "-no-usermod"


def _targets():
    yield Target("unix", "unix", "micropython", HOST, True, USERMOD_DIR / "honch" / "manifest_hil_unix.py")
    # What a port author may have: MicroPython with our _honch_core and nothing of the
    # SDK frozen; the harness supplies the agent, transport and wrapper.
    yield Target("unix-core-only", "unix", "micropython", HOST, True,
                 USERMOD_DIR / "honch" / "manifest_core_only_unix.py")
    # The published wrapper frozen over our user module.
    yield Target("unix-published-0.3.1", "unix", "micropython", HOST, True,
                 FIRMWARE_ROOT / "unix-published-0.3.1" / "manifest.py", wrapper="honch-micropython==0.3.1")
    for name, (board, toolchain) in QEMU_BOARDS.items():
        yield Target(name, "qemu", "firmware.elf", toolchain, True, _HIL_MANIFEST, board=board)
    for name, (board, toolchain) in QEMU_BOARDS.items():
        yield Target(name + NO_USERMOD, "qemu", "firmware.elf", toolchain, False, _HIL_MANIFEST, board=board)


TARGETS = {t.name: t for t in _targets()}
#: The targets a user builds (``honch-hil firmware build``); the baselines are the benchmark's.
PORTS = ("unix", *QEMU_BOARDS)

_PUBLISHED_MANIFEST = """# Generated by harness/firmware/build.py: the published wrapper {spec}
# (pinned by sha256 in harness/sdk/wrappers.py) frozen with the transport and the agent.
include("$(MPY_DIR)/extmod/asyncio")
package("honch", base_path={wrapper!r})
module("honch_transport.py", base_path={usermod!r})
module("honch_agent.py", base_path={agent!r})
"""


def _write_wrapper_manifest(t: Target) -> None:
    """The frozen manifest of a target that freezes a published wrapper."""
    from harness.sdk.wrappers import WrapperError, wrapper_dir

    try:
        wrapper = wrapper_dir(t.wrapper)
    except WrapperError as exc:
        raise FirmwareError("firmware %s: %s" % (t.name, exc)) from None
    text = _PUBLISHED_MANIFEST.format(spec=t.wrapper, wrapper=str(wrapper), usermod=str(USERMOD_DIR / "honch"),
                                      agent=str(REPO_ROOT / "harness" / "agent"))
    t.manifest.parent.mkdir(parents=True, exist_ok=True)
    if not t.manifest.is_file() or t.manifest.read_text() != text:
        t.manifest.write_text(text)


def target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise FirmwareError("unknown firmware %r: choose one of %s" % (name, ", ".join(TARGETS))) from None


# --- toolchain --------------------------------------------------------------------------

def _output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              check=False).stdout
    except OSError as exc:
        raise FirmwareError("cannot run %s: %s" % (cmd[0], exc)) from None


def check_toolchain(t: Target) -> str:
    """Raise FirmwareError naming the Debian package for anything missing; return the compiler's version line."""
    require_tool("make", "make")
    require_tool("python3", "python3")
    compiler = require_tool(t.compiler, t.toolchain.package)
    if t.port == "unix":
        require_tool("pkg-config", "pkg-config")
        if subprocess.run(["pkg-config", "--exists", "libffi"]).returncode != 0:
            raise FirmwareError("libffi not found by pkg-config (the unix port's ffi module needs it): "
                                "install the Debian package libffi-dev")
    else:
        libc = _output([compiler, *t.toolchain.libc_probe]).strip()
        if not os.path.isabs(libc):
            raise FirmwareError("%s has no C library for the %s firmware: install the Debian package %s"
                                % (t.compiler, t.name, t.toolchain.libc_package))
    return _output([compiler, "--version"]).splitlines()[0].strip()


def _mbedtls_usable(source: MicroPythonSource) -> bool:
    """Whether the unix port's ssl module can be built: with a bundled mbedTLS (a full
    checkout), or, for Debian's tree (patched to link the system library), with the
    system's mbedTLS 3 headers (build_info.h exists since mbedTLS 3.0)."""
    if (source.path / "lib" / "mbedtls" / "include" / "mbedtls" / "ssl.h").is_file():
        return True
    extmod = (source.path / "extmod" / "extmod.mk").read_text(errors="replace")
    if "-lmbedtls" not in extmod:
        return False
    probe = subprocess.run(["gcc", "-E", "-x", "c", "-", "-o", os.devnull], input="#include <mbedtls/build_info.h>\n",
                           text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return probe.returncode == 0


def make_variables(t: Target, source: MicroPythonSource) -> list[str]:
    """The make command-line variables of a build (their values go into the stamp)."""
    variables = ["BUILD=%s" % t.obj_dir, "FROZEN_MANIFEST=%s" % t.manifest]
    if t.with_usermod:
        variables.append("USER_C_MODULES=%s" % USERMOD_DIR)
    if t.port == "unix":
        variables += [
            "VARIANT=standard",
            # lib/berkeley-db-1.xx is not in Debian's tarball; the SDK does not need btree.
            "MICROPY_PY_BTREE=0",
            "MICROPY_PY_SSL=%d" % (1 if _mbedtls_usable(source) else 0),
        ]
    else:
        variables += ["BOARD=%s" % t.board, "BOARD_DIR=%s" % t.board_dir]
    return variables


# --- stamps -----------------------------------------------------------------------------

def _input_files(paths) -> list[Path]:
    files = []
    for entry in paths:
        path = entry if isinstance(entry, Path) else REPO_ROOT / entry
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED_PARTS)
                files.extend(Path(dirpath) / f for f in sorted(filenames) if not f.endswith(_IGNORED_SUFFIXES))
    return files


def _digest(paths) -> str:
    """sha256 over the names and contents of the files under ``paths``."""
    digest = hashlib.sha256()
    for file in _input_files(paths):
        digest.update(str(file.relative_to(REPO_ROOT) if file.is_relative_to(REPO_ROOT) else file).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def sources_digest(t: Target) -> str:
    """sha256 over the names and contents of every project file that goes into ``t``."""
    return _digest(PROJECT_INPUTS + tuple(t.extra_inputs) + ((t.manifest,) if t.wrapper else ()))


def stamp_for(t: Target, source: MicroPythonSource, variables: list[str], compiler_version: str) -> dict:
    # ``clean`` inputs make a previous object directory unusable; the project sources
    # only need make's incremental rebuild. A board overlay is a clean input: its
    # makefiles set compiler flags (the heap size, the CPU), and make does not
    # rebuild objects whose flags changed.
    return {
        "clean": {"micropython": source.identity, "make": variables, "compiler": compiler_version,
                  "board": _digest(t.extra_inputs) if t.extra_inputs else None},
        "sources": sources_digest(t),
    }


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --- building ---------------------------------------------------------------------------

def _make_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _MAKE_ENV_DROP}
    env["LC_ALL"] = "C"
    return env


def _run_make(args: list[str], cwd: Path, log_file, what: str, log_path: Path) -> None:
    log_file.write("\n$ %s (in %s)\n" % (" ".join(args), cwd))
    log_file.flush()
    result = subprocess.run(args, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, env=_make_env(),
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        log_file.flush()
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        raise FirmwareError("%s failed (exit %d); the last lines of %s:\n%s"
                            % (what, result.returncode, log_path, "\n".join(tail)))


def _build(t: Target, source: MicroPythonSource, variables: list[str], stamp: dict, clean: bool) -> None:
    t.out_dir.mkdir(parents=True, exist_ok=True)
    if t.stamp_path.exists():
        t.stamp_path.unlink()
    if clean and t.obj_dir.exists():
        shutil.rmtree(t.obj_dir)
    t.obj_key_path.write_text(json.dumps(stamp["clean"], indent=1) + "\n")
    # tools/makemanifest.py regenerates frozen_content.c only when a frozen .mpy is
    # newer; but the file also lists the qstrs the C code does not define, so a new
    # MP_QSTR_ in C would collide with a stale copy. Regenerating it takes a second.
    stale_frozen = t.obj_dir / "frozen_content.c"
    if stale_frozen.exists():
        stale_frozen.unlink()
    with open(t.log_path, "w") as log_file:
        # Built first and on its own: the port's makefile would build it with our
        # BUILD= (command-line variables reach sub-makes) in the wrong place.
        _run_make(["make", "-j%d" % MAKE_JOBS, "-C", "mpy-cross"], source.path, log_file,
                  "building mpy-cross", t.log_path)
        _run_make(["make", "-j%d" % MAKE_JOBS, "-C", "ports/%s" % t.port, *variables], source.path, log_file,
                  "building the %s firmware" % t.name, t.log_path)
    built = t.obj_dir / t.artifact
    if not built.is_file():
        raise FirmwareError("make succeeded but %s is missing (see %s)" % (built, t.log_path))
    staged = t.artifact_path.with_name(t.artifact + ".new")
    shutil.copy2(built, staged)
    os.replace(staged, t.artifact_path)


def _default_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_firmware(name: str, micropython_dir=None, force: bool = False, log=None) -> Path:
    """The firmware artifact of target ``name`` (one of ``TARGETS``), built first when missing or stale. ``micropython_dir`` (default ``$MICROPY_DIR``,
    then Debian's source package) is the MicroPython tree; ``force`` rebuilds from
    scratch. ``log`` receives progress lines (default: stderr)."""
    t = target(name)
    log = log or _default_log
    FIRMWARE_ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(FIRMWARE_ROOT / ".build.lock")):
        compiler_version = check_toolchain(t)
        if t.wrapper:
            _write_wrapper_manifest(t)
        source = locate_source(FIRMWARE_ROOT, micropython_dir, log=log)
        variables = make_variables(t, source)
        stamp = stamp_for(t, source, variables, compiler_version)
        if not force and _read_json(t.stamp_path) == stamp and t.artifact_path.is_file():
            return t.artifact_path
        clean = force or _read_json(t.obj_key_path) != stamp["clean"]
        log("building the %s firmware%s (log: %s)" % (t.name, " from scratch" if clean else "", t.log_path))
        started = time.monotonic()
        _build(t, source, variables, stamp, clean)
        t.stamp_path.write_text(json.dumps(stamp, indent=1) + "\n")
        log("built %s in %.1f s" % (t.artifact_path, time.monotonic() - started))
        return t.artifact_path


def firmware_path(name: str) -> Path:
    """Where the artifact of target ``name`` is (whether or not it was built)."""
    return target(name).artifact_path

"""Per-mutant builds of the host port.

A core mutant becomes a directory holding its own ``_honch_core`` extension: the
mutated source compiled with the flags ``setup.py`` uses (CPython's CFLAGS, ``-Wall
-Wextra -Werror``, the SDK version define), linked with the unmutated objects of
the other core sources and ``core/ports/host/mod_honch_core.c``. A wrapper mutant
becomes a directory holding a copy of ``honch/`` with the one file replaced. Either
directory goes first on ``PYTHONPATH``; the host board's agent subprocess inherits
the environment, so the agent imports the mutant.

A core mutant whose object code (the contents and relocations of its text and data
sections) equals the original's cannot change behaviour and is dropped.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path

from harness import REPO_ROOT
from harness.mutation.mutants import Mutant

HOST_PORT_SOURCE = "core/ports/host/mod_honch_core.c"
EXTENSION = "_honch_core"
#: what setup.py adds to CPython's flags
SETUP_FLAGS = ["-Wall", "-Wextra", "-Werror"]
CODE_SECTION = re.compile(r"^\.(text|data|rodata|bss)")


def sdk_version(root: Path = REPO_ROOT) -> str:
    return (root / "core" / "VERSION").read_text(encoding="utf-8").strip()  # the SDK's, not the harness's


def compile_flags(root: Path = REPO_ROOT, coverage: bool = False) -> list[str]:
    cflags = shlex.split(sysconfig.get_config_var("CFLAGS") or "")
    cflags += shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC")
    if coverage:  # line attribution needs the unoptimised build
        cflags = [f for f in cflags if not f.startswith("-O")] + ["-O0", "--coverage"]
    return cflags + SETUP_FLAGS + [
        f"-I{root / 'core' / 'include'}", f"-I{root / 'core' / 'src'}",
        f"-I{sysconfig.get_paths()['include']}",
        f'-DHONCH_SDK_VERSION="{sdk_version(root)}"',
    ]


def _cc() -> list[str]:
    return shlex.split(sysconfig.get_config_var("CC") or "cc")


def link_command(coverage: bool = False) -> list[str]:
    ld = shlex.split(sysconfig.get_config_var("LDSHARED") or "cc -shared")
    return ld + (["--coverage"] if coverage else [])


def extension_name() -> str:
    return EXTENSION + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")


class BuildFailed(RuntimeError):
    pass


def compile_object(source: Path, obj: Path, flags: list[str]) -> None:
    obj.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(_cc() + flags + ["-c", str(source), "-o", str(obj)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildFailed(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "compile failed")


def syntax_ok(source: Path, flags: list[str]) -> bool:
    """A cheap first filter: most regexp mutants of C do not even parse."""
    keep = [f for f in flags if not f.startswith(("-O", "-g"))]
    return subprocess.run(_cc() + keep + ["-fsyntax-only", str(source)], capture_output=True).returncode == 0


def code_fingerprint(obj: Path) -> str:
    """A hash of the object's code and data sections with their relocations (no debug info)."""
    headers = subprocess.run(["objdump", "-h", str(obj)], capture_output=True, text=True, check=True).stdout
    sections = []
    for line in headers.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit() and CODE_SECTION.match(parts[1]):
            sections.append(parts[1])
    args = ["objdump", "-s", "-r"] + [a for s in sections for a in ("-j", s)] + [str(obj)]
    dump = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    body = "\n".join(dump.splitlines()[2:])  # drop the line naming the file
    return hashlib.sha1(body.encode()).hexdigest()


def core_sources(root: Path = REPO_ROOT) -> list[Path]:
    return sorted((root / "core" / "src").glob("*.c")) + [root / HOST_PORT_SOURCE]


def link(objects: list[Path], out_dir: Path, coverage: bool = False) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / extension_name()
    proc = subprocess.run(link_command(coverage) + [str(o) for o in objects] + ["-o", str(target)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildFailed(f"link failed: {proc.stderr.strip()[-500:]}")
    return target


class CoreBuilder:
    """The unmutated objects, built once, and per-mutant extensions built against them."""

    def __init__(self, work: Path, root: Path = REPO_ROOT):
        self.root = root
        self.work = work
        self.flags = compile_flags(root)
        self.objects: dict[str, Path] = {}
        self.fingerprints: dict[str, str] = {}

    def prepare(self) -> Path:
        """Compile the original sources; returns the directory of the unmutated extension."""
        base = self.work / "base"
        for src in core_sources(self.root):
            rel = str(src.relative_to(self.root))
            obj = base / "obj" / (src.stem + ".o")
            compile_object(src, obj, self.flags)
            self.objects[rel] = obj
            self.fingerprints[rel] = code_fingerprint(obj)
        link(list(self.objects.values()), base / "ext")
        return base / "ext"

    def build(self, mutant: Mutant, out_dir: Path) -> str:
        """Build ``mutant`` into ``out_dir``: "built", "stillborn" (does not compile) or "identical"."""
        source = out_dir / Path(mutant.file).name
        source.write_text(mutant.text(), encoding="utf-8", errors="surrogateescape")
        if not syntax_ok(source, self.flags):
            return "stillborn"
        obj = out_dir / (Path(mutant.file).stem + ".o")
        try:
            compile_object(source, obj, self.flags)
        except BuildFailed:
            return "stillborn"
        if code_fingerprint(obj) == self.fingerprints[mutant.file]:
            return "identical"
        objects = [obj if rel == mutant.file else o for rel, o in self.objects.items()]
        link(objects, out_dir)
        obj.unlink()
        source.unlink()
        return "built"


def build_wrapper(mutant: Mutant, out_dir: Path, root: Path = REPO_ROOT) -> str:
    package = out_dir / "honch"
    shutil.copytree(root / "honch", package, ignore=shutil.ignore_patterns("__pycache__"))
    (out_dir / mutant.file).write_text(mutant.text(), encoding="utf-8")
    try:
        compile(mutant.text(), mutant.file, "exec")
    except SyntaxError:
        return "stillborn"
    return "built"

"""Build of the host port: the CPython extension ``_honch_core`` and ``honch_transport``.

Project metadata lives in pyproject.toml; this file only adds what it cannot
express: the C extension (the core's sources plus the host port, warnings as
errors, the SDK version from core/VERSION). ``honch_transport`` is found by
pyproject.toml's ``packages.find`` in core/ports/host/, beside its port.
"""

from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).resolve().parent
HOST_PORT = "core/ports/host"
SDK_VERSION = (ROOT / "core" / "VERSION").read_text(encoding="utf-8").strip()

core_sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "core" / "src").glob("*.c"))

honch_core = Extension(
    "_honch_core",
    sources=core_sources + [HOST_PORT + "/mod_honch_core.c"],
    include_dirs=["core/include"],
    define_macros=[("HONCH_SDK_VERSION", '"%s"' % SDK_VERSION)],
    extra_compile_args=["-Wall", "-Wextra", "-Werror"],
    depends=sorted(str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.h")),
)


setup(ext_modules=[honch_core])

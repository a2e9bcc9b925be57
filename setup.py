"""Build of the host port: the CPython extension ``_honch_core`` and ``honch_transport``.

Project metadata lives in pyproject.toml; this file only adds what it cannot
express: the C extension (the core's sources plus the host port, warnings as
errors, the SDK version from VERSION) and the ``honch_transport`` package,
whose source sits with the host port in core/ports/host/.
"""

from pathlib import Path

from setuptools import Extension, setup
from setuptools.dist import Distribution

ROOT = Path(__file__).resolve().parent
HOST_PORT = "core/ports/host"
SDK_VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()

core_sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "core" / "src").glob("*.c"))

honch_core = Extension(
    "_honch_core",
    sources=core_sources + [HOST_PORT + "/mod_honch_core.c"],
    include_dirs=["core/include"],
    define_macros=[("HONCH_SDK_VERSION", '"%s"' % SDK_VERSION)],
    extra_compile_args=["-Wall", "-Wextra", "-Werror"],
    depends=sorted(str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.h")),
)


class HostPortDistribution(Distribution):
    """Adds ``honch_transport`` after pyproject.toml's ``packages.find`` has been applied.

    setuptools applies pyproject.toml's package list over the one given to
    ``setup()``, so the extra package is appended once the config files are read.
    """

    def parse_config_files(self, *args, **kwargs):
        super().parse_config_files(*args, **kwargs)
        packages = list(self.packages or [])
        if "honch_transport" not in packages:
            packages.append("honch_transport")
        self.packages = packages
        self.package_dir = dict(self.package_dir or {}, honch_transport=HOST_PORT + "/honch_transport")


setup(distclass=HostPortDistribution, ext_modules=[honch_core])

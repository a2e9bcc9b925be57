"""Shared helpers of the C core's pytest wrappers: building with core/Makefile."""

import subprocess

from filelock import FileLock

from harness import REPO_ROOT

CORE = REPO_ROOT / "core"
BUILD = REPO_ROOT / "build" / "core"
SOURCES = sorted((CORE / "src").glob("*.c"))


def make(*targets: str) -> None:
    """Run core/Makefile (at most two jobs); fail with its output when it fails.
    A lock keeps pytest-xdist workers from building the same outputs at once."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with FileLock(str(BUILD / ".make.lock")):
        proc = subprocess.run(["make", "-s", "-j2", "-C", str(CORE), *targets],
                              capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"make {' '.join(targets)} failed:\n{proc.stdout}\n{proc.stderr}")

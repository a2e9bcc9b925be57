"""The one error type of firmware builds, and toolchain checks that name the fix."""

from __future__ import annotations

import shutil


class FirmwareError(RuntimeError):
    """A firmware could not be prepared; the message says what to do about it."""


def require_tool(program: str, debian_package: str) -> str:
    """The path of ``program``, or FirmwareError naming the Debian package that provides it."""
    path = shutil.which(program)
    if path is None:
        raise FirmwareError("%s not found: install the Debian package %s (apt-get install %s)"
                            % (program, debian_package, debian_package))
    return path

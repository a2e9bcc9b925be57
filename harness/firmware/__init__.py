"""Firmware builds: MicroPython with the SDK's user C module and frozen Python code.

``ensure_firmware(port) -> Path`` is the entry point (see ``build``); the
``honch-hil firmware`` subcommands live in ``cli``.
"""

from harness.firmware.build import PORTS, TARGETS, ensure_firmware, firmware_path
from harness.firmware.errors import FirmwareError

__all__ = ["PORTS", "TARGETS", "FirmwareError", "ensure_firmware", "firmware_path"]

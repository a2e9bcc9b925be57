"""Firmware builds: MicroPython with the SDK's user C module and frozen Python code.

``ensure_firmware(target) -> Path`` is the entry point (see ``build``); the
``honch-hil firmware`` subcommands live in ``cli``. How each image is booted in
QEMU is ``harness.boards.qemu``.
"""

from harness.firmware.build import PORTS, TARGETS, ensure_firmware, firmware_path
from harness.firmware.errors import FirmwareError

__all__ = ["PORTS", "TARGETS", "FirmwareError", "ensure_firmware", "firmware_path"]

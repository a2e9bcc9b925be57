"""Firmware builds: MicroPython with the SDK's user C module and frozen Python code.

``ensure_firmware(port) -> Path`` is the entry point (see ``build``); the
``honch-hil firmware`` subcommands live in ``cli``.
"""

from harness.firmware.build import PORTS, TARGETS, ensure_firmware, firmware_path
from harness.firmware.errors import FirmwareError
from harness.firmware.qemu import QEMU_MACHINE, qemu_argv

__all__ = ["PORTS", "QEMU_MACHINE", "TARGETS", "FirmwareError", "ensure_firmware", "firmware_path", "qemu_argv"]

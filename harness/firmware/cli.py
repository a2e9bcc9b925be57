"""``honch-hil firmware build PORT... | path PORT``."""

from __future__ import annotations

import sys

from harness.firmware.build import TARGETS, ensure_firmware, firmware_path
from harness.firmware.errors import FirmwareError


def register(subparsers) -> None:
    parser = subparsers.add_parser("firmware", help="build MicroPython firmware with the SDK",
                                   description="MicroPython firmware with the SDK's user C module and "
                                               "frozen honch, honch_transport and honch_agent.")
    commands = parser.add_subparsers(dest="firmware_command", metavar="COMMAND", required=True)
    targets = sorted(TARGETS)

    build = commands.add_parser("build", help="build (or reuse) firmware",
                                description="Build what is missing or stale; a build with nothing "
                                            "changed returns at once. qemu-no-usermod is the footprint "
                                            "benchmark's baseline.")
    build.add_argument("ports", nargs="+", choices=targets, metavar="PORT",
                       help="one of: %s" % ", ".join(targets))
    build.add_argument("--micropython", metavar="DIR", default=None,
                       help="MicroPython checkout to build from (default: $MICROPY_DIR, else "
                            "Debian's source package, downloaded into build/firmware/micropython)")
    build.add_argument("--force", action="store_true", help="rebuild from scratch")
    build.set_defaults(func=_build)

    path = commands.add_parser("path", help="print where a firmware artifact is",
                               description="Print the artifact's path; exit status 1 if it is not built.")
    path.add_argument("port", choices=targets, metavar="PORT", help="one of: %s" % ", ".join(targets))
    path.set_defaults(func=_path)


def _build(args) -> int:
    for port in args.ports:
        try:
            artifact = ensure_firmware(port, micropython_dir=args.micropython, force=args.force)
        except FirmwareError as exc:
            print("honch-hil firmware build %s: %s" % (port, exc), file=sys.stderr)
            return 1
        print("%s: %s" % (port, artifact))
    return 0


def _path(args) -> int:
    artifact = firmware_path(args.port)
    print(artifact)
    if not artifact.is_file():
        print("not built yet: run honch-hil firmware build %s" % args.port, file=sys.stderr)
        return 1
    return 0

"""``honch-hil``: the command line. Each subcommand lives beside the layer it drives."""

from __future__ import annotations

import argparse
import importlib
import sys

from harness import __version__
from harness.runner.exitcodes import INTERRUPTED

#: modules that contribute subcommands; each has ``register(subparsers)``, which adds
#: its parser(s) with ``set_defaults(func=...)``; ``func(args)`` returns the exit status.
COMMANDS = (
    "harness.capture.cli",
    "harness.boards.cli",
    "harness.firmware.cli",
    "harness.runner.cli",
    "harness.mutation.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="honch-hil", description=__doc__)
    parser.add_argument("--version", action="version", version=f"honch-hil {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

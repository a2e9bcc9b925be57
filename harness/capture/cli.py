"""``honch-hil serve``: the mock capture server in the foreground, for desk debugging.

Prints one line per request (time, status, tenant alias, request, frame, events
decoded, reason) and optionally writes every request as a JSON line to a
transcript. Project keys and the control token never appear in either.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

from harness import protocol as P

from .server import DEFAULT_READ_TIMEOUT, CaptureServer, is_loopback
from .tenants import DEFAULT_MAX_MEMORY, MIN_MAX_MEMORY

TOKEN_ENV = "HONCH_HIL_CONTROL_TOKEN"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the strict mock capture server in the foreground",
        description="Run the strict mock capture server until Ctrl-C. Devices POST to <prefix>/capture; "
                    "tests drive it through the control API under /_hil/.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; 0.0.0.0 for boards on the LAN, needs a token)")
    parser.add_argument("--port", type=_tcp_port, default=8080, help="TCP port 0-65535 (default 8080; 0 picks a free one)")
    parser.add_argument("--prefix", default="", help="path prefix of the capture endpoint (default: none)")
    parser.add_argument("--open", action="store_true",
                        help="create a tenant for any unknown project key instead of answering 401")
    parser.add_argument("--control-token", default=None, metavar="TOKEN",
                        help=f"require 'Authorization: Bearer TOKEN' on the control API (default: ${TOKEN_ENV})")
    parser.add_argument("--transcript", default=None, metavar="FILE",
                        help="append every request as one JSON line to FILE")
    parser.add_argument("--partial-ttl", type=_positive_seconds, default=float(P.PARTIAL_TTL_SECONDS),
                        metavar="SECONDS", help="lifetime of a partial message (default 86400)")
    parser.add_argument("--read-timeout", type=_positive_seconds, default=DEFAULT_READ_TIMEOUT, metavar="SECONDS",
                        help=f"deadline for a whole request to arrive (default {DEFAULT_READ_TIMEOUT:g})")
    parser.add_argument("--max-memory", type=_memory_size, default=DEFAULT_MAX_MEMORY, metavar="SIZE",
                        help="bound on what all tenants hold together: events, request logs, partials "
                             f"(default {DEFAULT_MAX_MEMORY >> 20}M; suffix K, M or G); the oldest data goes first")
    parser.add_argument("--quiet", action="store_true", help="do not print a line per request")
    parser.set_defaults(func=serve)


def _tcp_port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port: 0-65535 (0 picks a free one)")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def _memory_size(text: str) -> int:
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    number, unit = text[:-1], text[-1:].upper()
    if unit not in units or unit == "":
        number, unit = text, ""
    try:
        value = int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 256M") from None
    if value < MIN_MAX_MEMORY:
        raise argparse.ArgumentTypeError(f"{text!r} is below the minimum of {MIN_MAX_MEMORY >> 20}M")
    return value


def serve(args) -> int:
    token = args.control_token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(args.host) and not token:
        print(f"honch-hil serve: refusing to bind {args.host or 'all interfaces'} without a control token: "
              f"anyone on the network could drive the control API. Give --control-token or set {TOKEN_ENV}.",
              file=sys.stderr)
        return 2
    transcript = None
    if args.transcript:
        try:
            transcript = open(args.transcript, "a", encoding="utf-8")
        except OSError as exc:
            print(f"honch-hil serve: cannot open transcript {args.transcript}: {exc.strerror}", file=sys.stderr)
            return 2

    def observe(entry: dict) -> None:
        if transcript is not None:
            transcript.write(json.dumps({"wall": _now_iso(), **entry}, separators=(",", ":")) + "\n")
            transcript.flush()
        if not args.quiet:
            print(format_entry(entry), flush=True)

    try:
        server = CaptureServer(args.host, args.port, prefix=args.prefix, open_tenants=args.open,
                               control_token=token, partial_ttl=args.partial_ttl,
                               read_timeout=args.read_timeout, observer=None if args.quiet and transcript is None else observe, max_memory=args.max_memory)
    except ValueError as exc:
        print(f"honch-hil serve: {exc}", file=sys.stderr)
        return 2

    def ready() -> None:
        bound = args.host or "all interfaces"
        print(f"honch-hil capture server listening on {bound} port {server.port}: "
              f"devices POST {server.capture_url}, control API {server.url}/_hil/ "
              f"({'token required' if token else 'no token'}; "
              f"{'unknown keys create tenants' if args.open else 'unknown keys get 401'}). Ctrl-C stops.",
              flush=True)

    try:
        server.run(ready)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"honch-hil serve: cannot listen on {args.host} port {args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    finally:
        if transcript is not None:
            transcript.close()
    print("honch-hil capture server stopped", flush=True)
    return 0


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def format_entry(entry: dict) -> str:
    """One readable line for a request the server handled."""
    stamp = datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    status = entry.get("status") or "---"
    tenant = entry.get("tenant") or "-"
    parts = [stamp, f"{status:>3}", f"{tenant:<10}"]
    if entry.get("method"):
        parts.append(f"{entry['method']} {entry.get('path') or ''}".rstrip())
    frame = entry.get("frame")
    if frame:
        desc = f"{frame['kind']} id={frame['message_id']}"
        if frame.get("total_length") is not None:
            desc += f" total={frame['total_length']}"
        elif frame["kind"] in ("middle", "final"):
            desc += f" @{frame['offset']}"
        parts.append(desc)
    if entry.get("decoded") is not None:
        parts.append(f"{entry['decoded']} event{'s' if entry['decoded'] != 1 else ''} decoded")
    if entry.get("fault"):
        parts.append(f"fault={json.dumps(entry['fault'], separators=(',', ':'))}")
    if entry.get("reason"):
        parts.append(f"- {entry['reason']}")
    return "  ".join(parts)

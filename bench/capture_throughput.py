"""Throughput and latency of the mock capture server under simulated boards.

The server runs as ``honch-hil serve`` in its own process; this process is the
load generator: N concurrent boards on raw asyncio sockets, each sending one
valid single-frame request per new connection (``Connection: close``, as
devices do) and waiting for the answer before the next one. Every answer must
be 204 (the frame was decoded, validated and stored); anything else is counted
as an error. Prints requests/s, p50/p99 latency and the server's CPU time per
request (user + system, which does not depend on what else the machine runs).

    build/venv/bin/python bench/capture_throughput.py [--boards 1 16 64] [--seconds 5]

Target (issue 2): >= 1500 requests/s at N=16 with p99 < 25 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import protocol as P  # noqa: E402
from harness.capture import ControlClient  # noqa: E402

VECTOR = Path(__file__).resolve().parents[1] / "conformance/vectors/upstream/wire-v2/single-required-context.json"
KEY = "bench-key"


class _Exchange(asyncio.Protocol):
    """One request on one connection; resolves with the raw answer when the server closes."""

    def __init__(self, request: bytes, done: asyncio.Future):
        self.request = request
        self.done = done
        self.answer = bytearray()

    def connection_made(self, transport):
        transport.write(self.request)

    def data_received(self, data):
        self.answer += data

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(bytes(self.answer))


async def board(port: int, request: bytes, deadline: float, latencies: list, errors: list):
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        start = time.perf_counter()
        done = loop.create_future()
        try:
            await loop.create_connection(lambda: _Exchange(request, done), "127.0.0.1", port)
            answer = await done
        except OSError as exc:
            errors.append(type(exc).__name__)
            continue
        latencies.append(time.perf_counter() - start)
        if not answer.startswith(b"HTTP/1.1 204 "):
            errors.append(answer[:40])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(port: int, server_pid: int, request: bytes, boards: int, seconds: float) -> dict:
    loop = asyncio.get_running_loop()
    # warm-up, not counted
    await asyncio.gather(*(board(port, request, loop.time() + 0.3, [], []) for _ in range(boards)))
    latencies: list[float] = []
    errors: list = []
    cpu_before = cpu_seconds(server_pid)
    start = loop.time()
    await asyncio.gather(*(board(port, request, start + seconds, latencies, errors) for _ in range(boards)))
    elapsed = loop.time() - start
    server_cpu = cpu_seconds(server_pid) - cpu_before
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {"boards": boards, "requests": len(latencies), "errors": len(errors),
            "rps": len(latencies) / elapsed, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "server_cpu_us": server_cpu / max(1, len(latencies)) * 1e6}


def start_server() -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", "0", "--quiet"],
                               stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    banner = process.stdout.readline()
    match = re.search(r"port (\d+)", banner)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {banner!r}")
    return process, int(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boards", type=int, nargs="+", default=[1, 16, 64], help="concurrent boards per run")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured duration per run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()

    frame = bytes.fromhex(json.loads(VECTOR.read_text())["frames"][0]["hex"])
    process, port = start_server()
    try:
        ControlClient(f"http://127.0.0.1:{port}").create_tenant(KEY)
        request = (f"POST {P.CAPTURE_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {P.CONTENT_TYPE}\r\n"
                   f"Content-Length: {len(frame)}\r\n{P.HEADER_PROJECT_KEY}: {KEY}\r\n"
                   f"{P.HEADER_STREAM_ID}: 1a2b3c4d\r\nConnection: close\r\n\r\n").encode() + frame
        results = [asyncio.run(measure(port, process.pid, request, n, args.seconds)) for n in args.boards]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()

    print(f"mock capture server, {len(frame)}-byte single-frame requests, new connection each, "
          f"{args.seconds:g} s per run")
    print(f"{'boards':>6} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'server CPU/req':>15} {'errors':>6}")
    for r in results:
        print(f"{r['boards']:>6} {r['requests']:>9} {r['rps']:>8.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
              f"{r['server_cpu_us']:>12.0f} us {r['errors']:>6}")
    if args.json:
        print(json.dumps(results))
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

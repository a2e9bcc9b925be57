"""Throughput and latency of the mock capture server under simulated boards.

The server runs as ``honch-hil serve`` in its own process; this process is the
load generator: N concurrent boards on raw asyncio sockets, each sending one
valid single-frame request per new connection (``Connection: close``, as
devices do) and waiting for the answer before the next one. Every answer must
be 204 (the frame was decoded, validated and stored); anything else is counted
as an error. Prints requests/s, p50/p99 latency and the server's CPU time per
request (user + system, which does not depend on what else the machine runs).

    build/venv/bin/python bench/capture_throughput.py [--boards 1 16 64] [--seconds 5]

The same load also runs, in the same invocation, against a bare asyncio server in its
own process (``--bare``: reads the head and the Content-Length body, answers 204,
closes; no checks; on ``loop.create_server``) and the ratios are printed: that is the
floor stock asyncio and the kernel set. The mock serves on its own thinner socket
layer (``harness/capture/sockets.py``), so the ratio is the checks' cost less what
that layer saves (docs/capture.md, Performance, gives both). Runs alternate between
the two servers so that both see the same machine load.

Targets: >= 1500 requests/s at N=16 with p99 < 25 ms on a 2-core machine (issue 2);
CPU per request <= 1.5x the bare loop and request rate >= 0.8x at N=16 (issue 13).
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


class _Bare(asyncio.Protocol):
    """The reference: read a head and its Content-Length body, answer 204, close."""

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""
        self.need = None

    def data_received(self, data):
        self.buffer += data
        if self.need is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", self.buffer[:end])
            self.need = end + 4 + (int(length.group(1)) if length else 0)
        if len(self.buffer) >= self.need:
            self.transport.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            self.transport.close()


async def serve_bare() -> None:
    server = await asyncio.get_running_loop().create_server(_Bare, "127.0.0.1", 0, backlog=1024)
    print(f"bare server on port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def start_server(bare: bool = False) -> tuple[subprocess.Popen, int]:
    command = [sys.executable, __file__, "--bare"] if bare else \
        [sys.executable, "-m", "harness.cli", "serve", "--port", "0", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    banner = process.stdout.readline()
    match = re.search(r"port (\d+)", banner)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {banner!r}")
    return process, int(match.group(1))


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.stdout.close()


def request_for(port: int, frame: bytes) -> bytes:
    return (f"POST {P.CAPTURE_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {P.CONTENT_TYPE}\r\n"
            f"Content-Length: {len(frame)}\r\n{P.HEADER_PROJECT_KEY}: {KEY}\r\n"
            f"{P.HEADER_STREAM_ID}: 1a2b3c4d\r\nConnection: close\r\n\r\n").encode() + frame


def print_table(title: str, results: list[dict]) -> None:
    print(title)
    print(f"{'boards':>6} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'server CPU/req':>15} {'errors':>6}")
    for r in results:
        print(f"{r['boards']:>6} {r['requests']:>9} {r['rps']:>8.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
              f"{r['server_cpu_us']:>12.0f} us {r['errors']:>6}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--boards", type=int, nargs="+", default=[1, 16, 64], help="concurrent boards per run")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured duration per run")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)  # the reference server itself
    args = parser.parse_args()
    if args.bare:
        try:
            asyncio.run(serve_bare())
        except KeyboardInterrupt:
            pass
        return 0

    frame = bytes.fromhex(json.loads(VECTOR.read_text())["frames"][0]["hex"])
    mock, mock_port = start_server()
    try:
        bare, bare_port = start_server(bare=True)
    except BaseException:
        stop_server(mock)
        raise
    try:
        ControlClient(f"http://127.0.0.1:{mock_port}").create_tenant(KEY)
        results, reference = [], []
        for n in args.boards:
            results.append(asyncio.run(measure(mock_port, mock.pid, request_for(mock_port, frame), n, args.seconds)))
            reference.append(asyncio.run(measure(bare_port, bare.pid, request_for(bare_port, frame), n, args.seconds)))
    finally:
        stop_server(mock)
        stop_server(bare)

    print(f"{len(frame)}-byte single-frame requests, new connection each, {args.seconds:g} s per run, "
          f"runs alternating between the servers")
    print_table("mock capture server (every check, stored, logged)", results)
    print_table("bare asyncio server (reads head and body, answers 204)", reference)
    print("ratios mock / bare")
    print(f"{'boards':>6} {'CPU/req':>8} {'req/s':>7} {'p99':>6}")
    for r, b in zip(results, reference):
        print(f"{r['boards']:>6} {r['server_cpu_us'] / b['server_cpu_us']:>7.2f}x {r['rps'] / b['rps']:>6.2f}x "
              f"{r['p99_ms'] / b['p99_ms']:>5.2f}x")
    if args.json:
        print(json.dumps({"mock": results, "bare": reference}))
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

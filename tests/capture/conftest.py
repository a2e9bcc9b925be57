"""Fixtures of the capture server tests: a fresh server per test, its control client
and a tenant whose key is the helpers' default ``test-key``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from harness.capture import CaptureServer, ControlClient

TEST_KEY = "test-key"


@pytest.fixture
def server():
    with CaptureServer() as running:
        yield running


@pytest.fixture
def control(server):
    with ControlClient(server.url) as client:
        yield client


@pytest.fixture
def tenant(control):
    return control.create_tenant(TEST_KEY)


class Served:
    def __init__(self, process: subprocess.Popen, port: int, banner: str):
        self.process = process
        self.banner = banner
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def interrupt(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err


@pytest.fixture
def serve():
    """Start ``honch-hil serve`` with extra arguments; every process is killed at teardown."""
    started: list[subprocess.Popen] = []

    def start(*args: str, env: dict | None = None) -> Served:
        process = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        started.append(process)
        line = process.stdout.readline()
        match = re.search(r"port (\d+)", line)
        if not match:
            process.kill()
            raise AssertionError(f"serve did not start: {line!r} {process.stderr.read()!r}")
        return Served(process, int(match.group(1)), line)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            stream.close()

"""Fixtures of the capture server tests: a fresh server per test, its control client
and a tenant whose key is the helpers' default ``test-key``."""

from __future__ import annotations

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

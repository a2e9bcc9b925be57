"""Fixtures of the host SDK tests.

``make_client(capture, port_hooks=None, **config)`` builds a ``honch.Honch``
pointed at the capture tenant (see ``host_sdk_support.base_config``) and shuts
every client down (offline, no last upload) after the test, so none outlives
its test even when it fails.
"""

import pytest

import honch
from host_sdk_support import FakePlatform, base_config


@pytest.fixture
def make_client():
    clients = []

    def make(capture, port_hooks=None, **overrides):
        config = base_config(capture, **overrides)
        if port_hooks:
            client = honch.Honch._with_port_hooks(port_hooks, **config)
        else:
            client = honch.Honch(**config)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client._uninstall_error_hook()
        # Close without a last upload: the test is over and its tenant may carry faults.
        try:
            client._core.shutdown(False)
        except Exception:
            pass


@pytest.fixture
def fake_platform():
    return FakePlatform()

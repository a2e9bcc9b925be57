"""Plumbing for the deliberately broken host ports in this directory.

Each ``tests/mutants/<name>/sitecustomize.py`` breaks one behaviour of the host
port at interpreter start-up, without touching the SDK's sources: it wraps the
transport (``honch_transport.post_chunk``, which ``_honch_core`` looks up on every
request), the core's client class (``_honch_core.Client``, which ``honch`` looks up
on every construction) or a function of the ``honch`` wrapper.
``tests/test_suite_catches_bugs.py`` puts one mutant's directory first on
``PYTHONPATH`` of a sub-run of the conformance suite; the host board's agent
subprocess inherits it, so the agent drives the broken port.
"""

import os
import sys

#: set in every process a mutant is active in, so a run can prove it was applied
ACTIVE_ENV = "HONCH_HIL_MUTANT"


def activate(name):
    os.environ[ACTIVE_ENV] = name
    sys.stderr.write("honch-hil: mutant %r active in pid %d\n" % (name, os.getpid()))


def wrap_post_chunk(wrapper):
    """``wrapper(post_chunk, url, body, headers, timeout_ms)`` replaces the transport."""
    import honch_transport

    original = honch_transport.post_chunk

    def post_chunk(url, body, headers, timeout_ms):
        return wrapper(original, url, body, headers, timeout_ms)

    honch_transport.post_chunk = post_chunk


def header_pairs(headers):
    return list(headers.items()) if isinstance(headers, dict) else [tuple(p) for p in headers]


def is_final_frame(body):
    """Single (0x02) and final (0x22) frames complete a message (W5.1)."""
    return bytes(body[:1]) in (b"\x02", b"\x22")


class ClientProxy:
    """Stands in for a ``_honch_core.Client``; subclasses override single methods."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)


def replace_client(make):
    """``make(original_class, config) -> client``: construction goes through it."""
    import _honch_core

    original = _honch_core.Client

    def Client(config):
        return make(original, config)

    _honch_core.Client = Client

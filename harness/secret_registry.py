"""The secrets of this process: every project key and control token the harness has
handed to a capture server, in the order they were first seen.

The capture client (``harness.capture.client.Tenant``) and the ``capture_control``
fixture register what they use; the report layer (``harness.report.redaction``)
removes everything registered here from every test report. The registry is a leaf
that both import, so the capture layer does not depend on the report layer.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_ordered: list[str] = []
_known: set[str] = set()


def register(secret: str | None) -> None:
    """Never show ``secret`` in any output of this process (empty or non-text: ignored)."""
    if not isinstance(secret, str) or not secret:
        return
    with _lock:
        if secret not in _known:
            _known.add(secret)
            _ordered.append(secret)


def since(count: int) -> list[str]:
    """The secrets registered after the first ``count`` (what a reader has not seen yet)."""
    with _lock:
        return _ordered[count:]


def registered() -> tuple[str, ...]:
    with _lock:
        return tuple(_ordered)

"""Timeouts, dropped connections and lost responses (C25, C27, C37; W6 at-least-once)."""

from __future__ import annotations

import socket
import urllib.parse

import pytest

from harness import protocol as P
from harness.conformance_support import (
    attempts, delivered_messages, drain_boot, mandated_wait, names, quiet, raises, sized_event, uploads,
    user_events,
)

TIMEOUT_MS = 300
TRANSPORT = P.STATUS["TRANSPORT"]
TIMEOUT = P.STATUS["TIMEOUT"]


@pytest.mark.clause("C25", "C37")
def test_an_answer_later_than_the_transport_timeout_raises_timeout_and_is_retried(device, capture, request):
    quiet(device, transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)
    device.track("slow")
    capture.add_faults({"delay_ms": TIMEOUT_MS + 700, "close": True})
    mandated_wait(request, TIMEOUT_MS, "transport_timeout_ms")
    with raises("TransportError", status=TIMEOUT) as err:
        device.flush()
    assert err.name == "TransportError" and err.message == P.STATUSES[TIMEOUT][1], (err.name, err.message)
    assert device.queue_stats()["queued_events"] == 1, "a timeout must keep the events"
    device.flush()
    assert names(user_events(capture.events())) == ["slow"]


@pytest.mark.clause("C25")
def test_408_raises_timeout(device, capture):
    quiet(device)
    drain_boot(device, capture)
    device.track("e")
    capture.add_faults({"status": 408})
    with raises("TransportError", status=TIMEOUT):
        device.flush()
    assert device.queue_stats()["queued_events"] == 1
    device.flush()
    assert names(user_events(capture.events())) == ["e"]


@pytest.mark.clause("C25")
def test_a_connection_closed_without_an_answer_raises_transport(device, capture):
    quiet(device)
    drain_boot(device, capture)
    device.track("e")
    capture.add_faults({"close": True})
    with raises("TransportError", status=TRANSPORT) as err:
        device.flush()
    assert err.name == "TransportError"
    assert device.queue_stats()["queued_events"] == 1
    device.flush()
    assert names(user_events(capture.events())) == ["e"]


def _refusing_endpoint(endpoint_url: str) -> str:
    """The endpoint with a port on the same host that nothing listens on."""
    url = urllib.parse.urlsplit(endpoint_url)
    probe = socket.socket()
    probe.bind(("127.0.0.1" if url.hostname in ("127.0.0.1", "localhost") else "", 0))
    port = probe.getsockname()[1]
    probe.close()  # closed, not listening: connections are refused
    return f"{url.scheme}://{url.hostname}:{port}"


@pytest.mark.clause("C25")
def test_a_refused_connection_raises_transport_and_keeps_the_events(device, capture):
    quiet(device, endpoint_url=_refusing_endpoint(device.config["endpoint_url"]), transport_timeout_ms=2000)
    with raises("TransportError", status=TRANSPORT) as err:
        device.flush()
    assert err.name == "TransportError"
    assert device.queue_stats()["queued_events"] == 1
    assert uploads(capture) == []


@pytest.mark.clause("C27", "C38")
def test_a_lost_response_yields_at_most_one_duplicate_and_no_loss(device, capture):
    quiet(device, batch_size=3)
    drain_boot(device, capture)
    for i in range(5):
        device.track("e", {"i": i})
    capture.add_faults({"lose_response": True})
    with raises("TransportError", status=TRANSPORT):
        device.flush()  # stored, but the device never heard so
    device.flush()
    device.flush()
    got = [e["properties"]["i"] for e in user_events(capture.events())]
    assert got == [0, 1, 2, 0, 1, 2, 3, 4], (
        f"the unanswered message is stored twice (same stream and message id), nothing is lost: {got}")
    stored = attempts(uploads(capture))[1:]
    assert stored[0].body == stored[1].body, "the resend after a lost response must be byte-identical"


@pytest.mark.clause("C27", "C5")
def test_a_lost_response_on_a_final_frame_restarts_the_message_once(device, capture):
    quiet(device)
    drain_boot(device, capture)
    boot = delivered_messages(capture)[0][1]
    device.track("big", sized_event(boot, "big", P.SDK_LIMITS.message - 2))
    capture.add_faults({"delay_ms": 1}, {"lose_response": True})
    with raises("TransportError"):
        device.flush()
    device.flush()
    ups = uploads(capture)[1:]
    assert [u.kind for u in ups] == ["init", "final", "init", "final"], ups
    assert ups[0].body == ups[2].body and ups[1].body == ups[3].body
    assert names(user_events(capture.events())) == ["big", "big"], "stored twice at most, never lost"


@pytest.mark.clause("C25", "C27")
def test_a_stored_request_answered_after_the_timeout_is_resent_once(device, capture, request):
    quiet(device, transport_timeout_ms=TIMEOUT_MS)
    drain_boot(device, capture)
    device.track("late")
    # processed and stored, but only after the device gave up waiting
    late = TIMEOUT_MS + 100
    capture.add_faults({"delay_ms": late})
    mandated_wait(request, late, "the server answers after transport_timeout_ms")
    with raises("TransportError", status=TIMEOUT):
        device.flush()
    capture.wait_for_events(2, timeout=5)  # $device_boot and the late store
    device.flush()
    assert names(user_events(capture.events())) == ["late", "late"]
    assert device.queue_stats()["queued_events"] == 0

"""ControlClient / Tenant unit tests against a mocked control API (``responses``)."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from harness.capture import ControlClient, ControlError
from harness.capture import client as client_module

BASE = "http://lab.example:8080"
KEY = "secret/key?1"
TENANT_URL = f"{BASE}/_hil/tenants/secret%2Fkey%3F1"


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def test_reset_puts_options_to_the_percent_encoded_key(mocked):
    mocked.put(TENANT_URL, json={"alias": "k-12345678", "created": True}, status=201)
    tenant = ControlClient(BASE).tenant(KEY)
    answer = tenant.reset(binary_properties=True)
    assert answer["created"] is True
    assert tenant.alias == "k-12345678"
    assert json.loads(mocked.calls[0].request.body) == {"binary_properties": True}


def test_token_is_sent_as_bearer(mocked):
    mocked.get(f"{BASE}/_hil/health", json={"status": "ok", "capture_path": "/capture"})
    ControlClient(BASE, token="tok").health()
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer tok"


def test_no_token_no_authorization_header(mocked):
    mocked.get(f"{BASE}/_hil/health", json={"status": "ok"})
    ControlClient(BASE).health()
    assert "Authorization" not in mocked.calls[0].request.headers


def test_refusal_becomes_control_error_without_the_key(mocked):
    mocked.get(f"{TENANT_URL}/events", json={"error": "not_found", "reason": "no such tenant"}, status=404)
    with pytest.raises(ControlError) as refused:
        ControlClient(BASE).tenant(KEY).events()
    assert (refused.value.status, refused.value.reason) == (404, "no such tenant")
    assert KEY not in str(refused.value) and "secret" not in str(refused.value)
    assert "/_hil/tenants/<key>/events" in str(refused.value)


def test_unreachable_server_becomes_control_error_without_the_key(mocked):
    mocked.get(f"{TENANT_URL}/events", body=requests.ConnectionError(f"cannot reach {TENANT_URL}"))
    with pytest.raises(ControlError) as refused:
        ControlClient(BASE).tenant(KEY).events()
    assert refused.value.status == 0
    assert "secret" not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_error_without_json_body_uses_the_http_reason(mocked):
    mocked.get(f"{BASE}/_hil/health", body="oops", status=502)
    with pytest.raises(ControlError) as refused:
        ControlClient(BASE).health()
    assert refused.value.status == 502 and refused.value.reason == "Bad Gateway"


def test_add_faults_posts_a_faults_list(mocked):
    mocked.post(f"{TENANT_URL}/faults", json={"pending": [{"status": 503}, {"close": True}]})
    pending = ControlClient(BASE).tenant(KEY).add_faults({"status": 503}, {"close": True})
    assert json.loads(mocked.calls[0].request.body) == {"faults": [{"status": 503}, {"close": True}]}
    assert pending == [{"status": 503}, {"close": True}]


def test_clear_faults_returns_how_many(mocked):
    mocked.delete(f"{TENANT_URL}/faults", json={"cleared": 3})
    assert ControlClient(BASE).tenant(KEY).clear_faults() == 3


def test_request_headers_are_case_insensitive(mocked):
    mocked.get(f"{TENANT_URL}/requests", json={"requests": [{"headers": {"content-type": "a/b"}, "status": 204}]})
    [entry] = ControlClient(BASE).tenant(KEY).requests()
    assert entry["headers"]["Content-Type"] == "a/b"


def test_paging_stops_when_the_cursor_does_not_move(mocked):
    mocked.assert_all_requests_are_fired = False  # the third page is there to be left alone
    mocked.get(f"{TENANT_URL}/events", json={"events": [{"event": "a"}], "next": 1, "more": True})
    mocked.get(f"{TENANT_URL}/events", json={"events": [], "next": 1, "more": True})  # e.g. after a reset
    mocked.get(f"{TENANT_URL}/events", json={"events": [{"event": "never asked for"}], "next": 2, "more": False})
    assert [e["event"] for e in ControlClient(BASE).tenant(KEY).events()] == ["a"]
    assert len(mocked.calls) == 2


def test_wait_for_events_polls_until_enough(mocked, monkeypatch):
    monkeypatch.setattr(client_module, "POLL_INTERVAL", 0)
    mocked.get(f"{TENANT_URL}/events", json={"events": []})
    mocked.get(f"{TENANT_URL}/events", json={"events": [{"event": "a"}]})
    mocked.get(f"{TENANT_URL}/events", json={"events": [{"event": "a"}, {"event": "b"}]})
    events = ControlClient(BASE).tenant(KEY).wait_for_events(2, timeout=60)
    assert [e["event"] for e in events] == ["a", "b"]
    assert len(mocked.calls) == 3


def test_wait_for_events_says_what_arrived_on_timeout(mocked):
    mocked.get(f"{TENANT_URL}/events", json={"events": [{"event": "a"}]})
    with pytest.raises(TimeoutError, match="expected 2 events within 0 s, got 1"):
        ControlClient(BASE).tenant(KEY).wait_for_events(2, timeout=0)


def test_endpoint_follows_the_server_prefix(mocked):
    mocked.get(f"{BASE}/_hil/health", json={"status": "ok", "capture_path": "/base/capture"})
    client = ControlClient(BASE + "/")
    assert client.endpoint == BASE + "/base"
    assert client.capture_url == BASE + "/base/capture"
    assert client.tenant(KEY).endpoint == BASE + "/base"
    assert len(mocked.calls) == 1  # the path is asked once


def test_tenant_repr_shows_no_key():
    tenant = ControlClient(BASE).tenant(KEY)
    assert "secret" not in repr(tenant)


def test_empty_key_is_refused():
    with pytest.raises(ValueError, match="non-empty project key"):
        ControlClient(BASE).tenant("")

"""Fault injection (W10): scripted answers per tenant, FIFO one-shot or persistent."""

from __future__ import annotations

import socket

import pytest

from capture_helpers import Answer, post, read_to_end, request_bytes, vector
from harness.capture import ControlError

VALID = bytes.fromhex(vector("single-required-context")["frames"][0]["hex"])
INIT, MIDDLE, FINAL = (bytes.fromhex(f["hex"]) for f in vector("multi-frame-non-value-boundary")["frames"])
HTTP_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"


def test_status_fault_answers_with_its_headers_and_stores_nothing(server, tenant):
    tenant.add_faults({"status": 429, "headers": {"Retry-After": "2"}})
    answer = post(server.port, VALID)
    assert answer.status == 429
    assert answer.headers["retry-after"] == "2"
    assert answer.json["error"] == "injected"
    assert tenant.events() == []
    [entry] = tenant.requests()
    assert entry["status"] == 429
    assert entry["fault"] == {"status": 429, "headers": {"Retry-After": "2"}}
    assert entry["outcome"] is None  # the request was not processed
    assert entry["body_hex"] == VALID.hex()


def test_retry_after_as_http_date_passes_verbatim(server, tenant):
    tenant.add_faults({"status": 503, "headers": {"Retry-After": HTTP_DATE}})
    answer = post(server.port, VALID)
    assert (answer.status, answer.headers["retry-after"]) == (503, HTTP_DATE)


def test_numeric_header_values_are_sent_as_decimal(server, tenant):
    tenant.add_faults({"status": 429, "headers": {"Retry-After": 7}})
    assert post(server.port, VALID).headers["retry-after"] == "7"


def test_one_shot_faults_are_consumed_in_order(server, tenant):
    tenant.add_faults({"status": 500}, {"status": 503})
    tenant.add_faults({"status": 409})
    assert [post(server.port, VALID).status for _ in range(4)] == [500, 503, 409, 204]
    assert len(tenant.events()) == 1
    assert tenant.pending_faults() == []


def test_injected_success_status_bypasses_processing(server, tenant):
    tenant.add_faults({"status": 204})
    answer = post(server.port, b"not a frame at all")
    assert (answer.status, answer.body) == (204, b"")
    assert tenant.events() == []


def test_persistent_fault_applies_until_cleared(server, tenant):
    tenant.add_faults({"status": 500}, {"status": 503, "persistent": True}, {"status": 418})
    assert [post(server.port, VALID).status for _ in range(4)] == [500, 503, 503, 503]
    assert tenant.pending_faults() == [{"status": 503, "persistent": True}, {"status": 418}]
    assert tenant.clear_faults() == 2
    assert post(server.port, VALID).status == 204


def test_close_fault_answers_nothing(server, tenant):
    tenant.add_faults({"close": True})
    assert post(server.port, VALID).status == 0
    assert tenant.events() == []
    [entry] = tenant.requests()
    assert (entry["status"], entry["fault"], entry["outcome"]) == (0, {"close": True}, None)


def test_lose_response_stores_but_answers_nothing(server, tenant):
    tenant.add_faults({"lose_response": True})
    assert post(server.port, VALID).status == 0
    assert len(tenant.events()) == 1
    [entry] = tenant.requests()
    assert (entry["status"], entry["outcome"]) == (0, 204)
    assert "processed as 204" in entry["reason"]


def test_lost_202_lets_the_sender_restart_from_the_init_frame(server, tenant):
    tenant.add_faults({"lose_response": True})
    assert post(server.port, INIT).status == 0
    assert [post(server.port, f).status for f in (INIT, MIDDLE, FINAL)] == [202, 202, 204]


def test_injected_status_changes_no_reassembly_state(server, tenant):
    assert post(server.port, INIT).status == 202
    tenant.add_faults({"status": 503})
    assert post(server.port, MIDDLE).status == 503
    assert [post(server.port, f).status for f in (MIDDLE, FINAL)] == [202, 204]


def test_faulted_init_creates_no_partial(server, tenant):
    tenant.add_faults({"status": 500})
    assert post(server.port, INIT).status == 500
    assert post(server.port, MIDDLE).status == 409


def test_close_fault_changes_no_reassembly_state(server, tenant):
    tenant.add_faults({"close": True})
    assert post(server.port, INIT).status == 0
    assert post(server.port, MIDDLE).status == 409


def test_delay_then_process_normally(server, tenant):
    tenant.add_faults({"delay_ms": 200})
    assert post(server.port, VALID).status == 204
    assert tenant.requests()[0]["fault"] == {"delay_ms": 200}
    assert len(tenant.events()) == 1


def test_delay_outlasting_the_client_timeout_still_processes(server, tenant):
    tenant.add_faults({"delay_ms": 1000})
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(request_bytes(VALID, port=server.port))
        sock.settimeout(0.05)
        with pytest.raises(socket.timeout):
            sock.recv(1)
    # the client gave up; the server still processes and records the request
    [event] = tenant.wait_for_events(1)
    assert event["event"] == "boot"
    [entry] = tenant.wait_for_requests(1)
    assert (entry["status"], entry["fault"]) == (204, {"delay_ms": 1000})


def test_delay_combined_with_status(server, tenant):
    tenant.add_faults({"delay_ms": 50, "status": 503, "headers": {"Retry-After": "1"}})
    answer = post(server.port, VALID)
    assert (answer.status, answer.headers["retry-after"]) == (503, "1")


def test_faults_are_consumed_only_by_capture_requests_of_their_tenant(server, control):
    mine = control.create_tenant("test-key")
    control.create_tenant("other-key")
    mine.add_faults({"status": 500})
    assert post(server.port, VALID, key="other-key").status == 204
    assert post(server.port, VALID, path="/elsewhere").status == 404
    assert post(server.port, VALID, key=None).status == 401
    assert post(server.port, VALID).status == 500


def test_fault_applies_before_the_content_checks(server, tenant):
    """A scripted answer bypasses steps 4-14: even a request the mock would refuse gets it."""
    tenant.add_faults({"status": 503})
    assert post(server.port, VALID, content_type="text/plain").status == 503


BAD_FAULTS = [
    ({"stauts": 500}, "unknown key 'stauts'"),
    ({"status": 99}, "status must be an integer HTTP status 100-599"),
    ({"status": "503"}, "status must be an integer"),
    ({"status": 500, "close": True}, "cannot be combined"),
    ({"headers": {"Retry-After": "1"}}, "needs a status"),
    ({"status": 503, "headers": {"Content-Length": "0"}}, "written by the server"),
    ({"status": 503, "headers": {"Bad Name": "1"}}, "invalid header name"),
    ({"status": 503, "headers": {"Retry-After": "1\r\nX: y"}}, "printable ASCII"),
    ({"delay_ms": -1}, "delay_ms must be an integer"),
    ({"close": "yes"}, "close must be true or false"),
    ({}, "does nothing"),
    ({"persistent": True}, "does nothing"),
    ("status 500", "must be an object"),
]


@pytest.mark.parametrize("fault, words", BAD_FAULTS, ids=[repr(f) for f, _ in BAD_FAULTS])
def test_bad_fault_objects_are_refused_with_the_reason(tenant, fault, words):
    with pytest.raises(ControlError) as refused:
        tenant.add_faults(fault)
    assert refused.value.status == 400
    assert words in refused.value.reason
    assert tenant.pending_faults() == []


def test_fault_body_must_be_a_faults_list(control, tenant):
    with pytest.raises(ControlError) as refused:
        control.call("POST", "/_hil/tenants/test-key/faults", [{"status": 500}])
    assert refused.value.status == 400 and '{"faults": [...]}' in refused.value.reason


def test_faults_for_an_unknown_tenant_are_404(control):
    with pytest.raises(ControlError) as refused:
        control.tenant("nobody").add_faults({"status": 500})
    assert refused.value.status == 404


def test_answer_to_a_request_after_close_fault_is_complete(server, tenant):
    """A closed connection does not poison the next one."""
    tenant.add_faults({"close": True})
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(request_bytes(VALID, port=server.port))
        assert read_to_end(sock) == b""
    assert Answer(post(server.port, VALID).raw).status == 204

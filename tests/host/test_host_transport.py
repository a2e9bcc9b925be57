"""Unit tests of the host port's HTTP client, ``honch_transport.post_chunk`` (mocked with ``responses``).

What the capture server really receives on the wire is checked end to end in
test_host_delivery.py; here the mapping of answers and failures is checked.
"""

import errno

import pytest
import requests
import responses
import urllib3

import honch_transport
from harness import protocol

URL = "http://capture.test/base" + protocol.CAPTURE_PATH
FRAME = bytes.fromhex("02ac02020101ec81")  # W5.5 example C
DEVICE_HEADERS = {
    "Content-Type": protocol.CONTENT_TYPE,
    protocol.HEADER_PROJECT_KEY: "test-project-key",
    protocol.HEADER_STREAM_ID: "1a2b3c4d",
}


@responses.activate
def test_returns_status_and_no_retry_after_for_204():
    responses.post(URL, status=204)
    assert honch_transport.post_chunk(URL, FRAME, DEVICE_HEADERS, 8000) == (204, None)


@responses.activate
@pytest.mark.parametrize("retry_after", ["7", "Wed, 21 Oct 2015 07:28:00 GMT", " 12 "])
def test_returns_raw_retry_after(retry_after):
    responses.post(URL, status=429, headers={"Retry-After": retry_after})
    assert honch_transport.post_chunk(URL, FRAME, DEVICE_HEADERS, 8000) == (429, retry_after)


@responses.activate
@pytest.mark.parametrize("status", [202, 400, 401, 409, 500, 503])
def test_any_http_answer_is_returned_not_raised(status):
    responses.post(URL, status=status, json={"error": "whatever"})
    assert honch_transport.post_chunk(URL, FRAME, DEVICE_HEADERS, 8000) == (status, None)


@responses.activate
def test_sends_the_frame_verbatim_with_device_headers_and_connection_close():
    responses.post(URL, status=204)
    honch_transport.post_chunk(URL, bytearray(FRAME), DEVICE_HEADERS, 8000)
    request = responses.calls[0].request
    assert request.method == "POST"
    assert request.body == FRAME
    assert request.headers["Connection"] == "close"
    assert request.headers["Content-Length"] == str(len(FRAME))
    for name, value in DEVICE_HEADERS.items():
        assert request.headers[name] == value
    # requests' own defaults never reach the wire (urllib3's are suppressed, see test_host_delivery).
    assert "Accept" not in request.headers


@responses.activate
def test_whole_request_shares_one_deadline_of_timeout_ms():
    responses.post(URL, status=204)
    honch_transport.post_chunk(URL, FRAME, DEVICE_HEADERS, 2500)
    timeout = responses.calls[0].request.req_kwargs["timeout"]
    assert timeout.total == 2.5


@responses.activate
@pytest.mark.parametrize("failure", [requests.exceptions.ConnectTimeout("connect timed out"),
                                     requests.exceptions.ReadTimeout("read timed out")])
def test_timeout_raises_oserror_etimedout(failure):
    responses.post(URL, body=failure)
    with pytest.raises(OSError) as caught:
        honch_transport.post_chunk(URL, FRAME, DEVICE_HEADERS, 100)
    assert caught.value.errno == errno.ETIMEDOUT
    assert "100 ms" in str(caught.value)


@responses.activate
def test_timeout_while_sending_is_a_timeout_too():
    # urllib3 reports a send timeout as "Connection aborted" wrapping the socket timeout.
    failure = requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", TimeoutError("timed out")))
    responses.post(URL, body=failure)
    with pytest.raises(OSError) as caught:
        honch_transport.post_chunk(URL, FRAME, DEVICE_HEADERS, 100)
    assert caught.value.errno == errno.ETIMEDOUT


@responses.activate
@pytest.mark.parametrize("failure", [requests.exceptions.ConnectionError("connection refused"),
                                     requests.exceptions.SSLError("certificate verify failed"),
                                     requests.exceptions.ChunkedEncodingError("reset")])
def test_other_failures_raise_non_timeout_errors(failure):
    responses.post(URL, body=failure)
    with pytest.raises(Exception) as caught:
        honch_transport.post_chunk(URL, FRAME, DEVICE_HEADERS, 8000)
    assert getattr(caught.value, "errno", None) != errno.ETIMEDOUT
    assert not isinstance(caught.value, TimeoutError)
    assert URL in str(caught.value)


def test_refused_connection_is_not_a_timeout():
    import socket
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionError) as caught:
        honch_transport.post_chunk("http://127.0.0.1:%d/capture" % port, FRAME, DEVICE_HEADERS, 2000)
    assert caught.value.errno == errno.ECONNREFUSED, "the socket's errno reaches last_error()'s os_error"


@pytest.mark.parametrize("timeout_ms", [0, -5, 1.5, True, None])
def test_bad_timeout_is_refused_by_name(timeout_ms):
    with pytest.raises(ValueError, match="timeout_ms"):
        honch_transport.post_chunk(URL, FRAME, DEVICE_HEADERS, timeout_ms)

"""Uploads from the host core to the real capture server: the wire, scheduling,
response policy, backoff and offline behaviour (contract 7-10; C1-C5, C16-C31, C40-C42).

Timing is driven by the ``platform`` hook's fake clock, so every instant below is
exact and nothing depends on how fast the machine is.
"""

import email.utils
import errno
import re

import pytest

import honch
import honch_transport
from harness import protocol
from harness.wire import parse_frame, uvarint_size
from host_sdk_support import FAKE_EPOCH_MS, capture_requests, event_names, request_bodies, sent_messages

STATUS = protocol.STATUS


def contract_wait(b, now, retry_after_ms=0):
    """Contract 9: the jittered backoff wait at ``now`` with delay ``b``."""
    q = b // 4
    return max((b - q) + now % (2 * q + 1), retry_after_ms)


def n_requests(capture):
    return len(capture_requests(capture))


# --- the wire ------------------------------------------------------------------------


def test_requests_carry_exactly_the_device_headers(capture, make_client):
    client = make_client(capture)
    client.flush()
    [request] = capture_requests(capture)
    assert request["status"] == 204
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert set(headers) == {"host", "content-type", "content-length", "connection",
                            protocol.HEADER_PROJECT_KEY.lower(), protocol.HEADER_STREAM_ID.lower()}
    assert headers["content-type"] == protocol.CONTENT_TYPE
    assert headers["connection"] == "close"
    # the key itself is redacted in the log; the 204 shows the server accepted it
    assert headers[protocol.HEADER_STREAM_ID.lower()] == client.stream_id()
    assert request["path"] == capture.client.capture_path


def test_stream_id_and_message_ids(capture, make_client):
    client = make_client(capture, flush_max_batches=3)
    stream_id = client.stream_id()
    assert re.fullmatch(r"[0-9a-f]{8}", stream_id)
    other = make_client(capture)
    assert other.stream_id() != stream_id
    client.identify("u2")  # sequence 2, in its own message (identity change)
    client.flush()
    frames = [parse_frame(body) for body in request_bodies(capture)]
    seed = int(stream_id, 16)
    assert [f.message_id for f in frames] == [(seed + 1) % 2**32, (seed + 2) % 2**32]


def test_threshold_makes_the_next_tick_send(capture, make_client, fake_platform):
    client = make_client(capture, port_hooks={"platform": fake_platform}, flush_event_threshold=3)
    client.tick()
    assert n_requests(capture) == 0  # C17: below threshold, nothing due
    client.track("a")
    client.tick()
    assert n_requests(capture) == 0
    client.track("b")  # three queued now
    client.tick()
    assert event_names(capture) == ["$device_boot", "a", "b"]


def test_interval_makes_the_first_tick_after_it_send(capture, make_client, fake_platform):
    client = make_client(capture, port_hooks={"platform": fake_platform}, flush_interval_seconds=10)
    fake_platform.advance(9999)
    client.tick()
    assert n_requests(capture) == 0
    fake_platform.advance(1)
    client.tick()
    assert event_names(capture) == ["$device_boot"]
    client.tick()  # empty queue: nothing
    assert n_requests(capture) == 1


def test_flush_sends_up_to_max_batches(capture, make_client):
    client = make_client(capture, batch_size=2, flush_max_batches=2)
    for i in range(6):
        client.track("e", {"i": i})
    client.flush()
    assert [len(m.events) for m in sent_messages(capture)] == [2, 2]
    client.flush()
    client.flush()
    assert len(capture.events()) == 7
    client.flush()  # empty: no request, no error
    assert n_requests(capture) == 4


def test_spacing_window(capture, make_client, fake_platform):
    client = make_client(capture, port_hooks={"platform": fake_platform}, flush_min_interval_ms=15000,
                         flush_event_threshold=1)
    client.flush()
    client.track("soon")
    fake_platform.advance(14999)
    with pytest.raises(honch.RateLimitedError) as caught:
        client.flush()
    assert caught.value.status == STATUS["RATE_LIMITED"]
    client.tick()
    assert n_requests(capture) == 1
    fake_platform.advance(1)
    client.tick()
    assert event_names(capture) == ["$device_boot", "soon"]


def test_disabled_spacing_lets_flushes_follow_each_other(capture, make_client):
    client = make_client(capture)  # flush_min_interval_ms = 0xFFFFFFFF
    client.flush()
    client.track("next")
    client.flush()
    assert n_requests(capture) == 2


TWO_FRAME_MESSAGE_BYTES = 4090


def two_frame_blob_length(client, capture):
    """The length of a bytes property that makes ``track("big", {"blob": ...})`` alone a
    4090-byte message: under the 4096-byte message limit, but more than one 4096-byte
    frame holds next to its header, message id and CRC (W5.5, W8).

    Sends a probe of the same shape (one request) and scales it; the fake clock must
    not move before the big event is tracked, so its timestamp encodes the same.
    """
    client.reset()  # drop $device_boot: each message holds only the probe or the big event
    client.track("big", {"blob": b"\x00" * 100})
    client.flush()
    frame = parse_frame(request_bodies(capture)[-1])
    assert frame.kind == "single"
    blob = 100 + TWO_FRAME_MESSAGE_BYTES - len(frame.payload)
    return blob - (uvarint_size(blob) - uvarint_size(100))


def test_multi_frame_message_goes_one_frame_per_tick(capture, make_client, fake_platform):
    capture.reset(binary_properties=True)
    client = make_client(capture, port_hooks={"platform": fake_platform}, flush_event_threshold=1)
    blob = two_frame_blob_length(client, capture)
    client.track("big", {"blob": b"\x00" * blob})
    queued = client.queue_stats()["queued_events"]

    client.tick()
    bodies = request_bodies(capture)
    assert len(bodies) == 2 and parse_frame(bodies[1]).kind == "init"
    assert client.queue_stats()["queued_events"] == queued  # C20: not consumed before the final 204
    client.tick()
    bodies = request_bodies(capture)
    assert len(bodies) == 3 and parse_frame(bodies[2]).kind == "final"
    assert all(len(b) <= protocol.SDK_LIMITS.frame for b in bodies)
    assert sum(len(parse_frame(b).payload) for b in bodies[1:]) == TWO_FRAME_MESSAGE_BYTES
    assert client.queue_stats()["queued_events"] == 0
    assert [r["status"] for r in capture_requests(capture)] == [204, 202, 204]
    assert len(sent_messages(capture)[1].events) == 1
    assert capture.events()[1]["properties"]["blob"] == {"bytes_hex": "00" * blob}


def test_event_too_large_to_encode_alone_is_dead_lettered_without_request(capture, make_client):
    client = make_client(capture)
    client.flush()
    client.track("wide", {"text": "w" * 600})  # one string above 512 bytes
    with pytest.raises(honch.RejectedError):
        client.flush()
    assert n_requests(capture) == 1
    stats = client.queue_stats()
    assert stats["dead_lettered_events"] == 1 and stats["queued_events"] == 0


def test_message_is_the_longest_prefix_within_sdk_limits(capture, make_client):
    client = make_client(capture, batch_size=50)
    client.reset()
    for i in range(6):
        client.track("s", {"text": f"{i}" * 390})
    client.flush()
    [message] = sent_messages(capture)
    # 5 x 390 string bytes plus the context strings fit in 2048, 6 do not (W8)
    assert len(message.events) == 5


# --- response policy -----------------------------------------------------------------


@pytest.mark.parametrize("http_status", protocol.REJECTING_STATUSES + (403, 405))
def test_rejection_dead_letters_and_keeps_backoff(capture, make_client, fake_platform, http_status):
    client = make_client(capture, port_hooks={"platform": fake_platform}, flush_retry_initial_ms=1000)
    client.track("doomed")
    capture.add_faults({"status": http_status})
    with pytest.raises(honch.RejectedError) as caught:
        client.flush()
    assert caught.value.status == STATUS["REJECTED"]
    stats = client.queue_stats()
    assert stats["dead_lettered_events"] == 2 and stats["queued_events"] == 0
    # The backoff delay is still the initial one: a 503 now waits 1000 +/- 250.
    client.track("next")
    capture.add_faults({"status": 503})
    now = fake_platform.now
    with pytest.raises(honch.ServerError):
        client.flush()
    fake_platform.now = now + contract_wait(1000, now) - 1
    client.tick()
    assert n_requests(capture) == 2
    fake_platform.advance(1)
    client.tick()
    assert n_requests(capture) == 3
    assert event_names(capture) == ["next"]


@pytest.mark.parametrize("http_status,error,status", [
    (500, honch.ServerError, "SERVER"), (503, honch.ServerError, "SERVER"), (502, honch.ServerError, "SERVER"),
    (408, honch.TransportError, "TIMEOUT"), (409, honch.TransportError, "TRANSPORT"),
    (429, honch.RateLimitedError, "RATE_LIMITED"), (302, honch.TransportError, "TRANSPORT"),
    (200, None, None), (201, None, None),
])
def test_status_mapping_keeps_events_on_retryable_answers(capture, make_client, http_status, error, status):
    client = make_client(capture)
    capture.add_faults({"status": http_status})
    if error is None:  # another 2xx on a single frame counts as delivered
        client.flush()
        assert client.queue_stats()["queued_events"] == 0
        return
    with pytest.raises(error) as caught:
        client.flush()
    assert type(caught.value) is error
    assert caught.value.status == STATUS[status]
    assert client.queue_stats()["queued_events"] == 1
    client.flush()
    assert event_names(capture) == ["$device_boot"]


def test_202_on_a_single_frame_is_retryable(capture, make_client):
    client = make_client(capture)
    capture.add_faults({"status": 202})
    with pytest.raises(honch.TransportError) as caught:
        client.flush()
    assert caught.value.status == STATUS["TRANSPORT"]
    assert client.queue_stats()["queued_events"] == 1


def test_closed_connection_without_answer_is_transport(capture, make_client):
    client = make_client(capture)
    capture.add_faults({"close": True})
    with pytest.raises(honch.TransportError) as caught:
        client.flush()
    assert caught.value.status == STATUS["TRANSPORT"]


def test_timeout_raises_transport_error_with_status_timeout(capture, make_client):
    client = make_client(capture, transport_timeout_ms=300)
    capture.add_faults({"delay_ms": 1500, "status": 503})
    with pytest.raises(honch.TransportError) as caught:
        client.flush()
    assert caught.value.status == STATUS["TIMEOUT"]
    assert client.queue_stats()["queued_events"] == 1


def test_refused_connection_is_transport(capture, make_client):
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(capture, endpoint_url="http://127.0.0.1:%d" % port)
    with pytest.raises(honch.TransportError) as caught:
        client.flush()
    assert caught.value.status == STATUS["TRANSPORT"]


def test_tick_never_raises_for_delivery_outcomes(capture, make_client, fake_platform):
    client = make_client(capture, port_hooks={"platform": fake_platform}, flush_event_threshold=1)
    for fault in ({"status": 500}, {"status": 400}, {"close": True}, {"status": 429}):
        client.track("e")
        capture.add_faults(fault)
        assert client.tick() is None
        fake_platform.advance(10 * 60 * 1000)
    assert n_requests(capture) == 4


# --- backoff (contract 9) --------------------------------------------------------------


def test_backoff_worked_vector_429_with_retry_after(capture, make_client, fake_platform):
    fake_platform.now = 10000
    client = make_client(capture, port_hooks={"platform": fake_platform},
                         flush_retry_initial_ms=1000, flush_retry_max_ms=10000)
    capture.add_faults({"status": 429, "headers": {"Retry-After": "7"}})
    with pytest.raises(honch.RateLimitedError):
        client.flush()
    fake_platform.now = 16999
    client.tick()
    assert n_requests(capture) == 1
    fake_platform.now = 17000
    client.tick()
    assert n_requests(capture) == 2
    assert event_names(capture) == ["$device_boot"]
    # b went to 2000 and the success put it back to 1000: a 503 at 17000 waits
    # 750 + 17000 mod 501, not 1500 + 17000 mod 1001.
    client.track("again")
    capture.add_faults({"status": 503})
    with pytest.raises(honch.ServerError):
        client.flush()
    retry_at = 17000 + 750 + 17000 % 501  # 18217; with b = 2000 it would be 19484
    fake_platform.now = retry_at - 1
    client.tick()
    assert n_requests(capture) == 3
    fake_platform.now = retry_at
    client.tick()
    assert n_requests(capture) == 4


def test_backoff_grows_to_the_maximum_and_resets(capture, make_client, fake_platform):
    client = make_client(capture, port_hooks={"platform": fake_platform}, flush_event_threshold=1,
                         flush_retry_initial_ms=1000, flush_retry_max_ms=5000)
    capture.add_faults(*[{"status": 503}] * 5)
    b = 1000
    client.tick()  # threshold reached by $device_boot: first attempt, 503
    sent = 1
    for _ in range(4):
        retry_at = fake_platform.now + contract_wait(b, fake_platform.now)
        b = min(2 * b, 5000)
        fake_platform.now = retry_at - 1
        client.tick()
        assert n_requests(capture) == sent
        fake_platform.now = retry_at
        client.tick()
        sent += 1
        assert n_requests(capture) == sent
    assert b == 5000
    retry_at = fake_platform.now + contract_wait(b, fake_platform.now)
    fake_platform.now = retry_at
    client.tick()  # the sixth attempt succeeds
    assert event_names(capture) == ["$device_boot"]
    # reset: the next failure waits from the initial delay again
    client.track("x")
    capture.add_faults({"status": 500})
    client.tick()
    retry_at = fake_platform.now + contract_wait(1000, fake_platform.now)
    fake_platform.now = retry_at - 1
    client.tick()
    assert n_requests(capture) == 7
    fake_platform.now = retry_at
    client.tick()
    assert n_requests(capture) == 8


@pytest.mark.parametrize("retry_after,expected_ms", [("7", 7000), (" 3 ", 3000), ("soon", 0), ("", 0),
                                                     ("http-date", 5000), ("past-date", 0)])
def test_retry_after_forms(capture, make_client, fake_platform, retry_after, expected_ms):
    fake_platform.now = 20000
    wall_s = (FAKE_EPOCH_MS + fake_platform.now) // 1000
    if retry_after == "http-date":
        retry_after = email.utils.formatdate(wall_s + 5, usegmt=True)
    elif retry_after == "past-date":
        retry_after = email.utils.formatdate(wall_s - 60, usegmt=True)
    client = make_client(capture, port_hooks={"platform": fake_platform}, flush_retry_initial_ms=1000)
    capture.add_faults({"status": 503, "headers": {"Retry-After": retry_after}})
    with pytest.raises(honch.ServerError):
        client.flush()
    retry_at = 20000 + contract_wait(1000, 20000, expected_ms)
    fake_platform.now = retry_at - 1
    client.tick()
    assert n_requests(capture) == 1
    fake_platform.now = retry_at
    client.tick()
    assert n_requests(capture) == 2


def test_retry_after_date_without_valid_wall_clock_waits_a_minute(capture, make_client, fake_platform):
    fake_platform.wall_valid = False
    client = make_client(capture, port_hooks={"platform": fake_platform})
    capture.add_faults({"status": 429, "headers": {"Retry-After": "Wed, 21 Oct 2037 07:28:00 GMT"}})
    with pytest.raises(honch.RateLimitedError):
        client.flush()
    fake_platform.advance(protocol.RETRY_AFTER_UNKNOWN_WALL_CLOCK_MS - 1)
    client.tick()
    assert n_requests(capture) == 1
    fake_platform.advance(1)
    client.tick()
    assert n_requests(capture) == 2


def test_409_restarts_the_message_from_offset_0_with_identical_bytes(capture, make_client, fake_platform):
    capture.reset(binary_properties=True)
    client = make_client(capture, port_hooks={"platform": fake_platform}, flush_event_threshold=1)
    client.track("big", {"blob": b"\x01" * two_frame_blob_length(client, capture)})
    client.tick()
    capture.add_faults({"status": 409})
    client.tick()  # final frame answered 409: retryable, back to offset 0
    assert client.queue_stats()["queued_events"] == 1
    fake_platform.advance(10 * 60 * 1000)
    client.tick()
    client.tick()
    bodies = request_bodies(capture)[1:]  # after the probe
    assert [parse_frame(b).kind for b in bodies] == ["init", "final", "init", "final"]
    assert bodies[2] == bodies[0] and bodies[3] == bodies[1]  # C27
    assert [r["status"] for r in capture_requests(capture)][1:] == [202, 409, 202, 204]
    assert event_names(capture) == ["big", "big"]


# --- offline (contract 10) ---------------------------------------------------------------


def test_offline_tick_is_silent_and_flush_raises_offline(capture, make_client, fake_platform):
    online = {"state": False}
    client = make_client(capture, port_hooks={"platform": fake_platform}, flush_min_interval_ms=15000,
                         max_queued_events=3, connectivity_callback=lambda: online["state"])
    for i in range(4):
        client.track("offline", {"i": i})  # C30: keeps queueing, drop-oldest at capacity
    client.tick()
    with pytest.raises(honch.OfflineError) as caught:
        client.flush()
    assert caught.value.status == STATUS["OFFLINE"]
    assert isinstance(caught.value, honch.TransportError)
    assert n_requests(capture) == 0
    assert client.queue_stats()["capacity_dropped_events"] == 2
    online["state"] = 1  # an int > 0 counts as online
    client.tick()  # flush_requested was set while offline: due now
    assert [e["properties"]["i"] for e in capture.events()] == [1, 2, 3]
    # C29: offline is checked before spacing
    client.track("later")
    online["state"] = False
    with pytest.raises(honch.OfflineError):
        client.flush()
    online["state"] = True
    with pytest.raises(honch.RateLimitedError):
        client.flush()


@pytest.mark.parametrize("answer", [False, 0, -1, None, "yes", 1.5])
def test_non_online_answers_count_as_offline(capture, make_client, answer):
    client = make_client(capture, connectivity_callback=lambda: answer)
    with pytest.raises(honch.OfflineError):
        client.flush()


def test_raising_connectivity_callback_counts_as_offline(capture, make_client):
    def broken():
        raise RuntimeError("radio driver crashed")
    client = make_client(capture, connectivity_callback=broken)
    client.tick()
    with pytest.raises(honch.OfflineError):
        client.flush()
    assert n_requests(capture) == 0


def test_offline_shutdown_sends_nothing_but_closes(capture, make_client):
    client = make_client(capture, connectivity_callback=lambda: False)
    client.shutdown()
    assert n_requests(capture) == 0
    with pytest.raises(honch.NotInitializedError):
        client.track("x")


def test_connected_defers_a_flush_to_the_next_tick(capture, make_client):
    client = make_client(capture)
    client.connected()
    assert n_requests(capture) == 0  # no I/O inside the call
    client.tick()
    assert event_names(capture) == ["$device_boot", "$connectivity_change"]


def test_busy_from_inside_the_connectivity_callback(capture, make_client):
    outcomes = []
    holder = {}

    def callback():
        client = holder.get("client")
        if client is not None and not outcomes:
            for method in (client.tick, client.flush, client.reset, client.shutdown):
                try:
                    method()
                    outcomes.append(None)
                except honch.HonchError as exc:
                    outcomes.append(exc.status)
            client.track("from-callback")  # other calls are allowed
        return True

    client = make_client(capture, connectivity_callback=callback)
    holder["client"] = client
    client.flush()
    assert outcomes == [STATUS["BUSY"]] * 4
    assert event_names(capture) == ["$device_boot", "from-callback"]


# --- the transport seam -------------------------------------------------------------------


def test_post_chunk_is_looked_up_on_every_request(capture, make_client, monkeypatch):
    client = make_client(capture)
    seen = []
    real = honch_transport.post_chunk

    def recording(url, body, headers, timeout_ms):
        seen.append((url, len(body), dict(headers), timeout_ms))
        return real(url, body, headers, timeout_ms)

    monkeypatch.setattr(honch_transport, "post_chunk", recording)
    client.flush()
    [(url, size, headers, timeout_ms)] = seen
    assert url == capture.capture_url
    assert timeout_ms == 5000
    assert set(headers) == {"Content-Type", protocol.HEADER_PROJECT_KEY, protocol.HEADER_STREAM_ID}
    assert event_names(capture) == ["$device_boot"]


def test_transport_hook_and_errors_it_raises(capture, make_client):
    answers = [OSError(errno.ETIMEDOUT, "slow"), TimeoutError("slow"), ValueError("bug"),
               (204, None, "extra"), ("204", None), (700, None), (204, None)]
    calls = []

    def transport(url, body, headers, timeout_ms):
        calls.append(url)
        answer = answers[len(calls) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    client = make_client(capture, port_hooks={"transport": transport})
    expected = ["TIMEOUT", "TIMEOUT", "TRANSPORT", "TRANSPORT", "TRANSPORT", "TRANSPORT"]
    for status in expected:
        with pytest.raises(honch.TransportError) as caught:
            client.flush()
        assert caught.value.status == STATUS[status]
    client.flush()
    assert client.queue_stats()["queued_events"] == 0
    assert n_requests(capture) == 0  # the hook replaced the network entirely


def test_busy_from_inside_the_transport_and_other_calls_allowed(capture, make_client):
    holder = {}
    outcomes = []

    def transport(url, body, headers, timeout_ms):
        client = holder["client"]
        for method in (client.tick, client.flush, client.reset, client.shutdown):
            try:
                method()
                outcomes.append(None)
            except honch.HonchError as exc:
                outcomes.append(exc.status)
        client.track("during-upload")
        return honch_transport.post_chunk(url, body, headers, timeout_ms)

    client = make_client(capture, port_hooks={"transport": transport})
    holder["client"] = client
    client.flush()
    assert outcomes == [STATUS["BUSY"]] * 4
    assert client.queue_stats()["queued_events"] == 1  # the event queued during the upload
    assert event_names(capture) == ["$device_boot"]


def test_keyboard_interrupt_in_the_transport_propagates(capture, make_client):
    def transport(url, body, headers, timeout_ms):
        raise KeyboardInterrupt

    client = make_client(capture, port_hooks={"transport": transport})
    with pytest.raises(KeyboardInterrupt):
        client.flush()
    assert client.queue_stats()["queued_events"] == 1

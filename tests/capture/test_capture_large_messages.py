"""A message large enough to take the server most of a second to decode is judged off the
event loop: other connections are answered meanwhile, and its verdict, its stored events
and its log entry are what judging it on the loop gives."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time


from capture_helpers import exchange, request_bytes, vector

from harness.capture import CaptureServer, ControlClient
from harness.capture import server as capture_server
from harness.capture.redact import REDACTED
from harness.wire import UInt, Event, Message, chunk, decode_message, encode_message, parse_frame

KEY = "large-key"
OTHER = "probe-key"


def context():
    frame = parse_frame(bytes.fromhex(vector("single-required-context")["frames"][0]["hex"]))
    return decode_message(frame.payload).context


def large_message(events: int = 500, properties: int = 440, *, valid: bool = True) -> bytes:
    """About 1 MiB of small properties: the costliest shape to decode per byte."""
    keys = [f"k{i}" for i in range(properties)]
    message = Message(base_time_ms=1_700_000_000_000, context=context() if valid else [],
                      events=[Event("e", i, [(k, UInt(j)) for j, k in enumerate(keys)]) for i in range(events)])
    return encode_message(message)


def post(port: int, body: bytes, key: str = KEY) -> tuple[bytes, float]:
    answer = exchange(port, request_bytes(body, key=key), timeout=60)
    return answer, time.monotonic()


def send_all_but_last(port: int, frames: list[bytes]) -> None:
    for frame in frames[:-1]:
        assert post(port, frame)[0].status == 202


def test_other_connections_are_answered_while_a_large_message_is_judged():
    frames = chunk(large_message(), 7, 65536)
    single = bytes.fromhex(vector("single-required-context")["frames"][0]["hex"])
    with CaptureServer() as server, ControlClient(server.url) as control:
        large, probe = control.create_tenant(KEY), control.create_tenant(OTHER)
        send_all_but_last(server.port, frames)
        done = {}
        sender = threading.Thread(target=lambda: done.setdefault("large", post(server.port, frames[-1])))
        sender.start()
        time.sleep(0.05)  # the final frame is being judged (~0.7 s of CPU)
        probes = [post(server.port, single, OTHER) for _ in range(3)]
        sender.join(60)
        answer, large_at = done["large"]
        assert answer.status == 204, answer
        assert all(p.status == 204 for p, _ in probes)
        # the loop was not held: the probes, sent after the large final frame, came back first
        assert max(at for _, at in probes) < large_at
        assert len(large.events()) == 500 and len(probe.events()) == 3


def _judged_both_ways(monkeypatch, body_frames, key=KEY):
    """Events and log entries of the same frames judged off the loop, then on it."""
    outcomes = []
    for threshold in (capture_server.JUDGE_OFF_LOOP_BYTES, 1 << 40):
        monkeypatch.setattr(capture_server, "JUDGE_OFF_LOOP_BYTES", threshold)
        with CaptureServer() as server, ControlClient(server.url) as control:
            tenant = control.create_tenant(key)
            answers = [post(server.port, frame)[0] for frame in body_frames]
            events = [{k: v for k, v in e.items() if k != "_meta"} for e in tenant.events()]
            metas = [set(e["_meta"]) for e in tenant.events()]
            log = [{k: v for k, v in entry.items() if k != "t"} for entry in tenant.requests()]
            outcomes.append(([(a.status, a.body) for a in answers], events, metas, log))
    return outcomes


def test_a_large_message_judged_off_the_loop_gives_what_judging_it_on_the_loop_gives(monkeypatch):
    frames = chunk(large_message(events=200, properties=400), 9, 65536)
    off, on = _judged_both_ways(monkeypatch, frames)
    assert off[0][-1][0] == 204
    assert off == on


def test_a_large_invalid_message_is_rejected_off_the_loop_with_its_reason(monkeypatch):
    frames = chunk(large_message(events=200, properties=400, valid=False), 11, 65536)
    off, on = _judged_both_ways(monkeypatch, frames)
    status, body = off[0][-1]
    assert status == 422 and b"required context" in body
    assert off == on


def test_a_failure_while_judging_off_the_loop_is_a_500_and_the_server_keeps_serving(monkeypatch, capfd):
    frames = chunk(large_message(events=200, properties=400), 13, 65536)

    def broken(request, tenant, completed):
        raise RuntimeError("judge broke")

    with CaptureServer() as server, ControlClient(server.url) as control:
        control.create_tenant(KEY)
        send_all_but_last(server.port, frames)
        monkeypatch.setattr(capture_server.ingest, "judge_message", broken)
        answer = post(server.port, frames[-1])[0]
        monkeypatch.undo()
        assert answer.status == 500 and b"judge broke" in answer.body
        single = bytes.fromhex(vector("single-required-context")["frames"][0]["hex"])
        assert post(server.port, single)[0].status == 204
        assert control.health()["internal_errors"] == 1
    assert "judge broke" in capfd.readouterr().err


def test_stopping_the_server_while_a_large_message_is_judged_ends_cleanly(caplog):
    frames = chunk(large_message(), 15, 65536)
    server = CaptureServer().start()
    try:
        ControlClient(server.url).create_tenant(KEY)
        send_all_but_last(server.port, frames)
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(request_bytes(frames[-1], key=KEY))
        time.sleep(0.1)
    finally:
        server.stop()
    client.settimeout(10)
    try:
        assert client.recv(100) == b""  # closed without an answer, not left hanging
    except ConnectionResetError:
        pass
    client.close()
    for thread in threading.enumerate():
        if thread.name.startswith("honch-hil-judge"):
            thread.join(30)
            assert not thread.is_alive()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_a_project_key_inside_a_large_message_is_redacted_off_the_loop_as_on_it(monkeypatch):
    keys = [f"k{i}" for i in range(300)]
    message = Message(base_time_ms=1_700_000_000_000, context=context(), events=[
        Event("e", i, [(k, UInt(j)) for j, k in enumerate(keys)] + [("copied", KEY)]) for i in range(250)])
    frames = chunk(encode_message(message), 17, 65536)
    off, on = _judged_both_ways(monkeypatch, frames)
    assert off[0][-1][0] == 204
    assert off == on
    events = off[1]
    assert len(events) == 250 and all(KEY not in json.dumps(event) for event in events)
    assert all(event["properties"]["copied"] == REDACTED for event in events)

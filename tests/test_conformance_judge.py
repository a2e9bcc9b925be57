"""The duplicate judge of harness/conformance_support.py: a stored message sent again is
excused exactly when the device did not get the answer in time, never otherwise."""

from __future__ import annotations

from harness.conformance_support import (
    Attempt, LateTetherReply, MissedAnswers, TetherTimes, Upload, pump_until, unexcused_duplicates,
)
from harness.wire import encode_frame, parse_frame

STREAM = "0123abcd"
TIMEOUT_MS = 300


def _stored(message_id: int, t: float, fault=None, status=204) -> Attempt:
    body = encode_frame("single", message_id, b"\x02\x01\x01")
    up = Upload(t=t, path="/capture", headers={"x-honch-stream-id": STREAM}, header_names=[], body=body,
                status=status, reason="", fault=fault, outcome=204)
    up.frame = parse_frame(body)
    return Attempt([up])


def _judge(attempts, **evidence):
    return unexcused_duplicates(attempts, MissedAnswers(TIMEOUT_MS, **evidence))


def test_a_resend_after_a_heard_success_is_a_violation():
    problems = _judge([_stored(7, 1.0), _stored(7, 2.0)])
    assert len(problems) == 1 and "message 7" in problems[0]


def test_one_stored_copy_is_never_a_duplicate():
    assert _judge([_stored(7, 1.0), _stored(8, 2.0)]) == []


def test_a_lost_response_excuses_exactly_one_resend():
    lost = _stored(7, 1.0, fault={"lose_response": True}, status=0)
    assert _judge([lost, _stored(7, 2.0)]) == []
    assert len(_judge([lost, _stored(7, 2.0), _stored(7, 3.0)])) == 1, "the second resend followed a heard 204"


def test_an_answer_held_past_the_timeout_excuses_but_one_held_less_does_not():
    assert _judge([_stored(7, 1.0, fault={"delay_ms": TIMEOUT_MS}), _stored(7, 2.0)]) == []
    assert len(_judge([_stored(7, 1.0, fault={"delay_ms": TIMEOUT_MS - 1}), _stored(7, 2.0)])) == 1


def test_a_late_tether_reply_excuses_the_resend_of_that_message_only():
    late = [LateTetherReply(STREAM, 7, 0, held_ms=450.0, timeout_ms=TIMEOUT_MS)]
    assert _judge([_stored(7, 1.0), _stored(7, 2.0)], tether_late=late) == []
    assert len(_judge([_stored(8, 1.0), _stored(8, 2.0)], tether_late=late)) == 1
    other_stream = [LateTetherReply("ffffffff", 7, 0, held_ms=450.0, timeout_ms=TIMEOUT_MS)]
    assert len(_judge([_stored(7, 1.0), _stored(7, 2.0)], tether_late=other_stream)) == 1


def test_a_timeout_the_device_reported_excuses_that_message():
    assert _judge([_stored(7, 1.0), _stored(7, 2.0)], device_timeouts={(STREAM, 7)}) == []
    assert len(_judge([_stored(7, 1.0), _stored(7, 2.0)], device_timeouts={(STREAM, 8)})) == 1


class _Tether:
    def __init__(self, hold_s):
        self.hold_s = hold_s

    def serve(self, message):
        import time

        time.sleep(self.hold_s)
        return {"tether": message["tether"], "status": 204}


class _Board:
    def __init__(self, tether):
        self.tether = tether


def _tether_message(message_id, timeout_ms):
    body = encode_frame("single", message_id, b"\x02\x01\x01").hex()
    return {"tether": 1, "url": "http://127.0.0.1:1/capture", "headers": [["X-Honch-Stream-Id", STREAM]],
            "body": body, "timeout_ms": timeout_ms}


def test_tether_times_records_replies_written_after_the_devices_deadline_and_restores_serve():
    tether = _Tether(hold_s=0.05)
    original = tether.serve
    with TetherTimes(_Board(tether)) as times:
        assert tether.serve(_tether_message(9, 20))["status"] == 204
        tether.serve(_tether_message(10, 5000))
    assert [(x.stream_id, x.message_id) for x in times.late] == [(STREAM, 9)]
    assert tether.serve == original


def test_tether_times_is_a_no_op_for_a_networked_board():
    with TetherTimes(_Board(None)) as times:
        pass
    assert times.late == []


class _OverloadedDevice:
    """A device on a host with more runnable threads than cores: each pump adds more
    measured run-queue wait than the time it ticked (every thread's wait is summed)."""

    def __init__(self, starved_per_pump_ms: float):
        self.ticked_ms = 0
        self._starved = 0.0
        self._per_pump = starved_per_pump_ms
        self.board = self
        self.starvation = self

    def starved_ms(self, t_from, t_to):
        return self._starved

    def pump(self, ms, period_ms):
        self.ticked_ms += ms
        self._starved += self._per_pump
        if self.ticked_ms > 100_000:
            raise AssertionError(f"pump_until still ticking after {self.ticked_ms} ms")


class _NoCapture:
    def requests(self):
        return []


def test_pump_until_widens_for_starvation_but_ends_even_when_it_outgrows_the_clock():
    device = _OverloadedDevice(starved_per_pump_ms=200)
    pump_until(device, _NoCapture(), lambda ups: False, max_ms=300, chunk_ms=50)
    assert 300 < device.ticked_ms <= 600


def test_pump_until_on_an_idle_host_ticks_exactly_the_window():
    device = _OverloadedDevice(starved_per_pump_ms=0)
    pump_until(device, _NoCapture(), lambda ups: False, max_ms=300, chunk_ms=50)
    assert device.ticked_ms == 300

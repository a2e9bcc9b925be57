"""W6: the reassembly table, partial lifetime, memory bounds, and judge_frame (W10 steps 6-14)."""

import pytest

from harness.protocol import CAPTURE_LIMITS
from harness.wire import (
    Event, Reassembler, WireError, chunk, crc16, encode_frame, encode_message, judge_frame, parse_frame,
)
from harness.wire.vectorgen import simple_message

KEY = ("project", "1a2b3c4d", 0, 9)
MESSAGE = bytes(range(1, 31))  # 30 opaque bytes: the reassembler never decodes
MAX_FRAME = 16                 # id 9: the init and middle frames carry 13 bytes, the final 4


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def frames_of(message=MESSAGE, message_id=9, max_frame=MAX_FRAME):
    return [parse_frame(f) for f in chunk(message, message_id, max_frame)]


@pytest.fixture
def frames():
    parsed = frames_of()
    assert [f.kind for f in parsed] == ["init", "middle", "final"]
    return parsed


def rejected(status, fn, *args):
    with pytest.raises(WireError) as err:
        fn(*args)
    assert err.value.status == status, err.value.reason
    return err.value.reason


def test_in_order_frames_complete_the_message(frames):
    r = Reassembler()
    first = r.accept(KEY, frames[0])
    assert (first.message, first.received, first.total, first.repeat) == (None, 13, 30, False)
    assert r.accept(KEY, frames[1]).received == 26
    done = r.accept(KEY, frames[2])
    assert done.message == MESSAGE and done.received == 30
    assert len(r) == 0 and r.buffered_bytes == 0


def test_single_frame_checks_the_crc_and_leaves_partials_alone(frames):
    r = Reassembler()
    r.accept(KEY, frames[0])
    single = parse_frame(encode_frame("single", 9, b"\x01\x02"))
    assert r.accept(KEY, single).message == b"\x01\x02"
    bad = parse_frame(encode_frame("single", 9, b"\x01\x02", crc=crc16(b"\x01\x02") ^ 1))
    assert "CRC mismatch" in rejected(400, r.accept, KEY, bad)
    assert r.received(KEY) == 13  # the partial under the same key is untouched


def test_identical_init_repeat_is_idempotent(frames):
    r = Reassembler()
    r.accept(KEY, frames[0])
    r.accept(KEY, frames[1])
    repeat = r.accept(KEY, frames[0])
    assert repeat.repeat and repeat.message is None and repeat.received == 26


def test_different_init_is_a_conflict_and_changes_nothing(frames):
    r = Reassembler()
    r.accept(KEY, frames[0])
    other = parse_frame(encode_frame("init", 9, b"\xee" * 13, total_length=30))
    rejected(409, r.accept, KEY, other)
    # the same payload with another total_length differs byte for byte too
    rejected(409, r.accept, KEY, parse_frame(encode_frame("init", 9, frames[0].payload, total_length=31)))
    assert r.accept(KEY, frames[1]).received == 26
    assert r.accept(KEY, frames[2]).message == MESSAGE


def test_continuation_without_a_partial_is_409(frames):
    r = Reassembler()
    assert "no partial message" in rejected(409, r.accept, KEY, frames[1])
    assert "no partial message" in rejected(409, r.accept, KEY, frames[2])


def test_identical_duplicate_is_idempotent(frames):
    r = Reassembler()
    r.accept(KEY, frames[0])
    r.accept(KEY, frames[1])
    dup = r.accept(KEY, frames[1])
    assert dup.repeat and dup.received == 26
    assert r.accept(KEY, frames[2]).message == MESSAGE


@pytest.mark.parametrize("payload,offset", [
    (b"\xee" * 13, 13),        # same offset, different bytes
    (MESSAGE[13:20], 13),      # same offset, shorter: not the accepted frame
    (MESSAGE[15:22], 15),      # an offset inside an accepted frame
    (MESSAGE[1:5], 1),         # overlaps the init frame
])
def test_conflicting_duplicate_is_409_and_changes_nothing(frames, payload, offset):
    r = Reassembler()
    r.accept(KEY, frames[0])
    r.accept(KEY, frames[1])
    middle = parse_frame(encode_frame("middle", 9, payload, offset=offset))
    assert "conflicts" in rejected(409, r.accept, KEY, middle)
    assert r.accept(KEY, frames[2]).message == MESSAGE


def test_gap_is_409_and_changes_nothing(frames):
    r = Reassembler()
    r.accept(KEY, frames[0])
    assert "gap" in rejected(409, r.accept, KEY, frames[2])
    assert r.accept(KEY, frames[1]).received == 26
    assert r.accept(KEY, frames[2]).message == MESSAGE


def test_middle_reaching_total_length_is_400_and_changes_nothing(frames):
    r = Reassembler()
    r.accept(KEY, frames[0])
    too_long = parse_frame(encode_frame("middle", 9, MESSAGE[13:], offset=13))
    assert "total_length 30" in rejected(400, r.accept, KEY, too_long)
    # checked as soon as the partial is found, even for an offset that would also be a gap
    rejected(400, r.accept, KEY, parse_frame(encode_frame("middle", 9, b"\x00" * 20, offset=20)))
    assert r.received(KEY) == 13
    r.accept(KEY, frames[1])
    assert r.accept(KEY, frames[2]).message == MESSAGE


@pytest.mark.parametrize("payload", [MESSAGE[26:29], MESSAGE[26:] + b"\x00"])
def test_final_not_ending_at_total_length_is_400_and_changes_nothing(frames, payload):
    r = Reassembler()
    r.accept(KEY, frames[0])
    r.accept(KEY, frames[1])
    final = parse_frame(encode_frame("final", 9, payload, offset=26, crc=crc16(MESSAGE)))
    assert "total_length 30" in rejected(400, r.accept, KEY, final)
    assert r.accept(KEY, frames[2]).message == MESSAGE


def test_final_with_a_bad_crc_is_400_and_removes_the_partial(frames):
    r = Reassembler()
    r.accept(KEY, frames[0])
    r.accept(KEY, frames[1])
    bad = parse_frame(encode_frame("final", 9, frames[2].payload, offset=26, crc=crc16(MESSAGE) ^ 0x8000))
    assert "CRC mismatch" in rejected(400, r.accept, KEY, bad)
    assert KEY not in r and r.buffered_bytes == 0
    rejected(409, r.accept, KEY, frames[2])


def test_after_completion_the_message_can_be_sent_again(frames):
    r = Reassembler()
    for f in frames:
        r.accept(KEY, f)
    rejected(409, r.accept, KEY, frames[2])  # no state kept after completion
    for f in frames[:2]:
        assert r.accept(KEY, f).message is None
    assert r.accept(KEY, frames[2]).message == MESSAGE


def test_keys_are_independent(frames):
    r = Reassembler()
    other_stream = ("project", "ffffffff", 0, 9)
    other_project = ("project-2", "1a2b3c4d", 0, 9)
    r.accept(KEY, frames[0])
    rejected(409, r.accept, other_stream, frames[1])
    rejected(409, r.accept, other_project, frames[1])
    r.accept(other_project, frames[0])
    assert r.accept(other_project, frames[1]).received == 26
    assert r.received(KEY) == 13


def test_partials_expire_after_the_ttl(frames):
    clock = FakeClock()
    r = Reassembler(ttl_seconds=5, clock=clock)
    r.accept(KEY, frames[0])
    clock.now += 4.999
    r.accept(KEY, frames[1])
    clock.now += 0.001  # 5 s after creation, not after the last frame
    assert "no partial message" in rejected(409, r.accept, KEY, frames[2])
    assert len(r) == 0 and r.buffered_bytes == 0
    # an init after expiry starts afresh
    assert r.accept(KEY, frames[0]).repeat is False
    clock.now += 1
    r.accept(KEY, frames[1])
    assert r.accept(KEY, frames[2]).message == MESSAGE


def test_expire_drops_only_expired_partials(frames):
    clock = FakeClock()
    r = Reassembler(ttl_seconds=10, clock=clock)
    r.accept("old", frames[0])
    clock.now += 6
    r.accept("new", frames[0])
    clock.now += 5
    assert r.expire() == 1
    assert "old" not in r and "new" in r


def test_partial_count_bound_discards_the_oldest(frames):
    r = Reassembler(max_partials=2)
    for key in ("a", "b", "c"):
        r.accept(key, frames[0])
    assert len(r) == 2 and r.discarded == 1
    rejected(409, r.accept, "a", frames[1])
    assert r.accept("b", frames[1]).received == 26
    assert r.accept("c", frames[1]).received == 26


def test_byte_bound_discards_other_partials_when_a_frame_is_appended(frames):
    r = Reassembler(max_buffered_bytes=45)
    r.accept("a", frames[0])
    r.accept("b", frames[0])
    r.accept("c", frames[0])                # 39 bytes buffered
    assert r.buffered_bytes == 39
    r.accept("a", frames[1])                # 52 > 45: "b" (the oldest other) goes
    assert "b" not in r and "a" in r and "c" in r
    assert r.buffered_bytes == 39
    assert r.accept("a", frames[2]).message == MESSAGE


def test_message_larger_than_the_buffer_is_413(frames):
    r = Reassembler(max_buffered_bytes=29)
    assert "reassembly buffer" in rejected(413, r.accept, KEY, frames[0])
    assert len(r) == 0


@pytest.mark.parametrize("kwargs", [{"ttl_seconds": 0}, {"max_partials": 0}, {"max_buffered_bytes": 0}])
def test_reassembler_refuses_nonsense_bounds(kwargs):
    with pytest.raises(ValueError):
        Reassembler(**kwargs)


def test_reasons_never_contain_the_key(frames):
    secret = ("phc_SECRET_PROJECT_KEY", "1a2b3c4d", 0, 9)
    r = Reassembler()
    reasons = []
    for bad in (frames[1], frames[2]):
        with pytest.raises(WireError) as err:
            r.accept(secret, bad)
        reasons.append(err.value.reason)
    r.accept(secret, frames[0])
    with pytest.raises(WireError) as err:
        r.accept(secret, parse_frame(encode_frame("init", 9, b"\x00" * 13, total_length=30)))
    reasons.append(err.value.reason)
    assert reasons and not any("SECRET" in reason for reason in reasons)


# ---------------------------------------------------------------------------- judge_frame


def valid_message(message_id=5):
    return encode_message(simple_message(message_id, [Event("capture", 10, [("mode", "hdr")])]))


def test_judge_frame_walks_a_multi_frame_message_to_204():
    data = valid_message()
    r = Reassembler()
    bodies = chunk(data, 5, 40)
    verdicts = [judge_frame(r, b, stream_id="1a2b3c4d", namespace="key") for b in bodies]
    assert [v.status for v in verdicts] == [202] * (len(bodies) - 1) + [204]
    assert verdicts[-1].events[0]["event"] == "capture"
    assert verdicts[-1].events[0]["properties"]["mode"] == "hdr"


def test_stream_id_is_required_on_init_and_continuation_frames_only():
    data = valid_message()
    r = Reassembler()
    init, *rest = chunk(data, 5, 40)
    verdict = judge_frame(r, init, stream_id=None)
    assert verdict.status == 400 and "stream id" in verdict.reason and len(r) == 0
    assert judge_frame(r, chunk(data, 5)[0], stream_id=None).status == 204


def test_missing_stream_id_is_step_7_between_body_size_and_total_length():
    r = Reassembler()
    oversized_init = encode_frame("init", 5, b"\x02", total_length=CAPTURE_LIMITS.message + 1)
    assert judge_frame(r, oversized_init, stream_id="s").status == 413
    verdict = judge_frame(r, oversized_init, stream_id=None)
    assert verdict.status == 400 and "stream id" in verdict.reason
    too_big = b"\x42" + b"\x00" * CAPTURE_LIMITS.frame
    assert judge_frame(r, too_big, stream_id=None).status == 413
    assert judge_frame(r, encode_frame("middle", 5, b"\x00", offset=3), stream_id=None).status == 400
    assert len(r) == 0


def test_namespaces_separate_identical_stream_ids():
    data = valid_message()
    r = Reassembler()
    init, middle, *_ = chunk(data, 5, 40)
    assert judge_frame(r, init, stream_id="s", namespace="key-1").status == 202
    assert judge_frame(r, middle, stream_id="s", namespace="key-2").status == 409
    assert judge_frame(r, middle, stream_id="s", namespace="key-1").status == 202


def test_a_final_frame_that_fails_validation_still_removes_the_partial():
    data = encode_message(simple_message(5, [Event("", 0, [("pad", "x" * 40)])]))  # empty name: 422
    r = Reassembler()
    bodies = chunk(data, 5, 40)
    verdicts = [judge_frame(r, b, stream_id="s") for b in bodies]
    assert verdicts[-1].status == 422 and "empty event name" in verdicts[-1].reason
    assert verdicts[-1].events == [] and verdicts[-1].message is not None
    assert len(r) == 0
    assert judge_frame(r, bodies[-1], stream_id="s").status == 409


def test_judge_frame_reports_frame_errors_without_touching_state():
    r = Reassembler()
    verdict = judge_frame(r, b"\x82\x01\x00\x00\x00", stream_id="s")
    assert verdict.status == 400 and verdict.frame is None and len(r) == 0

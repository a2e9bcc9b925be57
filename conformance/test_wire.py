"""Wire: every upload as the capture server saw it (contract C1–C7; wire-v2 W3, W5, W7).

Everything here is asserted from the server's request log: headers, the frame in each
body, the reassembled message decoded strictly within the SDK limits and re-encoded
canonically.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from pathlib import Path

import pytest

from harness import protocol as P
from harness.conformance_support import (
    STREAM_ID_RE, attempts, delivered_messages, drain_boot, flush_all, named, names, quiet, raises, sized_event, uploads,
    user_events,
)
from harness.wire import F64, Int, Reserved, UInt, encode_message

VECTORS = Path(__file__).parent / "vectors" / "upstream" / "wire-v2"


def _device_capture_path(device) -> str:
    """W3.1: the endpoint's path without trailing slashes, then /capture."""
    return urllib.parse.urlsplit(device.config["endpoint_url"]).path.rstrip("/") + P.CAPTURE_PATH


def _session_mix(device):
    """Events outside and inside a session, across several messages."""
    device.track("before", {"n": 1})
    device.session_start("walk")
    device.track("inside", {"n": 2})
    device.track("inside", {"n": 3})
    device.session_end()
    device.track("after", {"n": 4, "tags": ["a", "b"], "nested": {"k": [1, 2.5, None]}})


@pytest.mark.clause("C1")
def test_every_upload_is_one_post_of_one_frame_with_the_contract_headers(device, capture):
    quiet(device, batch_size=2)
    _session_mix(device)
    flush_all(device)
    ups = uploads(capture)
    assert len(ups) >= 4, f"expected the queue to go out in several messages, got {ups}"
    path = _device_capture_path(device)
    for u in ups:
        where = f"request at t={u.t:.3f}"
        assert u.method == "POST" and u.path == path, f"{where}: {u.method} {u.path!r}, expected POST {path!r}"
        # 204 means: POST, a configured project key equal to the tenant's, a valid frame.
        assert u.status == 204, f"{where} was answered {u.status} {u.reason}"
        assert u.header("Content-Type") == P.CONTENT_TYPE, f"{where}: Content-Type {u.header('Content-Type')!r}"
        assert u.header(P.HEADER_PROJECT_KEY), f"{where}: no {P.HEADER_PROJECT_KEY}"
        assert (u.header("Connection") or "").lower() == "close", f"{where}: Connection {u.header('Connection')!r}"
        for banned in ("Content-Encoding", "Transfer-Encoding") + P.RELAY_HEADERS:
            assert u.header(banned) is None, f"{where}: a device must not send {banned}"
        lowered = [n.lower() for n in u.header_names]
        repeated = sorted({n for n in lowered if lowered.count(n) > 1})
        assert not repeated, f"{where}: headers sent more than once: {repeated}"
        for name, value in u.headers.items():
            if name == P.HEADER_PROJECT_KEY.lower():
                continue  # redacted by the server; 204 proves it matched
            assert value and all(P.HEADER_VALUE_MIN_BYTE <= b <= P.HEADER_VALUE_MAX_BYTE
                                 for b in value.encode()), f"{where}: header {name}: {value!r}"
        assert u.frame is not None, f"{where}: body is not one frame: {u.frame_error}"
        assert u.frame.raw == u.body and u.header("Content-Length") == str(len(u.body)), \
            f"{where}: the body must be exactly one frame, its length given by Content-Length"


@pytest.mark.clause("C2", "C10")
def test_stream_id_is_8_hex_stable_for_the_client_and_new_for_each_client(device, capture):
    quiet(device)
    device.track("one")
    device.flush()
    device.track("two")
    device.flush()
    device.reset()  # contract 11.8: reset keeps the stream id
    device.track("three")
    device.flush()
    first = {u.stream_id for u in uploads(capture)}
    assert len(first) == 1, f"one client sent stream ids {sorted(map(str, first))}"
    (sid,) = first
    assert sid is not None and STREAM_ID_RE.match(sid), f"stream id {sid!r} is not 8 lowercase hex digits"

    quiet(device)  # a new client, as after a board reset
    device.flush()
    later = [u.stream_id for u in uploads(capture)][3:]
    assert later and all(s == later[0] for s in later), later
    assert STREAM_ID_RE.match(later[0] or ""), f"stream id {later[0]!r} is not 8 lowercase hex digits"
    assert later[0] != sid, f"a new client reused the stream id {sid}"


@pytest.mark.clause("C2")
def test_stream_id_is_fresh_after_a_board_reset(board, device, capture):
    quiet(device)
    device.flush()
    board.reset()  # the board's own reset method: restart, soft reset, DTR pulse, ...
    quiet(device)
    device.flush()
    ups = uploads(capture)
    assert len(ups) == 2, f"expected one upload before and one after the reset, got {[u.status for u in ups]}"
    for when, up in zip(("before", "after"), ups):
        assert STREAM_ID_RE.match(up.stream_id or ""), \
            f"the upload {when} the reset has stream id {up.stream_id!r}, not 8 lowercase hex digits"
    assert ups[0].stream_id != ups[1].stream_id, f"stream id {ups[0].stream_id} survived a board reset"


@pytest.mark.clause("C3")
def test_message_id_is_seed_plus_first_sequence(device, capture):
    quiet(device, batch_size=2)
    for i in range(4):
        device.track("e", {"i": i})  # sequences 2..5 after $device_boot (1)
    flush_all(device)
    device.track("later")  # sequence 6
    device.flush()
    sent = delivered_messages(capture)
    assert [len(m.events) for _, m in sent] == [2, 2, 1, 1], sent
    seed = int(sent[0][0].stream_id, 16)
    first_sequences = [1, 3, 5, 6]
    for (a, m), s in zip(sent, first_sequences):
        assert a.message_id == (seed + s) % 2 ** 32, (
            f"message starting with sequence {s} ({m.events[0].name}) has id {a.message_id}, "
            f"expected (0x{sent[0][0].stream_id} + {s}) mod 2^32 = {(seed + s) % 2 ** 32}")


#: what _session_mix records inside its session (messages never mix sessions, C40)
SESSION_EVENTS = ("$session_start", "inside", "$session_end")


def _context_ids(message):
    return [cid for cid, _ in message.context]


@pytest.mark.clause("C4")
def test_messages_are_canonical_within_sdk_limits_with_the_required_context(device, capture):
    quiet(device, batch_size=50)
    _session_mix(device)
    # strings close to the SDK limits force the longest-prefix cut (W8, contract 6.3)
    for i in range(6):
        device.track("wide", {"text": chr(ord("a") + i) * 500, "i": i})
    flush_all(device)
    sent = delivered_messages(capture)
    assert sum(len(m.events) for _, m in sent) == 13, [names(capture.events())]
    assert len(sent) >= 3, "six 500-byte strings cannot fit a 2048-string-byte message"
    for a, m in sent:
        for u in a.uploads:
            assert len(u.body) <= P.SDK_LIMITS.frame, f"frame of {len(u.body)} bytes"
        data = a.data
        assert len(data) <= P.SDK_LIMITS.message
        assert encode_message(m) == data, f"message {a.message_id} is not in canonical form (W7.7)"
        in_session = any(e.name in SESSION_EVENTS for e in m.events)
        want = list(P.REQUIRED_CONTEXT_IDS) + ([8] if in_session else []) + [9]
        assert _context_ids(m) == want, (
            f"message with {[e.name for e in m.events]} carries context ids {_context_ids(m)}, expected {want}")


@pytest.mark.clause("C5", "C20")
def test_a_message_over_one_frame_goes_out_in_offset_order_each_frame_after_202(device, capture):
    quiet(device)
    drain_boot(device, capture)
    boot = delivered_messages(capture)[0][1]
    # 4094 bytes cannot travel in one 4096-byte frame whatever the message id's size
    props = sized_event(boot, "big", P.SDK_LIMITS.message - 2)
    device.track("big", props)
    device.flush()
    sent = attempts(uploads(capture))[1:]
    assert len(sent) == 1 and sent[0].delivered, sent
    frames = sent[0].uploads
    assert [u.kind for u in frames] == ["init", "final"], frames
    assert frames[0].frame.total_length == len(sent[0].data) >= P.SDK_LIMITS.message - 2
    assert frames[0].status == 202 and frames[1].t >= frames[0].t
    assert frames[1].frame.offset == len(frames[0].frame.payload)
    assert [e["event"] for e in user_events(capture.events())] == ["big"]


def _post_frame(capture, body: bytes, stream_id: str):
    url = urllib.parse.urlsplit(capture.capture_url)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    try:
        conn.putrequest("POST", url.path, skip_accept_encoding=True)
        for name, value in (("Content-Type", P.CONTENT_TYPE), (P.HEADER_PROJECT_KEY, capture.key),
                            (P.HEADER_STREAM_ID, stream_id), ("Content-Length", str(len(body))),
                            ("Connection", "close")):
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _vectors():
    return sorted(VECTORS.glob("*.json"))


@pytest.mark.clause("C6")
def test_upstream_vectors_replayed_against_the_mock(board, capture):
    """The mock this board is judged by answers every upstream vector as specified.

    The vectors do not involve the board; the test runs once per board so that each
    board's column in the matrix states that its verdicts come from a conforming mock.
    """
    vectors = [json.loads(p.read_text()) for p in _vectors()]
    assert len(vectors) == 9, f"expected the nine wire-v2 vectors in {VECTORS}"
    for n, vector in enumerate(vectors):
        stream_id = f"c6{n:06x}"
        statuses = [_post_frame(capture, bytes.fromhex(f["hex"]), stream_id) for f in vector["frames"]]
        assert statuses[-1] == vector["expected_capture_response_code"], (
            f"vector {vector['name']}: answers {statuses}, expected the last to be "
            f"{vector['expected_capture_response_code']}")
        stored = [e for e in capture.events() if e["_meta"]["stream_id"] == stream_id]
        for e in stored:
            del e["_meta"]
        assert stored == vector["expanded_event_json"], f"vector {vector['name']}: stored events differ"


@pytest.mark.clause("C7")
@pytest.mark.requires_tags("wall_clock")
def test_timestamps_come_from_the_valid_wall_clock(device, capture):
    quiet(device)
    drain_boot(device, capture)
    before = int(time.time() * 1000)
    device.track("stamped")
    after = int(time.time() * 1000) + 1
    device.flush()
    (event,) = user_events(capture.events())
    assert before <= event["timestamp"] <= after, (
        f"timestamp {event['timestamp']} outside the wall clock around the track() call [{before}, {after}]")
    for _, m in delivered_messages(capture):
        source = dict(m.context).get(9)
        assert source is not None and source.value == 1, f"device_time_source {source}, expected 1"


@pytest.mark.clause("C4", "C12")
def test_every_value_type_arrives_intact(device, capture):
    quiet(device)
    drain_boot(device, capture)
    props = {
        "none": None, "no": False, "yes": True, "zero": 0, "u64_max": 2 ** 64 - 1, "i64_min": -2 ** 63,
        "neg": -5, "half": 1.5, "text": "h\u00e9llo \u2603", "empty": "", "list": [1, "a", None, [True]],
        "tuple": (1, 2), "map": {"a": {"b": [0.25]}}, "state": "on", "reset_reason": "software",
    }
    device.track("types", props)
    device.flush()
    (event,) = user_events(capture.events())
    got = event["properties"]
    want = dict(props, tuple=[1, 2])
    for key, value in want.items():
        assert key in got, f"property {key!r} missing on the server"
        assert got[key] == value and type(got[key]) is type(value), \
            f"property {key!r}: sent {value!r}, stored {got[key]!r}"
    (_, message) = delivered_messages(capture)[-1]
    wire = dict(message.events[0].properties)
    assert wire["u64_max"] == UInt(2 ** 64 - 1) and wire["zero"] == UInt(0)
    assert wire["i64_min"] == Int(-2 ** 63) and wire["neg"] == Int(-5)
    assert wire["half"] == F64(1.5), f"floats travel as float64 on every port, got {wire['half']!r}"
    assert Reserved(P.RESERVED_PROPERTY_ID_BY_NAME["state"]) in wire, "state must use its reserved key ref"
    assert "state" not in wire


@pytest.mark.clause("C1", "C2")
def test_retried_upload_keeps_the_headers(device, capture):
    quiet(device)
    capture.add_faults({"status": 503})
    with raises("ServerError", status=P.STATUS["SERVER"]):
        device.flush()
    device.flush()
    ups = uploads(capture)
    assert [u.status for u in ups] == [503, 204], ups
    assert STREAM_ID_RE.match(ups[0].stream_id or ""), \
        f"stream id {ups[0].stream_id!r} is not 8 lowercase hex digits"
    assert ups[0].stream_id == ups[1].stream_id, \
        f"the retry changed the stream id: {ups[0].stream_id!r} then {ups[1].stream_id!r}"
    assert ups[0].header("Content-Type") == ups[1].header("Content-Type") == P.CONTENT_TYPE


#: the first and last code point of every UTF-8 sequence length and lead-byte range
#: (RFC 3629 section 4: E0 and ED, F0 and F4 restrict their second byte)
UTF8_BOUNDARIES = (
    "\u007f", "\u0080", "\u00bf", "\u00c0", "\u07ff",              # 1 byte; 2 bytes: C2..DF
    "\u0800", "\u0fff", "\u1000", "\ucfff", "\ud000", "\ud7ff",    # E0, E1..EC, ED (below the surrogates)
    "\ue000", "\uffff",                                            # EE..EF
    "\U00010000", "\U0003ffff", "\U00040000", "\U000fffff",        # F0, F1..F3
    "\U00100000", "\U0010ffff",                                    # F4 (up to the last code point)
)


@pytest.mark.clause("C1")
def test_text_at_every_utf8_length_and_lead_byte_boundary_arrives_intact(device, capture):
    """Valid UTF-8 of every sequence length is accepted in names, keys and values.

    Each code point sits alone in its own value and together in one name and key,
    so a validator that refuses any valid lead byte or continuation range fails here.
    """
    quiet(device)
    drain_boot(device, capture)
    props = {f"c{i}": ch for i, ch in enumerate(UTF8_BOUNDARIES)}
    props["all " + "".join(UTF8_BOUNDARIES[:6])] = "".join(UTF8_BOUNDARIES)
    name = "utf8 " + "".join(UTF8_BOUNDARIES[6:])
    assert len(name.encode()) <= P.MAX_NAME_BYTES
    device.track(name, props)
    device.identify("id " + "".join(UTF8_BOUNDARIES[12:]), {"t" + UTF8_BOUNDARIES[-1]: UTF8_BOUNDARIES[13]})
    flush_all(device)
    stored = capture.events()
    (event,) = [e for e in stored if e["event"] == name]
    assert event["properties"] == {**props, **{k: v for k, v in event["properties"].items() if k.startswith("$")}}, \
        f"text changed on the way: sent {props!r}, stored {event['properties']!r}"
    (ident,) = named(stored, "$identify")
    assert ident["distinct_id"] == "id " + "".join(UTF8_BOUNDARIES[12:]), ident
    assert ident["properties"]["t" + UTF8_BOUNDARIES[-1]] == UTF8_BOUNDARIES[13], ident


@pytest.mark.clause("C1")
@pytest.mark.parametrize("slashes", ["/", "///"])
def test_trailing_slashes_of_the_endpoint_path_are_dropped(device, capture, slashes):
    """W3.1: <endpoint path without trailing slashes>/capture, however many there are."""
    endpoint = device.endpoint_url.rstrip("/") + slashes
    quiet(device, endpoint_url=endpoint)
    drain_boot(device, capture)
    device.track("slashed")
    device.flush()
    want = urllib.parse.urlsplit(endpoint).path.rstrip("/") + P.CAPTURE_PATH
    paths = {u.path for u in uploads(capture)}
    assert paths == {want}, f"endpoint {endpoint!r}: requests went to {sorted(paths)}, expected {want!r}"
    assert names(user_events(capture.events())) == ["slashed"]


def _alternating(depth: int, tag: str = "x"):
    """Maps and lists nested alternately ``depth`` deep, each with entries after its child,
    so every level is reopened after an inner container closes."""
    if depth == 0:
        return tag
    inner = _alternating(depth - 1, tag)
    if depth % 2:
        return {"first": depth, "child": inner, "after": [depth, {"k": depth}], "last": f"{tag}{depth}"}
    return [depth, inner, {"after": depth}, [depth, [depth]], f"{tag}{depth}"]


@pytest.mark.clause("C1")
def test_maps_and_lists_nested_alternately_to_the_limit_arrive_intact(device, capture):
    """C1 with containers of both kinds at every depth up to contract 2.3's limit (the
    innermost map of the deepest ``after`` list sits exactly at depth MAX_NESTING)."""
    quiet(device)
    drain_boot(device, capture)
    value = _alternating(P.MAX_NESTING - 2)
    props = {"deep": value, "next": {"m": [1, {"n": [2, 3]}], "o": 4}, "tail": 5}
    device.track("nested", props)
    device.track("nested", {"deep": _alternating(P.MAX_NESTING - 2, "y"), "tail": 6})
    device.flush()
    got = [{k: v for k, v in e["properties"].items() if not k.startswith("$")} for e in user_events(capture.events())]
    want = [props, {"deep": _alternating(P.MAX_NESTING - 2, "y"), "tail": 6}]
    assert got == want, f"nested values changed on the way: sent {want!r}, stored {got!r}"

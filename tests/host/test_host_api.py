"""Every API method of honch.Honch on the host core, checked on the real capture server
(contract 2.2-2.4, 6, 10.2, 11.5-11.8)."""

import math
import re

import pytest

import honch
from harness import protocol
from host_sdk_support import capture_requests, event_names, sent_messages

INVALID = protocol.STATUS["INVALID_ARGUMENT"]


def _nested_lists(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


def test_track_delivers_properties_of_every_type(capture, make_client):
    client = make_client(capture)
    props = {
        "none": None, "yes": True, "no": False, "small": 3, "negative": -44, "big": 2**64 - 1,
        "most_negative": -2**63, "pi": math.pi, "text": "h\u00e9llo \u2603", "empty": "",
        "list": [1, "two", [3.5]], "tuple": (True, None), "map": {"inner": {"deep": "x"}},
        "state": "running", "eight_deep": _nested_lists(8),
    }
    client.track("sample", props)
    client.flush()
    boot, sample = capture.events()
    assert boot["event"] == "$device_boot"
    assert sample["event"] == "sample"
    got = sample["properties"]
    for key, value in props.items():
        expected = list(value) if isinstance(value, tuple) else value
        assert got[key] == expected, key


def test_bytes_are_sent_as_bytes_when_the_project_allows_them(capture, make_client):
    capture.reset(binary_properties=True)
    client = make_client(capture)
    client.track("blob", {"raw": b"\x00\xff\x10", "arr": bytearray(b"\x01")})
    client.flush()
    props = capture.events()[1]["properties"]
    assert props["raw"] == {"bytes_hex": "00ff10"}
    assert props["arr"] == {"bytes_hex": "01"}


@pytest.mark.parametrize("name", ["", " \t\r\n", "n" * (protocol.MAX_NAME_BYTES + 1), None, 7])
def test_track_name_rules(capture, make_client, name):
    client = make_client(capture)
    with pytest.raises(honch.InvalidArgumentError) as caught:
        client.track(name)
    assert caught.value.status == INVALID


def test_track_accepts_a_128_byte_name(capture, make_client):
    client = make_client(capture)
    client.track("\u00e9" * (protocol.MAX_NAME_BYTES // 2))
    client.flush()
    assert capture.events()[1]["event"] == "\u00e9" * 64


@pytest.mark.parametrize("properties", [
    {f"k{i}": i for i in range(protocol.MAX_PROPERTIES + 1)},
    {"": 1}, {" ": 1}, {"a\x00b": 1}, {5: 1},
    {"x": float("nan")}, {"x": float("inf")}, {"x": -float("inf")},
    {"x": 2**64}, {"x": -2**63 - 1},
    {"x": {1, 2}}, {"x": object()}, {"x": 1j}, {"x": memoryview(b"ab")},
    {"state": 5}, {"reset_reason": None}, {"nested": {"session_name": 1}},
    {"nine_deep": _nested_lists(9)},
    {"bad": "\ud800"},
    ["not", "a", "dict"],
], ids=lambda p: re.sub(r" at 0x[0-9a-f]+", "", repr(p))[:40])
def test_track_property_rules(capture, make_client, properties):
    client = make_client(capture)
    before = client.queue_stats()
    with pytest.raises(honch.InvalidArgumentError) as caught:
        client.track("sample", properties)
    assert caught.value.status == INVALID
    assert client.queue_stats() == before


def test_track_accepts_64_properties(capture, make_client):
    client = make_client(capture)
    client.track("wide", {f"k{i}": i for i in range(protocol.MAX_PROPERTIES)})
    client.flush()
    assert len(capture.events()[1]["properties"]) == protocol.MAX_PROPERTIES + 6  # + promoted context


def test_self_referencing_container_is_refused_not_crashing(capture, make_client):
    client = make_client(capture)
    loop = []
    loop.append(loop)
    with pytest.raises(honch.InvalidArgumentError):
        client.track("loop", {"x": loop})


@pytest.mark.parametrize("key", protocol.RESERVED_KEYS)
def test_reserved_keys_refused_at_any_depth_with_nothing_queued(capture, make_client, key):
    client = make_client(capture)
    before = client.queue_stats()
    for bad in ({key: 1}, {"outer": {key: 1}}, {"list": [{"deeper": [{key: 1}]}]}):
        with pytest.raises(honch.InvalidArgumentError):
            client.track("sample", bad)
        with pytest.raises(honch.InvalidArgumentError):
            client.identify("user-1", bad)
    with pytest.raises(honch.InvalidArgumentError):
        client.set_property(key, 1)
    with pytest.raises(honch.InvalidArgumentError):
        client.set_property("ok", {"inner": {key: 1}})
    assert client.queue_stats() == before
    assert client.get_device_id() == "dev-host-1"


def test_oversized_record_refused_and_stats_unchanged(capture, make_client):
    client = make_client(capture, max_event_bytes=256)
    before = client.queue_stats()
    with pytest.raises(honch.InvalidArgumentError):
        client.track("big", {"text": "x" * 300})
    assert client.queue_stats() == before
    client.track("small", {"text": "x" * 100})
    assert client.queue_stats()["queued_events"] == 2


def test_event_larger_than_the_buffer_raises_storage_error_and_evicts_nothing(capture, make_client):
    client = make_client(capture, event_buffer=bytearray(512), max_event_bytes=4096)
    client.track("first")
    before = client.queue_stats()
    with pytest.raises(honch.StorageError) as caught:
        client.track("huge", {"text": "x" * 600})
    assert caught.value.status == protocol.STATUS["QUEUE_FULL"]
    after = client.queue_stats()
    assert after["oversized_rejected_events"] == before["oversized_rejected_events"] + 1
    assert after["queued_events"] == before["queued_events"]
    assert after["capacity_dropped_events"] == before["capacity_dropped_events"]


def test_queue_overflow_drops_oldest_and_counts(capture, make_client):
    client = make_client(capture, max_queued_events=5, flush_max_batches=3)
    for i in range(8):
        client.track("n", {"i": i})
    stats = client.queue_stats()
    assert stats["queued_events"] == 5
    assert stats["capacity_dropped_events"] == 4  # $device_boot and n0..n2
    assert stats["high_water_events"] == 5
    client.flush()
    assert [e["properties"]["i"] for e in capture.events()] == [3, 4, 5, 6, 7]


def test_byte_bounded_queue_drops_oldest_to_make_room(capture, make_client):
    client = make_client(capture, event_buffer=bytearray(1024), flush_max_batches=5)
    for i in range(40):
        client.track("filler", {"i": i, "pad": "p" * 40})
    stats = client.queue_stats()
    assert stats["capacity_dropped_events"] > 0
    assert stats["queued_bytes"] <= stats["buffer_bytes"] == 1024
    assert stats["high_water_bytes"] <= 1024
    client.flush()
    received = [e["properties"]["i"] for e in capture.events()]
    assert received == list(range(40 - len(received), 40))  # the newest, in order


def test_queue_stats_keys_and_monotonic_high_water(capture, make_client):
    client = make_client(capture)
    stats = client.queue_stats()
    assert tuple(sorted(stats)) == tuple(sorted(protocol.QUEUE_STATS_KEYS))
    assert all(isinstance(v, int) and v >= 0 for v in stats.values())
    for i in range(3):
        client.track("e", {"i": i})
    high = client.queue_stats()
    client.flush()
    client.reset()
    after = client.queue_stats()
    assert after["queued_events"] == 0 and after["queued_bytes"] == 0
    assert after["high_water_events"] == high["high_water_events"] == 4
    assert after["high_water_bytes"] == high["high_water_bytes"] > 0


def test_identify_sends_anon_id_and_later_events_use_the_new_id(capture, make_client):
    client = make_client(capture)
    client.identify("user-42", {"plan": "pro"})
    client.track("after")
    client.flush()  # the message is cut at the distinct_id change
    client.flush()
    boot, identify, after = capture.events()
    assert boot["distinct_id"] == "dev-host-1"
    assert identify["event"] == "$identify"
    assert identify["distinct_id"] == "user-42"
    assert identify["properties"]["$anon_distinct_id"] == "dev-host-1"
    assert identify["properties"]["plan"] == "pro"
    assert after["distinct_id"] == "user-42"
    assert len(sent_messages(capture)) == 2


@pytest.mark.parametrize("distinct_id", ["", "  ", "u" * (protocol.MAX_DISTINCT_ID_BYTES + 1), 5])
def test_identify_rules(capture, make_client, distinct_id):
    client = make_client(capture)
    with pytest.raises(honch.InvalidArgumentError):
        client.identify(distinct_id)


def test_identify_allows_63_traits_not_64(capture, make_client):
    client = make_client(capture)
    with pytest.raises(honch.InvalidArgumentError):
        client.identify("u", {f"t{i}": i for i in range(protocol.MAX_TRAITS + 1)})
    client.identify("u", {f"t{i}": i for i in range(protocol.MAX_TRAITS)})
    assert client.queue_stats()["queued_events"] == 2


def test_set_property_and_get_device_id(capture, make_client):
    client = make_client(capture)
    client.set_property("color", {"rgb": [1, 2, 3]})
    client.flush()
    event = capture.events()[1]
    assert event["event"] == "$set_property"
    assert event["properties"]["color"] == {"rgb": [1, 2, 3]}
    assert client.get_device_id() == "dev-host-1"


def test_sessions(capture, make_client):
    client = make_client(capture, flush_max_batches=5)
    client.session_end()  # no session: nothing happens
    assert client.queue_stats()["queued_events"] == 1
    client.session_start("first")
    client.track("inside")
    client.session_start()  # ends "first", starts an unnamed one
    client.session_end()
    client.track("outside")
    client.flush()
    names = event_names(capture)
    assert names == ["$device_boot", "$session_start", "inside", "$session_end", "$session_start",
                     "$session_end", "outside"]
    events = capture.events()
    first_id = events[1]["properties"]["$session_id"]
    second_id = events[4]["properties"]["$session_id"]
    assert re.fullmatch(r"sess_[0-9a-f]{32}", first_id)
    assert re.fullmatch(r"sess_[0-9a-f]{32}", second_id) and second_id != first_id
    assert events[1]["properties"]["session_name"] == "first"
    assert "session_name" not in events[4]["properties"]
    assert events[2]["properties"]["$session_id"] == first_id
    assert events[3]["properties"]["$session_id"] == first_id
    assert events[5]["properties"]["$session_id"] == second_id
    assert "$session_id" not in events[0]["properties"]
    assert "$session_id" not in events[6]["properties"]
    # messages are cut where the session changes: boot | first session | second | outside
    assert [len(m.events) for m in sent_messages(capture)] == [1, 3, 2, 1]


def test_session_start_rejects_non_str_name(capture, make_client):
    client = make_client(capture)
    with pytest.raises(honch.InvalidArgumentError):
        client.session_start(5)


def test_report_log_error_coalesces_in_four_slots(capture, make_client):
    client = make_client(capture)
    for _ in range(3):
        client.report_log_error("sensor timeout", component="i2c")
    client.report_log_error("b", component="c2")
    client.report_log_error("c", component=None)
    client.report_log_error("d", component="  ")  # blank component counts as none
    client.report_log_error("e", component="c5")  # fifth key: dropped
    client.report_log_error("ignored", component="honch")  # self-log guard
    client.flush()
    errors = [e for e in capture.events() if e["event"] == "$error"]
    assert len(errors) == 4
    first = errors[0]["properties"]
    assert (first["level"], first["component"], first["message"], first["count"], first["dropped"]) == \
        ("error", "i2c", "sensor timeout", 3, 1)
    assert [e["properties"]["message"] for e in errors] == ["sensor timeout", "b", "c", "d"]
    assert "component" not in errors[2]["properties"]
    assert "component" not in errors[3]["properties"]
    assert all("dropped" not in e["properties"] for e in errors[1:])


def test_report_log_error_cuts_long_texts_on_character_boundaries(capture, make_client):
    client = make_client(capture)
    client.report_log_error("\u20ac" * 100, component="\u00e9" * 40)  # 300 and 80 bytes
    client.flush()
    error = capture.events()[-1]["properties"]
    assert error["message"] == "\u20ac" * (protocol.ERROR_MESSAGE_CUT_BYTES // 3)
    assert error["component"] == "\u00e9" * (protocol.ERROR_COMPONENT_CUT_BYTES // 2)


@pytest.mark.parametrize("message", ["", " \n", None, 3])
def test_report_log_error_rules(capture, make_client, message):
    client = make_client(capture)
    with pytest.raises(honch.InvalidArgumentError):
        client.report_log_error(message)


def test_connectivity_changed_queues_only_changes(capture, make_client):
    client = make_client(capture)
    client.connected()
    client.connectivity_changed(True)
    client.disconnected()
    client.disconnected()
    with pytest.raises(honch.InvalidArgumentError):
        client.connectivity_changed(1)
    client.flush()
    changes = [e["properties"]["state"] for e in capture.events() if e["event"] == "$connectivity_change"]
    assert changes == ["connected", "disconnected"]


def test_reset_restores_identity_ends_session_silently_and_empties_queue(capture, make_client):
    client = make_client(capture)
    client.identify("user-9")
    client.session_start("s")
    client.track("dropped")
    client.reset()
    assert client.queue_stats()["queued_events"] == 0
    client.track("fresh")
    client.flush()
    [fresh] = capture.events()
    assert fresh["distinct_id"] == "dev-host-1"
    assert "$session_id" not in fresh["properties"]


def test_shutdown_sends_device_shutdown_then_closes(capture, make_client):
    client = make_client(capture)
    client.track("last")
    client.shutdown()
    assert event_names(capture) == ["$device_boot", "last", "$device_shutdown"]
    assert client.shutdown() is None
    for call in (lambda: client.track("x"), client.flush, client.tick, client.queue_stats,
                 client.get_device_id, client.reset, lambda: client.run(print),
                 client.install_error_hook):
        with pytest.raises(honch.NotInitializedError):
            call()
    assert len(capture_requests(capture)) == 1


def test_a_closed_client_refuses_tick_and_flush_without_asking_connectivity(capture, make_client):
    asked = []
    client = make_client(capture, connectivity_callback=lambda: asked.append(1) or True)
    client.shutdown()
    asked.clear()
    for call in (client.tick, client.flush, client.reset):
        with pytest.raises(honch.NotInitializedError):
            call()
    assert asked == []

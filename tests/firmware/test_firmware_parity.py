"""``_honch_core`` on MicroPython has exactly the host extension's API: the same
names, and the same outcome (status and detail) for the same calls. One program runs
on both: in this process over the host build, and on the unix firmware."""

from __future__ import annotations

import json

import _honch_core as host_core

PROGRAM = """
def base(**overrides):
    config = {"api_key": "phc_parity", "device_id": "dev-1", "device_model": "m", "firmware_version": "1",
              "event_buffer": bytearray(4096), "endpoint_url": "http://127.0.0.1:9"}
    for key in overrides:
        config[key] = overrides[key]
    return config

def outcome(call):
    try:
        value = call()
    except _honch_core.Error as exc:
        return ["error", str(exc), exc.status, exc.detail]
    return ["ok", value if value is None or isinstance(value, (int, str)) else type(value).__name__]

def without(key):
    config = base()
    del config[key]
    return config

client = _honch_core.Client(base())
closed = _honch_core.Client(base())
closed.shutdown(False)
cases = [
    ("names", sorted(n for n in dir(_honch_core) if not n.startswith("_"))),
    ("methods", sorted(n for n in dir(_honch_core.Client) if not n.startswith("_"))),
    ("errors", sorted([n, getattr(_honch_core, n)] for n in dir(_honch_core) if n.startswith("ERROR_"))),
    ("config not a dict", outcome(lambda: _honch_core.Client("api_key=x"))),
    ("config keyword", outcome(lambda: _honch_core.Client(config=base()).stream_id().__class__.__name__)),
    ("missing api_key", outcome(lambda: _honch_core.Client(without("api_key")))),
    ("missing event_buffer", outcome(lambda: _honch_core.Client(without("event_buffer")))),
    ("unknown key", outcome(lambda: _honch_core.Client(base(colour="red")))),
    ("api_key not str", outcome(lambda: _honch_core.Client(base(api_key=5)))),
    ("blank api_key", outcome(lambda: _honch_core.Client(base(api_key="  ")))),
    ("negative option", outcome(lambda: _honch_core.Client(base(batch_size=-1)))),
    ("huge option", outcome(lambda: _honch_core.Client(base(flush_min_interval_ms=2**32)))),
    ("bool option", outcome(lambda: _honch_core.Client(base(batch_size=True)))),
    ("max option", outcome(lambda: _honch_core.Client(base(flush_min_interval_ms=0xFFFFFFFF)) and None)),
    ("read-only buffer", outcome(lambda: _honch_core.Client(base(event_buffer=b"1234")))),
    ("empty buffer", outcome(lambda: _honch_core.Client(base(event_buffer=bytearray(0))))),
    ("battery threshold 101", outcome(lambda: _honch_core.Client(base(battery_low_threshold=101)))),
    ("name not str", outcome(lambda: client.track(5))),
    ("blank name", outcome(lambda: client.track(" "))),
    ("props not dict", outcome(lambda: client.track("x", [1]))),
    ("set value", outcome(lambda: client.track("x", {"v": {1, 2}}))),
    ("object value", outcome(lambda: client.track("x", {"v": object()}))),
    ("int too big", outcome(lambda: client.track("x", {"v": 2**64}))),
    ("int too small", outcome(lambda: client.track("x", {"v": -2**63 - 1}))),
    ("int key", outcome(lambda: client.track("x", {"v": {1: 2}}))),
    ("reserved key", outcome(lambda: client.track("x", {"$device_id": "d"}))),
    ("nested reserved key", outcome(lambda: client.track("x", {"a": [{"$session_id": 1}]}))),
    ("nan", outcome(lambda: client.track("x", {"v": float("nan")}))),
    ("state not str", outcome(lambda: client.track("x", {"state": 1}))),
    ("nine levels", outcome(lambda: client.track("x", {"v": [[[[[[[[[1]]]]]]]]]}))),
    ("eight levels", outcome(lambda: client.track("x", {"v": [[[[[[[[1]]]]]]]]}))),
    ("every type", outcome(lambda: client.track("x", {"a": None, "b": True, "c": -5, "d": 2**64 - 1, "e": 0.5,
                                                      "f": "s", "g": b"b", "h": bytearray(2), "i": (1,),
                                                      "j": {"k": []}}))),
    ("identify not str", outcome(lambda: client.identify(None))),
    ("traits not dict", outcome(lambda: client.identify("u", 5))),
    ("set_property key", outcome(lambda: client.set_property(1, 2))),
    ("set_property value", outcome(lambda: client.set_property("k", {1}))),
    ("session name", outcome(lambda: client.session_start(5))),
    ("log message", outcome(lambda: client.report_log_error(None, 5))),
    ("blank log message", outcome(lambda: client.report_log_error(None, ""))),
    ("log component", outcome(lambda: client.report_log_error(5, "m"))),
    ("crash not dict", outcome(lambda: client.report_crash([]))),
    ("crash field", outcome(lambda: client.report_crash({"bogus": "x"}))),
    ("crash str field", outcome(lambda: client.report_crash({"message": 5}))),
    ("crash summary", outcome(lambda: client.report_crash({"summary_version": "1"}))),
    ("crash coredump", outcome(lambda: client.report_crash({"coredump_available": 1}))),
    ("connectivity", outcome(lambda: client.connectivity_changed(1))),
    ("offline flush", outcome(lambda: client.flush(False))),
    ("last error after offline flush", sorted(client.last_error().items())),
    ("log component last error", outcome(lambda: client.report_log_error(5, "m"))),
    ("last error after a bad argument", sorted(client.last_error().items())),
    ("tick without online", outcome(lambda: client.tick())),
    ("crash in the published shape", outcome(lambda: client.report_crash({"message": "boom", "type": "ValueError"}))),
    ("stats", sorted(client.queue_stats().items())),
    ("device id", client.get_device_id()),
    ("closed track", outcome(lambda: closed.track("x"))),
    ("closed shutdown", outcome(lambda: closed.shutdown(False))),
    ("closed stream id", len(closed.stream_id())),
]
result = [[name, value] for name, value in cases]
"""


def _on_host():
    scope = {"_honch_core": host_core}
    exec(PROGRAM, scope)
    return json.loads(json.dumps(scope["result"]))  # tuples -> lists, as on the firmware


def test_same_names_and_outcomes_as_the_host_extension(micropython):
    on_firmware = micropython.run("import _honch_core\n" + PROGRAM)
    on_host = _on_host()
    assert [name for name, _ in on_firmware] == [name for name, _ in on_host]
    differences = [(name, mp, host) for (name, mp), (_, host) in zip(on_firmware, on_host) if mp != host]
    assert differences == []
    by_name = dict(on_host)
    assert by_name["set value"] == ["error", "invalid argument", 1, "unsupported value type: set"]
    assert by_name["last error after offline flush"] == [
        ["component", "scheduler"], ["http", None], ["message", "connectivity reports offline"],
        ["os_error", None], ["reason", "offline"], ["status", "offline"]]
    assert dict(by_name["last error after a bad argument"])["message"] == "component must be a str, not int"
    assert by_name["eight levels"] == ["ok", None]

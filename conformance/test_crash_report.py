"""The previous boot's crash report (host hook ``crash_report``): C53, contract 11.4.

The host port takes a crash report of the previous boot as a port hook; the core
turns it into the ``$crash`` right after ``$device_boot``. Every field rule of 11.4
is checked at its limit and one past it. Boards without host hooks skip these tests
by capability.
"""

from __future__ import annotations

import re

import pytest

from harness import protocol as P
from harness.conformance_support import QUIET, flush_all, named, names

pytestmark = [pytest.mark.clause("C53"), pytest.mark.requires_tags("host_hooks")]

HEX_ID = re.compile(rf"^[0-9a-f]{{{P.CRASH_ID_HEX_CHARS}}}$")
SUPPLIED_ID = "0123456789abcdef" * 2


def _boot_with(device, capture, report) -> tuple[dict, dict]:
    """A client constructed with ``report``; its ($device_boot, $crash) as stored."""
    before = len(capture.events())
    device.init(host_hooks={"crash_report": report}, **QUIET)
    flush_all(device)
    events = capture.events()[before:]
    assert names(events)[:2] == ["$device_boot", "$crash"], names(events)
    return events[0], events[1]


def _texts(extra: int) -> dict:
    """Every string field of 11.4 at its byte limit plus ``extra`` bytes."""
    return {field: field[0] * (limit + extra) for field, limit in P.CRASH_FIELD_MAX_BYTES.items()}


def test_every_field_at_its_limit_is_kept_and_the_boot_takes_its_reset_reason(device, capture):
    report = dict(_texts(0), source="watchdog", severity="warning", reset_reason="watchdog",
                  summary_version=1, coredump_available=True, crash_id=SUPPLIED_ID)
    boot, crash = _boot_with(device, capture, report)
    assert boot["properties"]["reset_reason"] == "watchdog", boot["properties"]
    props = crash["properties"]
    for field, value in _texts(0).items():
        assert props.get(field) == value, f"{field} of exactly {len(value)} bytes must be kept: {props.get(field)!r}"
    assert (props["source"], props["severity"]) == ("watchdog", "warning"), props
    assert props["summary_version"] == 1 and props["coredump_available"] is True, props
    assert props["crash_id"] == SUPPLIED_ID, props


def test_a_field_one_byte_over_its_limit_or_blank_is_left_out_whole(device, capture):
    _, crash = _boot_with(device, capture, dict(_texts(1), summary_version=0, coredump_available=False))
    props = crash["properties"]
    kept = sorted(set(props) & set(P.CRASH_FIELD_MAX_BYTES))
    assert not kept, f"fields one byte over their limit must be left out, kept: {kept}"
    assert "summary_version" not in props and "coredump_available" not in props, props
    _, crash = _boot_with(device, capture, {field: " \t" for field in P.CRASH_FIELD_MAX_BYTES})
    kept = sorted(set(crash["properties"]) & set(P.CRASH_FIELD_MAX_BYTES))
    assert not kept, f"blank fields must be left out, kept: {kept}"


@pytest.mark.parametrize("source", [*P.CRASH_SOURCES, "bogus", "Watchdog"])
def test_a_source_outside_the_list_becomes_unknown(device, capture, source):
    _, crash = _boot_with(device, capture, {"source": source, "message": "m"})
    want = source if source in P.CRASH_SOURCES else "unknown"
    assert crash["properties"]["source"] == want, crash["properties"]


@pytest.mark.parametrize("severity", [*P.CRASH_SEVERITIES, "bogus", "Fatal"])
def test_a_severity_outside_the_list_becomes_fatal(device, capture, severity):
    _, crash = _boot_with(device, capture, {"severity": severity, "message": "m"})
    want = severity if severity in P.CRASH_SEVERITIES else "fatal"
    assert crash["properties"]["severity"] == want, crash["properties"]


@pytest.mark.parametrize("crash_id", [SUPPLIED_ID.upper(), SUPPLIED_ID[:-1], SUPPLIED_ID + "0",
                                      SUPPLIED_ID[:-1] + "g", None], ids=["upper", "31", "33", "non-hex", "none"])
def test_a_crash_id_that_is_not_32_lowercase_hex_is_replaced_by_a_random_one(device, capture, crash_id):
    ids = []
    for _ in range(2):
        report = {"message": "m"} if crash_id is None else {"message": "m", "crash_id": crash_id}
        _, crash = _boot_with(device, capture, report)
        ids.append(crash["properties"]["crash_id"])
    assert all(HEX_ID.match(i) for i in ids) and crash_id not in ids, ids
    assert ids[0] != ids[1], f"a random crash_id must be new for each report: {ids}"


def test_the_once_rule_covers_the_boot_crash(device, capture):
    before = len(capture.events())
    _boot_with(device, capture, {"source": "panic", "message": "previous boot"})
    raised = device.run(exception="ValueError", message="this boot")["raised"]
    assert raised["class"] == "ValueError"
    flush_all(device)
    crashes = named(capture.events()[before:], "$crash")
    assert [c["properties"].get("message") for c in crashes] == ["previous boot"], crashes

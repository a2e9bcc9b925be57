"""Link layer, raw-REPL start-up, health paths and the agent protocol against a fake
MicroPython board on a pty (tests/boards/fake_repl_device.py)."""

from __future__ import annotations

import re
import sys
import threading
import time

import pytest

from harness.agent.client import AgentTimeout, BoardGone, BoardRebooted, RemoteError
from harness.agent.codec import Unsupported
from harness.boards.driver import BoardDriver
from harness.boards.inventory import BoardSpec
from harness.boards.links import ByteLog, LinkError, SerialLink, SubprocessLink

LOG_LINE = re.compile(r"^\s*\d+\.\d{6} ([<>#]) (.*)$")


def serial_board(port, **fields) -> BoardSpec:
    fields.setdefault("reset", "soft")
    fields.setdefault("op_timeout", 5.0)
    fields.setdefault("start_timeout", 10.0)
    return BoardSpec(name="fake", kind="serial", port=port, **fields)


@pytest.fixture
def started(fake_device, tmp_path):
    driver = BoardDriver(serial_board(fake_device.port), artifacts=tmp_path / "artifacts")
    driver.start()
    yield driver
    driver.stop()


def test_serial_link_logs_every_byte_both_ways_with_timestamps(fake_device, tmp_path):
    log = ByteLog(tmp_path / "link.log")
    link = SerialLink(fake_device.port, log=log)
    try:
        link.write(b"\r")
        seen = b""
        end = time.monotonic() + 5
        while b">>> " not in seen.split(b"\r\n")[-1] and time.monotonic() < end:
            seen += link.read(0.2)
    finally:
        link.close()
    log.close()
    entries = [LOG_LINE.match(line) for line in (tmp_path / "link.log").read_text().splitlines()[1:]]
    assert all(entries), "every log line carries a timestamp and a direction"
    sent = [m.group(2) for m in entries if m.group(1) == ">"]
    received = b"".join(eval(m.group(2)) for m in entries if m.group(1) == "<")  # noqa: S307 - our own reprs
    assert sent == [repr(b"\r")]
    assert received == seen and received.endswith(b">>> ")


def test_serial_link_is_exclusive(fake_device):
    first = SerialLink(fake_device.port)
    try:
        with pytest.raises(LinkError, match="cannot open"):
            SerialLink(fake_device.port)
    finally:
        first.close()


def test_bytelog_redacts_secrets_split_across_reads(tmp_path):
    log = ByteLog(tmp_path / "x.log")
    log.redact("hil-secret-key")
    log.rx(b'\x1e{"tether":1,"headers":[["X-Honch-Project-Key","hil-sec')
    log.rx(b'ret-key"]]}\n')
    log.tx(b'init [{"api_key":"hil-secret-key"}]\n')
    log.close()
    text = (tmp_path / "x.log").read_text()
    assert "hil-secret-key" not in text and "hil-sec" not in text
    assert text.count("<redacted>") == 2


def test_driver_enters_raw_repl_with_mpremote_and_starts_the_frozen_agent(started):
    assert started.info["implementation"] == "cpython"
    assert started.info["agent"] == 2
    log = started.log_path.read_text()
    assert "raw REPL; CTRL-B to exit" in log and "honch_agent.main()" in log


def test_values_json_cannot_carry_round_trip_through_the_agent(started):
    value = {
        "bytes": b"\x00\xff", "bytearray": bytearray(b"ab"), "nan": float("nan"),
        "inf": float("inf"), "-inf": float("-inf"), "tuple": (1, (2, "x")), "big": 2**64 - 1,
        "neg": -2**63, "unicode": "h\u00e9llo \U0001F600", "nested": [[[None, True, 1.5]]],
        "intkeys": {1: "a", (1, 2): "b"}, "escape-like": {"$hil": "bytes"},
    }
    back = started.call("echo", value)
    nan = back.pop("nan")
    assert nan != nan
    value.pop("nan")
    assert back == value
    assert type(back["bytearray"]) is bytearray and type(back["tuple"]) is tuple
    assert started.call("echo", Unsupported()) == Unsupported("Unsupported")


def test_remote_exception_carries_class_status_message(started):
    with pytest.raises(RemoteError) as info:
        started.call("no_such_op")
    assert info.value.name == "AgentError"
    assert info.value.classes == ["AgentError"]
    assert "unknown op 'no_such_op'" in info.value.message
    assert "board fake" in str(info.value)


def test_stray_output_before_agent_lines_does_not_break_parsing(fake_device, tmp_path):
    spec = serial_board(fake_device.port,
                        setup="import sys\nprint('boot noise')\nsys.stdout.write('partial line, no newline ')")
    driver = BoardDriver(spec, artifacts=tmp_path)
    try:
        driver.start()
        assert driver.call("echo", [1, "two"]) == [1, "two"]
        assert "boot noise" in driver.agent.console
    finally:
        driver.stop()


def test_hung_agent_times_out_with_console_lines_and_is_reset(started):
    with pytest.raises(AgentTimeout) as info:
        started.call("sleep", 60_000, timeout=1.0)
    text = str(info.value) + "\n".join(getattr(info.value, "__notes__", []))
    assert "no reply to sleep() within 1 s" in text
    assert str(started.log_path) in text
    assert "op_sleep" in text, "the traceback printed after Ctrl-C shows where it hung"
    assert "was reset (soft)" in text
    assert started.health_failures == 1 and started.resets == 1
    assert started.call("echo", "alive") == "alive"


def test_reboot_mid_op_is_detected_at_once(fake_device, started):
    threading.Timer(0.3, fake_device.hard_reset).start()
    began = time.monotonic()
    with pytest.raises(BoardRebooted, match="rebooted"):
        started.call("sleep", 3_000, timeout=8.0)
    assert time.monotonic() - began < 3.0, "detected from the banner, not by a timeout"
    assert started.health_failures == 1
    assert started.call("ping") is None


def test_agent_copied_with_mpremote_onto_a_stock_board(fake_device_factory, tmp_path):
    device = fake_device_factory(frozen_agent=False)
    driver = BoardDriver(serial_board(device.port, agent="copy", wrapper="project"), artifacts=tmp_path)
    try:
        driver.start()
        assert (device.workdir / "honch_agent.py").is_file()
        assert (device.workdir / "honch" / "__init__.py").is_file()
        assert driver.call("ping") is None
    finally:
        driver.stop()


def test_subprocess_link_reports_exit_and_never_outlives_close(tmp_path):
    link = SubprocessLink([sys.executable, "-c", "import sys; print('bye'); sys.exit(3)"],
                          log=ByteLog(tmp_path / "p.log"))
    data = b""
    with pytest.raises(LinkError, match="exit status 3"):
        while True:
            data += link.read(2)
    assert b"bye" in data
    link.close()

    sleeper = SubprocessLink([sys.executable, "-c", "import time; time.sleep(60)"])
    sleeper.close()
    assert sleeper.process.poll() is not None


def test_host_board_process_exit_is_reported_as_board_gone(tmp_path):
    driver = BoardDriver(BoardSpec(name="host", kind="host"), artifacts=tmp_path)
    try:
        driver.start()
        with pytest.raises(BoardGone):
            driver.call("exit")
            driver.call("ping")  # the process has exited: no reply can come
        assert driver.call("ping") is None, "the driver restarted the process"
    finally:
        driver.stop()

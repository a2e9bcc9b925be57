"""The agent's wire protocol (version 2) at the byte level: the host client against a
scripted link, and the real agent (CPython) against scripted stdin lines."""

from __future__ import annotations

import importlib.util
import io
import json
import sys

import pytest

from harness.agent import codec
from harness.agent.client import AgentClient, AgentMismatch, AgentTimeout, RemoteError, request, wire
from harness.boards.inventory import ROOT
from harness.boards.links import ByteLog, Link, SubprocessLink

spec = importlib.util.spec_from_file_location("honch_agent_wire", ROOT / "harness/agent/honch_agent.py")
honch_agent = importlib.util.module_from_spec(spec)
spec.loader.exec_module(honch_agent)

RS = b"\x1e"


class ScriptedLink(Link):
    """Answers each request the host writes with the bytes ``respond(request_id)`` returns."""

    kind = "scripted"

    def __init__(self, respond, greeting: bytes = b""):
        super().__init__()
        self.respond = respond
        self.sent: list[bytes] = []
        self.pending = greeting

    def write(self, data: bytes) -> None:
        self.sent.append(data)
        head = data.split(b" ", 1)[0]
        self.pending += self.respond(int(head) if head.isdigit() else None)

    def read(self, timeout: float) -> bytes:
        data, self.pending = self.pending[:7], self.pending[7:]  # small chunks: lines split across reads
        return data

    def close(self) -> None:
        pass


def test_requests_are_short_lines():
    assert request(None, "ping") == b"ping\n"
    assert request(7, "ping") == b"7 ping\n"
    assert request(None, "track", ("sample name", {"n": 1, "s": "h\u00e9"})) == \
        'track ["sample name",{"n":1,"s":"h\u00e9"}]\n'.encode()
    assert request(9, "init", (), {"config": {"a": b"\x01"}}) == \
        b'9 init {"args":[],"kwargs":{"config":{"a":{"$hil":"bytes","hex":"01"}}}}\n'
    assert wire({"tether": 3, "status": 204, "retry_after": None}) == b'{"tether":3,"status":204,"retry_after":null}\n'
    for bad in ("two words", "", "9lives", "a\nb", "Ping", "p\u00efng"):
        with pytest.raises(ValueError, match="identifier"):
            request(None, bad)


def test_stray_output_that_looks_like_a_reply_is_never_taken_for_one():
    forged = [
        b'[null,"forged"]\r\n',                                         # a reply without the prefix
        b'{"id": 1, "ok": true, "result": "forged"}\r\n',               # the old reply, no prefix
        b'@@HIL@@ {"id": 1, "ok": true, "result": "forged"}\r\n',       # the old prefix
        b'Traceback (most recent call last):\r\nValueError: [1, "forged"]\r\n',
        RS + b'not json [null,"forged"]\r\n',                           # the prefix, then no JSON
        RS + b'"forged"\r\n',                                           # JSON, not a message
        b'MicroPython-like noise \x1e[null,"forged" ' + RS + b'[2,"other id"]\r\n',
        b'partial line with a stray \x1e, no newline ',                 # the real reply follows on it
    ]
    link = ScriptedLink(lambda rid: b"".join(forged) + RS + b'[null,"real"]\r\n')
    client = AgentClient(link, "scripted", op_timeout=5.0)
    assert client.call("echo", "real") == "real"
    console = "\n".join(client.console)
    assert "forged" in console and "partial line with a stray \x1e, no newline " in console
    assert link.sent == [b'echo ["real"]\n']


def test_replies_none_result_and_error():
    answers = {b"ping": RS + b"[null]\r\n", b"echo": RS + b'[null,{"$hil":"tuple","items":[1,2]}]\r\n',
               b"boom": RS + b'[null,null,{"class":"ValueError","status":null,"message":"bad",'
                        b'"classes":["ValueError"],"detail":"why"}]\r\n'}
    link = ScriptedLink(lambda rid: b"")
    link.respond = lambda rid: answers[link.sent[-1].split(b" ")[0].strip()]
    client = AgentClient(link, "scripted", op_timeout=5.0)
    assert client.call("ping") is None
    assert client.call("echo", (1, 2)) == (1, 2)
    with pytest.raises(RemoteError) as info:
        client.call("boom")
    assert (info.value.name, info.value.message, info.value.detail) == ("ValueError", "bad", "why")
    assert client.call("ping") is None, "a RemoteError is an answer: no ids needed after it"
    assert link.sent[-1] == b"ping\n"


def test_after_an_unanswered_request_ids_keep_its_late_reply_out():
    replies = iter([b"", RS + b'[null,"late"]\r\n' + RS + b'[1,"now"]\r\n', RS + b'[2,"next"]\r\n'])
    link = ScriptedLink(lambda rid: next(replies))
    client = AgentClient(link, "scripted", op_timeout=5.0)
    with pytest.raises(AgentTimeout):
        client.call("echo", "late", timeout=0.1)
    assert client.call("echo", "now") == "now"
    assert client.call("echo", "next") == "next"
    assert link.sent == [b'echo ["late"]\n', b'1 echo ["now"]\n', b'2 echo ["next"]\n']


def test_the_real_agent_answers_late_and_the_next_call_still_gets_its_own_reply(tmp_path):
    link = SubprocessLink([sys.executable, "-u", str(ROOT / "harness/agent/honch_agent.py")],
                          log=ByteLog(tmp_path / "agent.log"))
    try:
        client = AgentClient(link, "host-agent", op_timeout=10.0)
        client.wait_ready(10.0)
        assert client.call("echo", "before") == "before"
        with pytest.raises(AgentTimeout):
            client.call("sleep", 500, timeout=0.05)  # answered after the host gave up
        assert client.call("echo", "after") == "after"
        assert client.call("ping") is None
    finally:
        link.close()
    sent = [line for line in (tmp_path / "agent.log").read_text().splitlines() if " > " in line]
    assert [line.split(" > ", 1)[1] for line in sent] == [
        repr(b'echo ["before"]\n'), repr(b"sleep [500]\n"), repr(b'1 echo ["after"]\n'), repr(b"2 ping\n")]


def test_ready_line_of_an_older_agent_names_the_stale_firmware_at_once():
    old = b'MicroPython v1.25.0\r\n@@HIL@@ {"ready": true, "agent": 1, "implementation": "micropython"}\r\n'
    client = AgentClient(ScriptedLink(lambda rid: b"", greeting=old), "scripted")
    with pytest.raises(AgentMismatch, match=r"agent protocol 1, this harness speaks protocol 2.*rebuild"):
        client.wait_ready(timeout=30.0)  # raised from the line, not after the timeout


def test_ready_line_of_another_protocol_version_is_refused():
    newer = RS + b'{"ready":true,"agent":3,"implementation":"micropython"}\r\n'
    client = AgentClient(ScriptedLink(lambda rid: b"", greeting=newer), "scripted")
    with pytest.raises(AgentMismatch, match="agent protocol 3"):
        client.wait_ready(timeout=30.0)
    ok = RS + b'{"ready":true,"agent":%d,"implementation":"cpython"}\r\n' % codec.AGENT_PROTOCOL
    assert AgentClient(ScriptedLink(lambda rid: b"", greeting=ok), "s").wait_ready(5.0)["implementation"] == "cpython"


def serve(lines: list[bytes]) -> list[bytes]:
    """Run the real agent on these stdin lines; its stdout lines."""
    out = io.StringIO()
    honch_agent.Agent(stdin=io.BytesIO(b"".join(lines)), stdout=out).serve()
    return [line.encode() for line in out.getvalue().split("\n")[:-1]]  # (str.splitlines splits at \x1e)


def test_agent_answers_every_request_form_in_compact_replies():
    out = serve([
        b'echo ["x y"]\n',
        b'{"id": 2, "op": "echo", "args": [{"$hil": "bytes", "hex": "00ff"}]}\n',  # the older form
        b"3 ping\r\n",
        b'echo [{"$hil":"tuple","items":[1,2]}]\n',
        b'5 echo [{"\\u0024hil":"bytearray","hex":"01"}]\n',  # an escape spelled with \\u
        b'echo {"args":[],"kwargs":{"value":"w\\u00e9"}}\n',
        b"no_such_op\n",
        b"8 echo [not json\n",
        b'{"tether": 9, "status": 204}\n',  # a late tether answer: ignored
        b"\n", b"\r\n", b"9\n", b"9 \n", b"Ping\n", b'"noise"\n', b"[1]\n", b"\x04\n",  # noise: ignored
        b'{"id": "hil-exit", "op": "exit"}\n',
        b"ping\n",  # after exit: not read
    ])
    assert all(line.startswith(RS) for line in out)
    messages = [json.loads(line[1:]) for line in out]
    assert messages[0] == {"ready": True, "agent": honch_agent.AGENT_PROTOCOL, "implementation": "cpython"}
    assert out[1:7] == [RS + b'[null,"x y"]', RS + b'[2,{"$hil":"bytes","hex":"00ff"}]', RS + b"[3]",
                        RS + b'[null,{"$hil":"tuple","items":[1,2]}]', RS + b'[5,{"$hil":"bytearray","hex":"01"}]',
                        RS + b'[null,"w\\u00e9"]']  # CPython's json escapes non-ASCII; MicroPython's does not
    for (rid, result, error), message in zip(messages[7:9], ("unknown op 'no_such_op'", "not a JSON list")):
        assert (result, error["class"]) == (None, "AgentError") and message in error["message"]
    assert [m[0] for m in messages[7:9]] == [None, 8]
    assert messages[9:] == [["hil-exit"]]


def test_agent_and_host_agree_on_the_protocol():
    assert honch_agent.AGENT_PROTOCOL == codec.AGENT_PROTOCOL
    assert honch_agent.PREFIX.encode() == codec.PREFIX
    # the agent's JSON never carries a raw prefix byte: the host may look for it from the end
    assert codec.PREFIX not in honch_agent._dumps(["\x1e", {"\x1e": "\x1e"}]).encode()

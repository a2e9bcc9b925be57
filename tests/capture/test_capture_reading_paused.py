"""When the server stops reading a connection: while a request is unanswered (a delay
fault) and while pipelined requests already buffered wait for their turn; an answered
request neither pauses nor resumes the transport."""

import asyncio
import time

from capture_helpers import request_bytes, vector

from harness.capture.faults import Fault
from harness.capture.server import _App, _Connection
from harness.capture.tenants import parse_options

KEY = "paused-key"


class Transport:
    """Records what the connection does with reading, and what it writes."""

    def __init__(self):
        self.paused = False
        self.pauses = 0
        self.written = []
        self.closed = False

    def pause_reading(self):
        self.paused = True
        self.pauses += 1

    def resume_reading(self):
        self.paused = False

    def write(self, data):
        self.written.append(data)

    def close(self):
        self.closed = True

    def can_write_eof(self):
        return True

    def write_eof(self):
        pass

    def abort(self):
        self.closed = True


def app():
    built = _App(prefix="", open_tenants=False, control_token=None, partial_ttl=60, read_timeout=10,
                 clock=time.monotonic, observer=None, max_memory=64 * 1024 * 1024)
    built.tenants.put(KEY, parse_options({}))
    return built


def frame() -> bytes:
    return bytes.fromhex(vector("single-required-context")["frames"][0]["hex"])


def connect(server):
    conn, transport = _Connection(server), Transport()
    conn.connection_made(transport)
    return conn, transport


def test_an_answered_request_leaves_reading_alone():
    async def run():
        conn, transport = connect(app())
        conn.data_received(request_bytes(frame(), key=KEY))
        assert transport.written[0].startswith(b"HTTP/1.1 204 ")
        assert transport.pauses == 0 and transport.closed
    asyncio.run(run())


def test_reading_is_paused_until_a_delayed_answer():
    async def run():
        server = app()
        server.tenants.get(KEY).add_faults([Fault({"delay_ms": 20})])
        conn, transport = connect(server)
        conn.data_received(request_bytes(frame(), key=KEY))
        assert transport.paused and not transport.written
        await asyncio.sleep(0.1)
        assert transport.written[0].startswith(b"HTTP/1.1 204 ")
    asyncio.run(run())


def test_reading_is_paused_while_pipelined_requests_wait():
    async def run():
        conn, transport = connect(app())
        keep_alive = request_bytes(frame(), key=KEY).replace(b"Connection: close\r\n", b"", 1)
        conn.data_received(keep_alive + keep_alive)
        assert len(transport.written) == 1 and transport.paused
        await asyncio.sleep(0)  # the second request is answered from the loop, not nested
        assert len(transport.written) == 2 and not transport.paused
    asyncio.run(run())

"""The capture server's own socket layer (harness.capture.sockets): what the connection
protocol relies on from a transport — every byte written reaches the peer, also when the
kernel takes it in pieces; half-close after the output; abort drops it; pausing holds data
back; EOF and resets reach the protocol once — and the listener's binding and accepting."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import threading
import time

import pytest

from capture_helpers import exchange, request_bytes, vector

from harness.capture.sockets import Listener, SocketTransport, bind


class Recorder(asyncio.Protocol):
    """Records the callbacks; ``on_data``/``on_eof`` let a test act inside them."""

    def __init__(self, on_data=None, on_eof=None):
        self.transport = None
        self.data = bytearray()
        self.eofs = 0
        self.lost = []
        self.on_data = on_data
        self.on_eof = on_eof
        self.gone = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.data += data
        if self.on_data:
            self.on_data(self, data)

    def eof_received(self):
        self.eofs += 1
        return self.on_eof(self) if self.on_eof else True

    def connection_lost(self, exc):
        self.lost.append(exc)
        self.gone.set_result(exc)


def pair(sndbuf: int | None = None):
    ours, theirs = socket.socketpair()
    if sndbuf:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    ours.setblocking(False)
    return ours, theirs


def read_all(sock: socket.socket, into: bytearray, delay: float = 0.0) -> threading.Thread:
    """The peer: reads until EOF (slowly when ``delay``) in a thread."""
    def run():
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            into.extend(chunk)
            time.sleep(delay)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 30))


def test_a_large_answer_the_kernel_takes_in_pieces_arrives_whole_before_the_close():
    payload = os.urandom(3 * 1024 * 1024 + 17)
    received = bytearray()

    async def main():
        ours, theirs = pair(sndbuf=4096)
        reader = read_all(theirs, received, delay=0.001)
        protocol = Recorder()
        transport = SocketTransport(asyncio.get_running_loop(), ours, protocol)
        transport.start()
        transport.write(payload[:1000])
        transport.write(payload[1000:])
        assert transport.get_write_buffer_size() > 0  # the kernel did not take it at once
        transport.close()
        assert transport.is_closing()
        transport.write(b"after close")  # ignored, as asyncio does
        assert await protocol.gone is None
        await asyncio.get_running_loop().run_in_executor(None, reader.join, 10)
        theirs.close()
        return protocol

    protocol = run(main())
    assert bytes(received) == payload
    assert protocol.lost == [None]


def test_write_eof_half_closes_after_the_buffered_output_and_reading_goes_on():
    payload = os.urandom(1024 * 1024)
    received = bytearray()

    async def main():
        ours, theirs = pair(sndbuf=4096)
        reader = read_all(theirs, received, delay=0.001)
        loop = asyncio.get_running_loop()
        protocol = Recorder()
        transport = SocketTransport(loop, ours, protocol)
        transport.start()
        transport.write(payload)
        assert transport.can_write_eof()
        transport.write_eof()
        await loop.run_in_executor(None, reader.join, 10)  # the peer saw EOF: all of it was sent first
        assert not reader.is_alive()
        theirs.sendall(b"the client still talks")
        theirs.shutdown(socket.SHUT_WR)
        while protocol.eofs == 0:
            await asyncio.sleep(0.01)
        assert bytes(protocol.data) == b"the client still talks"
        assert not protocol.lost  # eof_received returned True: the transport stays open
        transport.close()
        await protocol.gone
        theirs.close()
        return protocol

    protocol = run(main())
    assert bytes(received) == payload
    assert protocol.eofs == 1 and protocol.lost == [None]


def test_abort_drops_buffered_output_and_loses_the_connection_once():
    payload = os.urandom(4 * 1024 * 1024)

    async def main():
        ours, theirs = pair(sndbuf=4096)
        protocol = Recorder()
        transport = SocketTransport(asyncio.get_running_loop(), ours, protocol)
        transport.start()
        transport.write(payload)  # nobody reads: most of it stays buffered
        transport.abort()
        transport.abort()
        transport.close()
        await protocol.gone
        await asyncio.sleep(0.05)
        theirs.setblocking(False)
        got = bytearray()
        try:
            while chunk := theirs.recv(1 << 20):
                got += chunk
        except BlockingIOError:
            pytest.fail("the aborted connection is still open")
        theirs.close()
        return protocol, got

    protocol, got = run(main())
    assert len(got) < len(payload)
    assert protocol.lost == [None]


def test_paused_reading_holds_data_back_until_resumed():
    async def main():
        ours, theirs = pair()
        loop = asyncio.get_running_loop()
        protocol = Recorder()
        transport = SocketTransport(loop, ours, protocol)
        transport.start()
        transport.pause_reading()
        assert not transport.is_reading()
        theirs.sendall(b"first")
        await asyncio.sleep(0.1)
        assert protocol.data == b""
        transport.resume_reading()
        while protocol.data != b"first":
            await asyncio.sleep(0.01)
        transport.close()
        await protocol.gone
        theirs.close()

    run(main())


def test_data_already_sent_at_accept_time_is_read_and_eof_closes_when_the_protocol_says_so():
    async def main():
        ours, theirs = pair()
        theirs.sendall(b"early")
        theirs.shutdown(socket.SHUT_WR)
        protocol = Recorder(on_eof=lambda p: False)
        SocketTransport(asyncio.get_running_loop(), ours, protocol).start()
        assert bytes(protocol.data) == b"early"  # read by start() itself, before the selector
        await protocol.gone
        assert theirs.recv(10) == b""
        theirs.close()
        return protocol

    protocol = run(main())
    assert protocol.eofs == 1 and protocol.lost == [None]


def test_eof_is_reported_once_even_when_reading_is_resumed_after_it():
    async def main():
        ours, theirs = pair()
        protocol = Recorder()
        transport = SocketTransport(asyncio.get_running_loop(), ours, protocol)
        transport.start()
        theirs.shutdown(socket.SHUT_WR)
        while not protocol.eofs:
            await asyncio.sleep(0.01)
        transport.pause_reading()
        transport.resume_reading()
        await asyncio.sleep(0.1)
        transport.write(b"answer after the client's EOF")
        transport.close()
        await protocol.gone
        answer = theirs.recv(100)
        theirs.close()
        return protocol, answer

    protocol, answer = run(main())
    assert protocol.eofs == 1
    assert answer == b"answer after the client's EOF"


def test_a_reset_by_the_peer_reaches_the_protocol_with_its_error():
    async def main():
        listening = bind("127.0.0.1", 0, 8)
        protocols = []
        loop = asyncio.get_running_loop()

        def factory():
            protocols.append(Recorder())
            return protocols[-1]

        listener = Listener(loop, listening, factory, 8)
        port = listening[0].getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"partial")
        while not protocols or protocols[0].data != b"partial":
            await asyncio.sleep(0.01)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()  # linger 0: RST
        exc = await protocols[0].gone
        listener.close()
        return exc, protocols[0]

    exc, protocol = run(main())
    assert isinstance(exc, ConnectionResetError)
    assert protocol.lost == [exc]


def test_a_protocol_that_raises_loses_its_connection_and_the_listener_keeps_serving(capfd):
    async def main():
        listening = bind("127.0.0.1", 0, 8)
        protocols = []
        loop = asyncio.get_running_loop()

        def explode(protocol, data):
            if data.startswith(b"boom"):
                raise RuntimeError("a bug in the protocol")
            protocol.transport.write(b"echo " + data)
            protocol.transport.close()

        def factory():
            protocols.append(Recorder(on_data=explode))
            return protocols[-1]

        listener = Listener(loop, listening, factory, 8)
        port = listening[0].getsockname()[1]
        answers = []
        for message in (b"boom", b"hello"):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(message)
            answers.append(await loop.run_in_executor(None, client.recv, 100))
            client.close()
        await protocols[1].gone
        listener.close()
        return answers, protocols

    answers, protocols = run(main())
    assert answers == [b"", b"echo hello"]
    assert isinstance(protocols[0].lost[0], RuntimeError)
    assert "a bug in the protocol" in capfd.readouterr().err


def test_closing_the_listener_closes_connections_still_flushing_an_answer():
    """A server stopped while a client is not reading its (large) answer leaves nothing open."""
    async def main():
        listening = bind("127.0.0.1", 0, 8)
        protocols = []
        loop = asyncio.get_running_loop()

        def answer_and_close(protocol, data):
            protocol.transport.write(os.urandom(8 * 1024 * 1024))
            protocol.transport.close()

        def factory():
            protocols.append(Recorder(on_data=answer_and_close))
            return protocols[-1]

        listener = Listener(loop, listening, factory, 8)
        client = socket.create_connection(listening[0].getsockname())
        client.sendall(b"request")
        while not listener.transports or not protocols or not protocols[0].data:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert listener.transports  # still flushing: the client reads nothing
        accepted = protocols[0].transport.get_extra_info("socket")
        listener.close()
        await protocols[0].gone
        still_open = set(listener.transports)
        # the client sees the end of the connection after what was sent before the abort
        client.settimeout(10)
        try:
            while client.recv(1 << 20):
                pass
        except ConnectionResetError:
            pass
        client.close()
        return accepted, listening, still_open

    accepted, listening, still_open = run(main())
    assert not still_open
    assert accepted.fileno() == -1
    assert all(sock.fileno() == -1 for sock in listening)


def test_a_name_with_several_addresses_is_served_on_one_port_on_each(monkeypatch):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    real = socket.getaddrinfo

    def both_loopbacks(host, port, *args, **kwargs):  # what "localhost" gives on a dual-stack host
        assert host == "dual-stack-name"
        return real("127.0.0.1", port, *args, **kwargs) + real("::1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", both_loopbacks)
    sockets = bind("dual-stack-name", 0, 8)
    monkeypatch.undo()
    try:
        assert sorted(s.getsockname()[0] for s in sockets) == ["127.0.0.1", "::1"]
        port = sockets[0].getsockname()[1]
        assert {s.getsockname()[1] for s in sockets} == {port}
        for address in ("127.0.0.1", "::1"):
            socket.create_connection((address, port)).close()
    finally:
        for s in sockets:
            s.close()


def test_binding_a_port_in_use_fails_with_the_os_error_and_leaves_nothing_open(monkeypatch):
    taken = bind("127.0.0.1", 0, 8)
    port = taken[0].getsockname()[1]
    made = []

    class Tracked(socket.socket):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(socket, "socket", Tracked)
    try:
        with pytest.raises(OSError) as failure:
            bind("127.0.0.1", port, 8)
        assert failure.value.strerror  # the CLI prints it as "cannot listen on ...: <strerror>"
        assert made and all(sock.fileno() == -1 for sock in made)
    finally:
        monkeypatch.undo()
        taken[0].close()


def test_running_out_of_descriptors_is_reported_once_and_accepting_resumes_when_they_are_freed(serve):
    """A rack reconnecting at once can exhaust the server's descriptors: it must say so,
    not spin on the listener, and serve again once connections close."""
    served = serve("--quiet", "--open")
    resource.prlimit(served.process.pid, resource.RLIMIT_NOFILE, (48, 48))
    held = []
    try:
        for _ in range(80):  # more than the server can hold
            held.append(socket.create_connection(("127.0.0.1", served.port)))
        time.sleep(2.5)  # at least two accept retries while still out of descriptors
        for sock in held:
            sock.close()
        held.clear()
        single = vector("single-required-context")
        answer = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            answer = exchange(served.port, request_bytes(bytes.fromhex(single["frames"][0]["hex"]), key="emfile-key"))
            if answer.status:
                break
            time.sleep(0.2)
        assert answer is not None and answer.status == 204, answer
    finally:
        for sock in held:
            sock.close()
    _, _, err = served.interrupt()
    said = [line for line in err.splitlines() if "accept" in line]
    assert said and "cannot accept connections (Too many open files)" in said[0], err
    assert "accepting connections again" in err
    # once per episode (freeing descriptors can start a second one), never once per retry
    assert all("again" in b for a, b in zip(said, said[1:]) if "cannot" in a), err

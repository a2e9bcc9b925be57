"""The capture server's socket layer: listening sockets and connections on the loop's selector.

A device opens one TCP connection per request, so what the server pays per
connection matters as much as what it pays per request. ``loop.create_server``
pays for generality: a Task and a Future for every accepted connection and about
five scheduled callbacks (transport set-up, ``connection_made``, registering the
reader, the waiter, ``connection_lost``). This layer does the same work directly
from the selector's callbacks: accept, make the connection, read, write what the
kernel takes now and buffer the rest, half-close, close. It offers the protocol
the subset of the asyncio transport interface the server uses (``write``,
``write_eof``, ``can_write_eof``, ``close``, ``abort``, ``is_closing``,
``pause_reading``, ``resume_reading``) and calls the protocol's
``connection_made``, ``data_received``, ``eof_received`` and ``connection_lost``
with asyncio's meaning, so the protocol runs unchanged on either.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sys

#: What one ``recv`` asks for: a whole request of a device, or a large control body in a few.
READ_SIZE = 256 * 1024
#: After running out of file descriptors, how long the listener waits before accepting again.
ACCEPT_RETRY_SECONDS = 1.0
#: accept() failures that concern one connection (it was reset before we took it), not the listener
_CONNECTION_ACCEPT_ERRORS = (errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EAGAIN)


class SocketTransport:
    """One accepted connection; the protocol's view of it."""

    __slots__ = ("_loop", "_sock", "_fd", "_protocol", "_open", "_buffer", "_reading", "_paused", "_closing",
                 "_eof_pending", "_eof_sent", "_eof_received", "_lost")

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol: asyncio.Protocol,
                 open_transports: set | None = None):
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._open = open_transports   # the listener's registry: it aborts what is left when it closes
        if open_transports is not None:
            open_transports.add(self)
        self._buffer = bytearray()   # written by the protocol, not yet taken by the kernel
        self._reading = False        # our reader is registered with the selector
        self._paused = False         # the protocol asked not to be given data
        self._closing = False        # close() or abort() called
        self._eof_pending = False    # write_eof() called while output was still buffered
        self._eof_sent = False
        self._eof_received = False   # the peer half-closed: nothing more to read, ever
        self._lost = False

    # -- set-up -----------------------------------------------------------------------------

    def start(self) -> None:
        self._protocol.connection_made(self)
        if self._closing or self._paused:
            return
        # A client often writes its request right after connecting, so it may be here
        # already: read it now, and register with the selector only if it is not (or
        # if the connection stays open after it).
        self._read_ready()
        if not self._closing and not self._paused:
            self._add_reader()

    # -- reading ----------------------------------------------------------------------------

    def _add_reader(self) -> None:
        if not self._reading and not self._eof_received:
            self._reading = True
            self._loop.add_reader(self._fd, self._read_ready)

    def _remove_reader(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def _read_ready(self) -> None:
        if self._closing or self._paused:
            return
        try:
            data = self._sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._force_close(exc)
            return
        try:
            if data:
                self._protocol.data_received(data)
                return
            self._eof_received = True
            self._remove_reader()
            if not self._protocol.eof_received():
                self.close()
        except Exception as exc:  # the protocol's own bug: as asyncio does, drop the connection
            print(f"honch-hil capture: protocol callback failed: {exc!r}", file=sys.stderr)
            self._force_close(exc)

    def pause_reading(self) -> None:
        if self._closing or self._paused:
            return
        self._paused = True
        self._remove_reader()

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        self._add_reader()

    def is_reading(self) -> bool:
        return not self._paused and not self._closing and not self._eof_received

    # -- writing ----------------------------------------------------------------------------

    def write(self, data) -> None:
        if self._closing or self._eof_sent or self._eof_pending or not data:
            return
        if not self._buffer:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._force_close(exc)
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            self._loop.add_writer(self._fd, self._write_ready)
        self._buffer += data

    def _write_ready(self) -> None:
        try:
            sent = self._sock.send(self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._buffer.clear()
            self._loop.remove_writer(self._fd)
            self._force_close(exc)
            return
        del self._buffer[:sent]
        if self._buffer:
            return
        self._loop.remove_writer(self._fd)
        if self._eof_pending:
            self._eof_pending = False
            self._shutdown_write()
        if self._closing:
            self._finish(None)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._closing or self._eof_sent or self._eof_pending:
            return
        if self._buffer:
            self._eof_pending = True
        else:
            self._shutdown_write()

    def _shutdown_write(self) -> None:
        self._eof_sent = True
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the peer is gone; reading tells the protocol

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    # -- closing ----------------------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stop reading; close once what was written has been sent."""
        if self._closing:
            return
        self._closing = True
        self._remove_reader()
        if not self._buffer:
            self._finish(None)

    def abort(self) -> None:
        """Close now; buffered output is dropped."""
        self._force_close(None)

    def _force_close(self, exc) -> None:
        if self._lost:
            return
        if self._buffer:
            self._buffer.clear()
            self._loop.remove_writer(self._fd)
        self._closing = True
        self._remove_reader()
        self._finish(exc)

    def _finish(self, exc) -> None:
        if self._lost:
            return
        self._lost = True
        if self._open is not None:
            self._open.discard(self)
        self._sock.close()
        # asyncio's contract: connection_lost is never called from inside the call that closed
        self._loop.call_soon(self._protocol.connection_lost, exc)

    def get_extra_info(self, name: str, default=None):
        return self._sock if name == "socket" else default


class Listener:
    """Listening sockets that accept on the selector's callback and start one protocol per connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sockets: list[socket.socket], protocol_factory,
                 backlog: int):
        self._loop = loop
        self.sockets = sockets
        self._factory = protocol_factory
        self._backlog = backlog
        self._retry = None
        #: connections not closed yet, including those flushing an answer after the protocol closed them
        self.transports: set[SocketTransport] = set()
        #: accepting failed for want of descriptors or memory and has not succeeded since
        self.starved = False
        for sock in sockets:
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), self._accept_ready, sock)

    def _accept_ready(self, listening: socket.socket) -> None:
        # Take what is queued now, then serve it: serving each as it is accepted would let
        # clients that reconnect at once keep this loop going while connections already
        # waiting on the selector wait longer and longer.
        accepted = []
        for _ in range(self._backlog):
            try:
                sock, _address = listening.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno in _CONNECTION_ACCEPT_ERRORS:
                    continue
                # Out of descriptors or memory (or anything else about the listener): stop
                # accepting for a while instead of spinning on a listener that stays readable.
                if not self.starved:  # said once per episode, not every retry
                    print(f"honch-hil capture: cannot accept connections ({exc.strerror or exc}); "
                          f"retrying every {ACCEPT_RETRY_SECONDS:g} s", file=sys.stderr)
                self.starved = True
                self._pause_accepting()
                break
            accepted.append(sock)
        if accepted and self.starved:
            self.starved = False
            print("honch-hil capture: accepting connections again", file=sys.stderr)
        for sock in accepted:
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            SocketTransport(self._loop, sock, self._factory(), self.transports).start()

    def _pause_accepting(self) -> None:
        if self._retry is not None:
            return
        for sock in self.sockets:
            self._loop.remove_reader(sock.fileno())
        self._retry = self._loop.call_later(ACCEPT_RETRY_SECONDS, self._resume_accepting)

    def _resume_accepting(self) -> None:
        self._retry = None
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._accept_ready, sock)

    def close(self) -> None:
        """Stop listening and abort every connection still open (their protocols get
        ``connection_lost`` on the next loop turn)."""
        for transport in list(self.transports):
            transport.abort()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        else:
            for sock in self.sockets:
                self._loop.remove_reader(sock.fileno())
        for sock in self.sockets:
            sock.close()
        self.sockets = []


def bind(host: str | None, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for ``host`` (every address it resolves to; all interfaces when empty).

    With port 0, the first socket picks a free port and the others take the same one, so
    that one port number reaches the server on every address."""
    infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM,
                               socket.IPPROTO_TCP, socket.AI_PASSIVE)
    seen, sockets = set(), []
    try:
        for family, kind, proto, _name, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            try:
                sock = socket.socket(family, kind, proto)
            except OSError:
                continue  # a family the kernel lacks (IPv6 disabled): serve on the others
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # each family has its own socket, as with asyncio's create_server
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            sock.bind(address)
            sock.listen(backlog)
        if not sockets:
            raise OSError(f"no address of {host or 'all interfaces'} can be listened on")
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets

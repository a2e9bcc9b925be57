"""Uploads of the MicroPython port (contract 12): one HTTP/1.1 POST per frame.

``_honch_core`` calls ``post_chunk(url, body, headers, timeout_ms)``, looked up
on every request, so the harness can replace it at run time (the tether of a
networkless board). It needs only ``socket`` (and ``ssl`` for https): firmware
often has no ``requests``/``urequests``.

The pure helpers ``encode_request`` and ``parse_response`` also run on CPython:
the harness's tether uses them on the host to put on the wire the very bytes a
board would send.
"""

try:
    import errno as _errno
except ImportError:  # a firmware without the errno module: Linux/lwIP numbering
    _errno = None
# The port's own numbers: newlib-based ports (the qemu board) say 116 for ETIMEDOUT.
ETIMEDOUT = getattr(_errno, "ETIMEDOUT", 110)

#: Headers ``post_chunk`` adds itself; the caller must not pass them.
OWN_HEADERS = ("Host", "Content-Length", "Connection")
#: A response head larger than this is refused (a board must bound its buffers).
MAX_RESPONSE_HEAD = 8192
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: Set to an ``ssl.SSLContext`` (with CA certificates loaded) to verify the server;
#: by default https uses ``ssl.wrap_socket``, which on MicroPython does not verify.
ssl_context = None


def parse_url(url):
    """``(scheme, host, port, path)`` of an ``http://`` or ``https://`` URL; ValueError otherwise."""
    if not isinstance(url, str):
        raise ValueError("url must be a str, not %s" % type(url).__name__)
    sep = url.find("://")
    scheme = url[:sep].lower() if sep > 0 else ""
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("url must start with http:// or https://: %r" % (url,))
    rest = url[sep + 3:]
    slash = rest.find("/")
    authority, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    if "@" in authority:
        raise ValueError("url must not carry credentials: %r" % (url,))
    port = _DEFAULT_PORTS[scheme]
    if authority.startswith("["):  # IPv6 literal
        close = authority.find("]")
        if close < 0:
            raise ValueError("unterminated IPv6 address in url %r" % (url,))
        host, tail = authority[1:close], authority[close + 1:]
    else:
        colon = authority.rfind(":")
        host, tail = (authority, "") if colon < 0 else (authority[:colon], authority[colon:])
    if tail:
        if not tail.startswith(":") or not tail[1:].isdigit():
            raise ValueError("bad port in url %r" % (url,))
        port = int(tail[1:])
        if not 0 < port < 65536:
            raise ValueError("port out of range in url %r" % (url,))
    if not host:
        raise ValueError("url has no host: %r" % (url,))
    return scheme, host, port, path


def _host_header(scheme, host, port):
    name = "[%s]" % host if ":" in host else host
    return name if port == _DEFAULT_PORTS[scheme] else "%s:%d" % (name, port)


def _check_header(name, value):
    if not isinstance(name, str) or not isinstance(value, str):
        raise ValueError("header names and values must be str: %r: %r" % (name, value))
    if not name or any(not (0x21 <= ord(c) <= 0x7E) or c == ":" for c in name):
        raise ValueError("bad header name %r" % (name,))
    # W3.2: every header value on the wire is made of bytes 0x21-0x7E.
    if not value or any(not (0x21 <= ord(c) <= 0x7E) for c in value):
        raise ValueError("header %s has a value outside 0x21-0x7E" % name)


def _header_pairs(headers):
    if isinstance(headers, dict):
        return [(k, headers[k]) for k in headers]
    return [(pair[0], pair[1]) for pair in headers]


def encode_request(url, body, headers):
    """The exact bytes of the POST of ``body`` to ``url``: request line, ``Host``,
    the caller's ``headers`` (a dict or ``(name, value)`` pairs, in order),
    ``Content-Length``, ``Connection: close``, a blank line and the body."""
    scheme, host, port, path = parse_url(url)
    body = bytes(body)
    lines = ["POST %s HTTP/1.1" % path, "Host: %s" % _host_header(scheme, host, port)]
    own = [h.lower() for h in OWN_HEADERS]
    for name, value in _header_pairs(headers):
        _check_header(name, value)
        if name.lower() in own:
            raise ValueError("header %s is added by post_chunk itself" % name)
        lines.append("%s: %s" % (name, value))
    lines.append("Content-Length: %d" % len(body))
    lines.append("Connection: close")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode() + body


def response_head_complete(data):
    """True when ``data`` holds the whole status line and header block."""
    return b"\r\n\r\n" in data or b"\n\n" in data


def parse_response(data):
    """``(status, retry_after)`` from the start of an HTTP/1.x response: the status
    code and the raw ``Retry-After`` value (surrounding whitespace removed) or None.
    ValueError for anything that is not a complete, readable response head."""
    data = bytes(data)
    end = data.find(b"\r\n\r\n")
    if end < 0:
        end = data.find(b"\n\n")
        if end < 0:
            raise ValueError("incomplete HTTP response head (%d bytes, no blank line)" % len(data))
    try:
        text = data[:end].decode()
    except UnicodeError:
        raise ValueError("HTTP response head is not UTF-8")
    lines = text.split("\n")
    status_line = lines[0].rstrip("\r")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or len(parts[1]) != 3 or not parts[1].isdigit():
        raise ValueError("unreadable HTTP status line %r" % (status_line[:80],))
    status = int(parts[1])
    if status < 100:
        raise ValueError("unreadable HTTP status line %r" % (status_line[:80],))
    retry_after = None
    for line in lines[1:]:
        colon = line.find(":")
        if colon <= 0:
            continue
        if line[:colon].strip().lower() == "retry-after":
            retry_after = line[colon + 1:].strip()
            break
    return status, retry_after


# --- I/O ----------------------------------------------------------------------------

try:
    from time import ticks_add, ticks_diff, ticks_ms
except ImportError:  # CPython
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_add(ticks, delta):
        return ticks + delta

    def ticks_diff(a, b):
        return a - b


class _Deadline:
    """One deadline for connect, TLS, send and receive."""

    def __init__(self, timeout_ms):
        self.end = ticks_add(ticks_ms(), timeout_ms)

    def remaining_ms(self):
        return ticks_diff(self.end, ticks_ms())

    def arm(self, sock):
        """Give ``sock`` the time left; OSError(ETIMEDOUT) if there is none."""
        left = self.remaining_ms()
        if left <= 0:
            raise OSError(ETIMEDOUT, "request deadline passed")
        sock.settimeout(left / 1000)


# errno values that mean "the socket timed out" on the ports we know: lwIP ports
# raise ETIMEDOUT, the unix port EAGAIN (SO_RCVTIMEO) or EINPROGRESS (connect).
_TIMEOUT_ERRNOS = (ETIMEDOUT, getattr(_errno, "EAGAIN", 11), getattr(_errno, "EINPROGRESS", 115))


def _is_timeout(exc, deadline):
    if type(exc).__name__ in ("timeout", "TimeoutError"):
        return True
    code = exc.args[0] if exc.args else None
    return code in _TIMEOUT_ERRNOS or deadline.remaining_ms() <= 0


def _wrap_tls(sock, host):
    if ssl_context is not None:
        return ssl_context.wrap_socket(sock, server_hostname=host)
    try:
        import ssl
    except ImportError:  # MicroPython >= 1.23 without micropython-lib's ssl module
        import tls
        context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        context.verify_mode = tls.CERT_NONE
        return context.wrap_socket(sock, server_hostname=host)
    if hasattr(ssl, "create_default_context"):  # CPython: verify as usual
        return ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    return ssl.wrap_socket(sock, server_hostname=host)


class _Connection:
    """A connected (and for https, TLS-wrapped) socket and the object its timeout is set on."""

    def __init__(self, scheme, host, port, deadline):
        import socket
        self.deadline = deadline
        # Name resolution is not bounded by the deadline (contract 12 allows it).
        info = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
        self.raw = self.stream = socket.socket(info[0], socket.SOCK_STREAM)
        try:
            deadline.arm(self.raw)
            self.raw.connect(info[-1])
            if scheme == "https":
                self.stream = _wrap_tls(self.raw, host)
        except BaseException:
            self.raw.close()
            raise
        # MicroPython's TLS sockets have no settimeout(): the raw socket under them times out.
        self.timed = self.stream if hasattr(self.stream, "settimeout") else self.raw

    def arm(self):
        self.deadline.arm(self.timed)

    def close(self):
        self.stream.close()
        if self.raw is not self.stream:
            try:
                self.raw.close()
            except OSError:
                pass


def _send_all(conn, data, deadline):
    write = getattr(conn.stream, "write", None) or conn.stream.send  # MicroPython's TLS sockets only have write()
    view = memoryview(data)
    sent = 0
    while sent < len(data):
        conn.arm()
        n = write(view[sent:])
        if n is None:  # a non-blocking write that could not proceed
            n = 0
        sent += n
        if n == 0 and deadline.remaining_ms() <= 0:
            raise OSError(ETIMEDOUT, "request deadline passed while sending")


def _receive_head(conn):
    recv = getattr(conn.stream, "recv", None) or conn.stream.read
    data = b""
    while not response_head_complete(data):
        if len(data) > MAX_RESPONSE_HEAD:
            raise ValueError("HTTP response head larger than %d bytes" % MAX_RESPONSE_HEAD)
        conn.arm()
        chunk = recv(1024)
        if not chunk:
            break  # closed early: parse_response says what is missing
        data += chunk
    return data


def post_chunk(url, body, headers, timeout_ms):
    """POST one frame; return ``(status, retry_after)`` (contract 12).

    ``timeout_ms`` bounds connect, TLS, send and receive together; running out
    raises ``OSError(ETIMEDOUT)``. Any other failure raises (OSError for the
    network, ValueError for an unreadable answer), which the core reports as
    TRANSPORT.
    """
    if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms <= 0:
        raise ValueError("timeout_ms must be a positive int, got %r" % (timeout_ms,))
    deadline = _Deadline(timeout_ms)
    request = encode_request(url, body, headers)
    scheme, host, port, _ = parse_url(url)
    conn = None
    try:
        conn = _Connection(scheme, host, port, deadline)
        _send_all(conn, request, deadline)
        head = _receive_head(conn)
    except OSError as exc:
        if _is_timeout(exc, deadline):
            raise OSError(ETIMEDOUT, "no answer from %s within %d ms" % (url, timeout_ms))
        raise
    finally:
        if conn is not None:
            conn.close()
    return parse_response(head)

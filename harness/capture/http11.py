"""Strict parsing of an HTTP/1.1 request head, and response serialisation.

The mock parses requests by hand so that every deviation a device can make is
visible and answered precisely (W3). Parsing is pure: bytes in, a ``RequestHead``
or a ``HeadError`` out. Nothing here knows about tenants or frames.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus

from harness.protocol import HTTP_REASONS

#: A request head larger than this is answered 431 without waiting for the rest.
#: A device's head is about 250 bytes; 16 KiB leaves room for any honest client.
MAX_HEAD_BYTES = 16 * 1024
MAX_HEADER_LINES = 100
#: Content-Length values with more significant digits than this are simply "huge";
#: converting them would only cost time (and Python refuses > 4300 digits).
MAX_CONTENT_LENGTH_DIGITS = 20

#: Header names as ``RequestHead.fields`` holds them (lower case): the request path reads
#: the index with these, folding no case per look-up.
FIELD_CONTENT_TYPE = "content-type"
FIELD_CONTENT_ENCODING = "content-encoding"
FIELD_CONTENT_LENGTH = "content-length"
FIELD_TRANSFER_ENCODING = "transfer-encoding"
FIELD_CONNECTION = "connection"
FIELD_EXPECT = "expect"
FIELD_HOST = "host"

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]\Z")
_TARGET = re.compile(rb"[\x21-\x7e]+\Z")
# Field values: visible ASCII, obs-text, and SP/HTAB inside (RFC 9110 5.5).
_FIELD_VALUE = re.compile(rb"[\x21-\x7e\x80-\xff]([\x20-\x7e\x80-\xff\t]*[\x21-\x7e\x80-\xff])?\Z")


class HeadError(Exception):
    """The request head cannot be parsed; ``status`` is what the mock answers."""

    def __init__(self, status: int, reason: str):
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


class RequestHead:
    """A parsed request line and header section.

    ``headers`` keeps every field line in arrival order with names as sent;
    lookups are case-insensitive. ``fields`` is the index they use, built once: lower-case
    name -> values in arrival order (never empty); code on the request path reads it with
    lower-case names directly, and nothing changes it.
    """

    __slots__ = ("method", "target", "version", "headers", "fields")

    def __init__(self, method: str, target: str, version: str, headers: list[tuple[str, str]]):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.fields: dict[str, list[str]] = {}
        for name, value in headers:
            self.fields.setdefault(name.lower(), []).append(value)

    def values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in arrival order."""
        return self.fields.get(name.lower(), [])

    def get(self, name: str) -> str | None:
        """The first value of header ``name``, or None."""
        values = self.fields.get(name.lower())
        return values[0] if values else None

    def count(self, name: str) -> int:
        return len(self.fields.get(name.lower(), ()))

    def has(self, name: str) -> bool:
        return name.lower() in self.fields

    @property
    def any_repeated(self) -> bool:
        """True when some field name (case-insensitive) appears more than once."""
        return len(self.fields) < len(self.headers)

    def sent_name(self, name: str) -> str | None:
        """Header ``name`` spelt as first sent, or None when absent."""
        lowered = name.lower()
        if lowered not in self.fields:
            return None
        for sent, _ in self.headers:
            if len(sent) == len(lowered) and sent.lower() == lowered:  # lengths first: no lower() mostly
                return sent
        return None  # not reached: the index is built from these headers

    def repeated(self, names) -> tuple[str, int] | None:
        """The first of ``names`` (lower-case) that appears more than once, as
        (name as first sent, count), or None."""
        if not self.any_repeated:
            return None
        for lowered, values in self.fields.items():
            if len(values) > 1 and lowered in names:
                return self.sent_name(lowered), len(values)
        return None

    def as_dict(self) -> dict[str, str]:
        """Headers as a dict keyed by the name as first sent; a repeated field's
        values are joined with ", " (RFC 9110 5.3)."""
        if not self.any_repeated:
            return dict(self.headers)  # every name distinct: nothing to join
        out: dict[str, str] = {}
        first_name: dict[str, str] = {}
        for name, value in self.headers:
            key = first_name.setdefault(name.lower(), name)
            out[key] = f"{out[key]}, {value}" if key in out else value
        return out


def find_head_end(buffer: bytes | bytearray) -> int:
    """Index of the CRLF CRLF that ends the head, -1 if not there yet.

    Raises HeadError when the bytes already show the head cannot be valid
    (bare LF line ends, oversize head)."""
    end = buffer.find(b"\r\n\r\n")
    if end >= 0:
        if end > MAX_HEAD_BYTES:
            raise HeadError(431, f"request head is larger than {MAX_HEAD_BYTES} bytes")
        return end
    bare = buffer.find(b"\n\n")
    if bare >= 0 and bare <= MAX_HEAD_BYTES:
        raise HeadError(400, "request head lines must end with CRLF, found a bare LF")
    if len(buffer) > MAX_HEAD_BYTES:
        raise HeadError(431, f"request head is larger than {MAX_HEAD_BYTES} bytes")
    return -1


_TOKEN_TEXT = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
#: What a field line may hold after its colon: visible ASCII, obs-text, SP and HTAB. Leading
#: and trailing SP/HTAB are stripped off afterwards, which leaves exactly a value the line
#: parser accepts (first and last character visible); no backtracking in the expression.
_FIELD_TEXT = r"[\x20-\x7e\x80-\xff\t]*"
#: The whole of a well-formed head in one match (over its latin-1 text), and its field lines:
#: exactly what the line parser below accepts, in one C-level pass.
_WELL_FORMED_HEAD = re.compile(
    rf"({_TOKEN_TEXT}) ([\x21-\x7e]+) (HTTP/[0-9]\.[0-9])((?:\r\n{_TOKEN_TEXT}:{_FIELD_TEXT})*)")
_FIELD_LINE = re.compile(rf"\r\n({_TOKEN_TEXT}):({_FIELD_TEXT})")


def parse_head(head: bytes) -> RequestHead:
    """Parse the bytes before the blank line that ends a request head.

    A well-formed head is parsed by one regular expression; anything it does not match
    (or more than MAX_HEADER_LINES lines) goes to the strict line parser
    :func:`parse_head_strict`, which gives the same result for what the expression
    matches and the precise error for the rest."""
    text = head.decode("latin-1")
    match = _WELL_FORMED_HEAD.fullmatch(text)
    if match is not None:
        method, target, version, fields = match.groups()
        if fields:
            headers = [(name, value.strip(" \t")) for name, value in _FIELD_LINE.findall(fields)]
        else:
            headers = []
        if len(headers) <= MAX_HEADER_LINES:
            return RequestHead(method, target, version, headers)
    return parse_head_strict(head)


def parse_head_strict(head: bytes) -> RequestHead:
    """The line-by-line parser: every malformation raises HeadError with its reason."""
    lines = head.split(b"\r\n")
    if len(lines) - 1 > MAX_HEADER_LINES:
        raise HeadError(431, f"more than {MAX_HEADER_LINES} header lines")
    for number, line in enumerate(lines, 1):
        if b"\r" in line or b"\n" in line:
            raise HeadError(400, f"line {number} of the request head contains a bare CR or LF")
    method, target, version = _parse_request_line(lines[0])
    headers = []
    for number, line in enumerate(lines[1:], 2):
        headers.append(_parse_field_line(line, number))
    return RequestHead(method, target, version, headers)


def _parse_request_line(line: bytes) -> tuple[str, str, str]:
    parts = line.split(b" ")
    if len(parts) != 3 or not all(parts):
        raise HeadError(400, f"malformed request line {_show(line)}: expected 'METHOD SP target SP HTTP/1.1'")
    method, target, version = parts
    if not _TOKEN.match(method):
        raise HeadError(400, f"malformed method {_show(method)}")
    if not _TARGET.match(target):
        raise HeadError(400, f"malformed request target {_show(target)}")
    if not _VERSION.match(version):
        raise HeadError(400, f"malformed HTTP version {_show(version)}")
    return method.decode("ascii"), target.decode("ascii"), version.decode("ascii")


def _parse_field_line(line: bytes, number: int) -> tuple[str, str]:
    if not line:
        raise HeadError(400, f"empty header line {number}")
    if line[:1] in (b" ", b"\t"):
        raise HeadError(400, f"header line {number} starts with whitespace (obsolete line folding)")
    # Reasons never quote a header line: it could hold the project key.
    colon = line.find(b":")
    if colon < 0:
        raise HeadError(400, f"header line {number} has no colon")
    name = line[:colon]
    if not _TOKEN.match(name):
        raise HeadError(400, f"invalid header name on line {number} (a token, no spaces, before the colon)")
    value = line[colon + 1:].strip(b" \t")
    if value and not _FIELD_VALUE.match(value):
        raise HeadError(400, f"header {name.decode('ascii')} on line {number} has a control character in its value")
    return name.decode("ascii"), value.decode("latin-1")


def parse_content_length(value: str) -> int | None:
    """The decimal Content-Length, or None when the value is not one."""
    if not value or not value.isascii() or not value.isdigit():
        return None
    significant = value.lstrip("0")
    if len(significant) > MAX_CONTENT_LENGTH_DIGITS:
        return 10 ** MAX_CONTENT_LENGTH_DIGITS
    return int(significant or "0")


def _show(raw: bytes, limit: int = 60) -> str:
    """``raw`` quoted for a reason, escaped once (the way ``ascii`` spells a secret, which
    the redaction knows) and cut at ``limit`` with "..." (where it looks for a cut secret)."""
    return ascii(raw[:limit].decode("latin-1") + ("..." if len(raw) > limit else ""))


def reason_phrase(status: int) -> str:
    phrase = HTTP_REASONS.get(status)
    if phrase is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Status"
    return phrase


#: Short machine-readable names for error bodies, by status.
ERROR_NAMES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 408: "request_timeout", 409: "conflict", 413: "too_large",
    415: "unsupported_media_type", 422: "unprocessable", 431: "head_too_large",
}


def error_body(status: int, reason: str, error: str | None = None) -> bytes:
    """The short JSON body of an error answer: ``{"error": ..., "reason": ...}``."""
    name = error or ERROR_NAMES.get(status, "error")
    return json.dumps({"error": name, "reason": reason}).encode()


def serialize_response(status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b"", *,
                       keep_alive: bool = False, head_only: bool = False) -> bytes:
    """A complete HTTP/1.1 response; ``Connection: close`` unless ``keep_alive``.

    1xx, 204 and 304 answers never carry a body or a Content-Length (RFC 9110); the
    answer to HEAD keeps the Content-Length of the body it does not send."""
    if not headers and not body:
        key = (status, keep_alive)
        answer = _PLAIN_ANSWERS.get(key)
        if answer is None:
            answer = _PLAIN_ANSWERS[key] = _serialize(status, None, b"", keep_alive)
        return answer
    answer = _serialize(status, headers, body, keep_alive)
    return answer if head_only or status < 200 or status in (204, 304) else answer + body


#: Answers without headers or body, by (status, keep_alive): 204, 202 and the like.
_PLAIN_ANSWERS: dict[tuple[int, bool], bytes] = {}


def _serialize(status: int, headers, body: bytes, keep_alive: bool) -> bytes:
    """The status line and header section of an answer (with its blank line)."""
    lines = [f"HTTP/1.1 {status} {reason_phrase(status)}"]
    for name, value in headers or ():
        lines.append(f"{name}: {value}")
    bodiless = status < 200 or status in (204, 304)
    if bodiless:
        body = b""
    else:
        if body and not any(n.lower() == FIELD_CONTENT_TYPE for n, _ in headers or ()):
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

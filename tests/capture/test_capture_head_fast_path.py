"""The one-expression head parser against the strict line parser: same head or same error."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.capture.http11 import MAX_HEADER_LINES, HeadError, parse_head, parse_head_strict

SETTINGS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = [b"POST", b"GET", b" ", b"  ", b"/capture", b"/a?b=c", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/11",
          b"\r\n", b"\r", b"\n", b":", b": ", b"\t", b"Host", b"Content-Length", b"X-Honch-Project-Key",
          b"value", b"a b", b"12", b"\x00", b"\x7f", b"\x80", b"\xff", b"\xe9t\xe9", b"(", b"@", b"x"]


def outcome(parse, raw: bytes):
    try:
        head = parse(raw)
    except HeadError as exc:
        return ("error", exc.status, exc.reason)
    return ("ok", head.method, head.target, head.version, head.headers)


def same(raw: bytes) -> None:
    assert outcome(parse_head, raw) == outcome(parse_head_strict, raw)


name = st.text(alphabet="!#$%&'*+-.^_`|~azAZ09", min_size=1, max_size=8)
value = st.binary(max_size=12).map(lambda b: b.replace(b"\r", b" ").replace(b"\n", b"\t"))
line = st.one_of(
    st.tuples(name, st.sampled_from([b":", b": ", b":\t", b" :", b":  "]), value, st.sampled_from([b"", b" ", b"\t"]))
    .map(lambda t: t[0].encode() + t[1] + t[2] + t[3]),
    st.lists(st.sampled_from(PIECES), max_size=6).map(b"".join),
)


@SETTINGS
@given(method=st.sampled_from([b"POST", b"GET", b"P@ST", b"", b"HEAD"]),
       target=st.sampled_from([b"/capture", b"/_hil/health", b"", b"/a b", b"/\x80", b"*"]),
       version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"http/1.1", b"HTTP/1.1 "]),
       lines=st.lists(line, max_size=8))
def test_structured_heads(method, target, version, lines):
    same(b"\r\n".join([method + b" " + target + b" " + version] + lines))


@SETTINGS
@given(raw=st.lists(st.sampled_from(PIECES), max_size=25).map(b"".join))
def test_heads_from_pieces(raw):
    same(raw)


@settings(SETTINGS, max_examples=300)
@given(raw=st.binary(max_size=200))
def test_random_bytes(raw):
    same(raw)


def test_line_limit_is_the_strict_parsers():
    for count in (MAX_HEADER_LINES, MAX_HEADER_LINES + 1):
        raw = b"\r\n".join([b"POST /capture HTTP/1.1"] + [b"X-A: 1"] * count)
        same(raw)


# -- the look-ups' shortcuts for heads without a repeated name, against their general form


def reference_as_dict(headers):
    out, first_name = {}, {}
    for name, value in headers:
        key = first_name.setdefault(name.lower(), name)
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def reference_repeated(headers, names):
    counts = {}
    for name, _ in headers:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    for lowered, count in counts.items():
        if count > 1 and lowered in names:
            return next(name for name, _ in headers if name.lower() == lowered), count
    return None


field_name = st.sampled_from(["Host", "host", "HOST", "Content-Length", "content-length", "X-Honch-Project-Key",
                              "x-honch-project-key", "Connection", "X-A", "x-a", "Ab", "aB"])
field_lists = st.lists(st.tuples(field_name, st.sampled_from(["", "1", "close", "k", "a b"])), max_size=8)


@SETTINGS
@given(headers=field_lists)
def test_lookups_match_their_general_form(headers):
    from harness.capture.http11 import RequestHead
    from harness.capture.ingest import SINGLE_HEADERS

    head = RequestHead("POST", "/capture", "HTTP/1.1", headers)
    assert head.as_dict() == reference_as_dict(headers)
    assert list(head.as_dict()) == list(reference_as_dict(headers))
    assert head.repeated(SINGLE_HEADERS) == reference_repeated(headers, SINGLE_HEADERS)
    for name in ("Host", "x-a", "X-Honch-Project-Key", "Missing"):
        sent = [n for n, _ in headers if n.lower() == name.lower()]
        assert head.sent_name(name) == (sent[0] if sent else None)

"""Uploads of the host port (CPython): one HTTP/1.1 POST per frame.

``_honch_core`` looks up ``post_chunk`` on every request, so tests and the
harness can replace it at run time. The request carries exactly the headers a
device sends: the core's ``Content-Type``, ``X-Honch-Project-Key`` and
``X-Honch-Stream-Id`` plus ``Host``, ``Content-Length`` and
``Connection: close``; requests' and urllib3's defaults (``User-Agent``,
``Accept``, ``Accept-Encoding``) are suppressed so the capture server sees
what a board would send.
"""

import errno

import requests
import requests.adapters
import urllib3
from urllib3.util import SKIP_HEADER

__all__ = ["post_chunk"]

# urllib3 adds these itself unless told to skip them; ``Accept`` only comes from
# a requests Session, which is not used here.
_SUPPRESSED_HEADERS = {"User-Agent": SKIP_HEADER, "Accept-Encoding": SKIP_HEADER}


def post_chunk(url, body, headers, timeout_ms):
    """POST one frame; return ``(http_status, retry_after)``.

    ``retry_after`` is the raw ``Retry-After`` header value or ``None``. The
    whole request (connect, send, response head) shares one deadline of
    ``timeout_ms``; running out of it raises ``OSError(errno.ETIMEDOUT)``.
    Every other failure (refused, reset, DNS, TLS, unreadable answer) raises
    ``ConnectionError`` naming the cause, with the socket's errno when there is one.
    """
    if not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) or timeout_ms <= 0:
        raise ValueError("timeout_ms must be a positive int, got %r" % (timeout_ms,))
    request_headers = dict(_SUPPRESSED_HEADERS)
    request_headers.update(headers)
    request_headers["Connection"] = "close"
    prepared = requests.Request("POST", url, headers=request_headers, data=bytes(body)).prepare()
    # A bare adapter instead of a Session: no default headers, cookies, proxies
    # from the environment or redirects, and a pool that is closed right after.
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
    try:
        response = adapter.send(prepared, stream=True, timeout=urllib3.Timeout(total=timeout_ms / 1000.0))
        try:
            return response.status_code, response.headers.get("Retry-After")
        finally:
            response.close()
    except requests.exceptions.Timeout as exc:
        raise OSError(errno.ETIMEDOUT, "no answer from %s within %d ms (%s)" % (url, timeout_ms, exc))
    except requests.exceptions.RequestException as exc:
        if _caused_by_timeout(exc):
            raise OSError(errno.ETIMEDOUT, "no answer from %s within %d ms (%s)" % (url, timeout_ms, exc))
        code = _os_errno(exc)
        message = "POST %s failed: %s" % (url, exc)
        raise (ConnectionError(code, message) if code else ConnectionError(message)) from exc
    finally:
        adapter.close()


def _causes(exc):
    """``exc`` and every exception it wraps (causes, contexts, urllib3 reasons, args)."""
    pending = [exc]
    seen = set()
    while pending:
        cause = pending.pop()
        if not isinstance(cause, BaseException) or id(cause) in seen:
            continue
        seen.add(id(cause))
        yield cause
        pending.extend((cause.__cause__, cause.__context__, getattr(cause, "reason", None)))
        pending.extend(cause.args)


def _caused_by_timeout(exc):
    """True when a requests error wraps a socket or urllib3 timeout (e.g. while sending the body)."""
    for cause in _causes(exc):
        # urllib3's NewConnectionError subclasses its TimeoutError for history's sake,
        # but it means "refused/unreachable", not "ran out of time".
        if isinstance(cause, TimeoutError) or (
                isinstance(cause, urllib3.exceptions.TimeoutError)
                and not isinstance(cause, urllib3.exceptions.NewConnectionError)):
            return True
    return False


def _os_errno(exc):
    """The errno of the socket error behind a requests error (last_error()'s os_error), or None."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and isinstance(cause.errno, int) and cause.errno > 0:
            return cause.errno
    return None

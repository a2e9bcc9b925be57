"""The control API under ``/_hil/`` (JSON; the interface is fixed, see docs/capture.md).

* ``GET /_hil/health``
* ``PUT /_hil/tenants/{key}`` (options) → 201 created / 200 reset; ``GET`` → options and counts;
  ``DELETE`` → removed
* ``GET /_hil/tenants/{key}/events``, ``GET /_hil/tenants/{key}/requests``
* ``POST /_hil/tenants/{key}/faults`` ``{"faults": [...]}``, ``GET`` (pending), ``DELETE`` (clear)

The key is one percent-encoded path segment. When the server has a control
token, every request must carry ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import json
import re
from urllib.parse import parse_qsl, unquote

from harness.protocol import HEADER_PROJECT_KEY

from .faults import FaultError, parse_faults
from .http11 import MAX_HEAD_BYTES, RequestHead, error_body
from .redact import NO_FORMS
from .tenants import PAGE_DEFAULT_LIMIT, PAGE_MAX_LIMIT, OptionsError, Tenants, key_problem, parse_options

CONTROL_PREFIX = "/_hil/"
#: Control bodies are small JSON documents (options, fault lists).
MAX_CONTROL_BODY = 1024 * 1024


class Reply:
    """A control answer; ``log_path`` is the request path with the key replaced by its alias."""

    __slots__ = ("status", "headers", "body", "reason", "log_path", "tenant_alias", "forms")

    def __init__(self, status: int, document=None, *, reason: str = "", headers=None, log_path: str = "",
                 tenant_alias: str | None = None):
        self.status = status
        self.headers = list(headers or [])
        self.body = b"" if document is None else json.dumps(document).encode() if not isinstance(document, str) \
            else document.encode()
        self.reason = reason
        self.log_path = log_path
        self.tenant_alias = tenant_alias
        #: the secret forms this request's outputs are redacted with (its path key included)
        self.forms = NO_FORMS


def _error(status: int, reason: str, **kwargs) -> Reply:
    reply = Reply(status, reason=reason, **kwargs)
    reply.body = error_body(status, reason)
    return reply


def is_control(target: str) -> bool:
    return target.startswith(CONTROL_PREFIX)


class ControlApi:
    def __init__(self, tenants: Tenants, *, token: str | None, info):
        """``info()`` returns the server facts that ``GET /_hil/health`` reports."""
        self.tenants = tenants
        self.token = token
        self.info = info

    def handle(self, head: RequestHead, body: bytes, body_problem: tuple[int, str] | None) -> Reply:
        """Answer one control request; ``body_problem`` is (status, reason) when the
        body could not be read as announced. Nothing in the answer names a key."""
        path, _, query = head.target.partition("?")
        segments = path[len(CONTROL_PREFIX):].split("/")
        forms = self.tenants.redactor.forms(_path_keys(segments) + _request_keys(head))
        log_path = self.tenants.redactor.text_with(self._log_path(segments), forms)
        if self.token is not None and not self._authorized(head):
            return self._error_with(forms, 401, "control API token missing or wrong (send Authorization: Bearer <token>)",
                          headers=[("WWW-Authenticate", "Bearer")], log_path=log_path)
        if body_problem:
            return self._error_with(forms, body_problem[0], self.tenants.redactor.text_with(body_problem[1], forms),
                                    log_path=log_path)
        try:
            reply = self._route(head.method, segments, body, query, forms)
        except _Refused as refused:
            reply = _error(refused.status, self.tenants.redactor.text_with(refused.reason, forms),
                           headers=refused.headers)
        reply.log_path = log_path
        reply.forms = forms
        if len(segments) >= 2 and segments[0] == "tenants":
            reply.tenant_alias = self.tenants.alias(unquote(segments[1], encoding="latin-1"))
        return reply

    @staticmethod
    def _error_with(forms, *args, **kwargs) -> Reply:
        reply = _error(*args, **kwargs)
        reply.forms = forms
        return reply

    def _authorized(self, head: RequestHead) -> bool:
        values = head.values("Authorization")
        if len(values) != 1 or not values[0].startswith("Bearer "):
            return False
        return hmac.compare_digest(values[0][len("Bearer "):].encode("latin-1"), self.token.encode("latin-1"))

    def _log_path(self, segments: list[str]) -> str:
        shown = list(segments)
        if len(shown) >= 2 and shown[0] == "tenants":
            shown[1] = self.tenants.alias(unquote(shown[1], encoding="latin-1"))
        return CONTROL_PREFIX + "/".join(shown)

    # -- routing ---------------------------------------------------------------------

    def _route(self, method: str, segments: list[str], body: bytes, query: str, forms) -> Reply:
        if method == "HEAD":  # the GET answer, whose body the connection leaves out
            method = "GET"
        if segments == ["health"]:
            _allow(method, "GET")
            return Reply(200, {"status": "ok", "tenants": len(self.tenants), **self.info()})
        if len(segments) in (2, 3) and segments[0] == "tenants":
            key = unquote(segments[1], encoding="latin-1")
            problem = key_problem(key)
            if problem:
                raise _Refused(400, problem)
            if len(segments) == 2:
                return self._tenant(method, key, body)
            resource = segments[2]
            if resource in ("events", "requests"):
                _allow(method, "GET")
                return self._page(self._existing(key), resource, _page_query(query))
            if resource == "faults":
                return self._faults(method, key, body, forms)
        raise _Refused(404, f"no control resource {CONTROL_PREFIX}{'/'.join(segments)}")

    def _tenant(self, method: str, key: str, body: bytes) -> Reply:
        _allow(method, "PUT", "GET", "DELETE")
        if method == "PUT":
            try:
                options = parse_options(_json(body))
                tenant, created = self.tenants.put(key, options)
            except OptionsError as exc:
                raise _Refused(400, str(exc)) from None
            return Reply(201 if created else 200, self._describe(tenant, created=created))
        if method == "GET":
            return Reply(200, self._describe(self._existing(key)))
        self._existing(key)
        self.tenants.delete(key)
        return Reply(200, {"deleted": True})

    def _page(self, tenant, resource: str, cursor: tuple[int, int]) -> Reply:
        """One page of a tenant's events or request log, serialized from the stored text
        (bounded in items and bytes, so the answer never holds the event loop for long)."""
        after, limit = cursor
        if resource == "events":
            texts, end, remaining = tenant.events_page(after, limit, self.tenants.redactor)
            dropped = tenant.events_dropped
        else:
            texts, end, remaining = tenant.requests_page(after, limit, self.tenants.redactor)
            dropped = tenant.requests_dropped
        return Reply(200, f'{{"{resource}":[{",".join(texts)}],"dropped":{dropped},"next":{end},'
                          f'"more":{"true" if remaining else "false"}}}')

    def _faults(self, method: str, key: str, body: bytes, forms) -> Reply:
        _allow(method, "POST", "GET", "DELETE")
        tenant = self._existing(key)
        if method == "POST":
            try:
                tenant.add_faults(parse_faults(_json(body)))
            except (FaultError, OptionsError) as exc:
                raise _Refused(400, str(exc)) from None
        if method in ("POST", "GET"):
            pending = self.tenants.redactor.document([f.spec for f in tenant.faults], forms=forms)[1]
            return Reply(200, f'{{"pending":{pending}}}')
        cleared = len(tenant.faults)
        tenant.faults.clear()
        return Reply(200, {"cleared": cleared})

    def _existing(self, key: str):
        tenant = self.tenants.get(key)
        if tenant is None:
            raise _Refused(404, "no such tenant (create it with PUT first)")
        return tenant

    @staticmethod
    def _describe(tenant, **extra) -> dict:
        return {"alias": tenant.alias, "options": tenant.options.to_json(), "events": len(tenant.events),
                "requests": len(tenant.requests), "pending_faults": len(tenant.faults),
                "memory": {"held": tenant.held, "partials": tenant.partial_bytes}, **extra}


class _Refused(Exception):
    def __init__(self, status: int, reason: str, headers=None):
        super().__init__(status, reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []


def _path_keys(segments: list[str]) -> list[str]:
    """The key a tenant path names, decoded and as sent (a client may encode it its own way)."""
    if len(segments) >= 2 and segments[0] == "tenants" and segments[1]:
        return [unquote(segments[1], encoding="latin-1"), segments[1]]
    return []


def control_keys(target: str) -> list[str]:
    """The key a control target names (none for any other target)."""
    if not is_control(target):
        return []
    return _path_keys(target.partition("?")[0][len(CONTROL_PREFIX):].split("/"))


#: A tenant path anywhere in bytes that did not parse as a head (its request line may be broken).
_RAW_TENANT_PATH = re.compile(re.escape(CONTROL_PREFIX + "tenants/").encode() + rb"([^/?#\s]+)")


def raw_control_keys(data: bytes | bytearray) -> list[str]:
    """The keys tenant paths name in the first line of ``data`` (for redacting its errors)."""
    line = bytes(data[:MAX_HEAD_BYTES]).split(b"\n", 1)[0]
    keys = []
    for match in _RAW_TENANT_PATH.finditer(line):
        sent = match.group(1).decode("latin-1")
        keys += [sent, unquote(sent, encoding="latin-1")]
    return keys


def _request_keys(head: RequestHead) -> list[str]:
    return [value for value in head.values(HEADER_PROJECT_KEY) if value]


def _page_query(query: str) -> tuple[int, int]:
    """``after`` (position to start from, default 0) and ``limit`` of a page request."""
    values = {"after": 0, "limit": PAGE_DEFAULT_LIMIT}
    for name, text in parse_qsl(query, keep_blank_values=True):
        if name not in values:
            raise _Refused(400, f"unknown query parameter {name!r} (allowed: after, limit)")
        if not text.isascii() or not text.isdigit() or len(text) > 18:
            raise _Refused(400, f"{name} must be a non-negative integer, got {text!r}")
        values[name] = int(text)
    if not 1 <= values["limit"] <= PAGE_MAX_LIMIT:
        raise _Refused(400, f"limit must be 1-{PAGE_MAX_LIMIT}, got {values['limit']}")
    return values["after"], values["limit"]


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise _Refused(405, f"method {method} not allowed here; use {' or '.join(allowed)}",
                       headers=[("Allow", ", ".join(allowed))])


def _json(body: bytes):
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _Refused(400, f"body is not valid JSON: {exc}") from None

"""Python client of the capture server's control API.

    client = ControlClient("http://127.0.0.1:8080", token=None)
    tenant = client.tenant("my-project-key")
    tenant.reset(binary_properties=True)   # create or reset
    tenant.add_faults({"status": 503, "headers": {"Retry-After": "2"}})
    ...
    tenant.wait_for_events(3)

Project keys travel only in request paths; no error message, repr or log line
of this module contains one (tenants are shown by the alias the server gives).
"""

from __future__ import annotations

import time
from urllib.parse import quote

import requests
from requests.structures import CaseInsensitiveDict

from harness import secret_registry
from harness.protocol import CAPTURE_PATH

from .tenants import PAGE_MAX_LIMIT

DEFAULT_TIMEOUT = 10.0
#: Items asked for per page (the server's maximum; it may answer fewer, bounded by bytes).
PAGE_LIMIT = PAGE_MAX_LIMIT
#: How often wait_for_* polls the server.
POLL_INTERVAL = 0.02


class ControlError(RuntimeError):
    """The control API refused a request, or could not be reached.

    ``status`` is the HTTP status (0 when there was no answer), ``reason`` the
    server's explanation."""

    def __init__(self, method: str, what: str, status: int, reason: str):
        super().__init__(f"{method} {what}: {status or 'no answer'}: {reason}")
        self.status = status
        self.reason = reason


class ControlClient:
    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = DEFAULT_TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._session.headers["Connection"] = "close"
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._capture_path: str | None = None

    def __repr__(self) -> str:
        return f"ControlClient({self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests ---------------------------------------------------------------------

    def call(self, method: str, path: str, document=None, *, shown: str | None = None) -> dict:
        """One control request; returns the JSON answer. ``shown`` is the path as it
        may appear in an error message (the key replaced)."""
        shown = shown or path
        try:
            response = self._session.request(method, self.base_url + path, json=document, timeout=self.timeout)
        except requests.RequestException as exc:
            # requests' messages repeat the URL, and the URL holds the key
            raise ControlError(method, shown, 0, type(exc).__name__) from None
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        if response.status_code >= 400:
            reason = answer.get("reason") if isinstance(answer, dict) else None
            raise ControlError(method, shown, response.status_code, reason or response.reason)
        return answer

    def health(self) -> dict:
        return self.call("GET", "/_hil/health")

    @property
    def capture_path(self) -> str:
        """The request path devices must use (``<prefix>/capture``), as the server says."""
        if self._capture_path is None:
            self._capture_path = self.health()["capture_path"]
        return self._capture_path

    @property
    def endpoint(self) -> str:
        """The endpoint URL to configure an SDK with (it appends ``/capture``)."""
        return self.base_url + self.capture_path[: -len(CAPTURE_PATH)]

    @property
    def capture_url(self) -> str:
        return self.base_url + self.capture_path

    def tenant(self, key: str) -> "Tenant":
        """A handle on the tenant of ``key``; makes no request."""
        return Tenant(self, key)

    def create_tenant(self, key: str, **options) -> "Tenant":
        tenant = Tenant(self, key)
        tenant.reset(**options)
        return tenant


class Tenant:
    """One project key on the server: its events, request log, faults and options."""

    def __init__(self, client: ControlClient, key: str):
        if not key:
            raise ValueError("a tenant needs a non-empty project key")
        self.client = client
        self.key = key
        secret_registry.register(key)  # no test report may show it (harness/report/redaction.py)
        self.alias: str | None = None
        self._path = "/_hil/tenants/" + quote(key, safe="")

    def __repr__(self) -> str:
        return f"Tenant({self.alias or 'alias unknown'})"

    def _call(self, method: str, suffix: str = "", document=None) -> dict:
        shown = f"/_hil/tenants/<{self.alias or 'key'}>{suffix}"
        return self.client.call(method, self._path + suffix, document, shown=shown)

    @property
    def endpoint(self) -> str:
        return self.client.endpoint

    @property
    def capture_url(self) -> str:
        return self.client.capture_url

    def reset(self, **options) -> dict:
        """Create the tenant or reset it to nothing stored, no faults, these options
        (``binary_properties``, ``limits``)."""
        answer = self._call("PUT", "", options)
        self.alias = answer.get("alias", self.alias)
        return answer

    def info(self) -> dict:
        answer = self._call("GET")
        self.alias = answer.get("alias", self.alias)
        return answer

    def delete(self) -> None:
        self._call("DELETE")

    def events(self) -> list[dict]:
        """Every stored event, oldest first (read page by page)."""
        return self._pages("events")

    def requests(self) -> list[dict]:
        """The request log; each entry's ``headers`` is case-insensitive."""
        entries = self._pages("requests")
        for entry in entries:
            entry["headers"] = CaseInsensitiveDict(entry["headers"])
        return entries

    def _pages(self, resource: str) -> list[dict]:
        """All items of a paginated resource: follow ``next`` while the server says ``more``.
        Items dropped while reading (the tenant's caps) are skipped, like any dropped item."""
        items: list[dict] = []
        after = 0
        while True:
            page = self._call("GET", f"/{resource}?after={after}&limit={PAGE_LIMIT}")
            items.extend(page[resource])
            # a cursor that does not move would ask for the same page forever (a server
            # that said "more" past the end did so)
            if not page.get("more") or page["next"] <= after:
                return items
            after = page["next"]

    def add_faults(self, *faults: dict) -> list[dict]:
        """Queue faults (FIFO, one per /capture request; ``persistent`` ones stay)."""
        return self._call("POST", "/faults", {"faults": list(faults)})["pending"]

    def pending_faults(self) -> list[dict]:
        return self._call("GET", "/faults")["pending"]

    def clear_faults(self) -> int:
        return self._call("DELETE", "/faults")["cleared"]

    def wait_for_events(self, n: int, timeout: float = DEFAULT_TIMEOUT) -> list[dict]:
        """Poll until at least ``n`` events are stored; TimeoutError (saying what
        arrived) otherwise."""
        return self._wait(self.events, n, timeout, "events")

    def wait_for_requests(self, n: int, timeout: float = DEFAULT_TIMEOUT) -> list[dict]:
        return self._wait(self.requests, n, timeout, "requests")

    def _wait(self, fetch, n: int, timeout: float, what: str) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            items = fetch()
            if len(items) >= n:
                return items
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self!r}: expected {n} {what} within {timeout:g} s, got {len(items)}")
            time.sleep(POLL_INTERVAL)

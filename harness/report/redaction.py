"""No project key (and no control token) in any report: the run's secrets, and their removal
from the pytest reports every report file and pytest's own output are made from.

Every project key the harness hands to a capture server passes through
``harness.capture.client.Tenant`` (the ``capture`` fixture's key and any tenant a
test makes itself), which registers it in ``harness.secret_registry``; the capture
control token is registered by the ``capture_control`` fixture. The secrets are
looked for in the spellings the capture server redacts (``harness.capture.redact``:
as is, JSON- and repr-escaped, percent-encoded) and replaced by ``<redacted>``.

:func:`scrub_report` rewrites one ``TestReport`` in place — its traceback
(``longrepr``: every line, frame argument, local, crash message), its captured
sections and user properties. The pytest plugin (``fixtures/redaction.py``) calls it
as the report is made, in the process that ran the test (an xdist worker knows its
keys, the controller does not), so that pytest's terminal output (``pytest.log``),
junit.xml, the collector's ``results.jsonl`` and everything built from those
(summary.json, matrix.md/html) only ever see the redacted report.
"""

from __future__ import annotations

import dataclasses
import linecache
import threading

from harness import secret_registry
from harness.capture.redact import REDACTED, Forms, Redactor

__all__ = ["REDACTED", "register", "secrets", "redact_text", "scrub", "scrub_exception", "scrub_report",
           "scrub_warning"]

_lock = threading.Lock()
#: the server's own incremental table: a new secret costs its spellings, not all of them
_redactor = Redactor()
_synced = 0  # how many of the registry's secrets _redactor has


def register(secret: str | None) -> None:
    """Never show ``secret`` in a report of this process (``harness.secret_registry``)."""
    secret_registry.register(secret)


def _current() -> Forms:
    global _synced
    new = secret_registry.since(_synced)
    if new:
        with _lock:
            for secret in secret_registry.since(_synced):
                _redactor.add(secret)
                _synced += 1
    return _redactor.base_forms


def secrets() -> tuple[str, ...]:
    """The secrets registered so far (tests)."""
    return secret_registry.registered()


def redact_text(text: str, forms: Forms | None = None) -> str:
    forms = _current() if forms is None else forms
    return forms.text(text) if forms and forms.found_in(text) else text


def scrub(value, forms: Forms | None = None, _seen: set | None = None):
    """``value`` with every registered secret removed from its strings: strings, tuples,
    lists, dicts and pytest's (data-class) traceback representations, the latter two
    rewritten in place."""
    forms = _current() if forms is None else forms
    if not forms:
        return value
    seen = set() if _seen is None else _seen
    if isinstance(value, str):
        return redact_text(value, forms)
    if isinstance(value, (bytes, int, float, bool)) or value is None:
        return value
    if id(value) in seen:
        return value
    seen.add(id(value))
    if isinstance(value, list):
        value[:] = [scrub(v, forms, seen) for v in value]
        return value
    if isinstance(value, tuple):
        items = [scrub(v, forms, seen) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        items = [(scrub(k, forms, seen), scrub(v, forms, seen)) for k, v in value.items()]
        value.clear()
        value.update(items)
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            current = getattr(value, field.name, None)
            cleaned = scrub(current, forms, seen)
            if cleaned is not current:
                object.__setattr__(value, field.name, cleaned)
        return value
    return value


def scrub_report(report, forms: Forms | None = None) -> None:
    """Remove every registered secret from a pytest ``TestReport`` / ``CollectReport``."""
    forms = _current() if forms is None else forms
    if not forms:
        return
    longrepr = getattr(report, "longrepr", None)
    if longrepr is not None:
        report.longrepr = scrub(longrepr, forms)
    if getattr(report, "sections", None):
        report.sections = [tuple(scrub(list(s), forms)) for s in report.sections]
    if getattr(report, "user_properties", None):
        report.user_properties = [tuple(scrub(list(p), forms)) for p in report.user_properties]
    wasxfail = getattr(report, "wasxfail", None)
    if isinstance(wasxfail, str):
        report.wasxfail = redact_text(wasxfail, forms)


def scrub_warning(warning_message, forms: Forms | None = None) -> None:
    """Remove every registered secret from a recorded ``warnings.WarningMessage``: its
    message and the source line it is shown with (read from the file if not given)."""
    forms = _current() if forms is None else forms
    if not forms:
        return
    message = warning_message.message
    text = str(message)
    cleaned = redact_text(text, forms)
    if cleaned != text:
        if isinstance(message, Warning):
            try:
                message = type(message)(cleaned)
            except Exception:  # a warning class that takes other arguments
                message = UserWarning(cleaned)
        else:
            message = cleaned
        warning_message.message = message
    line = warning_message.line
    if line is None and warning_message.filename and warning_message.lineno:
        line = linecache.getline(warning_message.filename, warning_message.lineno)
    if line and forms.found_in(line):
        warning_message.line = redact_text(line, forms)


def scrub_exception(exc: BaseException, forms: Forms | None = None) -> None:
    """Remove every registered secret from an exception's message (``args`` and the
    ``msg`` of pytest's outcome exceptions, such as ``pytest.exit``'s reason), in place."""
    forms = _current() if forms is None else forms
    if not forms:
        return
    if isinstance(getattr(exc, "msg", None), str):
        exc.msg = redact_text(exc.msg, forms)
    exc.args = tuple(scrub(list(exc.args), forms))

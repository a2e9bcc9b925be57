"""The one redaction rule of the mock: no project key (and no control token) in any output.

Every output of the server passes through a :class:`Redactor`: stdout lines and
transcripts (built from the same redacted log entries), request-log entries,
stored events, reasons and error bodies, control answers. The secrets are the
keys of every tenant the server holds, the control token, and the key(s) the
request itself carries, known tenant or not. A secret is looked for in the forms
it takes in our outputs: as sent, percent-encoded (a control path), JSON- and
repr-escaped (a reason quoting a value).

Structured data is redacted string by string (dict keys included), never as
serialized text, so a short key can never break a JSON document: a key ``t``
turns the value ``"test"`` into ``"<redacted>es<redacted>"``, not the field
name ``"t"``. Cheap path: serialize, look for any secret form in the text, and
walk the structure only when one is there.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

REDACTED = "<redacted>"
REDACTED_BYTES = REDACTED.encode()
#: Secrets shorter than this are redacted only where they stand alone (see ``Forms``).
SHORT_SECRET = 6

_COMPACT = {"separators": (",", ":")}


def _compact_encoder():
    """``json.dumps(value, separators=(",", ":"))`` as one prebuilt function.

    ``JSONEncoder.encode`` makes a new C encoder (and its circular-reference table) on
    every call, a third of its cost for the small documents the server stores per
    request. The C encoder is made once here, with the same arguments the standard
    encoder passes it, except the circular-reference check: every document the server
    serialises is a tree it has just built. Where the C encoder is missing, the
    standard encoder does it."""
    make = getattr(json.encoder, "c_make_encoder", None)
    standard = json.JSONEncoder(**_COMPACT)
    if make is None:
        return standard.encode
    encode = make(None, standard.default, json.encoder.encode_basestring_ascii, None,
                  standard.key_separator, standard.item_separator, False, False, True)
    join = "".join
    return lambda value: join(encode(value, 0))


#: the same text as ``json.dumps(value, separators=(",", ":"))`` (tests/capture/test_capture_json_text.py)
_dumps = _compact_encoder()
#: Head lines naming the project key, read leniently from bytes that did not parse as a head.
_RAW_KEY_LINE = re.compile(rb"(?im)^x-honch-project-key[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$")


def secret_forms(secret: str) -> tuple[str, ...]:
    """The spellings of ``secret`` that can appear in an output, longest first."""
    forms = {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], quote(secret, safe=""), quote(secret)}
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def raw_project_keys(data: bytes | bytearray) -> list[str]:
    """Project-key header values in bytes that may not be a valid head (for redacting its errors)."""
    return [m.group(1).decode("latin-1") for m in _RAW_KEY_LINE.finditer(bytes(data[:64 * 1024]))
            if m.group(1)]


class Forms:
    """A set of secret spellings to remove. Spellings shorter than SHORT_SECRET are only
    removed where they stand alone (not inside a word or number): a key ``k`` must not
    turn "unknown key" into "un<redacted>nown <redacted>ey", and a key that short is
    no secret anyway."""

    __slots__ = ("long", "short", "_long_bytes", "_short_text", "_short_bytes")

    def __init__(self, spellings):
        spellings = sorted(set(spellings), key=len, reverse=True)
        self.long = tuple(f for f in spellings if len(f) >= SHORT_SECRET)
        # what data() looks for in a body, encoded once rather than for every request
        self._long_bytes = tuple(f.encode("latin-1", "replace") for f in self.long)
        self.short = tuple(f for f in spellings if len(f) < SHORT_SECRET)
        if self.short:
            alternatives = "|".join(re.escape(f) for f in self.short)
            self._short_text = re.compile(f"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")
            self._short_bytes = re.compile(self._short_text.pattern.encode("latin-1", "replace"))

    def __bool__(self) -> bool:
        return bool(self.long or self.short)

    def __add__(self, other: "Forms") -> "Forms":
        return Forms(self.long + self.short + other.long + other.short)

    def found_in(self, text: str) -> bool:
        # a plain loop: any() over a generator cost more than the look-ups themselves here
        for form in self.long:
            if form in text:
                return True
        return bool(self.short and self._short_text.search(text))

    def text(self, text: str) -> str:
        for form in self.long:
            if form in text:
                text = text.replace(form, REDACTED)
        if self.short:
            text = self._short_text.sub(REDACTED, text)
        return text

    def data(self, body: bytes) -> bytes:
        for raw in self._long_bytes:
            if raw in body:
                body = body.replace(raw, REDACTED_BYTES)
        if self.short:
            body = self._short_bytes.sub(REDACTED_BYTES, body)
        return body


NO_FORMS = Forms(())


class Redactor:
    """The secrets known to the server, and the rule that removes them from outputs."""

    def __init__(self):
        self._forms: dict[str, tuple[str, ...]] = {}
        self._added_at: dict[str, int] = {}
        self._all = NO_FORMS
        #: bumped whenever a secret is added: data stored before may hold it
        self.generation = 0

    def add(self, secret: str) -> None:
        if secret and secret not in self._forms:
            self._forms[secret] = secret_forms(secret)
            self.generation += 1
            self._added_at[secret] = self.generation
            self._rebuild()

    def discard(self, secret: str) -> None:
        if self._forms.pop(secret, None) is not None:
            del self._added_at[secret]
            self._rebuild()

    def _rebuild(self) -> None:
        self._all = Forms(f for forms in self._forms.values() for f in forms)

    @property
    def base_forms(self) -> Forms:
        """The forms of the server's secrets (a new object whenever they change)."""
        return self._all

    def forms(self, extra=()) -> Forms:
        """Every form to look for: the server's secrets plus those of ``extra`` (a request's keys)."""
        unknown = [s for s in extra if s and s not in self._forms]
        if not unknown:
            return self._all
        return self._all + Forms(f for s in unknown for f in secret_forms(s))

    def added_since(self, generation: int) -> Forms:
        """Forms of the secrets added after ``generation``: data stored before was not
        redacted against them (a tenant created after a request quoted its key)."""
        if generation >= self.generation:
            return NO_FORMS
        return Forms(f for secret, at in self._added_at.items() if at > generation for f in self._forms[secret])

    # -- text ------------------------------------------------------------------------

    @staticmethod
    def text_with(text: str, forms: Forms) -> str:
        return forms.text(text)

    def text(self, text: str | None, extra=()) -> str | None:
        return None if text is None else self.forms(extra).text(text)

    def data(self, body: bytes, extra=()) -> bytes:
        """A body with every secret's bytes replaced (latin-1, as header values are read)."""
        return self.forms(extra).data(body)

    @staticmethod
    def data_with(body: bytes, forms: Forms) -> bytes:
        return forms.data(body)

    # -- structures ------------------------------------------------------------------

    def value_with(self, value, forms: Forms):
        if isinstance(value, str):
            return forms.text(value)
        if isinstance(value, dict):
            return {forms.text(k) if isinstance(k, str) else k: self.value_with(v, forms)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value_with(v, forms) for v in value]
        return value

    def document(self, value, extra=(), forms: Forms | None = None) -> tuple[object, str]:
        """(redacted value, its compact JSON text)."""
        forms = self.forms(extra) if forms is None else forms
        text = _dumps(value)
        # the forms include each secret's JSON-escaped spelling, so a look at the text suffices
        if forms.found_in(text):
            value = self.value_with(value, forms)
            text = _dumps(value)
        return value, text

    def recheck(self, text: str, forms: Forms) -> str:
        """A stored JSON document checked again for ``forms`` (secrets added after it was stored)."""
        if not forms.found_in(text):
            return text
        return _dumps(self.value_with(json.loads(text), forms))

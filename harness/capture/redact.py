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
from urllib.parse import quote, unquote

REDACTED = "<redacted>"
REDACTED_BYTES = REDACTED.encode()
#: Secrets shorter than this are redacted only where they stand alone (see ``Forms``).
SHORT_SECRET = 6
#: Where our own outputs cut a quoted value short (``http11``'s request-line quotes,
#: the codec's string labels; both close the quote right after the mark): a secret cut
#: there is a prefix no whole spelling matches.
TRUNCATION_MARKS = ("...'", '..."', "\u2026'", '\u2026"')
#: When a table's look-ups go through its prefix index (a pass over the text's
#: SHORT_SECRET-long pieces) instead of one search per spelling: when spellings ×
#: (SEARCH_CALL + text length) > INDEX_PIECE × text length, costs in "characters
#: searched" as measured on CPython 3.11 (a search call costs ~1 500 characters' worth,
#: a piece ~500). Short texts switch at ~110 spellings, 60 KB bodies at ~490.
SEARCH_CALL = 1500
INDEX_PIECE = 500
#: Runs of visible ASCII: where a tenant's spellings (all visible ASCII) can be.
_VISIBLE_RUN = re.compile(f"[!-~]{{{SHORT_SECRET},}}")
_VISIBLE_RUN_BYTES = re.compile(_VISIBLE_RUN.pattern.encode())
#: A token of a text (up to white space: a key may hold any visible character); one holding
#: a percent escape may spell a secret once decoded. Tokens are found whole and then
#: tested (an expression for "a token with an escape in it" backtracks quadratically on
#: a long token without one, and stored documents are long tokens).
_TOKEN = re.compile(r"\S+")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")

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
compact_json = _compact_encoder()
#: Head lines naming the project key, read leniently from bytes that did not parse as a head.
_RAW_KEY_LINE = re.compile(rb"(?im)^x-honch-project-key[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$")


def secret_forms(secret: str) -> tuple[str, ...]:
    """The spellings of ``secret`` that can appear in an output, longest first: as sent,
    JSON- and repr-escaped (a reason quoting a value), percent-encoded as ``quote``
    spells it (any other percent-encoding is found by decoding, see ``Forms``), and
    the hex of its bytes (a bytes property, a logged body)."""
    raw = secret.encode("latin-1", "replace")
    forms = {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], ascii(secret)[1:-1],
             quote(secret, safe=""), quote(secret), raw.hex(), raw.hex().upper()}
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def raw_project_keys(data: bytes | bytearray) -> list[str]:
    """Project-key header values in bytes that may not be a valid head (for redacting its errors)."""
    return [m.group(1).decode("latin-1") for m in _RAW_KEY_LINE.finditer(bytes(data[:64 * 1024]))
            if m.group(1)]


class _Table:
    """A mutable set of spellings (counted: two secrets may share one), indexed by
    their first SHORT_SECRET characters so that a look-up costs the length of the
    text, not the number of secrets, once there are many (``--open`` makes a tenant,
    and five to eight spellings, per new key)."""

    __slots__ = ("_counts", "_by_prefix", "_by_prefix_bytes", "_longest", "_long", "_long_bytes",
                 "_short", "_short_text", "_short_bytes", "_invisible")

    def __init__(self, spellings=()):
        self._counts: dict[str, int] = {}
        self._by_prefix: dict[str, set[str]] = {}
        self._by_prefix_bytes: dict[bytes, set[bytes]] = {}
        self._longest = 0
        self._short: set[str] = set()
        #: spellings with a character outside visible ASCII (a request's own odd key)
        self._invisible = 0
        self._changed()
        self.add(spellings)

    def _changed(self) -> None:
        self._long = self._long_bytes = self._short_text = self._short_bytes = None

    def add(self, spellings) -> None:
        for form in spellings:
            n = self._counts.get(form, 0)
            self._counts[form] = n + 1
            if n:
                continue
            self._changed()
            if len(form) < SHORT_SECRET:
                self._short.add(form)
                continue
            raw = form.encode("latin-1", "replace")
            self._invisible += not _VISIBLE_RUN.fullmatch(form)
            self._by_prefix.setdefault(form[:SHORT_SECRET], set()).add(form)
            self._by_prefix_bytes.setdefault(raw[:SHORT_SECRET], set()).add(raw)
            self._longest = max(self._longest, len(form))

    def remove(self, spellings) -> None:
        for form in spellings:
            n = self._counts.get(form, 0)
            if n > 1:
                self._counts[form] = n - 1
                continue
            if not n:
                continue
            del self._counts[form]
            self._changed()
            if len(form) < SHORT_SECRET:
                self._short.discard(form)
                continue
            self._invisible -= not _VISIBLE_RUN.fullmatch(form)
            _discard_indexed(self._by_prefix, form[:SHORT_SECRET], form)
            raw = form.encode("latin-1", "replace")
            _discard_indexed(self._by_prefix_bytes, raw[:SHORT_SECRET], raw)

    def __bool__(self) -> bool:
        return bool(self._counts)

    def _indexed(self, length: int) -> bool:
        return len(self._counts) * (SEARCH_CALL + length) > INDEX_PIECE * length

    def _pieces(self, text, index, runs) -> set:
        """The SHORT_SECRET-long pieces of ``text`` that begin an indexed spelling."""
        n = SHORT_SECRET
        if self._invisible:
            return index.keys() & {text[i:i + n] for i in range(len(text) - n + 1)}
        found = set()
        for run in runs.findall(text):
            found |= index.keys() & {run[i:i + n] for i in range(len(run) - n + 1)}
        return found

    def _long_forms(self) -> tuple[str, ...]:
        if self._long is None:
            self._long = tuple(f for forms in self._by_prefix.values() for f in forms)
        return self._long

    def _long_raw(self) -> tuple[bytes, ...]:
        if self._long_bytes is None:
            self._long_bytes = tuple(f for forms in self._by_prefix_bytes.values() for f in forms)
        return self._long_bytes

    def _short_patterns(self):
        if self._short_text is None and self._short:
            alternatives = "|".join(re.escape(f) for f in sorted(self._short, key=len, reverse=True))
            self._short_text = re.compile(f"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")
            self._short_bytes = re.compile(self._short_text.pattern.encode("latin-1", "replace"))
        return self._short_text, self._short_bytes

    def found_in(self, text: str) -> bool:
        if self._indexed(len(text)):
            return bool(self.present(text))
        # a plain loop: any() over a generator cost more than the look-ups themselves here
        for form in self._long if self._long is not None else self._long_forms():
            if form in text:
                return True
        return bool(self._short) and self._short_patterns()[0].search(text) is not None

    def present(self, text: str) -> list[str]:
        """The long spellings in ``text``."""
        if not self._indexed(len(text)):
            return [form for form in (self._long if self._long is not None else self._long_forms()) if form in text]
        found = []
        index = self._by_prefix
        for gram in self._pieces(text, index, _VISIBLE_RUN):
            found += [form for form in index[gram] if form in text]
        return found

    def present_bytes(self, data: bytes) -> list[bytes]:
        if not self._indexed(len(data)):
            return [raw for raw in (self._long_bytes if self._long_bytes is not None else self._long_raw())
                    if raw in data]
        found = []
        index = self._by_prefix_bytes
        for gram in self._pieces(data, index, _VISIBLE_RUN_BYTES):
            found += [raw for raw in index[gram] if raw in data]
        return found

    def cut_start(self, text: str, end: int) -> int:
        """Where a spelling cut short at ``end`` (at least SHORT_SECRET of it) begins, or -1."""
        for start in range(max(0, end - self._longest + 1), end - SHORT_SECRET + 1):
            forms = self._by_prefix.get(text[start:start + SHORT_SECRET])
            if forms:
                piece = text[start:end]
                if any(len(form) > len(piece) and form.startswith(piece) for form in forms):
                    return start
        return -1


def _discard_indexed(index: dict, prefix, form) -> None:
    forms = index.get(prefix)
    if forms is not None:
        forms.discard(form)
        if not forms:
            del index[prefix]


class Forms:
    """The secret spellings to remove from one output: a union of tables (the server's
    secrets, a request's own keys), combined without copying. Spellings shorter than
    SHORT_SECRET are only removed where they stand alone (not inside a word or number):
    a key ``k`` must not turn "unknown key" into "un<redacted>nown <redacted>ey", and a
    key that short is no secret anyway.

    Two more places a secret hides in a text: percent-encoded in any mix of escapes (a
    path or query quoting it), found by decoding each token that holds an escape; and
    cut short by one of our own quotes (``TRUNCATION_MARKS``), where a prefix of at
    least SHORT_SECRET characters before the mark is removed."""

    __slots__ = ("tables",)

    def __init__(self, spellings=(), *, tables: tuple[_Table, ...] | None = None):
        self.tables = tables if tables is not None else (_Table(spellings),)

    def __bool__(self) -> bool:
        return any(self.tables)

    def __add__(self, other: "Forms") -> "Forms":
        return Forms(tables=self.tables + other.tables)

    def _plain_found(self, text: str) -> bool:
        for table in self.tables:
            if table.found_in(text):
                return True
        return False

    def found_in(self, text: str) -> bool:
        for table in self.tables:  # _plain_found(), inline: this runs for every document stored
            if table.found_in(text):
                return True
        if "%" in text:
            for token in text.split():
                if "%" in token and _ESCAPE.search(token) and self._plain_found(unquote(token, encoding="latin-1")):
                    return True
        return False

    def _remove(self, value, present: list, pattern: int, replacement):
        """``value`` (text or bytes) without the long spellings ``present`` in it and the
        short ones (``pattern``: 0 the tables' text expression, 1 their bytes one)."""
        # longest first: a secret that contains another must go whole
        for form in sorted(present, key=len, reverse=True):
            value = value.replace(form, replacement)
        for table in self.tables:
            if table._short:
                value = table._short_patterns()[pattern].sub(replacement, value)
        return value

    def _plain_text(self, text: str) -> str:
        return self._remove(text, [form for table in self.tables for form in table.present(text)], 0, REDACTED)

    def text(self, text: str, *, quotes: bool = True) -> str:
        """``text`` without any secret. ``quotes``: the text may hold our own cut quotes (a
        reason); the strings of stored data are not looked at for them."""
        if self._plain_found(text):
            text = self._plain_text(text)
        if "%" in text:
            text = _TOKEN.sub(self._percent_token, text)
        if quotes:
            for mark in TRUNCATION_MARKS:
                if mark in text:
                    text = self._cut_secrets(text, mark)
        return text

    def _percent_token(self, match) -> str:
        token = match.group(0)
        if "%" not in token or not _ESCAPE.search(token):
            return token
        decoded = unquote(token, encoding="latin-1")
        return self._plain_text(decoded) if self._plain_found(decoded) else token

    def _cut_secrets(self, text: str, mark: str) -> str:
        pieces = []
        done = 0
        at = text.find(mark)
        while at >= 0:
            starts = [s for s in (table.cut_start(text, at) for table in self.tables) if s >= done]
            if starts:
                pieces += [text[done:min(starts)], REDACTED]
                done = at
            at = text.find(mark, at + 1)  # overlapping: the value cut may itself end in "."
        return "".join(pieces) + text[done:] if pieces else text

    def data(self, body: bytes) -> bytes:
        present = []
        for table in self.tables:
            found = table.present_bytes(body)
            if found:
                present += found
        return self._remove(body, present, 1, REDACTED_BYTES)


NO_FORMS = Forms(())


class Redactor:
    """The secrets known to the server, and the rule that removes them from outputs."""

    def __init__(self):
        self._forms: dict[str, tuple[str, ...]] = {}
        #: how many owners each secret has (a tenant key may also be the control token)
        self._owners: dict[str, int] = {}
        self._added_at: dict[str, int] = {}
        self._table = _Table()
        #: one view over the live table: new secrets are in it at once
        self._all = Forms(tables=(self._table,))
        #: bumped whenever a secret is added: data stored before may hold it
        self.generation = 0

    def add(self, secret: str) -> None:
        """One more owner of ``secret``; it stays a secret until every owner discarded it."""
        if not secret:
            return
        self._owners[secret] = self._owners.get(secret, 0) + 1
        if secret not in self._forms:
            self._forms[secret] = forms = secret_forms(secret)
            self.generation += 1
            self._added_at[secret] = self.generation
            self._table.add(forms)

    def discard(self, secret: str) -> None:
        owners = self._owners.get(secret, 0)
        if owners > 1:
            self._owners[secret] = owners - 1
        elif owners == 1:
            del self._owners[secret], self._added_at[secret]
            self._table.remove(self._forms.pop(secret))

    @property
    def base_forms(self) -> Forms:
        """The forms of the server's secrets (always the same live view)."""
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
        # a document's strings are data (a reason in it was redacted when it was made): a
        # long string of quote marks must not cost a look-back per mark
        if isinstance(value, str):
            return forms.text(value, quotes=False)
        if isinstance(value, dict):
            return {forms.text(k, quotes=False) if isinstance(k, str) else k: self.value_with(v, forms)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value_with(v, forms) for v in value]
        return value

    def document(self, value, extra=(), forms: Forms | None = None) -> tuple[object, str]:
        """(redacted value, its compact JSON text)."""
        forms = self.forms(extra) if forms is None else forms
        return self.checked(value, compact_json(value), forms)

    def checked(self, value, text: str, forms: Forms) -> tuple[object, str]:
        """(value, text) redacted for ``forms``, given ``text == compact_json(value)``: the
        half of :meth:`document` that reads the secrets, which only the loop thread may do
        (they change as tenants come and go; ``compact_json`` may run on any thread)."""
        # the forms include each secret's JSON-escaped spelling, so a look at the text suffices
        if forms.found_in(text):
            value = self.value_with(value, forms)
            text = compact_json(value)
        return value, text

    def recheck(self, text: str, forms: Forms) -> str:
        """A stored JSON document checked again for ``forms`` (secrets added after it was stored)."""
        if not forms.found_in(text):
            return text
        return compact_json(self.value_with(json.loads(text), forms))

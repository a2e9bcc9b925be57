"""The redaction rule itself: every spelling of a secret goes, however many secrets the
server holds (the prefix index gives what the plain search gives), a secret shared by
two owners stays until both let go, and a secret cut short by one of our quotes goes."""

from __future__ import annotations

import json
import os
import string
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture import http11
from harness.capture.redact import REDACTED, SHORT_SECRET, Forms, Redactor, secret_forms

KEY_BYTES = "".join(chr(c) for c in range(0x21, 0x7F))  # what a tenant key may hold
keys = st.text(alphabet=KEY_BYTES, min_size=SHORT_SECRET + 2, max_size=40)
filler = st.text(alphabet=string.ascii_letters + string.digits + " :/?=&\"'\\%-_.\x00é", max_size=80)


def percent_mixed(secret: str, mask: int) -> str:
    """``secret`` with the characters picked by ``mask`` (and every ``%``, as any encoder
    does) percent-encoded, in mixed case."""
    return "".join(f"%{ord(c):02{'X' if i % 2 else 'x'}}" if mask >> (i % 30) & 1 or c == "%" else c
                   for i, c in enumerate(secret))


def spellings(secret: str, mask: int) -> list[str]:
    return [secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], quote(secret, safe=""),
            secret.encode().hex(), secret.encode().hex().upper(), percent_mixed(secret, mask)]


def crowded(secret: str, decoys: int) -> Redactor:
    """A redactor holding ``secret`` among many other tenants' keys."""
    redactor = Redactor()
    for _ in range(decoys):
        redactor.add(f"decoy-{os.urandom(12).hex()}")
    redactor.add(secret)
    return redactor


@settings(max_examples=150, deadline=None)
@given(secret=keys, before=filler, after=filler, mask=st.integers(0, 2**30 - 1), which=st.integers(0, 6))
def test_every_spelling_goes_with_few_and_with_many_secrets(secret, before, after, mask, which):
    spelled = spellings(secret, mask)[which]
    text = f"{before} {spelled} {after}"  # a space: the filler must not extend a percent escape
    few, many = Redactor(), crowded(secret, 400)
    few.add(secret)
    for redactor in (few, many):
        out = redactor.base_forms.text(text)
        assert redactor.base_forms.found_in(text)
        assert secret not in out and spelled not in out, (redactor is many, out)
        data = redactor.base_forms.data(text.encode("latin-1", "replace"))
        if spelled.isascii() and "%" not in spelled:
            assert spelled.encode() not in data
    # the index answers what the plain search answers
    assert many.base_forms.text(text) == few.base_forms.text(text)


@settings(max_examples=100, deadline=None)
@given(secret=keys, text=filler)
def test_the_index_finds_what_the_search_finds(secret, text):
    few = Redactor()
    few.add(secret)
    many = crowded(secret, 400)
    for sample in (text, text + secret, secret + text, json.dumps({"v": text + secret})):
        assert many.base_forms.found_in(sample) == few.base_forms.found_in(sample)
        assert many.base_forms.text(sample) == few.base_forms.text(sample)
        raw = sample.encode("latin-1", "replace")
        assert many.base_forms.data(raw) == few.base_forms.data(raw)


@settings(max_examples=100, deadline=None)
@given(secret=keys, lead=st.text(alphabet="a=/?", max_size=70), mark=st.sampled_from(["...", "\u2026"]))
def test_a_secret_cut_by_our_quote_goes(secret, lead, mark):
    """http11 quotes at most 60 bytes and the codec 40 characters: what is cut keeps a
    prefix of the secret that no whole spelling matches."""
    forms = Forms(secret_forms(secret))
    for cut in range(SHORT_SECRET, len(secret)):
        out = forms.text(f"malformed request line '{lead}{secret[:cut]}{mark}'")
        assert REDACTED in out and secret[:cut] not in out.split(REDACTED)[-1], out
    shown = forms.text(http11._show((lead + secret).encode(), limit=len(lead) + len(secret) - 1))
    assert REDACTED in shown and ascii(secret)[1:-2] not in shown.split(REDACTED)[-1], shown


def test_a_prefix_shorter_than_a_secret_is_no_secret():
    forms = Forms(secret_forms("canary-Key-7f3e9c"))
    assert forms.text("the canar... was cut") == "the canar... was cut"  # 5 characters: kept


def test_a_shared_secret_stays_until_every_owner_discards_it():
    redactor = Redactor()
    redactor.add("shared-token-1234")          # the control token
    redactor.add("shared-token-1234")          # a tenant with the same key
    redactor.discard("shared-token-1234")      # the tenant is deleted
    assert redactor.base_forms.text("x shared-token-1234 y") == f"x {REDACTED} y"
    redactor.discard("shared-token-1234")
    assert redactor.base_forms.text("x shared-token-1234 y") == "x shared-token-1234 y"


def test_a_quote_escapes_once():
    """A key with a backslash is shown the way ``repr`` spells it, which is one of its forms."""
    secret = "CANARY\\key123"
    shown = http11._show(secret.encode())
    assert repr(secret)[1:-1] in shown
    assert Forms(secret_forms(secret)).text(shown) == f"'{REDACTED}'"


def test_a_secret_added_is_in_the_live_view_at_once():
    redactor = Redactor()
    forms = redactor.forms(["own-request-key-1"])  # cached per request before a tenant appears
    redactor.add("late-tenant-key-2")
    assert forms.text("own-request-key-1 late-tenant-key-2") == f"{REDACTED} {REDACTED}"

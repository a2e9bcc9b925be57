"""``honch.validation``: the published wrapper's public argument helpers.

Users call these to check arguments before they reach the client (they are public
names of honch-micropython 0.3.1, so ours must behave like them); the client itself
does not call all of them, so the conformance suite does not reach every line. The
contract's rules apply where the wheel's helpers were loose: lengths are UTF-8
bytes (contract 2.3), blank means only space, tab, CR and LF, and containers nest
at most ``MAX_NESTING`` deep (contract 2.3, the core's own limit).
"""

from __future__ import annotations

import pytest

from harness import protocol
from harness.sdk.wrappers import published_dir
from honch import validation
from honch.errors import InvalidArgumentError

PUBLISHED = "0.3.1"


def _invalid(call, *args):
    with pytest.raises(InvalidArgumentError) as info:
        call(*args)
    return str(info.value)


def test_limits_are_the_contracts():
    assert validation.MAX_EVENT_NAME == protocol.MAX_NAME_BYTES
    assert validation.MAX_DISTINCT_ID == protocol.MAX_DISTINCT_ID_BYTES
    assert validation.MAX_NESTING == protocol.MAX_NESTING


@pytest.mark.parametrize("helper, limit, label", [
    (validation.require_event_name, validation.MAX_EVENT_NAME, "event name"),
    (validation.require_distinct_id, validation.MAX_DISTINCT_ID, "distinct_id"),
])
def test_text_at_its_byte_limit_passes_and_one_byte_more_fails(helper, limit, label):
    assert helper("e" * limit) is None
    assert _invalid(helper, "e" * (limit + 1)) == "invalid " + label
    # bytes, not code points: a two-byte character at the edge
    assert helper("e" * (limit - 2) + "\u00e9") is None
    assert _invalid(helper, "e" * (limit - 1) + "\u00e9") == "invalid " + label


@pytest.mark.parametrize("value", ["", " ", "\t", "\r\n", " \t\r\n ", 7, None, b"name", ["x"]])
def test_blank_or_non_text_is_invalid(value):
    assert _invalid(validation.require_text, value, "thing") == "invalid thing"
    assert _invalid(validation.require_event_name, value) == "invalid event name"


@pytest.mark.parametrize("value", ["x", " x ", "\u00a0", "\x0b", "\x0c"])
def test_text_with_anything_but_space_tab_cr_lf_is_not_blank(value):
    # contract 2.3: blank is space, tab, CR and LF only (Python's str.strip() would
    # also take the vertical tab, form feed and no-break space)
    assert validation.require_text(value, "thing") is None


def test_require_text_without_a_limit_takes_any_length():
    assert validation.require_text("x" * 10000, "thing") is None
    assert validation.require_text("x" * 3, "thing", 3) is None
    assert _invalid(validation.require_text, "x" * 4, "thing", 3) == "invalid thing"
    assert _invalid(validation.require_text, "x", "thing", 0) == "invalid thing"


def test_properties_none_is_an_empty_dict_and_a_dict_is_copied():
    assert validation.require_properties(None) == {}
    given = {"a": 1, "b": [1, "x", None], "c": {"d": b"\x00", "e": bytearray(b"\x01")}}
    got = validation.require_properties(given)
    assert got == given and got is not given
    got["z"] = 1
    assert "z" not in given


@pytest.mark.parametrize("value", [[("a", 1)], "a=1", 3, ("a",)])
def test_properties_that_are_not_a_dict_are_invalid(value):
    assert _invalid(validation.require_properties, value) == "properties must be a dict"


def _nested(depth, leaf=1, kind=list):
    value = leaf
    for _ in range(depth):
        value = [value] if kind is list else {"k": value}
    return value


@pytest.mark.parametrize("kind", [list, dict])
def test_properties_nest_to_the_limit_and_not_one_deeper(kind):
    limit = validation.MAX_NESTING
    # the properties dict is depth 0: its values may nest MAX_NESTING containers deep
    assert validation.require_properties({"p": _nested(limit, kind=kind)})
    assert _invalid(validation.require_properties, {"p": _nested(limit + 1, kind=kind)}) \
        == "more than %d nested containers" % limit


@pytest.mark.parametrize("kind", [list, dict])
def test_a_single_value_nests_to_the_limit_and_not_one_deeper(kind):
    limit = validation.MAX_NESTING
    deepest = _nested(limit, kind=kind)
    assert validation.require_value(deepest) is deepest
    assert _invalid(validation.require_value, _nested(limit + 1, kind=kind)) \
        == "more than %d nested containers" % limit


def test_tuples_count_as_containers():
    limit = validation.MAX_NESTING
    value = 1
    for _ in range(limit + 1):
        value = (value,)
    assert _invalid(validation.require_value, value) == "more than %d nested containers" % limit
    assert validation.require_value(value[0]) == value[0]


@pytest.mark.parametrize("value", [None, True, False, 0, -2**63, 2**64 - 1, 1.5, "", "s", b"", bytearray(3),
                                   [], (), {}, [1, [2, {"a": (3,)}]]])
def test_every_value_type_of_the_contract_passes(value):
    assert validation.require_value(value) is value


@pytest.mark.parametrize("value, message", [
    (object(), "unsupported property value"),
    ({1: "x"}, "property keys must be strings"),
    ({None: "x"}, "property keys must be strings"),
    ([1, {"ok": {"deep": object()}}], "unsupported property value"),
    ({"ok": [1, {2: 3}]}, "property keys must be strings"),
    (set([1]), "unsupported property value"),
])
def test_values_outside_the_contract_are_invalid_wherever_they_sit(value, message):
    assert _invalid(validation.require_value, value) == message
    assert _invalid(validation.require_properties, {"p": value}) == message


def test_a_property_key_that_is_not_text_is_invalid_at_the_top_level():
    assert _invalid(validation.require_properties, {1: "x"}) == "property keys must be strings"


def _published_modules() -> dict:
    """The wheel's ``honch`` modules, imported under their own names and then taken out
    of ``sys.modules`` again (ours are restored)."""
    import importlib.util
    import sys

    root = published_dir(PUBLISHED) / "honch"
    saved = {k: v for k, v in sys.modules.items() if k == "honch" or k.startswith("honch.")}
    try:
        for k in saved:
            del sys.modules[k]
        spec = importlib.util.spec_from_file_location("honch", root / "__init__.py",
                                                      submodule_search_locations=[str(root)])
        theirs_pkg = importlib.util.module_from_spec(spec)
        sys.modules["honch"] = theirs_pkg
        spec.loader.exec_module(theirs_pkg)
        return {k: v for k, v in sys.modules.items() if k == "honch" or k.startswith("honch.")}
    finally:
        for k in [k for k in sys.modules if k == "honch" or k.startswith("honch.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def test_config_is_blank_is_the_wheels():
    """``honch.config.is_blank`` is a public helper of the wheel: same answer for every value."""
    from honch import config

    theirs = _published_modules()["honch.config"].is_blank
    for value in (None, "", " ", " \t\r\n", "\x0b", "\u3000", "x", " x ", 0, 1, b"", False, [], "None"):
        assert config.is_blank(value) == theirs(value), repr(value)


def test_messages_are_the_published_wrappers():
    """Where the wheel and the contract agree, the message is the wheel's word for word."""
    published = _published_modules()
    theirs = published["honch.validation"]
    their_error = published["honch.errors"].InvalidArgumentError

    cases = [
        ("require_event_name", ("",)), ("require_event_name", ("e" * 129,)),
        ("require_distinct_id", (" ",)), ("require_distinct_id", ("d" * 257,)),
        ("require_text", (5, "label")), ("require_properties", ([1],)),
        ("require_properties", ({1: 2},)), ("require_value", (object(),)),
        ("require_value", ({"a": {3: 4}},)),
    ]
    for name, args in cases:
        with pytest.raises(their_error) as published:
            getattr(theirs, name)(*args)
        assert _invalid(getattr(validation, name), *args) == str(published.value), (name, args)
    for name, args in [("require_event_name", ("e" * 128,)), ("require_properties", (None,)),
                       ("require_value", ([1, "x", None, 2.5],))]:
        assert getattr(validation, name)(*args) == getattr(theirs, name)(*args)

"""The server's prebuilt JSON encoder against ``json.dumps``: the same text for any document."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture.redact import compact_json

text = st.text(st.characters(blacklist_categories=()), max_size=12)
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-2**70, max_value=2**70),
                   st.floats(allow_nan=True, allow_infinity=True), text)
key = st.one_of(text, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
document = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.tuples(inner, inner), st.dictionaries(key, inner, max_size=5)), max_leaves=30)


@settings(max_examples=1500, deadline=None)
@given(value=document)
def test_same_text_as_json_dumps(value):
    assert compact_json(value) == json.dumps(value, separators=(",", ":"))


def test_server_documents():
    event = {"distinct_id": "user-1", "event": "boot", "properties": {"$device_id": "d\u00e9vice", "n": [1, 2.5]},
             "timestamp": 1700000000000, "_meta": {"stream_id": "1a", "message_id": 1, "request_t": 305.59654967}}
    assert compact_json(event) == json.dumps(event, separators=(",", ":"))
    assert compact_json(math.inf) == "Infinity"


def test_unserialisable_values_raise_like_json_dumps():
    for value in (object(), {"a": {1, 2}}, [b"bytes"]):
        with pytest.raises(TypeError) as ours:
            compact_json(value)
        with pytest.raises(TypeError) as theirs:
            json.dumps(value, separators=(",", ":"))
        assert str(ours.value) == str(theirs.value)

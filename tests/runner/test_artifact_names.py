"""Per-test artifact names (harness/artifacts.py): one name per label, never shared, safe."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.artifacts import NAME_MAX, artifact_name, server_transcript_path

SAFE = re.compile(r"[A-Za-z0-9_.~-]+")
LONG_ID = ("conformance/test_edges.py::test_configuration_strings_at_their_byte_limit_are_accepted_and_one_byte_"
           "more_refused[firmware_version-host-published-0.3.1-{}-3]")
labels = st.one_of(st.text(max_size=300),
                   st.text(alphabet="ab/_-.:[]~A", max_size=12),
                   st.builds(lambda a, b: a + b, st.sampled_from([LONG_ID.format(1), "conformance/test_x.py::t["]),
                             st.text(alphabet="ab/-_.123[]", max_size=20)))


def _safe(name: str) -> bool:
    return (bool(SAFE.fullmatch(name)) and len(name) <= NAME_MAX and name not in (".", "..")
            and not name.startswith((".", "-")))


@settings(max_examples=300, deadline=None)
@given(labels, labels)
def test_distinct_labels_get_distinct_names_even_ignoring_case(a, b):
    if a != b:
        assert artifact_name(a).casefold() != artifact_name(b).casefold()
    assert artifact_name(a) == artifact_name(a)


@settings(max_examples=300, deadline=None)
@given(labels)
def test_every_name_is_a_safe_file_name_within_the_bound(label):
    assert _safe(artifact_name(label)), artifact_name(label)


def test_a_safe_label_is_its_own_name():
    assert artifact_name("probe") == "probe"
    assert artifact_name("between-tests") == "between-tests"


def test_ids_that_sanitize_alike_get_their_own_logs():
    """``[host-/]`` and ``[host-///]`` (clause C1) once shared one byte log and one transcript."""
    one = "conformance/test_errors.py::test_dropped[host-/]"
    three = "conformance/test_errors.py::test_dropped[host-///]"
    assert artifact_name(one) != artifact_name(three)
    assert server_transcript_path("a", one) != server_transcript_path("a", three)
    assert artifact_name(one).startswith("conformance_test_errors.py_test_dropped_host~")


def test_repetitions_of_a_long_id_get_their_own_logs():
    """``--repeat 3`` on an id longer than the bound once put the three repetitions in one log."""
    names = [artifact_name(LONG_ID.format(step)) for step in (1, 2, 3)]
    assert len(set(names)) == 3
    assert all(len(n) <= NAME_MAX for n in names)
    for step, name in zip((1, 2, 3), names):
        assert f"host-published-0.3.1-{step}-3~" in name, "the board and repetition stay readable"
    assert all(n.startswith("conformance_test_edges.py_test_configuration_strings") for n in names)

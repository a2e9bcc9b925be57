"""harness/protocol.py transcribes the specs; these tests keep the transcription honest."""

import json
import re

from harness import REPO_ROOT, protocol

SPEC = REPO_ROOT / "docs" / "spec"


def test_every_contract_clause_is_known_and_no_other():
    text = (SPEC / "contract.md").read_text()
    cited = re.findall(r"^\* \*\*(C\d+)\*\*", text, flags=re.M)
    assert cited == list(protocol.CLAUSES), "clause ids differ from contract.md section 13"


def test_host_only_clauses_are_the_ones_marked_host():
    text = (SPEC / "contract.md").read_text()
    marked = re.findall(r"^\* \*\*(C\d+)\*\* \*\(host\)\*", text, flags=re.M)
    assert tuple(marked) == protocol.HOST_ONLY_CLAUSES


def test_status_table_matches_contract_section_3():
    text = (SPEC / "contract.md").read_text()
    rows = re.findall(r"^\| (\d+) \| (\w+) \| `([^`]+)` \| (\w+|none) \|$", text, flags=re.M)
    assert len(rows) == len(protocol.STATUSES)
    for value, name, status_text, exc in rows:
        expected = protocol.STATUSES[int(value)]
        assert (name, status_text) == expected[:2]
        assert (None if exc == "none" else exc) == expected[2]


def test_reserved_keys_match_contract_section_2_4():
    text = (SPEC / "contract.md").read_text()
    section = text.split("### 2.4 Reserved keys", 1)[1].split("##", 1)[0]
    listing = section.split("queues nothing:", 1)[1]
    keys = re.findall(r"`([^`]+)`", listing)
    assert sorted(keys) == sorted(protocol.RESERVED_KEYS)


def test_config_defaults_match_contract_section_4():
    text = (SPEC / "contract.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (\d+) \|", text, flags=re.M))
    assert {k: int(v) for k, v in rows.items()} == protocol.CONFIG_DEFAULTS


def test_sdk_and_capture_limits_match_wire_section_8():
    text = (SPEC / "wire-v2.md").read_text()
    section = text.split("## 8. Limits", 1)[1].split("## 9.", 1)[0]

    def row(label):
        m = re.search(r"^\| " + re.escape(label) + r" \| ([\d—]+) B? ?\| ([\d—]+) B? ?\|", section, flags=re.M)
        assert m, label
        return [None if v == "—" else int(v) for v in m.groups()]

    assert row("frame / request body") == [protocol.SDK_LIMITS.frame, protocol.CAPTURE_LIMITS.frame]
    assert row("message (before chunking)") == [protocol.SDK_LIMITS.message, protocol.CAPTURE_LIMITS.message]
    assert row("events per message") == [protocol.SDK_LIMITS.events, protocol.CAPTURE_LIMITS.events]
    assert row("string-table entries") == [protocol.SDK_LIMITS.strings, protocol.CAPTURE_LIMITS.strings]
    assert row("bytes in one string") == [protocol.SDK_LIMITS.string_bytes, protocol.CAPTURE_LIMITS.string_bytes]
    assert row("bytes in all strings together") == [protocol.SDK_LIMITS.all_string_bytes,
                                                     protocol.CAPTURE_LIMITS.all_string_bytes]
    assert row("properties per event") == [protocol.SDK_LIMITS.properties, protocol.CAPTURE_LIMITS.properties]


def test_response_policy_vector_agrees_with_status_mapping():
    policy = json.loads((REPO_ROOT / "conformance/vectors/upstream/response-policy.json").read_text())
    for case in policy["cases"]:
        status = protocol.sdk_status_for_http(case["status"], final_frame=True)
        if case["queue"] == "consume":
            assert status == "OK", case
        elif case["queue"] == "preserve":
            assert status in protocol.RETRYABLE_STATUSES or case["status"] == 202, case
        else:
            assert status == "REJECTED", case


def test_upstream_copies_are_verbatim_when_the_upstream_tree_is_present():
    upstream = REPO_ROOT.parent / "shared"
    if not upstream.is_dir():
        return  # a CI clone has only the copies; nothing to compare against
    assert (SPEC / "wire-v2.md").read_bytes() == (upstream / "spec" / "wire-v2.md").read_bytes()
    # The contract copy carries the project's changes (issue 9, stated at its top) and
    # keeps every upstream clause.
    ours, theirs = (SPEC / "contract.md").read_text(), (upstream / "spec" / "contract.md").read_text()
    assert "*Project copy.*" in ours
    clause = re.compile(r"^\* \*\*(C\d+)\*\*", flags=re.M)
    assert set(clause.findall(theirs)) <= set(clause.findall(ours))
    ours = REPO_ROOT / "conformance/vectors/upstream"
    for src in (upstream / "vectors/upstream").rglob("*.json"):
        rel = src.relative_to(upstream / "vectors/upstream")
        assert (ours / rel).read_bytes() == src.read_bytes(), rel


def test_extension_clauses_are_the_ones_marked_with_a_capability():
    text = (SPEC / "contract.md").read_text()
    marked = dict(re.findall(r"^\* \*\*(C\d+)\*\* (?:\*\(host\)\* )?\*\(capability (\w+)\)\*", text, flags=re.M))
    assert marked == protocol.CLAUSE_CAPABILITY
    assert set(marked.values()) <= set(protocol.CAPABILITIES)


def test_last_error_reasons_match_the_core_header():
    header = (REPO_ROOT / "core" / "include" / "honch" / "honch.h").read_text()
    for http, reason in protocol.LAST_ERROR_REASONS_BY_HTTP.items():
        assert re.search(r'#define HONCH_REASON_\w+ "%s"\s+/\* %d \*/' % (reason, http), header), (http, reason)
    components = re.findall(r'#define HONCH_COMPONENT_\w+ "(\w+)"', header)
    assert tuple(components) == protocol.LAST_ERROR_COMPONENTS

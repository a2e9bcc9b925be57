"""Reading pytest's JUnit XML: the one place that knows how a ``testcase`` says its outcome."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path


def outcome(case: ET.Element) -> str:
    """``failed`` (a failure or an error), ``skipped`` or ``passed``."""
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed"
    if case.find("skipped") is not None:
        return "skipped"
    return "passed"


def properties(case: ET.Element) -> dict[str, str]:
    """The test's user properties (board, clauses, mandated waits, ...)."""
    return {p.get("name"): p.get("value") for p in case.iter("property")}


def testcases(path: Path) -> list[ET.Element]:
    return list(ET.parse(path).getroot().iter("testcase"))

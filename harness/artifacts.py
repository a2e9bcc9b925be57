"""Where a run's per-test artifacts go, and how they are named."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

#: the longest artifact name (without its ``.log`` / ``.json`` suffix)
NAME_MAX = 150
#: hex digits of the full label's SHA-256 a changed name ends with
DIGEST_CHARS = 16
#: what separates a changed name from its digest; never part of an unchanged name
DIGEST_MARK = "~"
#: the end of a long label a shortened name keeps (the board and pytest-repeat's step sit there)
TAIL_CHARS = 40
_UNSAFE = re.compile(r"[^a-z0-9_.-]+")
_UNSAFE_KEEP_CASE = re.compile(r"[^A-Za-z0-9_.-]+")


def artifact_name(label: str) -> str:
    """A file-name-safe form of a test id or label: the same label gives the same name, and
    different labels give different names (also on a case-insensitive file system).

    A label that is already a safe name (lower-case letters, digits, ``_ . -``, not starting
    or ending with ``_ . -``, at most NAME_MAX characters) is its own name. Any other label
    gets a readable form (unsafe runs turned into ``_``; when too long, its head, ``_`` and its
    last TAIL_CHARS characters) followed by ``~`` and the first DIGEST_CHARS hex digits of the
    SHA-256 of the whole label. ``~`` is never part of an unchanged name, so the two kinds
    cannot meet, and two changed names differ whenever their labels do (bar a 64-bit hash
    collision): ``[host-/]`` and ``[host-///]``, or three repetitions of a long test id, no
    longer share one log."""
    if len(label) <= NAME_MAX and not _UNSAFE.search(label) and label.strip("_.-") == label and label:
        return label
    digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_CHARS]
    readable = _UNSAFE_KEEP_CASE.sub("_", label).strip("_.-")
    room = NAME_MAX - len(DIGEST_MARK) - DIGEST_CHARS
    if len(readable) > room:
        head = readable[:room - TAIL_CHARS - 1].rstrip("_.-")
        readable = f"{head}_{readable[-TAIL_CHARS:].lstrip('_.-')}"
    return f"{readable or 'log'}{DIGEST_MARK}{digest}"


def server_transcript_path(artifacts: Path, label: str) -> Path:
    return Path(artifacts) / "server" / f"{artifact_name(label)}.json"


def write_server_transcript(path: Path, label: str, requests: list, events: list) -> None:
    """What the capture server saw during one test: every request (key redacted) and the stored events."""
    path.parent.mkdir(parents=True, exist_ok=True)
    requests = [dict(r, headers=dict(r.get("headers", {}))) for r in requests]
    path.write_text(json.dumps({"test": label, "requests": requests, "events": events}, indent=1) + "\n")

"""Where a run's per-test artifacts go, and how they are named."""

from __future__ import annotations

import json
import re
from pathlib import Path


def artifact_name(label: str) -> str:
    """A file-name-safe form of a test id or label (the same test gives the same name)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_")[:150] or "log"


def server_transcript_path(artifacts: Path, label: str) -> Path:
    return Path(artifacts) / "server" / f"{artifact_name(label)}.json"


def write_server_transcript(path: Path, label: str, requests: list, events: list) -> None:
    """What the capture server saw during one test: every request (key redacted) and the stored events."""
    path.parent.mkdir(parents=True, exist_ok=True)
    requests = [dict(r, headers=dict(r.get("headers", {}))) for r in requests]
    path.write_text(json.dumps({"test": label, "requests": requests, "events": events}, indent=1) + "\n")

"""Known deviations of a port: an expectations file maps a clause to the reason it fails.

    # expectations of the published wrapper 0.3.1 on the host core
    [deviations]
    C24 = "ignores Retry-After: the wrapper retries after its own backoff"

A listed clause that fails is a *known deviation* (reported, not counted against the
port); a listed clause that passes is *unexpectedly passing* and makes the run
non-conformant, like a strict xfail: the file must be kept true.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from harness.boards.inventory import not_utf8
from harness.protocol import CLAUSES


class ExpectationsError(ValueError):
    """The expectations file is unreadable or malformed; the message names the file and the key."""


def load_expectations(path: str | Path) -> dict[str, str]:
    """clause -> reason, validated: every clause exists, every reason is a non-empty string."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise ExpectationsError(f"cannot read the expectations file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ExpectationsError(not_utf8(path, raw, exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ExpectationsError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"deviations"})
    if unknown:
        raise ExpectationsError(f"{path}: unknown top-level key(s) {', '.join(unknown)} (expected a [deviations] table)")
    table = data.get("deviations", {})
    if not isinstance(table, dict):
        raise ExpectationsError(f"{path}: [deviations] must be a table of clause = \"reason\"")
    deviations = {}
    for clause, reason in table.items():
        if clause not in CLAUSES:
            raise ExpectationsError(f"{path}: deviations.{clause}: not a contract clause (C1…C{len(CLAUSES)})")
        if not isinstance(reason, str) or not reason.strip():
            raise ExpectationsError(f"{path}: deviations.{clause}: the reason must be a non-empty string")
        deviations[clause] = reason.strip()
    return deviations

"""Exit statuses of ``honch-hil run`` (and the words the reports use for them), in one place.

When several apply, the first of this list wins: interrupted, usage error,
regression, non-conformant, infrastructure error, conformant.
"""

from __future__ import annotations

CONFORMANT = 0
#: some clause failed, or a known deviation passed (unexpectedly passing)
NON_CONFORMANT = 1
#: bad command line, inventory or expectations file, or nothing selected
USAGE_ERROR = 2
#: errors only: the harness, a link, a board or the capture server failed; no clause failed
INFRASTRUCTURE_ERROR = 3
#: with --baseline: a clause fails on a board where it did not fail in the baseline
REGRESSION = 4
#: SIGINT or SIGTERM stopped the run; the reports cover what ran
INTERRUPTED = 130

RESULT_WORD = {
    CONFORMANT: "conformant",
    NON_CONFORMANT: "non-conformant",
    USAGE_ERROR: "usage error",
    INFRASTRUCTURE_ERROR: "infrastructure error",
    REGRESSION: "regression",
    INTERRUPTED: "interrupted",
}


def help_text() -> str:
    """The exit statuses as ``honch-hil run --help`` lists them."""
    return "exit status: " + "; ".join(f"{code} {word}" for code, word in RESULT_WORD.items())

"""Mutant: rejections are reported as server errors, so rejected batches are retried
instead of dead-lettered (C42)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mutantlib  # noqa: E402


def rejections_as_503(post_chunk, url, body, headers, timeout_ms):
    status, retry_after = post_chunk(url, body, headers, timeout_ms)
    if 400 <= status < 500 and status not in (408, 409, 429):
        return 503, retry_after
    return status, retry_after


mutantlib.wrap_post_chunk(rejections_as_503)
mutantlib.activate("retry_rejected")

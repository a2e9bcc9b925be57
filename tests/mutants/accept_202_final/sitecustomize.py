"""Mutant: a 202 on a single or final frame counts as delivered (C26)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mutantlib  # noqa: E402


def optimistic(post_chunk, url, body, headers, timeout_ms):
    status, retry_after = post_chunk(url, body, headers, timeout_ms)
    if status == 202 and mutantlib.is_final_frame(body):
        return 204, retry_after
    return status, retry_after


mutantlib.wrap_post_chunk(optimistic)
mutantlib.activate("accept_202_final")

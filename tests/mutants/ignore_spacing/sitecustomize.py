"""Mutant: the port disables minimum spacing whatever the configuration says (C21)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mutantlib  # noqa: E402

SPACING_DISABLED = 0xFFFFFFFF


def unspaced_client(Client, config):
    config = dict(config)
    config["flush_min_interval_ms"] = SPACING_DISABLED
    return Client(config)


mutantlib.replace_client(unspaced_client)
mutantlib.activate("ignore_spacing")

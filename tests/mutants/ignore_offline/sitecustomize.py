"""Mutant: the port tells the core it is always online, ignoring connectivity_callback (C28)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mutantlib  # noqa: E402


class AlwaysOnline(mutantlib.ClientProxy):
    def tick(self, online):
        return self._client.tick(True)

    def flush(self, online):
        return self._client.flush(True)

    def shutdown(self, online):
        return self._client.shutdown(True)


mutantlib.replace_client(lambda Client, config: AlwaysOnline(Client(config)))
mutantlib.activate("ignore_offline")

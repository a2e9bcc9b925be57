"""``BoardPool``: the boards one test process (one xdist worker) holds.

A board is locked across processes (a file lock per board under the artifacts
directory) from its first use until the pool closes, so no two workers or runs
ever drive the same board. Each checkout re-points the board's byte log to the
test's own file and checks the board's health: a board that fails health checks
twice (start failures, hangs, reboots, lost links) is not used again in this
run and every later checkout is refused with the reason.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from filelock import FileLock, Timeout

from harness.boards.driver import BoardDriver, BoardError, BoardUnreachable
from harness.boards.inventory import BoardSpec

MAX_HEALTH_FAILURES = 2
#: how long to wait for a board another process holds
DEFAULT_LOCK_TIMEOUT = 600.0


class BoardUnavailable(Exception):
    """The board cannot be used in this run (locked elsewhere, or unhealthy twice)."""


class BoardPool:
    def __init__(self, artifacts: Path, lock_dir: Path, worker: str = "main",
                 lock_timeout: float = DEFAULT_LOCK_TIMEOUT):
        self.artifacts = Path(artifacts)
        self.lock_dir = Path(lock_dir)
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        self.worker = worker
        self.lock_timeout = lock_timeout
        self.drivers: dict[str, BoardDriver] = {}
        self.locks: dict[str, FileLock] = {}
        self.unusable: dict[str, str] = {}

    def _owner_file(self, name: str) -> Path:
        return self.lock_dir / f"{name}.owner"

    def lock(self, spec: BoardSpec) -> None:
        if spec.name in self.locks:
            return
        lock = FileLock(str(self.lock_dir / f"{spec.name}.lock"))
        try:
            lock.acquire(timeout=self.lock_timeout)
        except Timeout:
            try:
                owner = self._owner_file(spec.name).read_text()
            except OSError:
                owner = "unknown"
            raise BoardUnavailable(f"board {spec.name} is held by another process ({owner}) "
                                   f"for more than {self.lock_timeout:g} s") from None
        self._owner_file(spec.name).write_text(json.dumps(
            {"pid": os.getpid(), "worker": self.worker, "since": time.time()}))
        self.locks[spec.name] = lock

    def checkout(self, spec: BoardSpec, label: str) -> BoardDriver:
        """The board, started and answering, with its log pointed at ``label``'s file.

        Raises ``BoardUnavailable`` for a board given up on, ``BoardError`` when it
        fails its health check now."""
        reason = self.unusable.get(spec.name)
        if reason is not None:
            raise BoardUnavailable(reason)
        self.lock(spec)
        driver = self.drivers.get(spec.name)
        if driver is None:
            driver = self.drivers[spec.name] = BoardDriver(spec, self.artifacts)
        driver.log_to(label)
        try:
            if driver.agent is None:
                driver.start()
            elif not driver.healthy():
                gone = driver.resource_gone(wait=0.5)
                if gone:  # killed from outside between tests: lost, not something a reset fixes
                    driver.lost = gone
                    raise BoardError(f"board {spec.name}: {gone} (log: {driver.log_path})")
                driver.health_failures += 1
                driver.log.note("health check failed before the test: resetting")
                driver.reset()
        except BoardUnreachable as exc:
            # no port, a refusing exporter, a place that cannot be had: the same next time
            driver.stop()
            self.unusable[spec.name] = str(exc)
            raise BoardUnavailable(str(exc)) from None
        except BoardError as exc:
            driver.health_failures += 1
            log_path = driver.log_path
            driver.stop()
            if driver.lost:  # its remaining tests are not run
                self.unusable[spec.name] = f"board {spec.name} was lost at test {label}: {driver.lost} (log: {log_path})"
            self._give_up_if_needed(driver, str(exc))
            raise
        return driver

    def checkin(self, driver: BoardDriver) -> None:
        """After a test: give the board up if it failed its health twice."""
        self._give_up_if_needed(driver, "hangs, reboots or lost links during tests")
        driver.log_to("between-tests")

    def _give_up_if_needed(self, driver: BoardDriver, last: str) -> None:
        if driver.health_failures >= MAX_HEALTH_FAILURES and driver.name not in self.unusable:
            first_line = last.splitlines()[0] if last else ""
            self.unusable[driver.name] = (
                f"board {driver.name} failed its health checks {driver.health_failures} times "
                f"and is skipped for the rest of the run; last failure: {first_line}")
            driver.log.note(self.unusable[driver.name])
            driver.stop()

    def close(self) -> None:
        for driver in self.drivers.values():
            driver.stop()
        for name, lock in self.locks.items():
            try:
                self._owner_file(name).unlink()
            except OSError:
                pass
            lock.release()
        self.locks.clear()

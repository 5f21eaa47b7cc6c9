"""A started process whose output is read as it comes, so that a test can act at an observable point (a line
printed, a count of check results) instead of after a fixed delay."""
from __future__ import annotations

import re
import signal
import subprocess
import threading

import pytest

# A check's result line under pytest -v (also under xdist: "[gw0] PASSED suites/...").
RESULT = r" (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)\b"


class Watched:
    """`subprocess.Popen(..., stdout=PIPE, text=True)` read line by line in a thread."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for_line(self, pattern: str, count: int = 1, limit: float = 120) -> str:
        """Until `count` lines match `pattern`; returns the last of them. Fails the test when the output ends
        first or after `limit` seconds (a bound, not a delay)."""
        regex = re.compile(pattern)
        with self._changed:
            def matched():
                return [line for line in self.lines if regex.search(line)]
            self._changed.wait_for(lambda: len(matched()) >= count or self.ended, timeout=limit)
            found = matched()
        if len(found) < count:
            pytest.fail(f"{len(found)} of {count} line(s) matching {pattern!r} "
                        f"{'before the output ended' if self.ended else f'within {limit} s'}:\n"
                        f"{self.output()[-3000:]}")
        return found[count - 1]

    def count(self, pattern: str) -> int:
        """How many lines printed so far match pattern."""
        regex = re.compile(pattern)
        with self._changed:
            return sum(1 for line in self.lines if regex.search(line))

    def wait_for_results(self, count: int, limit: float = 120) -> str:
        """Until the run has printed `count` check results (pytest -v)."""
        return self.wait_for_line(RESULT, count, limit)

    def finish(self, limit: float) -> str:
        """The whole output once the process ended; on `limit`, every thread's stack (faulthandler) and a fail."""
        try:
            self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler (PYTHONFAULTHANDLER) prints every thread's stack
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(timeout=10)
            pytest.fail(f"the run did not end within {limit} s:\n{self.output()[-8000:]}")
        self._reader.join(timeout=30)
        return self.output()

"""Signals during a run: SIGTERM ends it like Ctrl-C, an xdist controller passes it on and waits for its
workers' cleanup, and a further signal during the cleanup is noted, not obeyed."""
from __future__ import annotations

import signal
import threading
import time

import pytest

WORKER_WAIT_CALLS = 8  # an interrupted xdist run waits this many --call-timeout (+10 s) for its workers' cleanup


class Ending:
    """How this process ends on a signal: SIGTERM (and, under xdist, SIGINT) interrupts the run like Ctrl-C, once;
    a repeat before the cleanup is noted, not obeyed (it would break the unwinding that leads to the cleanup).
    An xdist controller passes the signal on to its workers (they own the targets and clean them up) and
    waits for them at its session end (await_workers)."""

    def __init__(self):
        self.signal: str | None = None
        self.workers: dict[str, object] = {}  # xdist controller: worker nodes that reported ready, by id

    def __call__(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self.signal:
            print(f"\nconformance: {name} while the run is already ending ({self.signal}): finishing the cleanup "
                  "first (every call in it is bounded by --call-timeout)", flush=True)
            return
        self.signal = name
        self.signal_workers()
        raise KeyboardInterrupt(f"signal {name}")

    def busy(self) -> dict[str, object]:
        """Worker processes still running that have not reported their session's end (popen gateways only)."""
        found = {}
        for node_id, node in self.workers.items():
            process = getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None)  # execnet's
            if process is not None and process.poll() is None and getattr(node, "workeroutput", None) is None:
                found[node_id] = process
        return found

    def signal_workers(self) -> None:
        """SIGTERM to every busy worker (a terminal's Ctrl-C reaches them by itself, kill -TERM does not)."""
        for process in self.busy().values():
            try:
                process.send_signal(signal.SIGTERM)
            except OSError:
                pass  # it ended meanwhile


def handle_signals(config: pytest.Config, ending: Ending, under_xdist: bool) -> None:
    """SIGTERM ends the run like Ctrl-C (pytest only handles SIGINT): fixtures tear down, targets are swept.

    Under xdist SIGINT too, so that a worker that got both (a terminal's Ctrl-C and the controller's SIGTERM)
    acts on the first only.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT) if under_xdist else (signal.SIGTERM,):
        previous = signal.signal(signum, ending)
        config.add_cleanup(lambda signum=signum, previous=previous: signal.signal(signum, previous))


def await_workers(run, session: pytest.Session) -> bool:
    """xdist controller of an interrupted run: wait (bounded) until every worker has cleaned up its targets; True
    when it waited (the caller then takes their leak audits: the controller's event loop, which would read them,
    has already stopped)."""
    ending = run.ending
    if session.exitstatus != pytest.ExitCode.INTERRUPTED or not ending.busy():
        return False
    ending.signal_workers()
    limit = WORKER_WAIT_CALLS * max(run.settings.for_target(s).call_timeout for s in run.targets.specs) + 10
    print(f"\nconformance: waiting up to {limit:g} s for {len(ending.busy())} xdist worker(s) to clean up their "
          "targets", flush=True)
    deadline = time.monotonic() + limit
    while ending.busy() and time.monotonic() < deadline:
        time.sleep(0.2)
    late = ending.busy()
    if late:
        run.cleanup_problems.append(f"{len(late)} xdist worker(s) did not finish their cleanup within {limit:g} s; "
                                    f"leftovers of run {run.run_id} may remain: remove them with "
                                    f"`conformance-cleanup --hosts SPEC --run {run.run_id}`")
    return True


class Shielded:
    """While targets are cleaned up, a further Ctrl-C or SIGTERM is noted, not obeyed (cleanup is bounded)."""

    def __enter__(self):
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._note)
        return self

    def _note(self, signum, frame) -> None:
        print(f"\nconformance: {signal.Signals(signum).name} during cleanup: finishing the cleanup first "
              "(every call in it is bounded by --call-timeout)", flush=True)

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

"""Engine work done ahead of the checks: the shared nginx container, its nginx.run watch, and the work of
checks registered with @ahead.work (their containers, execs and commits).

On local:// it all starts in background threads once service.running has passed (nothing connects to the
engine before the service is judged), so the engine runs it while the checks before it read the host; the check then waits for its own work and judges what it saw. Over
ssh:// (and paramiko://, safe-ssh://) the same schedule runs with SSH_WORKERS threads, so that the check's own
thread and the work ahead stay within the sshd's sessions per connection (MaxSessions, default 10). A target whose
sshd refuses a channel to the work ahead (paramiko ChannelException) degrades to inline: the refused work and every
work not started yet run in their check's thread, one request at a time, and the check's evidence says so.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from conformance import cleanup, engine as engines, outcomes
from conformance.evidence import Evidence
from conformance.outcomes import TargetError, one_line
from conformance.probes import NGINX
from conformance.targets import is_local

# nginx.run: the container's state at every look over 1 s, from its start, beside the checks before nginx.run.
WATCH_LOOKS, LOOK_EVERY_S = 5, 0.25
WORKERS = 4  # engine work in flight at once on local://: enough to keep 2 cores busy, few enough to stay fair
SSH_WORKERS = 2  # over ssh: with the conductor and the check's thread, a few sessions of the sshd's 10
# Sessions the work ahead may hold at once over an ssh engine link (measured at most 4 open, with the check's own and
# the pool's idle ones); a target whose sshd does not allow that many more at the start runs its engine work inline.
SSH_SESSIONS_NEEDED = 6
AHEAD_CONNECTIONS = ("local", "ssh", "paramiko", "safe-ssh")  # testinfra backends whose targets work ahead
INLINE = object()  # a future's result: not started before the target degraded, run it in the check's thread


@dataclasses.dataclass(frozen=True)
class Work:
    function: Callable[..., Any]
    ids: tuple[str, ...]
    alone: bool

    @property
    def key(self) -> str:
        return " + ".join(self.ids)


WORK: dict[str, Work] = {}  # requirement id -> the work that observes what its check judges


def work(*requirement_ids: str, alone: bool = False):
    """Register function(target, make, evidence) as the engine work of the checks of requirement_ids.

    It returns what the check judges; for several ids, a dict by id, where an exception stands for a step
    that failed for that id alone. make is a factory of the work's own, emptied when the work ends.
    alone: run before the other work starts, with the engine otherwise idle (a timing must not share it).
    """
    def register(function):
        for requirement_id in requirement_ids:
            WORK[requirement_id] = Work(function, requirement_ids, alone)
        return function
    return register


class Ahead:
    """Per target: futures of the shared nginx, its watch and the registered work, by key."""

    def __init__(self, target):
        self.target = target
        self.bound = 6 * target.settings.call_timeout + LOOK_EVERY_S * WATCH_LOOKS
        self.futures: dict[str, concurrent.futures.Future] = {}
        self.lock = threading.Lock()
        self.conductor: threading.Thread | None = None
        self.background: set[str] = set()  # keys of the work started ahead, in the background
        self.workers = WORKERS if is_local(target.host) else SSH_WORKERS
        self.degraded: str | None = None  # why the work ahead went inline (a refused ssh channel)

    def start(self, ids: list[str]) -> None:
        """Start the work of the selected ids in the background: nginx and its watch first, then what runs
        alone, then the rest in the order of ids (the checks' order), WORKERS at a time."""
        steps = ([("nginx", self._nginx)] if "nginx.run" in ids else [])
        works = list(dict.fromkeys(WORK[i] for i in ids if i in WORK))
        alone = [(w.key, self._runner(w)) for w in works if w.alone]
        rest = [(w.key, self._runner(w)) for w in works if not w.alone]
        with self.lock:
            for key, _ in steps + alone + rest:
                self.futures[key] = concurrent.futures.Future()
                self.background.add(key)
            if steps:
                self.futures["nginx.run watch"] = concurrent.futures.Future()

        def conduct() -> None:
            for key, call in steps + alone:
                self._settle(key, call)
                if key == "nginx":
                    _background(lambda: self._settle("nginx.run watch", self._watch), "nginx.run watch")
            with concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="ahead") as pool:
                for key, call in rest:
                    pool.submit(self._settle, key, call)
        self.conductor = _background(conduct, f"engine work ahead on {self.target.name}")

    def _settle(self, key: str, call: Callable[[], Any]) -> None:
        """Run key's work in this background thread, unless the target degraded to inline before it started."""
        if self.degraded:
            self.futures[key].set_result(INLINE)
        else:
            _settle(self.futures[key], call)

    def degrade(self, error: BaseException) -> str:
        """From now on the work not started runs inline; returns the note for the check's evidence."""
        self.degraded = self.degraded or one_line(str(error) or type(error).__name__, 160)
        return self._inline_note()

    def _inline_note(self) -> str:
        return (f"{self.target.name}'s sshd refused a channel to the engine work ahead ({self.degraded}): this and "
                "every work not started yet run inline, in their checks, one request at a time")

    def result(self, key: str, call: Callable[[], Any], what: str, evidence: Evidence | None = None):
        """The result of key's future; one nobody started, or one the target's sshd refused a channel to while it
        ran in the background, is computed now, in this thread."""
        with self.lock:
            future = self.futures.get(key)
            mine = future is None
            if mine:
                future = self.futures[key] = concurrent.futures.Future()
        if mine:
            if self.degraded and evidence is not None:
                evidence.note(self._inline_note())
            _settle(future, call)
        try:
            found = future.result(timeout=self.bound)
        except concurrent.futures.TimeoutError:
            raise TargetError(f"{self.target.name}: {what}: not done within {self.bound:g} s") from None
        except Exception as e:  # noqa: BLE001 - only a refused channel of work ahead is run again, inline
            if mine or key not in self.background or not engines.channel_refused(e):
                raise
            found = self._inline(e, call, evidence)
        if found is INLINE:
            return self._inline(None, call, evidence)
        return found

    def _inline(self, error: BaseException | None, call: Callable[[], Any], evidence: Evidence | None):
        note = self.degrade(error) if error is not None else self.degrade(Exception(self.degraded))
        if evidence is not None:
            evidence.note(note)
        return call()

    def finish(self) -> list[str]:
        """Wait (bounded) for the work still under way: it removes what it made, before the run's sweep."""
        deadline = time.monotonic() + self.bound
        if self.conductor:
            self.conductor.join(self.bound)
        concurrent.futures.wait(list(self.futures.values()), timeout=max(0.0, deadline - time.monotonic()))
        late = [key for key, future in self.futures.items() if not future.done()]
        return [f"{self.target.name}: engine work still under way at the end: {', '.join(late)}"] if late else []

    def _nginx(self):
        return self.target.make.container(NGINX)  # the session's factory: removed when the session ends

    def _watch(self) -> list[str]:
        container = self.result("nginx", self._nginx, "start the shared nginx container")
        states = []
        for look in range(WATCH_LOOKS):
            if look:
                time.sleep(LOOK_EVERY_S)  # the requirement's observation window, not a wait for readiness
            container.reload()
            states.append(container.status)
        return states

    def _runner(self, work: Work) -> Callable[[], tuple[Evidence, Any, BaseException | None]]:
        return lambda: run_work(self.target, work, Evidence(self.target.name, self.target.settings.call_timeout))


def run_work(target, work: Work, evidence: Evidence) -> tuple[Evidence, Any, BaseException | None]:
    """Run the work with a factory of its own, removed afterwards; (evidence, what it saw, the exception it
    ended with): the evidence of a work that failed is reported too."""
    outcomes.set_current_requirement(" / ".join(work.ids))  # this thread's: what a failed expect() names
    try:
        make = cleanup.Factory(target.engine, target.run_id, target.pulled_images)
    except BaseException as e:  # noqa: BLE001 - no engine: re-raised in the check
        return evidence, None, e
    try:
        return evidence, work.function(target, make, evidence), None
    except BaseException as e:  # noqa: BLE001 - re-raised in the check, after its evidence is in
        return evidence, None, e
    finally:
        problems = make.cleanup()
        if problems:  # what stays carries the run's label: the sweep at the end removes it and reports it
            evidence.note(f"cleanup of the work's own objects failed: {'; '.join(problems)}")


def _settle(future: concurrent.futures.Future, call: Callable[[], Any]) -> None:
    try:
        future.set_result(call())
    except BaseException as e:  # noqa: BLE001 - handed to the check that asks for the result
        future.set_exception(e)


def _background(call: Callable[[], object], name: str) -> threading.Thread:
    thread = threading.Thread(target=call, name=name, daemon=True)
    thread.start()
    return thread


def of(target) -> Ahead:
    """The target's Ahead, made once; at the end of the session its work is waited for."""
    return target.share("conformance.ahead", lambda: Ahead(target), lambda made: made.finish())


def works_ahead(target) -> bool:
    """A local:// target, or an ssh one (testinfra's ssh, paramiko, safe-ssh backends) under --ssh-work-ahead: its
    engine work may run ahead (over ssh by default, within the sshd's sessions: see start)."""
    connection = target.host.backend.get_connection_type()
    return connection == "local" or (connection in AHEAD_CONNECTIONS and target.settings.ssh_work_ahead)


def startable(target) -> bool:
    """Whether start() would still start something: a target that works ahead whose work has not started yet."""
    made = target.shared.get("conformance.ahead")
    return works_ahead(target) and (made is None or (made.conductor is None and not made.degraded))


def hold_environment_still() -> None:
    """Stop pytest from setting and deleting PYTEST_CURRENT_TEST around each check from now on (it keeps its last
    value). The work ahead's threads spawn processes (testinfra's ssh) and read os.environ while the main thread ran
    pytest's setenv/unsetenv: a spawn met `environ` being reallocated (OSError [Errno 14] Bad address: '/bin/sh', an
    image check ended failed once in CI), as requests met the key gone before (KeyError 'PYTEST_CURRENT_TEST')."""
    import _pytest.runner
    _pytest.runner._update_current_test_var = lambda item, when: None


def start(target, ids: list[str]) -> None:
    """Start the selected ids' work (in the checks' order) on a target that works ahead, once (suites/conftest.py calls it
    once service.running has passed there: a connection to a stopped, socket-activated engine would start it)."""
    if not works_ahead(target) or not any(i in WORK or i == "nginx.run" for i in ids):
        return  # nothing selected runs engine work: no client, no connection
    hold_environment_still()  # here, in the main thread, before any thread of the work ahead exists
    try:
        # The client, the audit's first snapshot and the session's factory are made here, in this thread
        # (share() is not thread-safe), and before Ahead: its end then runs before the run's sweep.
        target.make
    except TargetError:
        return  # no engine: each check meets the error itself
    made = of(target)
    if made.conductor is None and not made.degraded:
        if not is_local(target.host):
            refused = engines.sessions_refused(target.engine, SSH_SESSIONS_NEEDED)
            if refused:  # an sshd with a low MaxSessions: nothing starts ahead, each check runs its work and says so
                made.degraded = f"the work ahead needs {SSH_SESSIONS_NEEDED} sessions: {refused}"
                return
        made.start(ids)


def shared_nginx(target):
    """The one nginx container per target shared by the checks that only read it (removed at session end)."""
    made = of(target)
    return made.result("nginx", made._nginx, "start the shared nginx container")


def nginx_looks(target) -> tuple[object, list[str]]:
    """(the shared nginx container, its state at each look of the nginx.run watch)."""
    made = of(target)
    return shared_nginx(target), made.result("nginx.run watch", made._watch, "watch the shared nginx container")


def done(target, requirement_id: str, evidence: Evidence):
    """What requirement_id's work saw; its evidence goes into the check's. Done ahead or, if not, now."""
    made, work = of(target), WORK[requirement_id]
    started = work.key in made.background
    recorded, seen, error = made.result(work.key, lambda: run_work(target, work, evidence),
                                        f"the engine work {work.function.__name__} of {work.key}", evidence)
    refused = error if error is not None else (seen or {}).get(requirement_id) if len(work.ids) > 1 else None
    if recorded is not evidence and isinstance(refused, BaseException) and engines.channel_refused(refused):
        evidence.note(made.degrade(refused))
        recorded, seen, error = run_work(target, work, evidence)  # inline, in this check's thread
    if recorded is not evidence:
        evidence.note(f"the engine work {work.function.__name__} of {work.key} ran "
                      + ("in the background, ahead of this check:" if started else "for an earlier check:"))
        evidence.items.extend(recorded.items)
    if error is not None:
        raise error
    if len(work.ids) > 1:
        seen = seen[requirement_id]
        if isinstance(seen, BaseException):
            raise seen
    return seen

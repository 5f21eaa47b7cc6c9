"""Engine work ahead of the checks (conformance/ahead.py): inline or in the background, same results and evidence."""
import threading
import time
from types import SimpleNamespace

import pytest

from conformance import ahead, outcomes
from conformance.evidence import Evidence
from conformance.outcomes import TargetError, expect


class FakeTarget:
    """What ahead uses of a Target; connection 'local' runs work in the background, 'paramiko' inline."""

    def __init__(self, connection="local", call_timeout=5.0, ssh_work_ahead=True):
        self.id, self.name, self.run_id = f"{connection}://fake", "fake", "r1"
        self.host = SimpleNamespace(backend=SimpleNamespace(get_connection_type=lambda: connection))
        self.settings = SimpleNamespace(call_timeout=call_timeout, ssh_work_ahead=ssh_work_ahead)
        self.engine, self.pulled_images, self.make = object(), object(), None
        self.shared, self.teardowns = {}, []

    def share(self, key, create, destroy=None):
        if key not in self.shared:
            self.shared[key] = create()
            self.teardowns.append(lambda: destroy(self.shared[key]))
        return self.shared[key]


@pytest.fixture
def registered(monkeypatch):
    """An empty work registry of this test's own; returns the log of work calls (id, thread name)."""
    monkeypatch.setattr(ahead, "WORK", {})
    return []


def evidence_of(target):
    return Evidence(target.name, 5)


def test_work_not_started_runs_in_the_check_with_its_evidence(registered):
    @ahead.work("a.one")
    def observe(target, make, evidence):
        registered.append(threading.current_thread().name)
        evidence.note("looked")
        return 42
    target, evidence = FakeTarget("paramiko"), evidence_of(FakeTarget())
    assert ahead.done(target, "a.one", evidence) == 42
    assert registered == [threading.current_thread().name]
    assert [i["text"] for i in evidence.items] == ["looked"]


def test_started_work_runs_in_the_background_and_its_evidence_joins_the_check(registered):
    @ahead.work("a.one")
    def observe(target, make, evidence):
        registered.append(threading.current_thread().name)
        evidence.note("looked")
        return "seen"
    target = FakeTarget("local")
    ahead.start(target, ["a.one"])
    evidence = evidence_of(target)
    assert ahead.done(target, "a.one", evidence) == "seen"
    assert registered and registered[0] != threading.current_thread().name
    texts = [i["text"] for i in evidence.items]
    assert "in the background" in texts[0] and texts[1:] == ["looked"]


def test_one_work_for_several_ids_runs_once_and_each_check_gets_its_part(registered):
    @ahead.work("a.one", "a.two")
    def observe(target, make, evidence):
        registered.append("ran")
        return {"a.one": 1, "a.two": 2}
    target = FakeTarget("paramiko")
    assert ahead.done(target, "a.one", evidence_of(target)) == 1
    second = evidence_of(target)
    assert ahead.done(target, "a.two", second) == 2
    assert registered == ["ran"]
    assert "for an earlier check" in second.items[0]["text"]


def test_a_failed_step_fails_only_its_own_id(registered):
    @ahead.work("a.one", "a.two")
    def observe(target, make, evidence):
        return {"a.one": RuntimeError("commit refused"), "a.two": 2}
    target = FakeTarget("local")
    ahead.start(target, ["a.one", "a.two"])
    with pytest.raises(RuntimeError, match="commit refused"):
        ahead.done(target, "a.one", evidence_of(target))
    assert ahead.done(target, "a.two", evidence_of(target)) == 2


def test_a_work_that_fails_fails_its_checks_with_its_evidence(registered):
    @ahead.work("a.one")
    def observe(target, make, evidence):
        evidence.note("before the failure")
        expect(False, "a container", "none")
    target = FakeTarget("local")
    outcomes.set_current_requirement("b.foreground")  # the check running meanwhile in the main thread
    try:
        ahead.start(target, ["a.one"])
        evidence = evidence_of(target)
        with pytest.raises(AssertionError, match=r"^requirement a.one: expected a container; found none"):
            ahead.done(target, "a.one", evidence)
    finally:
        outcomes.set_current_requirement(None)
    assert "before the failure" in [i.get("text") for i in evidence.items]


def test_work_marked_alone_ends_before_the_rest_starts(registered):
    times = {}

    @ahead.work("a.timed", alone=True)
    def timed(target, make, evidence):
        times["timed"] = (time.monotonic(), time.sleep(0.2), time.monotonic())
    for name in ("b.one", "b.two"):
        ahead.work(name)(lambda target, make, evidence, name=name: times.setdefault(name, (time.monotonic(),)))
    target = FakeTarget("local")
    ahead.start(target, ["b.one", "a.timed", "b.two"])
    for name in ("b.one", "b.two", "a.timed"):
        ahead.done(target, name, evidence_of(target))
    assert times["b.one"][0] >= times["timed"][2] and times["b.two"][0] >= times["timed"][2]


def test_work_that_does_not_end_is_an_error_within_its_bound(registered, monkeypatch):
    release = threading.Event()

    @ahead.work("a.hung")
    def hung(target, make, evidence):
        release.wait(30)
    target = FakeTarget("local", call_timeout=0.05)
    monkeypatch.setattr(ahead, "LOOK_EVERY_S", 0.0)
    ahead.start(target, ["a.hung"])
    started = time.monotonic()
    try:
        with pytest.raises(TargetError, match="a.hung.*not done within"):
            ahead.done(target, "a.hung", evidence_of(target))
        assert time.monotonic() - started < 5
        assert "still under way" in " ".join(ahead.of(target).finish())
    finally:
        release.set()


class ChannelException(Exception):
    """paramiko's name for a channel the sshd refused (engine.channel_refused goes by the name)."""


def test_work_ahead_over_ssh_degrades_to_inline_when_the_sshd_refuses_a_channel(registered):
    """The refused work runs again in its check, the work not started yet runs inline, each check's evidence says so."""
    ran = []
    gate = threading.Event()

    @ahead.work("a.one")
    def refused(target, make, evidence):
        ran.append(("a.one", threading.current_thread().name))
        if len(ran) == 1:
            raise ChannelException(2, "Connect failed")
        return "one"

    @ahead.work("a.two")
    def later(target, make, evidence):
        ran.append(("a.two", threading.current_thread().name))
        return "two"

    target = FakeTarget("ssh")
    made = ahead.of(target)
    made.workers = 1  # a.two waits behind a.one: it has not started when a.one is refused
    original = made._settle

    def settle(key, call):
        if key == "a.two":
            gate.wait(5)  # starts once a.one's check has seen the refusal: an event, not a delay
        original(key, call)
    made._settle = settle
    ahead.start(target, ["a.one", "a.two"])
    first, second = evidence_of(target), evidence_of(target)
    assert ahead.done(target, "a.one", first) == "one"
    gate.set()
    assert ahead.done(target, "a.two", second) == "two"
    here = threading.current_thread().name
    assert ran[1:] == [("a.one", here), ("a.two", here)] and ran[0][1] != here
    for evidence in (first, second):
        assert any("sshd refused a channel to the engine work ahead (" in i.get("text", "") for i in evidence.items)
    assert not target.teardowns[0]()  # finish: nothing left under way


def test_ssh_targets_work_ahead_with_fewer_threads(registered):
    made = ahead.of(FakeTarget("ssh"))
    assert made.workers == ahead.SSH_WORKERS < ahead.WORKERS
    assert not ahead.works_ahead(FakeTarget("docker"))
    assert not ahead.works_ahead(FakeTarget("ssh", ssh_work_ahead=False))  # --ssh-work-ahead=false: inline
    assert ahead.works_ahead(FakeTarget("local", ssh_work_ahead=False))


def test_an_sshd_without_sessions_for_the_work_ahead_runs_every_work_inline_and_says_so(registered, monkeypatch):
    ran = []

    @ahead.work("a.one")
    def observe(target, make, evidence):
        ran.append(threading.current_thread().name)
        return "seen"
    asked = []
    monkeypatch.setattr(ahead.engines, "sessions_refused",
                        lambda client, count: asked.append(count) or "1 of 6 more sessions allowed (ChannelException)")
    target = FakeTarget("ssh")
    ahead.start(target, ["a.one"])
    assert asked == [ahead.SSH_SESSIONS_NEEDED] and not ahead.startable(target)  # asked once, never started
    evidence = evidence_of(target)
    assert ahead.done(target, "a.one", evidence) == "seen"
    assert ran == [threading.current_thread().name]
    assert any("the work ahead needs 6 sessions: 1 of 6 more sessions allowed" in i.get("text", "")
               for i in evidence.items)


class Transport:
    """A paramiko Transport whose sshd allows `allowed` more sessions."""

    def __init__(self, allowed):
        self.allowed, self.open = allowed, []

    def open_session(self, timeout=None):
        from paramiko import ChannelException
        if len(self.open) >= self.allowed:
            raise ChannelException(2, "Connect failed")
        channel = SimpleNamespace(close=lambda: self.open.remove(channel))
        self.open.append(channel)
        return channel


@pytest.mark.parametrize("allowed, refused", [(8, None), (6, None), (2, "2 of 6 more sessions allowed")])
def test_the_session_probe_counts_what_the_sshd_allows_and_closes_what_it_opened(allowed, refused):
    from conformance import engine as engines
    adapter = engines._CheckedSSHAdapter.__new__(engines._CheckedSSHAdapter)
    transport = Transport(allowed)
    adapter.ssh_client = SimpleNamespace(get_transport=lambda: transport)
    client = SimpleNamespace(api=SimpleNamespace(_custom_adapter=adapter))
    said = engines.sessions_refused(client, 6)
    assert said is None if refused is None else said.startswith(refused), said
    assert transport.open == []
    assert engines.sessions_refused(SimpleNamespace(api=SimpleNamespace(_custom_adapter=None)), 6) is None  # not ssh


def test_the_environment_holds_still_once_work_runs_ahead(pytester):
    """After ahead.start's hold_environment_still, pytest no longer sets PYTEST_CURRENT_TEST per check: threads that
    spawn processes or read os.environ meanwhile never meet it half-changed."""
    pytester.makepyfile("""
        import os
        from conformance import ahead

        def test_a():
            ahead.hold_environment_still()
            os.environ["SEEN"] = os.environ["PYTEST_CURRENT_TEST"]

        def test_b():
            assert os.environ["PYTEST_CURRENT_TEST"] == os.environ["SEEN"]  # still test_a's
    """)
    assert pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:docker-host-conformance").ret == 0

"""Seed 1.1 checks fed recorded answers of a host where containers would be VMs or the engine off-policy."""
import types

import pytest

from conformance.evidence import Evidence
from conformance.judges import containers_vs_vms as judge
from conformance.outcomes import ObserverError
from judged import message
from suites import test_containers_vs_vms as suite
from tests.unit.test_probes import RecordedHost, Result

NS_HOST, NS_CONTAINER = "pid:[4026531836]", "pid:[4026532301]"


@pytest.mark.red("engine.shared-kernel")
def test_other_kernel_inside_fails():
    assert judge.shared_kernel("6.1.0-18-amd64\n", "6.1.0-18-amd64\n").ok
    text = message(judge.shared_kernel("6.1.0-18-amd64\n", "5.10.0-28-amd64\n"))  # a VM would boot its own kernel
    assert "'6.1.0-18-amd64'" in text and "'5.10.0-28-amd64'" in text


@pytest.mark.red("engine.pid-isolation")
def test_process_not_isolated_or_not_visible_fails():
    assert judge.pid_isolation("nginx\n", 4746, ["4746", "4772"], "nginx\n", NS_CONTAINER, NS_HOST).ok
    assert "namespaces pid:[4026531836] vs host pid:[4026531836]" in message(
        judge.pid_isolation("nginx", 4746, ["4746"], "nginx", NS_HOST, NS_HOST))  # --pid=host
    assert "is 'no process' on the host" in message(
        judge.pid_isolation("nginx", 4746, ["4746"], "", "", NS_HOST))  # e.g. a VM: nothing on the host
    assert "inside PID 1 is 'sh'" in message(judge.pid_isolation("sh", 4746, ["4746"], "nginx", NS_CONTAINER, NS_HOST))


@pytest.mark.red("engine.pid-isolation")
def test_without_docker_top_the_hosts_proc_and_the_namespaces_judge():
    """A host without procps: the engine answers GET /top with 500 (it runs the host's ps); the claim still holds."""
    no_ps = 'not available, the engine found no ps on the host (ps: exec: "ps": executable file not found in $PATH)'
    assert judge.pid_isolation("nginx", 4746, no_ps, "nginx", NS_CONTAINER, NS_HOST).ok
    assert "docker top: not available" in message(judge.pid_isolation("nginx", 4746, no_ps, "nginx", NS_HOST, NS_HOST))
    assert "is 'no process' on the host" in message(judge.pid_isolation("nginx", 4746, no_ps, "", NS_CONTAINER, NS_HOST))


@pytest.mark.red("engine.start-latency")
def test_slow_start_or_failed_run_fails():
    assert judge.start_latency(412.0, 5000, 0).ok
    assert "412 ms" in message(judge.start_latency(412.0, 1, 0))
    assert "exit code None" in message(judge.start_latency(30000.0, 5000, None))


@pytest.mark.red("engine.start-latency")
def test_start_latency_is_read_off_the_engines_clock():
    """Created to State.FinishedAt, nanoseconds and offsets as the engine writes them; no time where it has not
    exited (Go's zero time) or a time does not read."""
    assert judge.engine_elapsed_ms("2026-11-29T23:40:01.100000000Z", "2026-11-29T23:40:01.512345678Z") == (
        pytest.approx(412.345678))
    assert judge.engine_elapsed_ms("2026-11-30T07:40:01.1+08:00", "2026-11-29T23:40:07.1Z") == pytest.approx(6000)
    assert judge.engine_elapsed_ms("2026-11-29T23:40:01Z", "0001-01-01T00:00:00Z") is None
    assert judge.engine_elapsed_ms("2026-11-29T23:40:01Z", "") is None
    assert "6000 ms by the engine's clock" in message(judge.start_latency(6000.0, 5000, 0, "by the engine's clock"))


@pytest.mark.red("engine.start-latency")
def test_a_start_over_budget_is_timed_again_and_the_fastest_judged():
    """8 lab hosts on 2 busy cores: one start took 5453 ms by the engine's clock, the next 900 ms."""
    slow, quick, broken = (5453.0, 0, "by the engine's clock"), (900.0, 0, "by the engine's clock"), (80.0, 1, "")
    assert judge.time_again(slow, 5000) and not judge.time_again(quick, 5000) and not judge.time_again(broken, 5000)
    assert judge.fastest_start([slow, quick]) == quick
    assert not judge.start_latency(*judge.fastest_start([slow, slow, slow])[:2], 5000).ok  # slow every time: failed
    assert judge.fastest_start([broken]) == broken and judge.fastest_start([slow, broken]) == slow


@pytest.mark.red("engine.edition")
def test_edition_and_minimum_version_policy():
    debian = {"Version": "20.10.24+dfsg1", "Platform": {"Name": ""}}
    docker_ce = {"Version": "27.3.1", "Platform": {"Name": "Docker Engine - Community"}}
    enterprise = {"Version": "19.03.14", "Platform": {"Name": "Docker Engine - Enterprise"}}
    assert judge.edition(debian, "ce", None).ok and judge.edition(docker_ce, "any", "20.10").ok
    assert "CE 20.10.24+dfsg1" in message(judge.edition(debian, "any", "99.0"))
    assert "EE 19.03.14" in message(judge.edition(enterprise, "ce", None))
    assert "edition ee" in message(judge.edition(docker_ce, "ee", None))
    mirantis = {"Version": "20.10.7", "Platform": {"Name": "Mirantis Container Runtime"}}  # Docker EE's successor
    assert judge.edition(mirantis, "ee", None).ok
    assert "EE 20.10.7" in message(judge.edition(mirantis, "ce", None))


# Recorded on lab host h44-d (Debian 12, docker.io 20.10.24): root's commands entered (nsenter -p -m) a PID namespace
# with its own /proc made 25 s before the nginx container started (`unshare --pid --fork --mount-proc sleep infinity`),
# as for a login in a long-lived container or toolbox of its own; State.Pid and docker top are the engine's view.
STARTED_AT, STATE_PID, BOOT_ID = "2026-11-30T19:13:23.580757688Z", 368, "0825dd82-f1dc-44ba-aff3-27d074ec6c51\n"
PID1_OLDER_NS = Result(0, "1 (sleep) S 0 0 0 0 -1 4194560 89 0 0 0 0 0 0 0 20 0 1 0 3570853 2990080 383 "
                          "18446744073709551615 93855147868160 93855147886089 140727336986448 0 0 0\n"
                          "btime 1796030270\n100\n")
TOP = {"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
       "Processes": [["root", "368", "348", "1", "19:13", "?", "00:00:00", "nginx: master process nginx -g daemon off;"],
                     ["www-data", "398", "368", "0", "19:13", "?", "00:00:00", "nginx: worker process"]]}


class RecordedNginx:
    """The shared nginx container as the engine answered: its State, top, and execs inside it."""
    short_id, attrs = "6d2ae689cae7", {"State": {"Pid": STATE_PID, "StartedAt": STARTED_AT}}

    def __init__(self, boot_id):
        self.boot_id = boot_id

    def reload(self):
        pass

    def top(self):
        return TOP

    def exec_run(self, argv, user=""):
        output = self.boot_id if "boot_id" in " ".join(argv) else "nginx\npid:[4026533174]\n"
        return types.SimpleNamespace(exit_code=0, output=output.encode())


class ProcFile:
    """host.file() of the login's /proc, where PID 1 is and State.Pid is not (cat: No such file or directory)."""

    def __init__(self, path):
        self.path, self.exists = path, path == "/proc/1"

    @property
    def content_string(self):
        raise RuntimeError(f"Unexpected output CommandResult(rc=1, stderr='cat: {self.path}: No such file or directory')")


class ProcHost(RecordedHost):
    def file(self, path):
        return ProcFile(path)


def check_pid_isolation(monkeypatch, container_boot_id):
    monkeypatch.setattr(suite.ahead, "shared_nginx", lambda target: RecordedNginx(container_boot_id))
    host = ProcHost(("/proc/1/stat", PID1_OLDER_NS), ("readlink /proc/self/ns/pid", Result(0, "pid:[4026534588]\n")),
                    ("boot_id", Result(0, BOOT_ID)))
    suite.test_pid_isolation(host, types.SimpleNamespace(name="root@h"), Evidence("ssh://root@h", 10))


def test_a_login_whose_pid_namespace_does_not_hold_the_engines_cannot_look_an_error_never_no_process(monkeypatch):
    """The container runs on the login's kernel (the same boot_id inside and here), its process is not in the login's
    /proc, whose PID 1 is older than the container: the login cannot see it."""
    with pytest.raises(ObserverError, match=r"container 6d2ae689cae7 runs on this login's kernel \(boot_id 0825dd82"):
        check_pid_isolation(monkeypatch, BOOT_ID)


@pytest.mark.red("engine.pid-isolation")
def test_a_container_on_another_kernel_has_no_process_on_the_host(monkeypatch):
    """Another boot_id inside (a VM's kernel): no such process on this host is the finding, as before."""
    with pytest.raises(AssertionError, match="is 'no process' on the host"):
        check_pid_isolation(monkeypatch, "5b7c3f0e-0a51-4a8e-9d39-1c0e2f6f9a11\n")  # made up: not this kernel's

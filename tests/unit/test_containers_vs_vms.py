"""Seed 1.1 checks fed recorded answers of a host where containers would be VMs or the engine off-policy."""
import pytest

from conformance.judges import containers_vs_vms as judge
from judged import message

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

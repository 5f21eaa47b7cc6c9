"""Fleets on lab hosts: 8 hosts in one parallel run, one stopped mid-run; alone vs fleet; Ansible and ssh-config."""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conformance.lab import engine, hosts, registry
from conformance.lab.sshconf import USER, client_key
from lab_shell import wait_for_labelled_container

# `fleet`: 8 lab hosts at once (about 2 minutes); part of tox -e selftest (CI), alone with `tox -e fleet`.
pytestmark = [pytest.mark.lab, pytest.mark.fleet]

REPO = Path(__file__).resolve().parent.parent
SIZE = 8
RUN_TIMEOUT = 900
PREFIX = f"fleet-{os.getpid() % 100000}-"
FINE = {"passed", "not-applicable"}
LOAD_TOLERANT = ("--start-budget-ms=60000", "--call-timeout=60")


def pytest_run(*args, folder: Path, timeout: float = RUN_TIMEOUT) -> tuple[int, dict]:
    """The suite in a subprocess from the repository root; (exit status, results.json)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_") and k != "PYTEST_ADDOPTS"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--report-dir={folder}",
                           *args, "suites"], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    (folder / "output.txt").write_text(proc.stdout + proc.stderr)
    results = folder / "latest" / "results.json"
    assert results.exists(), f"exit {proc.returncode}, no results.json:\n" + (proc.stdout + proc.stderr)[-3000:]
    return proc.returncode, json.loads(results.read_text())


def statuses(results: dict, spec: str) -> dict[str, str]:
    return {i: e["status"] for i, e in results["hosts"][spec]["requirements"].items()}


@pytest.fixture(scope="module")
def fleet():
    """SIZE lab hosts (debian): [(name, ip, spec)]; all stopped afterwards."""
    started = []
    with engine.client(timeout=120) as client:
        mirror = registry.url(hosts.bridge_gateway(client))
        try:
            for i in range(1, SIZE + 1):
                name = f"{PREFIX}{i}"
                started.append(name)
                spec = hosts.start(client, name, "debian")
                started[-1] = (name, spec.split("@", 1)[1].split("?", 1)[0], spec)
            yield mirror, started
        finally:
            for item in started:
                hosts.stop(client, item[0] if isinstance(item, tuple) else item)


@pytest.fixture(scope="module")
def fleet_run(fleet, tmp_path_factory):
    """The whole suite over the fleet from an inventory, -n SIZE; the last host is stopped mid-run: as soon as the
    run has a labelled container on it (an observable point, not a delay)."""
    mirror, members = fleet
    folder = tmp_path_factory.mktemp("fleet-run")
    inventory = folder / "fleet.yml"
    inventory.write_text(f"defaults:\n  user: {USER}\n  key: {client_key()}\n  mirrors: {mirror}\nhosts:\n"
                         + "".join(f"  {name}:\n    address: {ip}\n    groups: [{'edge' if i % 2 else 'core'}]\n"
                                   for i, (name, ip, _) in enumerate(members)))
    victim = members[-1][0]
    stopped = {}

    def stop_later():
        with engine.client(timeout=120) as client:
            wait_for_labelled_container(client, hosts.PREFIX + victim)
            hosts.stop(client, victim)
        stopped["at"] = time.monotonic() - began
    began = time.monotonic()
    thread = threading.Thread(target=stop_later, daemon=True)
    thread.start()
    # A loaded 2-core machine runs 8 lab hosts' dockerds too: latency budgets are not what this test is about.
    status, results = pytest_run(f"--inventory={inventory}", f"-n{SIZE}", *LOAD_TOLERANT, folder=folder)
    wall = time.monotonic() - began
    thread.join(timeout=120)
    return status, results, wall, stopped, folder / "latest" / "report.html"


def test_stopped_host_fails_alone_and_the_other_seven_report_fully(fleet, fleet_run):
    mirror, members = fleet
    status, results, wall, stopped, _ = fleet_run
    assert stopped and stopped["at"] < wall, "the host was not stopped while the run went on"
    catalogue_ids = set(statuses(results, members[0][2]))
    assert len(results["hosts"]) == SIZE
    for name, _, spec in members[:-1]:
        got = statuses(results, spec)
        assert set(got) == catalogue_ids, f"{name}: incomplete"
        assert set(got.values()) <= FINE, f"{name}: {got}"
        assert results["hosts"][spec]["facts"]["inventory name"] == name
    broken = statuses(results, members[-1][2])
    assert "error" in broken.values()
    assert set(broken.values()) <= FINE | {"error", "blocked"}
    assert status == 1, "the exit status reflects the worst host"


def test_same_results_alone_and_in_the_fleet(fleet, fleet_run, tmp_path):
    mirror, members = fleet
    name, _, spec = members[0]
    _, alone = pytest_run(f"--hosts={spec}", f"--mirror={mirror}", *LOAD_TOLERANT, folder=tmp_path)
    assert statuses(alone, spec) == statuses(fleet_run[1], spec)


def test_fleet_report_has_the_grid_facts_and_a_summary_per_host(fleet, fleet_run):
    """The fleet run's one HTML report: per host a grid column, its facts, and its counts and verdict."""
    _, members = fleet
    _, results, _, _, report = fleet_run
    page = report.read_text()
    environment = json.loads(html.unescape(re.search(r'data-jsonblob="(.*?)"></div>', page, re.S).group(1)))[
        "environment"]
    for n, (name, _, spec) in enumerate(members):
        got, host = statuses(results, spec), re.escape(html.escape(name))  # the inventory name
        column = re.findall(rf'<td class="cell ([\w-]+)" data-host="{host}"', page)
        assert sorted(column) == sorted(got.values()), f"{name}: grid {column}, results.json {got}"
        facts = environment[f"Target {name}"]
        assert facts["spec"] == spec and results["hosts"][spec]["name"] == name
        assert (facts["inventory name"], facts["groups"]) == (name, "edge" if n % 2 else "core"), facts
        assert n == SIZE - 1 or facts["OS"].startswith("Debian"), facts
        row = re.search(rf'<tr><td class="host">{host}</td>(.*?)</tr>', page).group(1)
        counts = {s: int(c) for s, c in re.findall(r'<td class="count ([\w-]+)">(\d+)</td>', row) if int(c)}
        assert counts == {s: list(got.values()).count(s) for s in set(got.values())}, f"{name}: {row}"
        assert row.endswith(f'">{results["hosts"][spec]["verdict"]}</td>'), f"{name}: {row}"


def test_ansible_inventory_and_group(fleet, tmp_path):
    if not shutil.which("ansible-inventory"):
        pytest.skip("ansible-core is not installed (pip install 'docker-host-conformance[ansible]')")
    mirror, members = fleet
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[edge]\n" + "".join(
        f"{name} ansible_host={ip} ansible_user={USER} ansible_ssh_private_key_file={client_key()}\n"
        for name, ip, _ in members[:2]) + "[core]\n" + f"{members[2][0]} ansible_host={members[2][1]}\n")
    status, results = pytest_run(f"--ansible-inventory={inventory}", "--group=edge", "-n2", f"--mirror={mirror}",
                                 "--req=engine.", folder=tmp_path)
    assert sorted(results["hosts"]) == sorted(f"ansible://{name}" for name, _, _ in members[:2])
    for spec in results["hosts"]:
        assert set(statuses(results, spec).values()) <= FINE, results["hosts"][spec]
    assert status == 0


def test_ssh_config_is_passed_through(fleet, tmp_path):
    mirror, members = fleet
    name, ip, _ = members[1]
    config = tmp_path / "ssh_config"
    config.write_text(f"Host fleet-alias\n    HostName {ip}\n    User {USER}\n    IdentityFile {client_key()}\n")
    status, results = pytest_run("--hosts=ssh://fleet-alias", f"--ssh-config={config}", f"--mirror={mirror}",
                                 "--req=engine.", folder=tmp_path)
    got = statuses(results, "ssh://fleet-alias")
    assert set(got.values()) <= FINE and got["engine.info"] == "passed", results["hosts"]
    assert status == 0

"""Seed 1.2 docker简单使用: create an nginx container, list it, enter it, find its IP, curl it."""
import time

import docker
import pytest

from conformance import ahead, probes
from conformance.judges import nginx as judge
from conformance.profiles import profiles

HTTP_WITHIN_S, HTTP_EVERY_S = 2.5, 0.1  # nginx may need a moment after start before it accepts connections


def nginx(target):
    return ahead.shared_nginx(target)


@pytest.mark.req("nginx.run")
def test_nginx_runs(target, evidence):
    """An nginx container starts and stays running."""
    container = probes.started(lambda: nginx(target), probes.NGINX, evidence)
    _, states = ahead.nginx_looks(target)  # looked at from its start, in the background
    evidence.api(f"GET /containers/{container.short_id}/json (every {ahead.LOOK_EVERY_S} s from its start)",
                 Id=container.id, Image=probes.NGINX, states=states)
    judge.stays_running(states).check(evidence)


@pytest.mark.req("nginx.listed")
def test_nginx_listed(target, engine, evidence):
    """The running nginx container is listed by id with state running."""
    container = nginx(target)
    rows = engine.api.containers()
    evidence.api("GET /containers/json", containers=[{k: r.get(k) for k in ("Id", "Image", "State", "Status")}
                                                     for r in rows])
    judge.listed(rows, container.id).check(evidence)


@pytest.mark.req("nginx.exec")
def test_nginx_exec(host, target, evidence):
    """A command executed in the container runs inside it."""
    container = nginx(target)
    code, output = probes.run_in(container, ["bash", "-c", "hostname"], evidence, prints=True)
    host_name = (probes.read_file(host, evidence, "/proc/sys/kernel/hostname") or "").strip()
    judge.exec_inside(code, output, container.attrs["Config"]["Hostname"], host_name).check(evidence)


@pytest.mark.req("nginx.isolated-fs")
def test_nginx_isolated_fs(host, target, evidence, run_id):
    """A file written inside is not on the host and a host marker is not visible inside."""
    container = nginx(target)
    inside = f"/conformance-inside-{run_id}"
    written = probes.run_in(container, ["touch", inside], evidence, user=probes.ROOT)[0] == 0
    host_sees = probes.exists(host, evidence, inside)
    marker = probes.marker(host, evidence, "conformance-marker")
    try:
        inside_sees = probes.run_in(container, ["test", "-e", marker], evidence)[0] == 0
    finally:
        evidence.cmd(host, "rm -f %s", marker)
    judge.isolated_fs(written, host_sees, inside_sees).check(evidence)


@pytest.mark.req("nginx.bridge-ip")
def test_nginx_bridge_ip(target, engine, evidence):
    """The container has an IP inside the bridge network's subnet."""
    container = nginx(target)
    container.reload()
    ip, networks = judge.bridge_address(container.attrs)
    try:
        ipam = engine.networks.get("bridge").attrs.get("IPAM") or {}
        subnet = next((c["Subnet"] for c in ipam.get("Config") or [] if c.get("Subnet")),
                      profiles()["engine"]["default_bridge_subnet"])
    except docker.errors.NotFound:
        ipam, subnet = "no network named bridge", None
    evidence.api(f"GET /containers/{container.short_id}/json", NetworkSettings_Networks=networks)
    evidence.api("GET /networks/bridge", IPAM=ipam)
    judge.bridge_ip(ip, networks, subnet).check(evidence)


@pytest.mark.req("nginx.http")
def test_nginx_http(host, target, evidence):
    """nginx answers HTTP 200 with its welcome page on the container's bridge IP."""
    container = nginx(target)
    container.reload()
    ip, _ = judge.bridge_address(container.attrs)
    http = probes.Http(host, evidence, timeout=min(10, target.settings.call_timeout))
    deadline = time.monotonic() + HTTP_WITHIN_S
    status, headers, body = http.get(f"http://{ip}/")
    while status is None and time.monotonic() < deadline:
        time.sleep(HTTP_EVERY_S)
        status, headers, body = http.get(f"http://{ip}/")
    judge.http_welcome(status, body, headers.get("server", "")).check(evidence)

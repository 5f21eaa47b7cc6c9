"""Lab hosts used for real (debian, centos7-sim over SSH), plus unit tests of variants.toml and the SSH entries."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import docker
import pytest
import requests
import testinfra

from conformance.lab import hosts, images, paths, registry, releases, sshconf, variants
from conformance.lab.progress import LabError

REPO = Path(__file__).resolve().parents[1]
SIM_PACKAGES = ["yum-utils", "device-mapper-persistent-data", "lvm2", "docker-ce"]
RUN = os.getpid()  # host names unique per run, so a parallel run never replaces ours


def ip_of(spec):
    return urlsplit(spec).hostname


# ---- live lab hosts ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab_host(client):
    """Start lab hosts through the library; every one is stopped at teardown, even if its start failed."""
    started = []

    def start(variant, name=None):
        name = name or f"selftest-{variant}-{RUN}"
        if name not in started:
            started.append(name)
        began = time.monotonic()
        spec = hosts.start(client, name, variant)
        print(f"lab host {name} ({variant}): spec after {time.monotonic() - began:.1f}s")
        return name, spec

    yield start
    for name in started:
        hosts.stop(client, name)


@pytest.fixture(scope="module")
def debian(lab_host):
    return lab_host("debian")


@pytest.fixture(scope="module")
def centos(lab_host):
    return lab_host("centos7-sim")


@pytest.mark.lab
def test_debian_host_answers_over_ssh_with_the_spec(debian):
    name, spec = debian
    host = testinfra.get_host(spec)
    assert type(host.backend).__name__ == "SshBackend"
    assert host.check_output("hostname") == name
    assert host.system_info.distribution == "debian"


@pytest.mark.lab
def test_debian_host_runs_systemd_as_pid1(debian):
    host = testinfra.get_host(debian[1])
    assert host.check_output("ps -o comm= -p 1") == "systemd"
    assert host.run("systemctl is-system-running").stdout.strip() in ("running", "degraded")
    assert host.service("docker.service").is_running
    assert host.service("docker.service").is_enabled


@pytest.mark.lab
def test_spec_works_as_is_with_pytest_hosts(debian, tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text("def test_probe(host):\n"
                     "    assert host.backend.NAME == 'ssh'\n"
                     "    assert host.run('docker version').succeeded\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", f"--hosts={debian[1]}", "-q", "-p", "no:cacheprovider",
                           str(probe)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


@pytest.mark.lab
def test_inner_engine_pulls_hello_world_through_the_mirror(client, debian):
    host = testinfra.get_host(debian[1])
    ip, gateway = ip_of(debian[1]), hosts.bridge_gateway(client)
    mirror = registry.url(gateway)
    assert json.loads(host.check_output("docker info --format '{{json .RegistryConfig.Mirrors}}'")) == [mirror + "/"]
    # A mirror miss has no other way out: Docker Hub's names point at the host itself.
    assert host.check_output("getent hosts registry-1.docker.io").split()[0] == "127.0.0.1"
    assert host.run("docker image inspect hello-world").rc != 0, "hello-world was there before the pull"
    log = paths.LOGS / f"registry-{gateway}.log"
    offset = log.stat().st_size
    out = host.check_output("docker run --rm hello-world")
    assert "Hello from Docker!" in out
    seen = log.read_bytes()[offset:].decode(errors="replace")
    served = requests.head(f"{registry.url()}/v2/library/hello-world/manifests/latest", timeout=5, headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"}).headers["Docker-Content-Digest"]
    # The engine resolves the tag (HEAD), then fetches the manifest by digest: both from this host, on the mirror.
    assert re.search(rf'^{re.escape(ip)} .*"HEAD /v2/library/hello-world/manifests/latest HTTP/1.1" 200', seen, re.M)
    assert re.search(rf'^{re.escape(ip)} .*"GET /v2/library/hello-world/manifests/{served} HTTP/1.1" 200', seen, re.M)
    digests = json.loads(host.check_output("docker image inspect hello-world --format '{{json .RepoDigests}}'"))
    assert digests == [f"hello-world@{served}"]


@pytest.mark.lab
def test_docker_py_reaches_the_inner_engine_over_ssh(debian):
    c = docker.DockerClient(base_url=f"ssh://root@{ip_of(debian[1])}", timeout=30)
    try:
        assert c.ping()
        assert c.info()["Name"] == debian[0]
    finally:
        c.close()


@pytest.mark.lab
def test_centos7_sim_looks_like_centos7(centos):
    host = testinfra.get_host(centos[1])
    assert (host.system_info.distribution, host.system_info.release) == ("centos", "7")
    assert 'PRETTY_NAME="CentOS Linux 7 (Core)"' in host.file("/etc/os-release").content_string
    assert host.file("/etc/redhat-release").content_string.startswith("CentOS Linux release 7")
    repo = host.file("/etc/yum.repos.d/docker-ce.repo")
    assert repo.contains("^enabled=1")
    assert repo.contains(r"^baseurl=https://download.docker.com/linux/centos/\$releasever/\$basearch/stable")


@pytest.mark.lab
def test_centos7_sim_rpm_database_has_the_packages(centos):
    host = testinfra.get_host(centos[1])
    out = host.check_output("rpm -q --queryformat '%{NAME}\\n' " + " ".join(SIM_PACKAGES))
    assert out.splitlines() == SIM_PACKAGES
    assert all(host.package(p).is_installed for p in SIM_PACKAGES)
    assert host.package("docker-ce").version == "20.10.24"
    assert "simulation" in host.check_output("rpm -q --queryformat '%{SUMMARY}' docker-ce")
    assert not host.package("docker").is_installed
    assert host.run("docker version").succeeded  # the engine itself is Debian's


@pytest.mark.lab
def test_start_replaces_and_stop_removes_everything(client, lab_host):
    name = f"selftest-cycle-{RUN}"
    _, first = lab_host("no-mirror", name)
    _, spec = lab_host("service-disabled", name)
    found = client.containers.list(all=True, filters={"label": f"{hosts.HOST_LABEL}={name}"})
    assert [c.labels[paths.VARIANT_LABEL] for c in found] == ["service-disabled"]
    assert testinfra.get_host(spec).run("systemctl is-enabled docker.service").stdout.strip() == "disabled"
    ip = ip_of(spec)
    assert any(line.startswith(f"{ip} ") for line in (sshconf.ssh_dir() / "known_hosts").read_text().splitlines())
    hosts.stop(client, name)
    assert not client.containers.list(all=True, filters={"label": f"{hosts.HOST_LABEL}={name}"})
    assert not client.volumes.list(filters={"label": f"{hosts.HOST_LABEL}={name}"})
    assert not any(line.startswith(f"{ip} ") for line in (sshconf.ssh_dir() / "known_hosts").read_text().splitlines())
    assert f"Host {ip}\n" not in (sshconf.ssh_dir() / "config").read_text()
    assert name not in [row.name for row in hosts.list_hosts(client)]


# ---- variants.toml -----------------------------------------------------------------------------------------------

def test_shipped_variants_load():
    found = variants.load()
    assert {"debian", "centos7-sim"} <= set(found)
    assert all(v.description for v in found.values())
    assert {s.kind for s in found["centos7-sim"].steps} == {"write", "rpm"}


def test_base_steps_run_first_and_settings_are_inherited(tmp_path):
    f = tmp_path / "v.toml"
    f.write_text('[a]\ndescription = "a"\nmirror = "http://m"\npolicy = {edition = "ce"}\nsteps = [{run = "one"}]\n'
                 '[b]\ndescription = "b"\nbase = "a"\npolicy = {start_budget_ms = 2}\nsteps = [{remove = "/etc/x"}]\n')
    b = variants.load(f)["b"]
    assert [s.kind for s in b.steps] == ["run", "remove"]
    assert b.mirror == "http://m" and b.policy == {"edition": "ce", "start_budget_ms": 2}


@pytest.mark.parametrize("body, message", [
    ('steps = [{reboot = "now"}]', "needs exactly one step kind"),
    ('base = "nowhere"', "unknown base 'nowhere'"),
    ('policy = {min_version = "99"}', "unknown policy key 'min_version'"),
    ('policy = {start_budget_ms = "1"}', "policy start_budget_ms must be a number"),
    ('registry = {port = 5000, serves = ["library/nginx"]}', "registry port must be a number in 5001-5099"),
    ('registry = {port = 5002, serves = []}', "registry serves must list repositories"),
    ('steps = [{run = "a", remove = "/b"}]', "needs exactly one step kind"),
    ('steps = [{write = "/etc/x"}]', "exactly one of content or source"),
    ('steps = [{write = "/etc/x", source = "no/such/file"}]', "is not a file under"),
    ('steps = [{write = "etc/x", content = ""}]', "absolute path"),
    ('steps = [{run = "true", restart = false}]', "run has no option 'restart'"),
    ('steps = [{rpm = ["emacs"]}]', "unknown: emacs"),
    ('steps = [{daemon_json = "bridge=none"}]', "daemon_json takes a dict"),
    ('colour = "red"', "unknown key(s) colour"),
    ('observer = {user = "root"}', "observer must be a table"),
    ('observer = {user = "hunter", groups = "docker"}', "observer must be a table"),
    ('observer = {user = "-oProxyCommand=x"}', "observer must be a table"),
    ('base = "x"', "base cycle x -> x"),
    ('release = "buster"', "unknown release 'buster'; known: bookworm, trixie, sid"),
    ('store = "btrfs"', "unknown image store 'btrfs'; known: overlay2, containerd"),
])
def test_validation_names_the_variant_and_the_fault(tmp_path, body, message):
    f = tmp_path / "v.toml"
    f.write_text(f'[x]\ndescription = "x"\n{body}\n')
    with pytest.raises(LabError, match=re.escape(message)) as e:
        variants.load(f)
    assert "variant 'x'" in str(e.value)


def test_observer_is_inherited_and_shipped():
    observed = variants.get("observer-docker-group")
    assert observed.observer == {"user": "hunter", "groups": ["docker"]} and variants.get("debian").observer == {}


def test_release_and_store_are_inherited_and_select_the_image_and_daemon_json():
    assert (variants.get("debian").release, variants.get("debian").store) == ("bookworm", "overlay2")
    assert (variants.get("sid-containerd").release, variants.get("sid-containerd").store) == ("sid", "containerd")
    assert images.host_recipe("bookworm") is images.HOST  # bookworm's image (and its hash) as before releases
    sid = images.host_recipe("sid")
    assert sid.release == "sid" and "sysvinit-core" in sid.packages and "docker-cli" in sid.packages
    assert releases.daemon_json("overlay2", "http://172.17.0.1:5000") == {}
    assert releases.daemon_json("containerd", "http://172.17.0.1:5000") == {
        "features": {"containerd-snapshotter": True}, "insecure-registries": ["172.17.0.1:5000"]}
    assert hosts.engine_description("sid", "containerd") == "sid (sysvinit, no systemd), containerd"
    assert hosts.restart_command(releases.get("sid")) == "/etc/init.d/docker restart"


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(LabError, match="known: debian, centos7-sim"):
        variants.get("centos9")


# ---- SSH entries -------------------------------------------------------------------------------------------------

@pytest.fixture
def ssh_home(tmp_path, monkeypatch):
    """A fake ~/.ssh holding user content, and fake lab keys."""
    monkeypatch.setenv("CONFORMANCE_LAB_SSH_DIR", str(tmp_path / "dot-ssh"))
    monkeypatch.setattr(paths, "HOME", tmp_path / "lab")
    monkeypatch.setattr(paths, "KEYS", tmp_path / "lab" / "keys")
    paths.KEYS.mkdir(parents=True)
    (paths.KEYS / "ssh_host_ed25519_key.pub").write_text("ssh-ed25519 AAAAKEY conformance-lab host\n")
    dot = tmp_path / "dot-ssh"
    dot.mkdir()
    (dot / "known_hosts").write_text("gitlab.example ssh-ed25519 AAAAUSER\n10.0.0.1 ssh-rsa AAAAOTHER me@box\n")
    (dot / "config").write_text("ForwardAgent no\n\nHost build\n    User ci\n")
    return dot


def test_ssh_entries_are_added_and_removed_exactly(ssh_home):
    before = {f: (ssh_home / f).read_text() for f in ("known_hosts", "config")}
    sshconf.add("172.17.0.9")
    sshconf.add("172.17.0.10")
    sshconf.add("172.17.0.9")  # again: still one entry
    config = (ssh_home / "config").read_text()
    assert config.startswith(sshconf.BEGIN) and config.endswith(before["config"])
    assert sshconf.lab_ips(config) == ["172.17.0.10", "172.17.0.9"]
    known = (ssh_home / "known_hosts").read_text().splitlines()
    assert known.count("172.17.0.9 ssh-ed25519 AAAAKEY conformance-lab") == 1
    sshconf.remove("172.17.0.9")
    assert sshconf.lab_ips((ssh_home / "config").read_text()) == ["172.17.0.10"]
    sshconf.remove_all()
    assert {f: (ssh_home / f).read_text() for f in ("known_hosts", "config")} == before


def test_each_login_gets_its_own_master_connection(ssh_home):
    """R7: a ControlPath without %r let `ssh hunter@ip` ride root's master connection (and run as root)."""
    sshconf.add("172.17.0.9")
    config = str(ssh_home / "config")
    paths_by_user = {}
    for user in ("root", "hunter"):
        shown = subprocess.run(["ssh", "-F", config, "-G", f"{user}@172.17.0.9"], capture_output=True, text=True,
                               timeout=10, stdin=subprocess.DEVNULL).stdout
        paths_by_user[user] = re.search(r"(?m)^controlpath (.+)$", shown).group(1)
    assert paths_by_user == {u: str(sshconf.control_path(u, "172.17.0.9", "22")) for u in ("root", "hunter")}
    assert "%r" in (ssh_home / "config").read_text()


@pytest.mark.lab
def test_a_login_whose_docker_cli_reaches_no_engine_is_an_error_saying_what_the_cli_said(lab_host, tmp_path):
    """Over ssh:// docker-py talks through the login's `docker system dial-stdio`, which follows the login's
    DOCKER_HOST: the engine checks end as error quoting that CLI, not docker-py's bare 'connection aborted'."""
    _, spec = lab_host("login-docker-host-elsewhere", name=f"selftest-route-{RUN}")
    subprocess.run([sys.executable, "-m", "pytest", str(REPO / "suites"), f"--hosts={spec}", "-q",
                    "-p", "no:cacheprovider", "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml")],
                   cwd=tmp_path, capture_output=True, text=True, timeout=240)
    found = json.loads((tmp_path / "reports" / "latest" / "results.json").read_text())["hosts"][spec]
    info = found["requirements"]["engine.info"]
    assert info["status"] == "error", info
    assert "the login's `docker system dial-stdio` says:" in info["message"], info
    assert "127.0.0.1:2375" in info["message"], info
    route = found["facts"]["engine route"]  # the report says which engine the login's CLI picked, and why it matters
    assert "context default (DOCKER_HOST), tcp://127.0.0.1:2375 (not the system socket" in route, route

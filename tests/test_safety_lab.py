"""Safety on lab hosts: hosts end as found (interrupts, kills, frozen engine, cut network, two runs at once), bad SSH."""
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conformance.lab import hosts, paths
from conformance.targets import display_name
from lab_shell import HOST_PREFIX, inside, wait_for_labelled_container
from watched import RESULT, Watched

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[1]
# The suite of this tree, also when another copy of the package is installed (editable or not).
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
       "PYTHONFAULTHANDLER": "1", "PYTHONUNBUFFERED": "1"}
TAG = f"{HOST_PREFIX}safety-{int(time.time()) % 100000}"
CALL_TIMEOUT = 3
RUN_LIMIT_S = 240  # a whole run; a hung run fails the test instead of hanging it
# Everything the leak audit compares, read with the host's own docker CLI (not through the suite's code).
STATE = ("docker ps -aq --no-trunc | sort; echo --; "
         "docker images -a --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}' | sort; echo --; "
         "docker network ls -q --no-trunc | sort; echo --; docker volume ls -q | sort; echo --; "
         "sha256sum /etc/docker/daemon.json")
# The run ids of the labelled objects on a host, one per object.
LABELLED_RUNS = ("docker ps -aq --filter label=conformance.run | xargs -r docker inspect -f "
                 "'{{index .Config.Labels \"conformance.run\"}}'; "
                 "docker images -q --filter label=conformance.run | xargs -r docker image inspect -f "
                 "'{{index .Config.Labels \"conformance.run\"}}'; "
                 "docker network ls --filter label=conformance.run --format '{{.Label \"conformance.run\"}}'; "
                 "docker volume ls --filter label=conformance.run --format '{{.Label \"conformance.run\"}}'")
SEED = 7  # the kill points are random, but the same on every run of this test


@pytest.fixture(scope="module")
def lab_host(client):
    """start(role) -> (container name, spec); every host is stopped at teardown."""
    started = []

    def start(role, variant="debian"):
        name = f"{TAG}-{role}"
        started.append(name)
        return hosts.PREFIX + name, hosts.start(client, name, variant)

    yield start
    for name in started:
        hosts.stop(client, name)


def state(client, container: str) -> str:
    return inside(client, container, STATE)


def suite_args(spec: str, *args: str) -> list[str]:
    """pytest arguments of a run of this tree's suite, one result line per check (-v: observable points)."""
    return [str(REPO / "suites"), "-v", "-p", "no:cacheprovider", "--rootdir", str(REPO),
            "-c", str(REPO / "pyproject.toml"), f"--hosts={spec}", f"--call-timeout={CALL_TIMEOUT}", *args]


def start_suite(cwd: Path, spec: str, *args: str, command: tuple[str, ...] = ("-m", "pytest")) -> Watched:
    return Watched(subprocess.Popen([sys.executable, *command, *suite_args(spec, *args)], cwd=cwd, env=ENV,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))


# pytest's own race, not the suite's: an interrupt that lands inside pluggy while it enters the capture plugin's
# wrapper leaves that generator unfinished; Python finalizes it at exit, after Ctrl-C stopped the capture, and
# prints its AssertionError ("Exception ignored in: <generator object CaptureManager...>"); seen once in a selftest.
PYTEST_CAPTURE_RACE = re.compile(r"Exception ignored in: <generator object CaptureManager\.\w+ at 0x[0-9a-f]+>\n"
                                 r"Traceback \(most recent call last\):\n(?:  .*\n)*?AssertionError: ?\n?")


def finish(proc: Watched, limit: float = RUN_LIMIT_S) -> str:
    out = proc.finish(limit)
    ours = PYTEST_CAPTURE_RACE.sub("", out)
    assert "Traceback" not in ours and "INTERNALERROR" not in ours, out[-3000:]
    return out


def run_suite(cwd: Path, spec: str, *args: str) -> tuple[int, str]:
    proc = start_suite(cwd, spec, *args)
    out = finish(proc)
    return proc.returncode, out


def results(cwd: Path, spec: str) -> dict:
    return json.loads((cwd / "reports" / "latest" / "results.json").read_text())["hosts"][spec]


def cleanup_cli(spec: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conformance.cleanup_cli", "--hosts", spec, *args],
                          capture_output=True, text=True, timeout=120, env=ENV)


# ---- a normal run, pre-existing objects -----------------------------------------------------------------

PREEXISTING = """
set -e
docker pull -q nginx:latest && docker pull -q hello-world:latest
# nginx:latest and hello-world:latest swapped: same tags as the suite's, other content
docker tag nginx:latest user/swap:1 && docker tag hello-world:latest nginx:latest
docker tag user/swap:1 hello-world:latest && docker rmi user/swap:1
docker network create usernet
docker volume create uservol
docker run --rm -v uservol:/data hello-world:latest sh -c 'echo precious > /data/file'
# named like the suite's objects, but without its labels
docker volume create conformance-0123abcd-image-00000000
docker create --name conformance-probe --network usernet -v uservol:/data hello-world:latest
"""


@pytest.fixture(scope="module")
def good(client, lab_host):
    """A debian lab host holding user objects that look like the suite's."""
    container, spec = lab_host("good")
    inside(client, container, PREEXISTING)
    return container, spec


def test_run_leaves_host_as_found_and_user_objects_untouched(tmp_path, client, good):
    container, spec = good
    before = state(client, container)
    code, out = run_suite(tmp_path, spec)
    assert state(client, container) == before
    assert inside(client, container, "docker run --rm -v uservol:/data nginx:latest cat /data/file 2>/dev/null"
                                     " || docker run --rm -v uservol:/data hello-world:latest cat /data/file") \
        == "precious\n"
    assert state(client, container) == before  # the look above removed its own --rm container
    audit = results(tmp_path, spec)["run_checks"]["run.leak-audit"]
    assert audit["status"] == "passed", audit
    assert "(content of 2 compared by sha256)" in audit["message"], audit  # uservol and the look-alike volume
    assert f"run.leak-audit on {display_name(spec)}: passed" in out
    # the swapped images are not "fixed" by pulling: hello-world:latest, there before the run, is nginx's image
    # (RepoDigests nginx@...), so Docker's hello-world never ran: an error, never a verdict
    hello = results(tmp_path, spec)["requirements"]["engine.hello-world"]
    assert hello["status"] == "error" and "is not Docker's hello-world" in hello["message"], hello
    assert code == 1


def test_changed_content_of_a_user_volume_fails_the_leak_audit(tmp_path, client, lab_host):
    container, spec = lab_host("volume")
    inside(client, container, "docker volume create kept && docker volume create edited && "
                              "echo same > $(docker volume inspect -f '{{.Mountpoint}}' kept)/file && "
                              "echo precious > $(docker volume inspect -f '{{.Mountpoint}}' edited)/file")
    proc = start_suite(tmp_path, spec)
    wait_for_labelled_container(client, container)  # the audit's first snapshot is taken: the run uses the engine
    inside(client, container, "echo '!' >> $(docker volume inspect -f '{{.Mountpoint}}' edited)/file")  # not the run
    out = finish(proc)
    host = results(tmp_path, spec)
    assert {e["status"] for e in host["requirements"].values()} <= {"passed", "not-applicable"}, out[-3000:]
    audit = host["run_checks"]["run.leak-audit"]
    assert audit["status"] == "failed", audit
    assert len(audit["differences"]) == 1, audit
    assert re.fullmatch(r"volume edited content changed: sha256:[0-9a-f]{12} -> sha256:[0-9a-f]{12}",
                        audit["differences"][0]), audit
    line = f"run.leak-audit on {display_name(spec)}: failed: 1 difference(s) the run does not explain: volume edited"
    assert line in out
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED


def test_a_user_nginx_that_declares_a_volume_leaves_no_volume_behind(tmp_path, client, lab_host):
    """The host's own nginx:latest declares VOLUME /etc/nginx: every container the run makes from it gets an anonymous
    volume, which goes with the container (before: image.rm-discards's `docker rm -f` left one, the audit failed)."""
    container, spec = lab_host("volume-image", "nginx-volume-etc")
    before = state(client, container)
    code, out = run_suite(tmp_path, spec)
    audit = results(tmp_path, spec)["run_checks"]["run.leak-audit"]
    assert audit["status"] == "passed" and audit["differences"] == [], audit
    assert state(client, container) == before
    assert code == 0, out[-3000:]


def test_keep_pulled_images_keeps_them_and_the_audit_says_so(tmp_path, client, lab_host):
    container, spec = lab_host("keep")  # no images: the run pulls nginx and hello-world
    before = state(client, container)
    code, out = run_suite(tmp_path, spec, "--keep-pulled-images")
    audit = results(tmp_path, spec)["run_checks"]["run.leak-audit"]
    assert audit["status"] == "passed" and audit["differences"] == [], audit
    assert [k.split(" ")[0] for k in audit["kept"]] == ["hello-world:latest", "nginx:latest"], audit
    assert "kept by request (--keep-pulled-images): hello-world:latest (" in audit["message"], audit
    assert code == 0, out[-3000:]
    images = inside(client, container, "docker images --format '{{.Repository}}:{{.Tag}}' | sort").split()
    assert images == ["hello-world:latest", "nginx:latest"]
    assert inside(client, container, LABELLED_RUNS).split() == []  # the run's records went, the images stayed
    inside(client, container, "docker rmi hello-world:latest nginx:latest")  # the user's to remove
    assert state(client, container) == before


def kill_points():
    """(signal, after how many check results): random points of a run, the same on every run of this test."""
    rng = random.Random(SEED)
    return [(sig, rng.randint(1, 38)) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)]


@pytest.mark.parametrize("sig, after_results", kill_points(), ids=lambda v: getattr(v, "name", str(v)))
def test_run_killed_at_a_random_point_leaves_host_clean(tmp_path, client, good, sig, after_results):
    container, spec = good
    before = state(client, container)
    proc = start_suite(tmp_path, spec)
    proc.wait_for_results(after_results)
    proc.send_signal(sig)
    out = finish(proc, 120)
    if sig == signal.SIGKILL:  # nothing runs in a killed process: the console script cleans up after it
        listed = cleanup_cli(spec)
        assert listed.returncode == 0, listed.stderr
        done = cleanup_cli(spec, "--all-runs")
        assert done.returncode == 0, done.stdout + done.stderr
    else:
        assert proc.returncode in (pytest.ExitCode.INTERRUPTED, 0, 1), out[-2000:]
        audit = f"run.leak-audit on {display_name(spec)}: "
        assert audit in out and f"{audit}failed" not in out, out[-2000:]
    assert state(client, container) == before


# The run's record of an image it is pulling (written just before the pull) while that image is not there yet.
NGINX_PULL_UNDER_WAY = ("docker volume ls -q --filter label=conformance.image=nginx:latest "
                        "--filter label=conformance.pulled=yes | grep -q . && ! docker image inspect nginx:latest "
                        ">/dev/null 2>&1")
PULL_CALL_TIMEOUT = 20  # above the cleanup's wait for a pull left unfinished (10 s); nginx takes about 5 s here


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda v: v.name)
def test_run_interrupted_mid_pull_leaves_no_image_behind(tmp_path, client, lab_host, sig):
    """The interrupt lands while the engine pulls nginx for the run (its record is written, the image not there
    yet). An engine that finishes the pull after the client left has the cleanup wait for it (its pull event), then
    remove it; one that cancels it (Docker 20.10 here, once the client's connection closed) costs the wait's bound."""
    container, spec = lab_host(f"mid-pull-{sig.name.lower()}")  # no images: the run pulls nginx (about 5 s)
    before = state(client, container)
    proc = start_suite(tmp_path, spec, f"--call-timeout={PULL_CALL_TIMEOUT}")
    deadline = time.monotonic() + 120
    while inside(client, container, f"{NGINX_PULL_UNDER_WAY} || echo no", check=False).strip():
        assert time.monotonic() < deadline and proc.returncode is None, "the run never started pulling nginx"
        time.sleep(0.2)
    proc.send_signal(sig)
    mid_pull = inside(client, container, f"{NGINX_PULL_UNDER_WAY} && echo yes || echo no").strip() == "yes"
    out = finish(proc, 120)
    assert mid_pull, "the interrupt came after the pull had ended: not the case under test"
    assert proc.returncode in (pytest.ExitCode.INTERRUPTED, 0, 1), out[-2000:]
    assert f"run.leak-audit on {display_name(spec)}: passed" in out, out[-2000:]
    assert state(client, container) == before, out[-2000:]


def local_state() -> str:
    return subprocess.run(["sh", "-c", STATE], capture_output=True, text=True, timeout=60).stdout


def wait_for_local_labelled_container(client, limit: float = 90) -> None:
    """Until the run has a labelled container on the local engine (its engine work has begun)."""
    deadline = time.monotonic() + limit
    while not client.containers.list(all=True, filters={"label": "conformance.run"}):
        assert time.monotonic() < deadline, f"no labelled container on the local engine within {limit} s"
        time.sleep(0.05)


@pytest.mark.parametrize("sig, point", [(signal.SIGINT, "labelled container"), (signal.SIGTERM, "0 results"),
                                        (signal.SIGTERM, "4 results")], ids=lambda v: getattr(v, "name", str(v)))
def test_local_run_interrupted_while_work_runs_ahead_leaves_the_engine_clean(tmp_path, client, sig, point):
    """On local:// engine work runs in background threads (conformance/ahead.py) while the install checks read
    the host: an interrupt in the middle of it still ends with every container, image and record of the run gone.
    The interrupt comes at an observable point: the run's first container exists, or N check results printed
    after service.running passed (the work ahead starts then, never before: it would start a stopped service)."""
    before = local_state()
    proc = start_suite(tmp_path, "local://")
    if point == "labelled container":
        wait_for_local_labelled_container(client)
    else:
        proc.wait_for_line(r"test_service_running\[.*PASSED")
        proc.wait_for_results(proc.count(RESULT) + int(point.split()[0]))
    proc.send_signal(sig)
    out = finish(proc, 120)
    assert proc.returncode in (pytest.ExitCode.INTERRUPTED, 0, 1), out[-2000:]
    # right after service.running the work ahead may not have connected yet: then nothing was created to audit
    audited = ("run.leak-audit on local: passed" in out or point == "0 results" and
               "run.leak-audit on local: skipped: the run never reached the engine" in out)
    assert audited, out[-2000:]
    assert local_state() == before


def test_sigterm_to_the_xdist_controller_cleans_up_every_target(tmp_path, client, lab_host):
    targets = [lab_host("xdist-a"), lab_host("xdist-b")]  # -n 2: one worker per target (loadgroup)
    before = {container: state(client, container) for container, _ in targets}
    proc = start_suite(tmp_path, ",".join(spec for _, spec in targets), "-n", "2")
    # Mid-run on both targets, past their pulls (hello-world, then nginx): an interrupted pull is a known leak
    # (the engine finishes a pull its client left; see README, Safety), not what this test is about.
    for container, _ in targets:
        wait_for_labelled_container(client, container, image="nginx:latest")
    proc.send_signal(signal.SIGTERM)  # to the controller only, as a service manager or CI runner does
    sent = time.monotonic()
    out = finish(proc, 120)
    took = time.monotonic() - sent
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert "KeyboardInterrupt: signal SIGTERM" in out and "exit status 2: interrupted" in out, out[-3000:]
    for container, spec in targets:
        # the workers cleaned up and audited their targets, and the controller reports it
        assert f"run.leak-audit on {display_name(spec)}: passed" in out, out[-3000:]
        assert state(client, container) == before[container]
    assert took < 60, f"{took:.0f} s from SIGTERM to the end of the run"


def test_ssh_authentication_failure_is_an_error_for_the_host(tmp_path, good):
    _, spec = good
    ip = urlsplit(spec).hostname
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True, timeout=30)
    known = tmp_path / "known_hosts"
    known.write_text(f"{ip} {(paths.KEYS / 'ssh_host_ed25519_key.pub').read_text().split(' ', 2)[0]} "
                     f"{(paths.KEYS / 'ssh_host_ed25519_key.pub').read_text().split()[1]}\n")
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n  IdentityFile {wrong}\n  IdentitiesOnly yes\n  BatchMode yes\n"
                      f"  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n")
    code, _ = run_suite(tmp_path, f"ssh://root@{ip}", f"--ssh-config={config}", "--req", "engine.info")
    host = results(tmp_path, f"ssh://root@{ip}")
    assert {e["status"] for e in host["requirements"].values()} == {"error"}
    assert "Permission denied (publickey" in host["requirements"]["engine.info"]["message"]
    assert code == pytest.ExitCode.USAGE_ERROR  # the only target could not be reached


def test_ssh_host_key_mismatch_is_an_error_for_the_host(tmp_path, good):
    _, spec = good
    ip = urlsplit(spec).hostname
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, timeout=30)
    known = tmp_path / "known_hosts"
    known.write_text(f"{ip} {' '.join(other.with_suffix('.pub').read_text().split()[:2])}\n")
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n  IdentityFile {paths.KEYS / 'id_ed25519'}\n  IdentitiesOnly yes\n  BatchMode yes\n"
                      f"  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n")
    code, _ = run_suite(tmp_path, f"ssh://root@{ip}", f"--ssh-config={config}", "--req", "engine.info")
    message = results(tmp_path, f"ssh://root@{ip}")["requirements"]["engine.info"]["message"]
    assert "host key mismatch: the host's key differs from the one in known_hosts" in message, message
    assert code == pytest.ExitCode.USAGE_ERROR


# ---- faults: a frozen engine, a cut network, a stopped engine ----------------------------------------------

def test_frozen_engine_ends_as_errors_naming_the_operation(tmp_path, client, lab_host):
    container, spec = lab_host("frozen")
    before = state(client, container)
    proc = start_suite(tmp_path, spec)
    wait_for_labelled_container(client, container)  # engine connected, containers being made
    inside(client, container, "pkill -STOP -x dockerd")
    frozen_at = time.monotonic()
    try:
        out = finish(proc)
        took = time.monotonic() - frozen_at
    finally:
        inside(client, container, "pkill -CONT -x dockerd")
    host = results(tmp_path, spec)
    messages = [e["message"] for e in host["requirements"].values() if e["status"] == "error"]
    assert any(f"no answer within {CALL_TIMEOUT} s" in m or "timed out after" in m for m in messages), messages
    name = display_name(spec)
    assert any(m.startswith(f"{name}: ") and (" /" in m or "command timed out" in m) for m in messages), messages
    assert took < 120, f"{took:.0f} s from the freeze to the end of the run"
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, out[-2000:]
    assert host["run_checks"]["run.leak-audit"]["status"] in ("error", "passed")
    done = cleanup_cli(spec, "--all-runs")  # the engine answers again: what the run could not remove goes now
    assert done.returncode == 0, done.stdout + done.stderr
    assert state(client, container) == before


def test_cut_network_ends_as_errors_and_cleanup_works_after(tmp_path, client, lab_host):
    container, spec = lab_host("cut")
    before = state(client, container)
    proc = start_suite(tmp_path, spec)
    wait_for_labelled_container(client, container)
    inside(client, container, "ip link set eth0 down")
    cut_at = time.monotonic()
    try:
        out = finish(proc)
        took = time.monotonic() - cut_at
    finally:
        inside(client, container, "ip link set eth0 up")
    assert took < 150, f"{took:.0f} s from the cut to the end of the run"
    host = results(tmp_path, spec)
    assert "error" in {e["status"] for e in host["requirements"].values()}, out[-2000:]
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED
    deadline = time.monotonic() + 30  # the link is back: wait for SSH, then clean up
    while cleanup_cli(spec).returncode != 0 and time.monotonic() < deadline:
        time.sleep(1)
    done = cleanup_cli(spec, "--all-runs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert state(client, container) == before


# kill -9 the engine and keep it down: no restart by systemd (Restart=on-failure), no socket activation
ENGINE_KILLED = ("mkdir -p /run/systemd/system/docker.service.d && printf '[Service]\\nRestart=no\\n' "
                 "> /run/systemd/system/docker.service.d/conformance-test.conf && systemctl daemon-reload && "
                 "systemctl mask --runtime docker.service && pkill -KILL -x dockerd")
ENGINE_RESTARTED = ("systemctl unmask --runtime docker.service && rm -r /run/systemd/system/docker.service.d && "
                    "systemctl daemon-reload && systemctl restart docker.socket docker.service && "
                    "docker info >/dev/null")
# An engine's restart gives its predefined networks (bridge) new ids: networks by name and driver here.
STATE_ACROSS_RESTART = STATE.replace("docker network ls -q --no-trunc",
                                     "docker network ls --format '{{.Name}} {{.Driver}}'")


def test_engine_killed_mid_run_ends_as_errors_and_the_leftovers_go_after_its_restart(tmp_path, client, lab_host):
    container, spec = lab_host("killed")
    before = inside(client, container, STATE_ACROSS_RESTART)
    proc = start_suite(tmp_path, spec)
    wait_for_labelled_container(client, container)
    inside(client, container, ENGINE_KILLED)
    killed_at = time.monotonic()
    try:
        out = finish(proc)  # no traceback, within RUN_LIMIT_S
        took = time.monotonic() - killed_at
    finally:
        inside(client, container, ENGINE_RESTARTED)  # the test restarts the engine, as the lab may; the suite never
    assert took < 60, f"{took:.0f} s from the kill to the end of the run"
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    run_id = json.loads((tmp_path / "reports" / "latest" / "results.json").read_text())["run_id"]
    host = results(tmp_path, spec)
    ended = {i: e for i, e in host["requirements"].items() if e["status"] not in ("passed", "not-applicable")}
    assert ended, "no check ran after the kill"
    for req_id, entry in ended.items():  # service.* read systemd, not the API: a dead engine fails them
        allowed = ("error", "blocked", "failed") if req_id.startswith("service.") else ("error", "blocked")
        assert entry["status"] in allowed, (req_id, entry)
    errors = [e["message"] for e in ended.values() if e["status"] == "error"]
    assert errors and all(m.startswith(f"{display_name(spec)}: ") and "engine" in m for m in errors), errors
    audit = host["run_checks"]["run.leak-audit"]
    assert audit["status"] == "error", audit
    assert f"`conformance-cleanup --hosts {spec} --run {run_id}`" in audit["message"], audit
    # What the run could not remove carries its id, and the console script removes exactly that.
    left = inside(client, container, LABELLED_RUNS).split()
    assert left and set(left) == {run_id}, left
    listed = cleanup_cli(spec)
    assert listed.returncode == 0 and f"leftovers of run(s): {run_id} " in listed.stdout, listed.stdout + listed.stderr
    done = cleanup_cli(spec, "--run", run_id)
    assert done.returncode == 0 and f"run {run_id}: removed" in done.stdout, done.stdout + done.stderr
    assert inside(client, container, LABELLED_RUNS).split() == []
    assert inside(client, container, STATE_ACROSS_RESTART) == before


def test_engine_down_is_failed_service_and_engine_errors(tmp_path, client, lab_host):
    container, spec = lab_host("down")
    inside(client, container, "systemctl stop docker.socket docker.service")
    code, out = run_suite(tmp_path, spec)
    requirements = results(tmp_path, spec)["requirements"]
    assert requirements["service.running"]["status"] == "failed"
    assert requirements["engine.info"]["status"] in ("error", "blocked")
    assert code == pytest.ExitCode.TESTS_FAILED


# ---- concurrency ----------------------------------------------------------------------------------------

def test_two_runs_at_once_both_pass_and_leave_the_host_clean(tmp_path, client, lab_host):
    container, spec = lab_host("pair")  # no images: both runs pull, one hands them over to the other
    before = state(client, container)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    procs = [start_suite(first, spec), start_suite(second, spec)]
    outs = [finish(p) for p in procs]
    for cwd, proc, out in zip((first, second), procs, outs):
        host = results(cwd, spec)
        serves = host["requirements"].pop("registry.mirror-serves-pulls")
        assert {e["status"] for e in host["requirements"].values()} <= {"passed", "not-applicable"}, out[-3000:]
        # a run that finds hello-world already pulled (by the other run) has no pull to observe
        assert serves["status"] == "passed" or serves["message"].startswith("blocked by state: "), serves
        assert host["run_checks"]["run.leak-audit"]["status"] == "passed", host["run_checks"]
        assert proc.returncode == 0
    assert state(client, container) == before

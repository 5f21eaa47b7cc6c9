"""Install and start the local Docker engine, and talk to it through docker-py."""
import os
import shutil
import signal
import subprocess
from contextlib import closing
from pathlib import Path

import docker

from conformance.engine import LOCAL_SOCKET  # this machine's engine, as the suite's local:// reaches it
from conformance.lab import paths
from conformance.lab.progress import LabError, exited, run, say, wait_for

PACKAGES = ["docker.io", "docker-registry", "debootstrap", "rpm", "openssh-client", "gcc", "libc6-dev", "curl"]
PIDFILE = Path("/var/run/docker.pid")
START_TIMEOUT = 60

# The dockerd this process spawned, if any: it must be reaped (waited for) when it exits, or it stays a zombie
# whose /proc entry never goes away.
_spawned: subprocess.Popen | None = None


def missing_packages():
    """Debian packages the lab needs that are not installed."""
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\n", *PACKAGES],
                          capture_output=True, text=True)
    installed = {line.split()[0] for line in proc.stdout.splitlines() if line.endswith("ok installed")}
    return [p for p in PACKAGES if p not in installed]


def install_packages(names):
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = paths.LOGS / "apt.log"
    run(["apt-get", "update", "-q"], title="apt-get update", timeout=300, log=log, env=env)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *names],
        title=f"apt-get install {' '.join(names)}", timeout=600, log=log, env=env)


def client(timeout=60):
    """A docker-py client for the local engine (explicit socket: never a CLI context); use in `with`."""
    return closing(docker.DockerClient(base_url=LOCAL_SOCKET, timeout=timeout))


def answers():
    try:
        with client(timeout=5) as c:
            return c.ping()
    except (docker.errors.DockerException, OSError):  # any failure means "not answering yet"
        return False


def systemd_is_pid1():
    return Path("/run/systemd/system").is_dir()


def start():
    """Start the engine: systemd where it is PID 1, the init script otherwise, dockerd itself as a last resort."""
    if answers():
        return
    if systemd_is_pid1():
        run(["systemctl", "start", "docker"], title="systemctl start docker", timeout=START_TIMEOUT)
    else:
        # Debian's init script aborts where `ulimit -n 1048576` is refused (a hard limit below it).
        proc = run(["service", "docker", "start"], title="service docker start", timeout=START_TIMEOUT, check=False)
        if proc.returncode != 0:
            say("  the init script failed; starting dockerd directly")
            _spawn_dockerd()
    wait_for(answers, what=f"the Docker engine did not answer on {LOCAL_SOCKET}", timeout=START_TIMEOUT)


def restart():
    """Restart the engine so it reads daemon.json again."""
    if systemd_is_pid1():
        run(["systemctl", "restart", "docker"], title="systemctl restart docker", timeout=START_TIMEOUT)
    else:
        stop()
        start()
    wait_for(answers, what=f"the Docker engine did not answer on {LOCAL_SOCKET} after a restart", timeout=START_TIMEOUT)


def stop():
    """Stop the engine: systemd's units where it is PID 1, else the dockerd named by the pid file."""
    if systemd_is_pid1():
        run(["systemctl", "stop", "docker.socket", "docker.service"], title="systemctl stop docker",
            timeout=START_TIMEOUT)
    else:
        _stop_dockerd()


def _spawn_dockerd():
    global _spawned
    _drop_stale_pidfile()
    paths.LOGS.mkdir(parents=True, exist_ok=True)
    with open(paths.LOGS / "dockerd.log", "ab") as log:
        _spawned = subprocess.Popen([shutil.which("dockerd") or "/usr/sbin/dockerd"], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _drop_stale_pidfile():
    """dockerd refuses to start while its pid file names a live process, even one that is not dockerd."""
    try:
        pid = int(PIDFILE.read_text().strip())
        alive_dockerd = b"dockerd" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        alive_dockerd = False
    if not alive_dockerd:
        PIDFILE.unlink(missing_ok=True)


def _stop_dockerd():
    try:
        pid = int(PIDFILE.read_text().strip())
    except (OSError, ValueError):
        raise LabError(f"cannot restart the engine: no readable {PIDFILE}") from None
    if exited(pid, _spawned):
        PIDFILE.unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: exited(pid, _spawned), what=f"dockerd (pid {pid}) did not stop", timeout=START_TIMEOUT)

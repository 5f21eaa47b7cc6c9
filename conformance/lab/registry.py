"""The lab registry: Debian's docker-registry on 127.0.0.1:5000 and on the bridge gateway."""
import os
import signal
import subprocess
from pathlib import Path

import requests

from conformance.lab import paths
from conformance.lab.progress import exited, wait_for

CONFIG = """\
version: 0.1
log:
  level: info
  fields:
    service: conformance-lab-registry
storage:
  filesystem:
    rootdirectory: {data}
  delete:
    enabled: true
http:
  addr: {address}:{port}
"""


def url(address="127.0.0.1"):
    return f"http://{address}:{paths.REGISTRY_PORT}"


def answers(address="127.0.0.1"):
    try:
        return requests.get(f"{url(address)}/v2/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _pidfile(address):
    return paths.HOME / f"registry-{address}.pid"


def _running_pid(address):
    try:
        pid = int(_pidfile(address).read_text())
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    return pid if cmdline.exists() and b"registry" in cmdline.read_bytes() else None


def ensure(addresses):
    """Serve the registry on each address (one process each, shared storage); idempotent."""
    paths.REGISTRY_DATA.mkdir(parents=True, exist_ok=True)
    for address in addresses:
        if _running_pid(address) and answers(address):
            continue
        config = paths.HOME / f"registry-{address}.yml"
        config.write_text(CONFIG.format(data=paths.REGISTRY_DATA, address=address, port=paths.REGISTRY_PORT))
        paths.LOGS.mkdir(parents=True, exist_ok=True)
        with open(paths.LOGS / f"registry-{address}.log", "ab") as log:
            proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _pidfile(address).write_text(str(proc.pid))
        wait_for(lambda: answers(address), what=f"registry did not answer on {address}:{paths.REGISTRY_PORT}",
                 timeout=30)


def stop():
    """Stop every lab registry process; keep the data (down removes the state folder)."""
    for pidfile in paths.HOME.glob("registry-*.pid"):
        address = pidfile.stem.removeprefix("registry-")
        pid = _running_pid(address)
        if pid:
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: exited(pid), what=f"registry (pid {pid}) did not stop", timeout=30)
        pidfile.unlink(missing_ok=True)


def has_manifest(repository, tag, address="127.0.0.1"):
    """The config digest of repository:tag in the registry, or None."""
    try:
        r = requests.get(f"{url(address)}/v2/{repository}/manifests/{tag}", timeout=5,
                         headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    except requests.RequestException:
        return None
    if r.status_code != 200:
        return None
    return r.json().get("config", {}).get("digest")


def catalog(address="127.0.0.1"):
    r = requests.get(f"{url(address)}/v2/_catalog", timeout=5)
    r.raise_for_status()
    return r.json().get("repositories", [])

"""Extra lab registries: the lab registry's content minus some repositories, on another port of the gateway.

A variant such as no-hello-world needs a mirror that answers but lacks one seed image, while Docker Hub stays
unreachable from the lab host. Each extra registry is Debian's docker-registry serving a hard-linked copy of
the lab registry's storage with only the repositories the variant names. Its pid file, config, log and data
sit beside the lab registry's (registry-<gateway>:<port>.pid, <registry data>/extra-<port>), so
`conformance-lab down` stops and removes it too; a lab host that uses it carries the label PORT_LABEL, and
the last such host to stop stops it.
"""
import os
import shutil
import signal
import subprocess
from pathlib import Path

import requests

from conformance.lab import paths, registry
from conformance.lab.progress import LabError, say, wait_for

PORT_LABEL = "conformance.lab.registry-port"
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def url(address, port):
    return f"http://{address}:{port}"


def _pidfile(address, port):
    return paths.HOME / f"registry-{address}:{port}.pid"


def _data(port):
    return paths.REGISTRY_DATA / f"extra-{port}"


def _pid(address, port):
    try:
        pid = int(_pidfile(address, port).read_text())
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    return pid if cmdline.exists() and b"registry" in cmdline.read_bytes() else None


def _digest(base, repository):
    try:
        r = requests.head(f"{base}/v2/{repository}/manifests/latest", headers={"Accept": MANIFEST}, timeout=5)
    except requests.RequestException:
        return None
    return r.headers.get("Docker-Content-Digest") if r.status_code == 200 else None


def _catalog(base):
    try:
        r = requests.get(f"{base}/v2/_catalog", timeout=5)
        return sorted(r.json().get("repositories", [])) if r.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None


def _fresh(address, port, serves):
    """Running, serving exactly `serves`, each at the lab registry's current digest."""
    base = url(address, port)
    return (_pid(address, port) is not None and _catalog(base) == sorted(serves)
            and all(_digest(base, r) and _digest(registry.url(), r) == _digest(base, r) for r in serves))


def ensure(address, port, serves):
    """Serve the lab registry's `serves` repositories (only those) on address:port; idempotent."""
    with paths.locked("extra-registry"):
        if _fresh(address, port, serves):
            return url(address, port)
        _stop(address, port)
        source = paths.REGISTRY_DATA / "docker"
        repositories = source / "registry" / "v2" / "repositories"
        missing = [r for r in serves if not (repositories / r).is_dir()]
        if missing:
            raise LabError(f"extra registry on port {port}: the lab registry has no {', '.join(missing)} "
                           "(run `conformance-lab up`)")
        data = _data(port)
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        # Hard links: no copy of the blobs; the registry never rewrites a file in place.
        subprocess.run(["cp", "-al", str(source), str(data / "docker")], check=True, timeout=60)
        copied = data / "docker" / "registry" / "v2" / "repositories"
        for namespace in list(copied.iterdir()):
            for repo in list(namespace.iterdir()):
                if f"{namespace.name}/{repo.name}" not in serves:
                    shutil.rmtree(repo)
        config = paths.HOME / f"registry-{address}:{port}.yml"
        config.write_text(registry.CONFIG.format(data=data, address=address, port=port))
        paths.LOGS.mkdir(parents=True, exist_ok=True)
        with open(paths.LOGS / f"registry-{address}:{port}.log", "ab") as log:
            proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _pidfile(address, port).write_text(str(proc.pid))
        wait_for(lambda: _catalog(url(address, port)) == sorted(serves),
                 what=f"extra registry did not serve {', '.join(serves)} on {address}:{port}", timeout=30)
        say(f"extra registry {url(address, port)} serves only {', '.join(serves)}")
        return url(address, port)


def release(address, port, still_used):
    """Stop the registry on address:port unless still_used() (lab hosts with its label remain)."""
    with paths.locked("extra-registry"):
        if not still_used():
            _stop(address, port)


def _gone(pid):
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it when this process started it
    except ChildProcessError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


def _stop(address, port):
    pid = _pid(address, port)
    if pid:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: _gone(pid), what=f"registry pid {pid} did not stop", timeout=15)
    _pidfile(address, port).unlink(missing_ok=True)
    (paths.HOME / f"registry-{address}:{port}.yml").unlink(missing_ok=True)
    shutil.rmtree(_data(port), ignore_errors=True)

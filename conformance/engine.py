"""The Docker API client of a target: which URL, how it connects, every call bounded in time.

ssh:// targets use docker-py's paramiko transport (docker/transport/sshconn.py). It takes the
user, port, IdentityFile and ProxyCommand only from ~/.ssh/config and the host key only from
~/.ssh/known_hosts (RejectPolicy); a spec's ssh_identity_file cannot be handed to it without
monkeypatching. For such a target write `Host <name>` / `IdentityFile <file>` to ~/.ssh/config
(the lab does this for its hosts), or point the engine elsewhere with --engine-url TARGET=URL.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

import docker
import requests

from conformance.outcomes import TargetError, one_line

LOCAL_SOCKET = "unix:///var/run/docker.sock"
SSH_BACKENDS = ("ssh", "safe-ssh", "paramiko")
SSH_HINT = ("docker-py's ssh transport reads the key only from ~/.ssh/config (IdentityFile) and the host key "
            "only from ~/.ssh/known_hosts; add them or use --engine-url TARGET=URL")
T = TypeVar("T")


def bounded(call: Callable[[], T], seconds: float, what: str) -> T:
    """Run call in a daemon thread and give up after seconds (for libraries without a timeout)."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = e

    worker = threading.Thread(target=run, name=f"bounded {what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TargetError(f"{what}: no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def url_for(target_id: str, backend, configured: str | None) -> str:
    """The engine URL: --engine-url, else DOCKER_HOST or the local socket, else ssh://user@host:port."""
    if configured:
        return configured
    kind = backend.get_connection_type()
    if kind == "local":
        return os.environ.get("DOCKER_HOST") or LOCAL_SOCKET
    if kind in SSH_BACKENDS:
        spec = backend.host
        user = f"{spec.user}@" if spec.user else ""
        port = f":{spec.port}" if spec.port else ""
        return f"ssh://{user}{spec.name}{port}"
    raise TargetError(f"{target_id}: no Docker API route for a {kind}:// target; give --engine-url {target_id}=URL")


def connect(target_id: str, url: str, timeout: float) -> docker.DockerClient:
    """Create the client (it asks the daemon for its API version at once); failures become TargetError."""
    try:
        # Explicit base_url: docker-py 7.2 would otherwise follow the docker CLI context.
        return bounded(lambda: docker.DockerClient(base_url=url, timeout=timeout),
                       timeout, f"{target_id}: connect to engine {url}")
    except TargetError:
        raise
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError, Exception) as e:
        ssh_setup = "known_hosts" in str(e) or type(e).__name__ in ("AuthenticationException", "SSHException")
        hint = f" ({SSH_HINT})" if url.startswith("ssh://") and ssh_setup else ""
        raise TargetError(f"{target_id}: connect to engine {url}: {one_line(str(e) or type(e).__name__)}{hint}") from e

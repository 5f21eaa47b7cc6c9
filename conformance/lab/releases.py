"""Debian releases a lab host can run, with the engine each ships and how the host boots on this machine.

bookworm's docker.io is 20.10 (API 1.41), trixie's 26.1 (API 1.45), sid's 28.5 (API 1.51) at the time of
writing (the mirror decides). This machine mounts cgroup v1: trixie's systemd 257 still boots on it when told
to (SYSTEMD_PROC_CMDLINE), sid's systemd cannot boot on it at all, so a sid host runs Debian's sysvinit
instead: /etc/init.d/docker and /etc/init.d/ssh started by their rc links, no systemd installed.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from conformance.lab.progress import LabError

STORES = ("overlay2", "containerd")  # containerd: daemon.json features.containerd-snapshotter (Driver overlayfs)
# Packages of every lab host; the release adds its own (init system, the separate docker CLI).
COMMON = ("dbus", "docker.io", "openssh-server", "curl", "iproute2", "procps", "rpm", "ca-certificates", "iptables",
          "kmod", "python3", "sudo")


@dataclass(frozen=True)
class Release:
    """One Debian release as a lab host base."""
    name: str
    init: str                            # "systemd" or "sysvinit"
    packages: tuple = ()                 # beyond COMMON
    setup: str = "host/setup.sh"         # run in the rootfs (chroot) at build time
    entrypoint: tuple = ("/sbin/init",)  # PID 1 of the host; /lab-init first makes /proc/sys writable (Docker >= 28)
    environment: dict = field(default_factory=dict)

    @property
    def systemd(self) -> bool:
        return self.init == "systemd"

    def describe(self) -> str:
        """What `host list` says about how the host runs its engine."""
        return "systemd" if self.systemd else f"{self.init}, no systemd"


BOOKWORM = Release("bookworm", "systemd", packages=("systemd", "systemd-sysv"))

RELEASES = {
    "bookworm": BOOKWORM,
    "trixie": Release(
        "trixie", "systemd", packages=("systemd", "systemd-sysv", "docker-cli"), setup="host/setup.sh",
        entrypoint=("/lab-init", "/sbin/init"),
        environment={"SYSTEMD_PROC_CMDLINE": "systemd.unified_cgroup_hierarchy=0 SYSTEMD_CGROUP_ENABLE_LEGACY_FORCE=1"}),
    # sid's systemd refuses cgroup v1: the host boots Debian's sysvinit (a real, supported Debian init), whose rc
    # links start dockerd through /etc/init.d/docker (see host/setup-sysvinit.sh for its one lab change).
    "sid": Release(
        "sid", "sysvinit", packages=("sysvinit-core", "docker-cli"), setup="host/setup-sysvinit.sh",
        entrypoint=("/lab-init", "/sbin/init")),
}
DEFAULT = "bookworm"


def get(name: str) -> Release:
    if name not in RELEASES:
        raise LabError(f"unknown release {name!r}; known: {', '.join(RELEASES)}")
    return RELEASES[name]


def check_store(store: str) -> str:
    if store not in STORES:
        raise LabError(f"unknown image store {store!r}; known: {', '.join(STORES)}")
    return store


def daemon_json(store: str, mirror: str = "") -> dict:
    """daemon.json keys that select the image store (written before the engine's first start). The containerd
    store (Docker 26) resolves an http:// mirror over https unless its registry is listed as insecure, as an
    administrator using a plain-http mirror with that store lists it."""
    if check_store(store) != "containerd":
        return {}
    config = {"features": {"containerd-snapshotter": True}}
    if mirror.startswith("http://"):
        config["insecure-registries"] = [urllib.parse.urlsplit(mirror).netloc]
    return config

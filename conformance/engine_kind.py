"""Which engine answers a target's Docker API: Docker Engine (rootful or rootless) or Podman's compatible API.

Podman's Docker-compatible service names itself in GET /version's Components ("Podman Engine") and Platform;
a rootless engine (Docker's or Podman's) lists "name=rootless" in GET /info's SecurityOptions. Before the suite
connects (a connection would start a socket-activated engine), /var/run/docker.sock resolving into Podman's
run directory names Podman too (podman-docker links it to /run/podman/podman.sock).
"""
from __future__ import annotations


def is_podman(version: dict) -> bool:
    names = [c.get("Name") or "" for c in version.get("Components") or []]
    names.append((version.get("Platform") or {}).get("Name") or "")
    return any("podman" in name.lower() for name in names)


def is_rootless(info: dict) -> bool:
    return any(option.startswith("name=rootless") for option in info.get("SecurityOptions") or [])


def describe(version: dict, info: dict) -> str:
    """One line for the facts, e.g. 'Docker Engine 26.1.5+dfsg1, API 1.45, rootful' or
    'Podman 4.3.1 (Docker-compatible API 1.41), not Docker Engine, rootless'."""
    api = version.get("ApiVersion") or "?"
    mode = "rootless" if is_rootless(info) else "rootful"
    if is_podman(version):
        podman = next((c for c in version.get("Components") or [] if "podman" in (c.get("Name") or "").lower()), {})
        return (f"Podman {podman.get('Version') or version.get('Version') or '?'} (Docker-compatible API {api}), "
                f"not Docker Engine, {mode}")
    platform = (version.get("Platform") or {}).get("Name") or "Docker Engine"
    return f"{platform} {version.get('Version') or info.get('ServerVersion') or '?'}, API {api}, {mode}"


def socket_fact(resolved: str) -> str:
    """What /var/run/docker.sock is, from `readlink -e` ('' when it does not exist): read without connecting."""
    if not resolved:
        return "/var/run/docker.sock does not exist"
    if "podman" in resolved:
        return f"/var/run/docker.sock -> {resolved}: Podman's Docker-compatible socket, not Docker Engine's"
    return resolved if resolved == "/var/run/docker.sock" else f"/var/run/docker.sock -> {resolved}"

"""Judges of seed 1.2 docker简单使用: the nginx container runs, is listed, runs commands inside, has a bridge IP, serves HTTP."""
from __future__ import annotations

import ipaddress

from conformance.ahead import LOOK_EVERY_S, WATCH_LOOKS
from conformance.judges import Verdict, page_title
from conformance.masking import clip


def stays_running(states: list[str]) -> Verdict:
    """Judge nginx.run from the states seen while watching the container."""
    return Verdict(bool(states) and all(s == "running" for s in states),
                   f"state running at every look over {(WATCH_LOOKS - 1) * LOOK_EVERY_S:g} s", "states seen: " + (", ".join(states) or "none"))


def listed(rows: list[dict], container_id: str) -> Verdict:
    """Judge nginx.listed: `docker ps` rows hold the id with State running."""
    row = next((r for r in rows if r.get("Id") == container_id), None)
    found = (f"listed with State {row.get('State')} ({row.get('Status')})" if row
             else f"not among the {len(rows)} running containers listed")
    return Verdict(bool(row) and row.get("State") == "running", f"{container_id[:12]} listed as running", found)


def exec_inside(exit_code: int, output: str, container_hostname: str, host_hostname: str) -> Verdict:
    """Judge nginx.exec: the command ran inside (prints the container's hostname, not the host's)."""
    seen = output.strip()
    return Verdict(exit_code == 0 and seen == container_hostname and seen != host_hostname,
                   f"exit 0 and hostname {container_hostname!r} (the host is {host_hostname!r})",
                   f"exit {exit_code}, output {clip(seen, 200)!r}")


def isolated_fs(inside_written: bool, host_sees_inside: bool, inside_sees_marker: bool) -> Verdict:
    """Judge nginx.isolated-fs from the two crossings tried (the host's marker made: probes.marker)."""
    found = (f"file written inside: {inside_written}, seen on the host: {host_sees_inside}; "
             f"host marker seen inside: {inside_sees_marker}")
    ok = inside_written and not host_sees_inside and not inside_sees_marker
    return Verdict(ok, "the inside file absent on the host and the host marker absent inside", found)


def bridge_address(attrs: dict) -> tuple[str | None, dict[str, str]]:
    """(IP on the bridge network or None, every network's IP) from a container's inspect data."""
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    ips = {name: (ep or {}).get("IPAddress") or "" for name, ep in networks.items()}
    return ips.get("bridge") or None, ips


def bridge_ip(ip: str | None, networks: dict[str, str], subnet: str | None) -> Verdict:
    """Judge nginx.bridge-ip: an IP inside the bridge network's subnet."""
    expected = f"an IP in the bridge subnet {subnet or '(no bridge network)'}"
    found = f"networks {networks or '{}'}"
    if not ip or not subnet:
        return Verdict(False, expected, found + ("" if subnet else "; the engine has no 'bridge' network"))
    return Verdict(ipaddress.ip_address(ip) in ipaddress.ip_network(subnet, strict=False), expected, found)


def http_welcome(status: int | None, body: str, server: str = "") -> Verdict:
    """Judge nginx.http: 200 from nginx, its welcome page or, on an nginx:latest of the host's own that serves
    another page, its Server header (the claim is that the container can be reached)."""
    title = page_title(body)
    from_nginx = "nginx" in (title or "").lower() or server.lower().startswith("nginx")
    return Verdict(status == 200 and from_nginx,
                   "HTTP 200 from nginx: the title 'Welcome to nginx!', or a page of the image's own with Server: nginx",
                   f"HTTP {status if status is not None else 'no answer'}, title {title!r}, Server {server or '-'!r}")

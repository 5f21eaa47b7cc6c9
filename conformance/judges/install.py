"""Judges of seed 1.2 docker安装: the supported OS, prerequisites, package source and package, service, info, version."""
from __future__ import annotations

import configparser
import json
import re

from conformance.judges import Verdict, version_tuple
from conformance.profiles import os_release

HELLO_TEXT = "Hello from Docker!"


def os_identity(os_release_text: str | None, redhat_release: str | None) -> tuple[str, list[str], str]:
    """(ID, ID_LIKE list, VERSION_ID) from /etc/os-release, else from /etc/redhat-release (CentOS 6 has no os-release)."""
    fields = os_release(os_release_text)
    if fields.get("ID"):
        return fields["ID"].lower(), fields.get("ID_LIKE", "").lower().split(), fields.get("VERSION_ID", "")
    match = re.match(r"\s*(\w+).*?release\s+([\d.]+)", redhat_release or "", re.I)
    if match:
        name = match.group(1).lower()
        return ("rhel" if name == "red" else name), ["rhel"], match.group(2)
    return "", [], ""


def os_supported(os_release: str | None, redhat_release: str | None, kernel: str, table: dict) -> Verdict:
    """Judge install.os-supported against the supported table."""
    os_id, id_like, version = os_identity(os_release, redhat_release)
    kernel = kernel.strip()
    found = f"ID={os_id or '?'} ID_LIKE={' '.join(id_like) or '-'} VERSION_ID={version or '?'}, kernel {kernel or '?'}"
    families = table["os"]
    family = next((f for f in families if os_id in f["ids"]), None) or \
        next((f for f in families if set(id_like) & set(f["ids"])), None)
    expected = "; ".join(f"{f['name']} >= {f['min_version']}" for f in families) + f"; kernel >= {table['kernel_min']}"
    if family is None:
        return Verdict(False, expected, found + ": not a supported OS family")
    if not version or version_tuple(version) < version_tuple(family["min_version"]):
        return Verdict(False, f"{family['name']} >= {family['min_version']}", found)
    if version_tuple(kernel) < version_tuple(table["kernel_min"]):
        return Verdict(False, f"kernel >= {table['kernel_min']}", found)
    return Verdict(True, expected, found)


def prerequisite(any_of: list[str], installed: dict[str, bool], why: str) -> Verdict:
    """Judge one install.prerequisites entry: any of its packages installed."""
    have = [name for name in any_of if installed.get(name)]
    return Verdict(bool(have), f"one of {', '.join(any_of)} installed ({why})",
                   f"installed: {', '.join(have)}" if have else f"none installed ({', '.join(f'{n}: no' for n in any_of)})")


def engine_package(allowed: list[str], installed: dict[str, bool]) -> Verdict:
    """Judge install.package: an allowed engine package is installed."""
    have = [name for name in allowed if installed.get(name)]
    return Verdict(bool(have), f"one of {', '.join(allowed)} installed",
                   f"installed: {', '.join(have)}" if have else "none of them installed")


def legacy_absent(name: str, is_installed: bool) -> Verdict:
    """Judge install.package: a legacy docker package is not installed."""
    return Verdict(not is_installed, f"legacy package {name} not installed",
                   f"{name} is installed" if is_installed else f"{name} not installed")


def yum_repo(path: str, content: str | None, site: str) -> Verdict:
    """Judge install.repo on RHEL: the .repo file has an enabled section whose baseurl is on site."""
    expected = f"{path} with an enabled section whose baseurl is on {site}"
    if content is None:
        return Verdict(False, expected, f"{path} does not exist or cannot be read")
    # yum reads .repo files as INI files; keys are case-insensitive, values may continue on indented lines
    parser = configparser.ConfigParser(interpolation=None, strict=False, allow_no_value=True)
    try:
        parser.read_string(content, source=path)
    except configparser.Error as e:
        return Verdict(False, expected, f"{path} is not a valid .repo file: {' '.join(str(e).split())}")
    sections = {name: {k: v or "" for k, v in parser.items(name)} for name in parser.sections()}
    good = [name for name, s in sections.items()
            if site in (s.get("baseurl", "") + s.get("mirrorlist", "") + s.get("metalink", ""))
            and s.get("enabled", "1").strip() in ("1", "true", "yes")]
    summary = ", ".join(f"[{n}] enabled={s.get('enabled', '1 (default)')} baseurl={s.get('baseurl', '-')}"
                        for n, s in sections.items()) or "no sections"
    return Verdict(bool(good), expected, f"{path}: {summary}")


def apt_source(sources: dict[str, str], site: str) -> Verdict:
    """Judge install.repo on Debian with docker-ce: an active apt source on site (one-line or deb822 format)."""
    active = []
    for path, content in sources.items():
        deb822_disabled = re.search(r"(?im)^Enabled:\s*no\b", content)
        for line in content.splitlines():
            line = line.strip()
            if site in line and not line.startswith("#") and not (path.endswith(".sources") and deb822_disabled):
                active.append(f"{path}: {line}")
    return Verdict(bool(active), f"an active apt source on {site}",
                   "; ".join(active) if active else f"no active line mentions {site} in {', '.join(sources) or 'no files'}")


def service_running(unit: str, is_running: bool, state: str, systemd_pid1: bool, pidfile_pid: str | None,
                    pid_comm: str | None) -> Verdict:
    """Judge service.running; without systemd as PID 1, a live dockerd named by its pidfile counts."""
    expected = f"{unit} active"
    if is_running:
        return Verdict(True, expected, f"{unit} active")
    if not systemd_pid1 and pid_comm == "dockerd":
        return Verdict(True, expected, f"no service manager runs it (systemd is not PID 1); dockerd pid {pidfile_pid} is alive")
    detail = f" ({state})" if state else ""
    if not systemd_pid1:
        detail += (f"; systemd is not PID 1 and /var/run/docker.pid names {pidfile_pid or 'nothing'} "
                   f"({pid_comm or 'no such process'})")
    return Verdict(False, expected, f"{unit} not active{detail}")


def service_enabled(unit: str, is_enabled: bool, state: str) -> Verdict:
    """Judge service.enabled."""
    return Verdict(is_enabled, f"{unit} enabled at boot", f"{unit} UnitFileState={state or '?'}")


def engine_info(info: dict) -> Verdict:
    """Judge engine.info: the daemon reports its version, storage and cgroup drivers and registry config."""
    missing = [k for k in ("ServerVersion", "Driver", "CgroupDriver", "RegistryConfig") if not info.get(k)]
    return Verdict(not missing, "info with ServerVersion, Driver, CgroupDriver and RegistryConfig",
                   f"missing {', '.join(missing)}" if missing else
                   f"ServerVersion {info['ServerVersion']}, Driver {info['Driver']}, CgroupDriver {info['CgroupDriver']}")


def engine_version(cli_rc: int, cli_json: str, api_version: dict) -> Verdict:
    """Judge engine.version: the CLI's client and server answer, and the client's API version is within the server's range."""
    expected = "docker version: client and server answer; client API within the server's [MinAPIVersion, ApiVersion]"
    try:
        cli = json.loads(cli_json.strip().splitlines()[-1]) if cli_json.strip() else {}
    except json.JSONDecodeError as e:
        return Verdict(False, expected, f"docker version rc={cli_rc}, output not JSON: {e}")
    client, server = cli.get("Client") or {}, cli.get("Server") or {}
    if cli_rc != 0 or not client or not server:
        return Verdict(False, expected, f"docker version rc={cli_rc}; client {'answered' if client else 'missing'}, "
                                        f"server {'answered' if server else 'missing'}")
    api = version_tuple(client.get("ApiVersion", ""))
    low, high = version_tuple(api_version.get("MinAPIVersion", "")), version_tuple(api_version.get("ApiVersion", ""))
    found = (f"client {client.get('Version')} API {client.get('ApiVersion')}; server {server.get('Version')} "
             f"API {api_version.get('MinAPIVersion')}..{api_version.get('ApiVersion')}")
    same = server.get("Version") == api_version.get("Version")
    return Verdict(bool(api) and low <= api <= high and same, expected,
                   found + ("" if same else f"; the API's server is {api_version.get('Version')}"))


def hello_world(exit_code: int | None, output: str) -> Verdict:
    """Judge engine.hello-world from the exit code and the output read attached to the container."""
    found = f"exit code {exit_code if exit_code is not None else 'none (did not exit in time)'}; output: {output.strip()[:200]!r}"
    return Verdict(exit_code == 0 and HELLO_TEXT in output, f"exit 0 and {HELLO_TEXT!r} in the output", found)

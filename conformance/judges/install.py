"""Judges of seed 1.2 docker安装: the supported OS, prerequisites, package source and package, service, info, version."""
from __future__ import annotations

import configparser
import json
import re
from urllib.parse import urlsplit

from conformance.judges import Verdict, version_tuple
from conformance.profiles import os_family, os_release
from conformance.masking import clip
from conformance.outcomes import ObserverError
from conformance.units import Snapshot as UnitsSnapshot, UnitState

HELLO_TEXT = "Hello from Docker!"
OLD_HELLO_TEXT = "Hello from Docker."  # what hello-world images of 2014-2015 print; one may still be on a host


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


def _codename(os_release_text: str | None) -> str:
    return os_release(os_release_text).get("VERSION_CODENAME", "")


def base_release(os_release_text: str | None, family: dict, rpm_macros: dict[str, str] | None = None
                 ) -> tuple[str, str] | None:
    """(release, how it reads) of the family release a derivative states it is built on (the family's `base`, one
    reading or a list, the first that reads: PLATFORM_ID platform:al8 -> 8, UBUNTU_CODENAME focal -> 20.04, on ID
    devuan VERSION_CODENAME daedalus -> 12, %rhel 7 -> 7 from the target's rpm macros), or None where it states none
    that reads. A reading whose field starts with % is the rpm macro of that name (rpm_macros, "" where undefined)."""
    fields = os_release(os_release_text) | {f"%{name}": value.strip() for name, value in (rpm_macros or {}).items()}
    for base in _bases(family):
        value = fields.get(base["field"], "")
        if not value or ("ids" in base and fields.get("ID", "").lower() not in base["ids"]):
            continue
        if "pattern" in base:
            match = re.match(base["pattern"], value)
            release = match.group(1) if match else None
        else:
            release = base["releases"].get(value.lower())
        if release:
            return release, f"{base['field']}={value}: {family['name']} {release}"
    return None


def _bases(family: dict) -> list[dict]:
    """The family's `base` readings, as a list (the table gives one reading or a list)."""
    bases = family.get("base") or []
    return bases if isinstance(bases, list) else [bases]


def rpm_macros_read(os_release_text: str | None, redhat_release: str | None, table: dict) -> list[str]:
    """The rpm macros (names without %) the probe must evaluate on this host: its family's `base` readings that are
    macros, asked only of a derivative whose os-release states no base release (an EL7 derivative: no PLATFORM_ID)."""
    os_id, id_like, _ = os_identity(os_release_text, redhat_release)
    family = os_family(os_id, id_like, table["os"])
    if family is None or os_id in family["ids"] or base_release(os_release_text, family):
        return []
    return [b["field"][1:] for b in _bases(family) if b["field"].startswith("%")]


def os_supported(os_release: str | None, redhat_release: str | None, kernel: str, table: dict,
                 rpm_macros: dict[str, str] | None = None) -> Verdict:
    """Judge install.os-supported against the supported table. A derivative (matched on ID_LIKE) is judged on the
    family release it is built on where its os-release (or an rpm macro the table reads: rpm_macros, the target's
    `rpm --eval` answers) states one (base_release), else on its own VERSION_ID, or, in a family whose derivatives
    number their releases their own way (`base_only`), not at all: it fails."""
    os_id, id_like, version = os_identity(os_release, redhat_release)
    kernel = kernel.strip()
    found = f"ID={os_id or '?'} ID_LIKE={' '.join(id_like) or '-'} VERSION_ID={version or '?'}, kernel {kernel or '?'}"
    families = table["os"]
    family = os_family(os_id, id_like, families)
    expected = "; ".join(f"{f['name']} >= {f['min_version']}" for f in families) + f"; kernel >= {table['kernel_min']}"
    if family is None:
        return Verdict(False, expected, found + ": not a supported OS family")
    codename = _codename(os_release)
    derivative = os_id not in family["ids"]
    base = base_release(os_release, family, rpm_macros) if derivative else None
    if base:
        version, how = base
        found += f", {how}"
    elif derivative and family.get("base_only"):
        return Verdict(False, f"{family['name']} >= {family['min_version']}",
                       found + f": a {family['name']} derivative that states no {family['name']} release it is built on "
                               f"({', '.join(b['field'] for b in _bases(family))}); {family['base_only']}")
    if not version and codename and family.get("rolling"):
        # os-release(5): VERSION_ID may be omitted; this family omits it only on its rolling releases.
        found += f", VERSION_CODENAME={codename}: {family['rolling']}"
    elif not version or version_tuple(version) < version_tuple(family["min_version"]):
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


YUM_TRUE = ("1", "true", "yes", "on")  # yum's and dnf's boolean words for enabled=, any case


def docker_source(urls: str, site: str, mirror_path: str) -> str | None:
    """The first of the URLs (separated by spaces or commas) that serves Docker's packages: on site, or on a mirror
    of site's tree (its path holds mirror_path, as https://mirrors.aliyun.com/docker-ce/linux/centos/... does:
    get.docker.com --mirror and the Chinese CentOS guides use such mirrors). None if none does."""
    for url in re.split(r"[\s,]+", urls.strip()):
        parts = urlsplit(url)
        if parts.hostname == site or (mirror_path and mirror_path in parts.path):
            return url
    return None


def _on_site(site: str, mirror_path: str) -> str:
    return f"{site}" + (f" (or a mirror of its tree: a path with {mirror_path})" if mirror_path else "")


def yum_repos(directory: str, files: dict[str, str | None], site: str, mirror_path: str = "") -> Verdict:
    """Judge install.repo on RHEL from every .repo file yum reads in its repos directory: one of them has an enabled
    section on site. yum-config-manager --add-repo names it docker-ce.repo; Ansible's yum_repository, Puppet and
    hand-written files use other names (docker-ce-stable.repo, docker.repo), which yum reads all the same."""
    expected = f"a .repo file in {directory} with an enabled section whose baseurl is on {_on_site(site, mirror_path)}"
    if not files:
        return Verdict(False, expected, f"no .repo file in {directory}")
    verdicts = {path: yum_repo(path, content, site, mirror_path) for path, content in files.items()}
    good = [path for path, v in verdicts.items() if v.ok]
    shown = good or list(verdicts)
    return Verdict(bool(good), expected, "; ".join(verdicts[path].found for path in shown))


def yum_repo(path: str, content: str | None, site: str, mirror_path: str = "") -> Verdict:
    """Judge install.repo on RHEL: the .repo file has an enabled section whose baseurl is on site."""
    expected = f"{path} with an enabled section whose baseurl is on {_on_site(site, mirror_path)}"
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
            if docker_source(" ".join((s.get("baseurl", ""), s.get("mirrorlist", ""), s.get("metalink", ""))),
                             site, mirror_path)
            and s.get("enabled", "1").strip().lower() in YUM_TRUE]
    summary = ", ".join(f"[{n}] enabled={s.get('enabled', '1 (default)')} baseurl={s.get('baseurl', '-')}"
                        for n, s in sections.items()) or "no sections"
    return Verdict(bool(good), expected, f"{path}: {summary}")


APT_FALSE = ("no", "false", "without", "off", "disable")  # apt's StringToBool words for false, any case


def apt_entries(path: str, content: str) -> list[tuple[str, bool, str]]:
    """(URI, enabled, how it reads) of every binary-package (deb) source in an apt sources file: one-line format
    (`deb [options] URI suite ...`) or, for *.sources, deb822 stanzas (Types, URIs, Enabled; each stanza apart)."""
    entries = []
    if not path.endswith(".sources"):
        for line in content.splitlines():
            match = re.match(r"\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
            if match:
                entries.append((match.group(1), True, f"{path}: {line.strip()}"))
        return entries
    for stanza in re.split(r"\n[ \t]*\n", content):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#"):
                continue
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
                continue
            name, sep, value = line.partition(":")
            if sep:
                key = name.strip().lower()
                fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        enabled = fields.get("enabled", "yes").strip().lower() not in APT_FALSE
        for uri in fields.get("uris", "").split():
            entries.append((uri, enabled, f"{path}: URIs {uri} (Enabled: {fields.get('enabled', 'yes (default)')})"))
    return entries


def apt_source(sources: dict[str, str], site: str, mirror_path: str = "") -> Verdict:
    """Judge install.repo on Debian with docker-ce: an enabled binary-package source on site (one-line or deb822)."""
    seen = [(enabled, shown) for path, content in sources.items() for uri, enabled, shown in apt_entries(path, content)
            if docker_source(uri, site, mirror_path)]
    active = [shown for enabled, shown in seen if enabled]
    found = "; ".join(active) or "; ".join(shown for _, shown in seen) or (
        f"no deb source on {site} in {', '.join(sources) or 'no files'}")
    return Verdict(bool(active), f"an enabled apt source on {_on_site(site, mirror_path)}", found)


# systemctl is-enabled words that say, by themselves, that the unit does not start at boot (systemctl(1)).
BOOT_WORDS_FAIL = {
    "enabled-runtime": "enabled only until the next reboot (its link is in /run/systemd/system)",
    "masked": "masked (linked to /dev/null): it cannot start, at boot or by hand",
    "masked-runtime": "masked until the next reboot (linked to /dev/null in /run): it cannot start, at boot or by hand",
    "disabled": "disabled",
    "transient": "transient (made at runtime, gone at reboot)",
    "bad": "its unit file is invalid",
    "not-found": "no docker.service unit",
    "": "no docker.service unit",
}
MASKED_WORDS = ("masked", "masked-runtime")  # a unit linked to /dev/null: it cannot start, nor can what needs it
# Words whose meaning at boot depends on what pulls the unit in: passed only with a persistent link in the
# boot transaction (default.target's dependencies).
BOOT_WORDS_CLOSURE = ("static", "indirect", "generated", "linked", "linked-runtime", "alias")
# ActiveState/SubState that count as running (systemd.unit(5)); activating/start* is read again, not judged.
STARTING = ("start-pre", "start", "start-post", "condition")


PIDFILE = "/var/run/docker.pid"  # dockerd's default --pidfile


def service_running(snapshot: UnitsSnapshot, pidfile_pid: str | None = None, pid_comm: str | None = None,
                    pidfile: str = PIDFILE) -> Verdict:
    """Judge service.running from the docker units read before the suite's first connection to the engine
    (a later reading would see the suite's own socket activation); without systemd as PID 1, a live dockerd
    named by its pidfile (the one it was started with: pidfile) counts."""
    unit, socket = snapshot.service, snapshot.socket
    expected = f"{unit.name} active"
    if not snapshot.systemd_pid1:
        if pid_comm == "dockerd":
            return Verdict(True, expected, f"systemd is not PID 1, so no {unit.name} runs the engine (an init script or "
                                           f"another supervisor does); dockerd pid {pidfile_pid} ({pidfile}) "
                                           "is alive")
        return Verdict(False, expected, f"{unit.name} not active; systemd is not PID 1 and {pidfile} names "
                                        f"{pidfile_pid or 'nothing'} ({pid_comm or 'no such process'})")
    if unit.unwatched:  # active says nothing of dockerd: systemd watches no process of it
        found = (f"{unit.name} {unit.state} with MainPID 0: systemd watches no main process of it "
                 f"({unit.get('SourcePath') or unit.get('FragmentPath') or '?'}), so its state says nothing of dockerd; "
                 f"{pidfile} names {pidfile_pid or 'nothing'}")
        return Verdict(pid_comm == "dockerd", expected, found + (" (dockerd, alive)" if pid_comm == "dockerd" else
                                                                 f" ({pid_comm or 'no such process'})"))
    if unit.get("LoadState") == "not-found" or not unit.known:
        return Verdict(False, expected, f"no docker.service unit (LoadState={unit.get('LoadState') or '?'}): something "
                                        "other than docker.service would have to run the engine")
    state = f"ActiveState={unit.active} SubState={unit.get('SubState')} MainPID={unit.get('MainPID') or '?'}"
    if unit.active in ("active", "reloading"):
        found = f"{unit.name} active ({state})"
        if snapshot.socket_activated:
            found += (f"; the engine runs with socket activation: {socket.name} (Listen={socket.get('Listen') or '?'}) "
                      "hands dockerd its API socket")
        return Verdict(True, expected, found)
    if unit.active == "activating" and unit.get("SubState") == "auto-restart":
        return Verdict(False, expected, f"{unit.name} is in a restart loop ({state}): it keeps failing to start")
    if unit.active == "activating":
        return Verdict(False, expected, f"{unit.name} still starting when read ({state})")
    found = f"{unit.name} {unit.active} ({unit.get('SubState') or '?'}) ({state})"
    if socket.listening:
        found += (f"; {socket.name} is listening (Listen={socket.get('Listen') or '?'}): the first API connection "
                  "would start it (socket activation). The suite read this before connecting and did not connect")
    return Verdict(False, expected, found)


def service_enabled(snapshot: UnitsSnapshot, in_boot_closure: bool | None = None, persistent_links: str = "",
                    sysv_links: str | None = None, alias_of: UnitState | None = None,
                    dependencies: list[UnitState] = ()) -> Verdict:
    """Judge service.enabled from the printed word of `systemctl is-enabled docker.service` (its exit code is 0
    for enabled-runtime and static too) and from its hard dependencies (Requires, BindsTo, Requisite: the snapshot's
    units and `dependencies`): one of them masked keeps it from starting; without systemctl, from the SysV rc links.
    Where /sbin/init is systemd but systemd is not PID 1, nothing the suite reads says what starts at this host's
    boot: ObserverError."""
    unit = snapshot.service
    expected = f"{unit.name} starts at boot"
    if snapshot.systemctl and snapshot.booted_otherwise:
        raise ObserverError(f"{unit.name} is-enabled={unit.enabled_word or '(nothing)'}, but {snapshot.booted_otherwise}")
    if not snapshot.systemctl or snapshot.boots_without_systemd:
        why = ("no systemd" if not snapshot.systemctl else
               f"systemd does not boot this host (PID 1 is not systemd, /sbin/init is {snapshot.boot_init}): "
               f"{unit.name} is-enabled={unit.enabled_word or '(nothing)'} is not what starts at boot")
        if sysv_links:
            return Verdict(True, expected, f"{why}; SysV start links: {sysv_links}")
        return Verdict(False, expected, f"{why}; no S??docker start link in /etc/rc[2-5].d")
    word, judged, said = unit.enabled_word, unit, ""
    if word == "alias" and alias_of is not None:
        judged, word = alias_of, alias_of.enabled_word
        said = f"{unit.name} is an alias of {alias_of.name}, judged instead; "
    if word == "enabled":
        ok, why = True, "enabled (a persistent link: starts at boot)"
    elif word in BOOT_WORDS_CLOSURE:
        ok = bool(in_boot_closure and persistent_links)
        why = f"{word}: " + (f"pulled in at boot by a persistent link ({persistent_links})" if ok else
                             "nothing pulls it in at boot" + ("" if in_boot_closure is not None else
                                                              " (systemd is not PID 1: no boot transaction to ask)"))
    else:
        ok, why = False, BOOT_WORDS_FAIL.get(word, f"unknown state {word!r}")
    states = {**snapshot.units, **{state.name: state for state in dependencies}}
    masked = [f"{key}={name}, which is {states[name].enabled_word}" for key, name in judged.hard_dependencies()
              if name in states and states[name].enabled_word in MASKED_WORDS]
    if masked and not word.startswith("masked"):
        ok, why = False, why + f"; but it has {'; '.join(masked)}: {judged.name} cannot start, at boot or by hand"
    # a masked unit (this one or one it needs) never starts, also not by its socket
    if not ok and snapshot.socket.enabled_word == "enabled" and not word.startswith("masked") and not masked:
        why += (f"; {snapshot.socket.name} is enabled: dockerd would start on the first API connection, not at boot "
                "(the engine and containers with restart policies do not come up by themselves)")
    state = (f" (UnitFileState={judged.get('UnitFileState') or '-'} LoadState={judged.get('LoadState')})"
             if judged.get("LoadState") else "")  # systemd not PID 1: is-enabled read the unit files offline
    return Verdict(ok, expected, f"{said}{judged.name} is-enabled={word or '(nothing)'}: {why}{state}")


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


def hello_world(exit_code: int | None, output: str, found_before: list[str] | None = None) -> Verdict:
    """Judge engine.hello-world from the exit code and the output read attached to the container. found_before: the
    RepoDigests of a hello-world:latest that was on the target before the run (None: the run pulled it); one with
    none of Docker's hello-world (a user's own image built or tagged as hello-world) that does not greet ran no
    Docker hello-world: error, not judged."""
    found = f"exit code {exit_code if exit_code is not None else 'none (did not exit in time)'}; output: {clip(output.strip(), 200)!r}"
    greeted = HELLO_TEXT in output or OLD_HELLO_TEXT in output
    if not greeted and found_before is not None and not any(
            re.fullmatch(r"((.+/)?library/)?hello-world@.+", d) for d in found_before):
        raise ObserverError(f"hello-world:latest was on the target before the run and is not Docker's hello-world "
                            f"(RepoDigests {found_before or 'none'}: an image of the host's own, built or tagged as "
                            f"hello-world); it ran with {found}: Docker's greeting was not run, not judged (remove or "
                            "retag that image, or check a host without it)")
    return Verdict(exit_code == 0 and greeted, f"exit 0 and {HELLO_TEXT!r} (or {OLD_HELLO_TEXT!r}) in the output",
                   found)

"""Probes and judges of the checks in suites/.

A probe reads the target (testinfra host or docker-py engine) and records what it ran or read in the
check's evidence. A judge is a pure function of recorded answers that returns a Verdict; checks call
probe -> judge -> verdict.check(), and tests/test_checks_*.py feed judges broken answers.
"""
from __future__ import annotations

import dataclasses
import functools
import ipaddress
import json
import posixpath
import re
import tomllib
from pathlib import Path

import docker
import requests

from conformance.ahead import LOOK_EVERY_S, WATCH_LOOKS
from conformance.engine import bounded
from conformance.targets import is_local
from conformance.outcomes import expect

PROFILES_FILE = Path(__file__).resolve().parent / "profiles.toml"
NGINX = "nginx:latest"
HELLO_WORLD = "hello-world:latest"
HELLO_TEXT = "Hello from Docker!"
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json",
                  "application/vnd.oci.image.index.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.oci.image.manifest.v1+json")
DIFF_KINDS = {0: "C", 1: "A", 2: "D"}


@functools.cache
def profiles() -> dict:
    """conformance/profiles.toml: per-profile expectation data."""
    with open(PROFILES_FILE, "rb") as f:
        return tomllib.load(f)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A judge's answer: whether the host conforms, what was expected and what was found."""
    ok: bool
    expected: str
    found: str

    def check(self, evidence=None) -> None:
        """Fail the check unless ok; with evidence, the verdict is recorded first (passes get a 'found' too)."""
        __tracebackhide__ = True
        if evidence is not None:
            evidence.note(f"verdict: expected {self.expected}; found {self.found}")
        expect(self.ok, self.expected, self.found)


def version_tuple(text: str) -> tuple[int, ...]:
    """'20.10.24+dfsg1' -> (20, 10, 24); '3.10.0-1160.el7' -> (3, 10, 0); '' -> ()."""
    match = re.match(r"\d+(\.\d+)*", str(text).strip())
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else (output or "")


# --- Probes: reading the target, recording evidence -----------------------------------------------

class Packages:
    """host.package through testinfra (dpkg-query or rpm -q), each answer recorded."""

    def __init__(self, host, evidence):
        self.host, self.evidence = host, evidence

    def installed(self, name: str) -> bool:
        package = self.host.package(name)
        found = package.is_installed
        version = package.version if found else None
        self.evidence.note(f"host.package({name!r}).is_installed -> {found}" + (f" (version {version})" if found else ""))
        return found


def read_file(host, evidence, path: str) -> str | None:
    """The file's text, or None when it cannot be read (cat's rc and stderr are in the evidence)."""
    result = evidence.cmd(host, "cat %s", path)
    return result.stdout if result.rc == 0 else None


def run_in(container, argv: list[str], evidence, seconds: float = 20, prints: bool = False) -> tuple[int, str]:
    """Run argv in the container under coreutils timeout (exec_run has no client timeout); (exit code, output)."""
    wrapped = ["timeout", str(int(seconds)), *argv]
    # Over ssh:// docker-py now and then returns exit 0 with no output (docker/docker-py#3332, #2042);
    # a read-only command that must print is asked again, at most twice, and every attempt is evidence.
    for _ in range(3 if prints else 1):
        result = bounded(lambda: container.exec_run(wrapped), seconds + 10, f"exec in container {container.short_id}")
        output = text(result.output)
        evidence.api(f"POST /containers/{container.short_id}/exec", cmd=argv, exit_code=result.exit_code,
                     output=output[-2000:])
        if result.exit_code != 0 or output:
            break
    return result.exit_code, output


def wait_exit(container, evidence, seconds: float) -> int | None:
    """Wait for the container to exit; None when it did not within seconds."""
    try:
        status = container.wait(timeout=seconds)
    except requests.exceptions.RequestException as e:  # a read timeout arrives as ConnectionError over unix sockets
        evidence.api(f"POST /containers/{container.short_id}/wait", timeout_s=seconds, error=str(e)[:300])
        return None
    evidence.api(f"POST /containers/{container.short_id}/wait", StatusCode=status.get("StatusCode"))
    return status.get("StatusCode")


def started(create, image: str, evidence):
    """The container create() (a make.container call) returns; a failed pull or start is recorded and fails the check."""
    __tracebackhide__ = True
    try:
        container = create()
    except docker.errors.APIError as e:
        evidence.api(f"POST /images/create, /containers/create, /start ({image})", error=str(e.explanation or e))
        expect(False, f"{image} pulled and started", f"{type(e).__name__}: {e.explanation or e}")
    evidence.api(f"POST /containers/create, /start ({image})", Id=container.id)
    return container


class Http:
    """GET from the target: requests on local://, curl on the target otherwise (bridge IPs are only reachable there)."""

    def __init__(self, host, evidence, timeout: float):
        self.host, self.evidence, self.timeout = host, evidence, timeout

    def get(self, url: str, accept: tuple[str, ...] = ()) -> tuple[int | None, dict[str, str], str]:
        """(status or None when nothing answered, lower-cased headers, body)."""
        if is_local(self.host):
            try:
                r = requests.get(url, headers={"Accept": ", ".join(accept)} if accept else {}, timeout=self.timeout)
                status, headers, body = r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.text
            except requests.exceptions.RequestException as e:
                self.evidence.note(f"requests.get({url!r}) -> {type(e).__name__}: {str(e)[:300]}")
                status, headers, body = None, {}, ""
        else:
            args = " ".join("-H %s" for _ in accept)
            result = self.evidence.cmd(self.host, f"curl -s -i -m %s {args} %s",
                                       str(int(self.timeout)), *[f"Accept: {a}" for a in accept], url)
            status, headers, body = parse_http(result.stdout)
        self.evidence.http(url, status, page_title(body))
        return status, headers, body


def parse_http(raw: str) -> tuple[int | None, dict[str, str], str]:
    """Split `curl -i` output into status, headers and body; (None, {}, '') when nothing answered."""
    raw = raw.replace("\r\n", "\n")
    while True:
        head, _, rest = raw.partition("\n\n")
        match = re.match(r"HTTP/[\d.]+ (\d{3})", head)
        if not match:
            return None, {}, ""
        if match.group(1) != "100" or not rest:
            break
        raw = rest  # skip an interim "100 Continue"
    headers = {}
    for line in head.splitlines()[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    return int(match.group(1)), headers, rest


def page_title(body: str) -> str | None:
    match = re.search(r"<title>(.*?)</title>", body or "", re.I | re.S)
    return match.group(1).strip() if match else None


# --- 1.2 installation ------------------------------------------------------------------------------

def os_identity(os_release: str | None, redhat_release: str | None) -> tuple[str, list[str], str]:
    """(ID, ID_LIKE list, VERSION_ID) from /etc/os-release, else from /etc/redhat-release (CentOS 6 has no os-release)."""
    fields = {}
    for line in (os_release or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("\"'")
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
    sections: dict[str, dict[str, str]] = {}
    current = None
    for line in content.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif current is not None and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            current[key.strip().lower()] = value.strip()
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


def hello_world(exit_code: int | None, logs: str) -> Verdict:
    """Judge engine.hello-world."""
    found = f"exit code {exit_code if exit_code is not None else 'none (did not exit in time)'}; log: {logs.strip()[:200]!r}"
    return Verdict(exit_code == 0 and HELLO_TEXT in logs, f"exit 0 and {HELLO_TEXT!r} in the output", found)


# --- 1.2 the nginx container ---------------------------------------------------------------------

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
                   f"exit {exit_code}, output {seen[:200]!r}")


def isolated_fs(inside_written: bool, host_sees_inside: bool, marker_made: bool, inside_sees_marker: bool) -> Verdict:
    """Judge nginx.isolated-fs from the two crossings tried."""
    found = (f"file written inside: {inside_written}, seen on the host: {host_sees_inside}; "
             f"marker made on the host: {marker_made}, seen inside: {inside_sees_marker}")
    ok = inside_written and marker_made and not host_sees_inside and not inside_sees_marker
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


def http_welcome(status: int | None, body: str) -> Verdict:
    """Judge nginx.http: 200 and nginx's welcome page."""
    title = page_title(body)
    return Verdict(status == 200 and bool(title) and "nginx" in title.lower(),
                   "HTTP 200 with the title 'Welcome to nginx!'",
                   f"HTTP {status if status is not None else 'no answer'}, title {title!r}")


# --- 1.1 containers versus VMs ------------------------------------------------------------------

def shared_kernel(host_release: str, container_release: str) -> Verdict:
    """Judge engine.shared-kernel."""
    host_release, container_release = host_release.strip(), container_release.strip()
    return Verdict(bool(host_release) and host_release == container_release,
                   f"the host's kernel {host_release!r} inside the container", f"{container_release!r}")


def pid_isolation(inside_pid1: str, state_pid: int, top_pids: list[str], host_comm: str,
                  container_ns: str, host_ns: str) -> Verdict:
    """Judge engine.pid-isolation: PID 1 inside, an ordinary process on the host in another PID namespace."""
    inside_pid1, host_comm = inside_pid1.strip(), host_comm.strip()
    found = (f"inside PID 1 is {inside_pid1!r}; State.Pid {state_pid} (docker top: {', '.join(top_pids) or '-'}) "
             f"is {host_comm or 'no process'!r} on the host; namespaces {container_ns or '?'} vs host {host_ns or '?'}")
    ok = (bool(inside_pid1) and inside_pid1 == host_comm and state_pid > 1 and str(state_pid) in top_pids
          and bool(container_ns) and container_ns != host_ns)
    return Verdict(ok, "the container's PID 1 is host process State.Pid (not 1) in its own PID namespace", found)


def start_latency(elapsed_ms: float, budget_ms: int, exit_code: int | None) -> Verdict:
    """Judge engine.start-latency."""
    return Verdict(exit_code == 0 and elapsed_ms <= budget_ms, f"create+start+exit within {budget_ms} ms",
                   f"{elapsed_ms:.0f} ms, exit code {exit_code}")


def edition_of(version: dict) -> str:
    """'ee' or 'ce' from GET /version: Platform.Name, else the version suffix; distribution builds are community."""
    name = ((version.get("Platform") or {}).get("Name") or "").lower()
    number = str(version.get("Version", "")).lower()
    if "enterprise" in name or re.search(r"-ee\b", number):
        return "ee"
    return "ce"


def edition(version: dict, required: str, min_version: str | None) -> Verdict:
    """Judge engine.edition against the policy (edition any|ce|ee, minimum version)."""
    have = edition_of(version)
    platform = (version.get("Platform") or {}).get("Name") or "(none: distribution build)"
    found = f"{have.upper()} {version.get('Version')} (Platform.Name {platform})"
    expected = f"edition {required}" + (f", version >= {min_version}" if min_version else "")
    ok = required in ("any", have) and (not min_version or version_tuple(version.get("Version", "")) >= version_tuple(min_version))
    return Verdict(ok, expected, found)


# --- 1.3 images, rootfs, the read-write layer -------------------------------------------------------

def read_only(before: dict, after: dict, writes_exit: int) -> Verdict:
    """Judge image.read-only from the image's inspect data before and after a container wrote."""
    def layers(a):
        return (a.get("RootFS") or {}).get("Layers") or []
    same = before.get("Id") == after.get("Id") and layers(before) == layers(after)
    return Verdict(writes_exit == 0 and same, f"writes succeed and the image stays {before.get('Id', '?')[:19]} "
                                              f"with {len(layers(before))} layer(s)",
                   f"writes exit {writes_exit}; image now {after.get('Id', '?')[:19]} with layers "
                   + ("unchanged" if layers(before) == layers(after) else str(layers(after))))


def rootfs_dir(path: str, exit_code: int) -> Verdict:
    """Judge one image.rootfs directory."""
    return Verdict(exit_code == 0, f"{path} is a directory in the container's rootfs",
                   f"test -d {path} exit {exit_code}")


def process_cmd(image_config: dict, path: str, args: list[str], pid1_comm: str) -> Verdict:
    """Judge image.config-applied (CMD): the container runs Entrypoint+Cmd and PID 1 is that program."""
    want = list(image_config.get("Entrypoint") or []) + list(image_config.get("Cmd") or [])
    have = [path, *args]
    program = posixpath.basename(want[0]) if want else ""
    ok = bool(want) and want == have and pid1_comm.strip() == program[:15]  # comm holds 15 characters
    return Verdict(ok, f"process {want} (PID 1 {program!r})", f"process {have} (PID 1 {pid1_comm.strip()!r})")


def process_env(image_env: list[str], container_env: list[str], inside_env: str) -> Verdict:
    """Judge image.config-applied (ENV): the image's ENV is the container's and a process inside has it."""
    inside = {e for e in inside_env.splitlines() if e}
    missing = [e for e in image_env if e not in (container_env or [])]
    unseen = [e for e in image_env if e not in inside]
    found = ("all present" if not (missing or unseen) else
             f"missing from Config.Env {missing}, from the environment inside {unseen}")
    return Verdict(bool(image_env) and not missing and not unseen,
                   f"the image's ENV {image_env} in the container's Config.Env and in a process inside", found)


def root_mount(mountinfo: str) -> tuple[str, dict[str, str]]:
    """(fstype, super options) of the '/' mount in /proc/PID/mountinfo; ('', {}) if absent."""
    for line in mountinfo.splitlines():
        fields, sep, tail = line.partition(" - ")
        parts = fields.split()
        if sep and len(parts) >= 5 and parts[4] == "/":
            fstype, _, rest = tail.partition(" ")
            options = rest.partition(" ")[2]
            return fstype, dict(o.partition("=")[::2] for o in options.split(","))
    return "", {}


def layer_dirs(graph: dict, fstype: str, mount_options: dict[str, str]) -> tuple[list[str], str | None]:
    """(lower dirs, upper dir) from GraphDriver.Data, else (containerd store) the overlay root mount's options."""
    data = graph.get("Data") or {}
    if data.get("UpperDir"):
        return [d for d in (data.get("LowerDir") or "").split(":") if d], data["UpperDir"]
    # Only for a union driver: under vfs on a host that is itself a container, '/' can be the outer overlay.
    if fstype != "overlay" or graph.get("Name") not in profiles()["engine"]["union_drivers"]:
        return [], None
    lower = [d for d in mount_options.get("lowerdir", "").split(":") if d.startswith("/")]
    upper = mount_options.get("upperdir") or None
    return lower, upper


def union_mount(driver: str, union_drivers: list[str], lower: list[str], upper: str | None, fstype: str) -> Verdict:
    """Judge image.union-mount."""
    found = f"driver {driver or '?'}, root mount {fstype or '?'}, {len(lower)} lower dir(s), upper dir {upper or 'none'}"
    ok = driver in union_drivers and bool(lower) and bool(upper)
    return Verdict(ok, f"a union driver ({', '.join(union_drivers)}) with lower and upper dirs", found)


def copy_on_write(changes: list[dict], path: str, upper_sha: str | None, inside_sha: str,
                  lower_before: str | None, lower_after: str | None) -> Verdict:
    """Judge image.copy-on-write from docker diff, the upper dir's copy and the image's (lower) copy."""
    kinds = {c.get("Path"): DIFF_KINDS.get(c.get("Kind"), "?") for c in changes or []}
    found = (f"docker diff {path}: {kinds.get(path, 'not listed')}; upper copy sha256 {upper_sha or 'absent'}; "
             f"inside {inside_sha or '?'}; image copy {lower_before or '?'} -> {lower_after or '?'}")
    ok = (kinds.get(path) in ("C", "A") and bool(upper_sha) and upper_sha == inside_sha
          and bool(lower_before) and lower_before == lower_after and lower_before != inside_sha)
    return Verdict(ok, f"{path} listed C/A, its new content in the upper dir, the image's copy unchanged", found)


def no_leak(original_sha: str, written_sha: str, second_sees_file: bool, second_sha: str) -> Verdict:
    """Judge image.no-leak."""
    found = (f"first container changed the file {original_sha[:12]} -> {written_sha[:12]}; second container: "
             f"sha {second_sha[:12] or '?'}, sees the added file: {second_sees_file}")
    ok = original_sha != written_sha and second_sha == original_sha and not second_sees_file
    return Verdict(ok, "the second container has the image's original file and not the first one's new file", found)


def rm_discards(upper: str | None, upper_exists_after: bool | None, new_sees_file: bool) -> Verdict:
    """Judge image.rm-discards; upper None: the driver exposes no upper dir to look at."""
    found = (f"new container sees the change: {new_sees_file}; old upper dir {upper or '(driver exposes none)'} "
             + ("" if upper is None else ("still exists" if upper_exists_after else "gone")))
    return Verdict(not new_sees_file and not upper_exists_after,
                   "the change and the removed container's upper dir are gone", found)


def commit_persists(base_layers: list[str], new_layers: list[str], new_sees_file: bool) -> Verdict:
    """Judge image.commit-persists."""
    ok = new_sees_file and len(new_layers) == len(base_layers) + 1 and new_layers[: len(base_layers)] == base_layers
    return Verdict(ok, f"the base's {len(base_layers)} layer(s) plus one, and the change visible",
                   f"{len(new_layers)} layer(s) "
                   + ("on top of the base's" if new_layers[: len(base_layers)] == base_layers else "not based on the base's")
                   + f"; change visible: {new_sees_file}")


# --- 1.3 registries --------------------------------------------------------------------------------

def default_hub(info: dict, hub_index: str) -> Verdict:
    """Judge registry.default-hub."""
    index = info.get("IndexServerAddress")
    official = ((info.get("RegistryConfig") or {}).get("IndexConfigs") or {}).get("docker.io", {}).get("Official")
    return Verdict(index == hub_index and official is True, f"IndexServerAddress {hub_index}, docker.io official",
                   f"IndexServerAddress {index}, docker.io official: {official}")


def daemon_json_mirrors(content: str) -> list[str]:
    """registry-mirrors of a daemon.json text (raises json.JSONDecodeError or ValueError)."""
    data = json.loads(content)
    if not isinstance(data, dict):
        raise ValueError("the top level is not a JSON object")
    mirrors = data.get("registry-mirrors", [])
    if not isinstance(mirrors, list) or not all(isinstance(m, str) for m in mirrors):
        raise ValueError(f"registry-mirrors is not a list of strings: {mirrors!r}")
    return mirrors


def normalise(mirrors) -> list[str]:
    """The daemon adds a trailing '/' to each mirror (moby TestValidateMirror)."""
    return sorted(m.rstrip("/") for m in mirrors)


def mirror_configured(path: str, content: str | None, expected: tuple[str, ...]) -> Verdict:
    """Judge registry.mirror-configured."""
    want = f"{path} valid JSON with registry-mirrors " + (f"holding {', '.join(expected)}" if expected else "not empty")
    if content is None:
        return Verdict(False, want, f"{path} does not exist or cannot be read")
    try:
        mirrors = daemon_json_mirrors(content)
    except json.JSONDecodeError as e:
        return Verdict(False, want, f"{path} is not valid JSON: line {e.lineno} column {e.colno}: {e.msg}")
    except ValueError as e:
        return Verdict(False, want, f"{path}: {e}")
    missing = [m for m in expected if m.rstrip("/") not in normalise(mirrors)]
    return Verdict(bool(mirrors) and not missing, want,
                   f"registry-mirrors {mirrors}" + (f"; missing {missing}" if missing else ""))


def mirror_applied(file_mirrors: list[str], daemon_mirrors: list[str]) -> Verdict:
    """Judge registry.mirror-applied: drift between the file and the running daemon means a pending restart."""
    same = normalise(file_mirrors) == normalise(daemon_mirrors)
    return Verdict(same, f"the running daemon uses daemon.json's mirrors {file_mirrors}",
                   f"running daemon uses {daemon_mirrors}" + ("" if same else
                                                              " (drift: daemon.json changed, restart pending)"))


def mirrors_in_use(daemon_mirrors: list[str], file_mirrors: list[str]) -> list[str]:
    """The mirrors pulls go through: the running daemon's, else (not restarted yet) the file's."""
    return [m.rstrip("/") for m in (daemon_mirrors or file_mirrors)]


def mirror_reachable(answers: dict[str, int | None]) -> Verdict:
    """Judge registry.mirror-reachable: GET /v2/ answers 200 or 401 for every mirror."""
    bad = {m: s for m, s in answers.items() if s not in (200, 401)}
    found = ", ".join(f"{m}/v2/ -> {s if s is not None else 'no answer'}" for m, s in answers.items()) or "no mirror"
    return Verdict(bool(answers) and not bad, "GET <mirror>/v2/ answers 200 or 401", found)


def serves_pulls(answers: dict[str, tuple[int | None, str | None]], repo_digests: list[str]) -> Verdict:
    """Judge registry.mirror-serves-pulls: a mirror serves the manifest digest the engine pulled."""
    local = {d.partition("@")[2] for d in repo_digests}
    served = [m for m, (status, digest) in answers.items() if status == 200 and digest in local]
    found = ("; ".join(f"{m}: HTTP {s if s is not None else 'no answer'} digest {d or '-'}" for m, (s, d) in answers.items())
             + f"; local RepoDigests {repo_digests or 'none'}")
    return Verdict(bool(served), "a mirror serves hello-world:latest with a digest the engine pulled", found)

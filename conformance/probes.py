"""Probes: the generic readers of a target (testinfra host or docker-py engine) that the checks in suites/ share.

A probe reads the target and records what it ran or read in the check's evidence; what a reading means is
judged by conformance/judges/<section>.py. Checks call probe -> judge -> verdict.check().
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import json
import os
import pathlib
import re
import shlex
import signal
import ssl
import urllib.parse
from collections.abc import Callable

import docker
import requests
import requests.adapters
import urllib3
from testinfra.modules.package import DebianPackage, RpmPackage

from conformance import rootless, units
from conformance import engine as engines
from conformance.engine import bounded
from conformance.evidence import trim
from conformance.judges import engine_time, page_title
from conformance.judges import registry
from conformance.judges.registry import TlsTrust
from conformance.targets import is_local
from conformance.outcomes import ObserverError, TargetError, expect
from conformance.masking import clip

NGINX = "nginx:latest"
HELLO_WORLD = "hello-world:latest"


def text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else (output or "")


# testinfra's package modules by the package database a profile's hosts keep (profiles.toml <profile>.packages.database).
# host.package picks one by os-release ID, which it knows only for a few distributions (not alinux, amzn, anolis,
# tencentos ...), then by the tool that exists, dpkg-query first: an RPM host with dpkg installed was read from dpkg's.
PACKAGE_MODULES = {"rpm": RpmPackage, "dpkg": DebianPackage}


class Packages:
    """testinfra's package module of the profile's package database (rpm -q or dpkg-query), each answer recorded."""

    def __init__(self, host, evidence, database: str):
        module = PACKAGE_MODULES[database]
        self.module = type(module.__name__, (module,), {"_host": host})  # bound to the host as Module.get_module does
        self.evidence = evidence

    def installed(self, name: str) -> bool:
        package = self.module(name)
        found = package.is_installed
        version = package.version if found else None
        self.evidence.note(f"{self.module.__name__}({name!r}).is_installed -> {found}" + (f" (version {version})" if found else ""))
        return found


NEEDS_ROOT = "needs root on the target (ssh as root or ?sudo=true)"
DENIED = re.compile(r"Permission denied|Operation not permitted", re.I)  # Go tools (the docker CLI) write lower case
ABSENT = re.compile(r"No such file or directory")
CLI_SOCKET = re.compile(r"unix://(/\S+?):")  # "permission denied while trying to connect to ... at unix:///var/run/docker.sock: ..."
NOT_FOUND = re.compile(r"([^\s:]+): (?:command )?not found")
NO_PS = re.compile(r'"ps": executable file not found')  # GET /containers/{id}/top: the engine runs the host's ps


def observer_problem(rc: int, stderr: str, tools: tuple[str, ...] = (), paths: tuple[str, ...] = ()):
    """What kept an observing command from looking, as ("tool", name) or ("permission", path); None when the
    answer is the host's (success, or a finding such as No such file or directory).

    rc 127/126 is the shell's "not found" / "cannot execute": a tool the probe needs is missing on the target.
    Permission denied / Operation not permitted is the login's limit, not the host's state, when the probe met it:
    the line names one of the probe's paths, or, for a probe that names none, its command failed. A login's own
    noise on stderr (`ulimit: open files: cannot modify limit: Operation not permitted` from a ~/.bashrc, printed
    before every command) is neither."""
    if rc in (126, 127):
        named = NOT_FOUND.search(stderr)
        tool = next((t for t in tools if named and named.group(1).rsplit("/", 1)[-1] == t), None)
        return "tool", tool or (named.group(1) if named else (tools[0] if tools else "a command"))
    for line in stderr.splitlines():
        if DENIED.search(line):
            named = next((p for p in paths if p in line), None)
            if named or (not paths and rc != 0):
                return "permission", named or line.strip()
    return None


def observer_error(host, evidence, problem: tuple[str, str], doing: str) -> ObserverError:
    """The error naming the missing tool, or the path and the login that may not read it (its `id`, recorded)."""
    kind, subject = problem
    if kind == "tool":
        return ObserverError(f"{evidence.target_id}: cannot {doing}: {subject} is not on the target "
                             "(command not found); install it or observe as a login that has it")
    who = evidence.cmd(host, "id").stdout.strip() or "this login"
    return ObserverError(f"{evidence.target_id}: cannot {doing}: permission denied on {subject} as {who}; {NEEDS_ROOT}")


def observe(host, evidence, command: str, *args: str, tools: tuple[str, ...] = (), paths: tuple[str, ...] = (),
            doing: str = "observe the target"):
    """evidence.cmd, where the observer's own limits end the check as error (ObserverError), never failed:
    a needed tool that is missing (rc 127/126) or a path the login may not read. Other answers are the caller's."""
    result = evidence.cmd(host, command, *args)
    problem = observer_problem(result.rc, result.stderr, tools, paths)
    if problem:
        raise observer_error(host, evidence, problem, doing)
    return result


def docker_cli(host, evidence, command: str, *args: str):
    """evidence.cmd of the login's docker CLI. A permission denial (the engine's socket, to a login outside its group
    while the runner reaches the engine another way, --engine-url tcp://...) is the login's limit: an ObserverError,
    never the host's client or server missing. Other answers (a CLI that is not installed) are the caller's."""
    result = evidence.cmd(host, command, *args)
    problem = observer_problem(result.rc, result.stderr)
    if problem and problem[0] == "permission":
        socket = CLI_SOCKET.search(problem[1])  # the socket the CLI names, else its whole line
        raise observer_error(host, evidence, ("permission", socket.group(1) if socket else problem[1]),
                             "ask the host's docker CLI")
    return result


def read_file(host, evidence, path: str) -> str | None:
    """The file's text (host.file(path).content_string), or None when it is missing; both recorded.
    A file the login may not read is an ObserverError (error naming the permission), not a missing file."""
    file = host.file(path)
    try:
        content = file.content_string
    except RuntimeError as e:
        if not str(e).startswith("Unexpected output"):  # testinfra's word for `cat` exiting 1; else the link failed
            raise
        problem = observer_problem(1, str(e).replace("\\n", "\n"), paths=(path,))
        evidence.note(f"host.file({path!r}).content_string -> not read: "
                      + ("permission denied" if problem else "it cannot be read" if file.exists else "no such file"))
        if problem:
            raise observer_error(host, evidence, problem, f"read {path}") from None
        return None
    evidence.note(f"host.file({path!r}).content_string ->\n{trim(content)}")
    return content


def read_proc(host, evidence, pid: int | str, name: str, born: tuple[float | None, str] | None = None) -> str | None:
    """/proc/<pid>/<name>, or None when there is no such process. A /proc that hides other users' processes from
    the login (mounted hidepid=2, "invisible") makes every root process look gone: when PID 1 is not visible
    either, that is an ObserverError (the login cannot look), never a finding that the process is absent.
    born: (when, what) the process was there already, e.g. when its pidfile was written: a login whose PID namespace
    began after that cannot hold it (pid_namespace_after), an ObserverError too."""
    content = read_file(host, evidence, f"/proc/{pid}/{name}")
    if content is None and not exists(host, evidence, "/proc/1"):
        raise ObserverError(f"{evidence.target_id}: cannot read /proc/{pid}/{name}: /proc hides other users' "
                            f"processes from this login (not even PID 1 is visible: mounted with hidepid); {NEEDS_ROOT}")
    if content is None and born is not None and born[0] is not None:
        later = pid_namespace_after(host, evidence, born[0])
        if later:
            raise ObserverError(f"{evidence.target_id}: cannot read /proc/{pid}/{name}: {later}, after {born[1]} "
                                f"({_when(born[0])}): no process that old is in this login's /proc, whatever runs on "
                                "the host (a login that enters a PID namespace of its own: `unshare --pid` in its "
                                "shell's startup files, a container given the engine's socket); observe the host from "
                                "its own PID namespace")
    return content


BOOT_ID = "/proc/sys/kernel/random/boot_id"  # one per boot of a kernel, the same in all its namespaces (a VM has its own)


def unseen_on_this_kernel(host, evidence, container, pid: int) -> None:
    """read_proc found no process `pid` (State.Pid) of a running container. Where the container runs on the login's
    kernel (the same boot_id inside and here) the process is there, in a PID namespace this login's /proc does not
    hold (a login in a container or toolbox of its own, older than the container): an ObserverError. A container on
    another kernel (a VM's) returns: no such process on this host is the finding."""
    _, inside = run_in(container, ["cat", BOOT_ID], evidence, prints=True)
    here = evidence.cmd(host, "cat %s", BOOT_ID).stdout.strip()
    if here and inside.strip() == here:
        raise ObserverError(f"{evidence.target_id}: cannot read /proc/{pid}: container {container.short_id} runs on "
                            f"this login's kernel (boot_id {here} inside and here), but its process {pid} is not in "
                            "this login's /proc: the login runs in a PID namespace that does not hold the engine's "
                            "processes; observe the host from the engine's PID namespace")


def container_started(container) -> tuple[float | None, str]:
    """read_proc's born for a container's process: (its State.StartedAt, what that is)."""
    return engine_time(container.attrs["State"].get("StartedAt")), f"container {container.short_id} started"


# When the login's PID 1 started: its starttime (clock ticks after boot, field 22 of /proc/1/stat, after the name in
# parentheses) plus the boot time (btime, whole seconds, cut: the sum is never later than the true start).
PID1_START = "cat /proc/1/stat; grep '^btime ' /proc/stat; getconf CLK_TCK"


def pid1_started(stdout: str) -> tuple[str, float] | None:
    """(name, start as a POSIX time) of PID 1 from PID1_START's output; None when it does not read."""
    name, _, rest = stdout.partition(" (")[2].rpartition(") ")
    fields, btime = rest.split(), re.search(r"^btime (\d+)$", stdout, re.M)
    ticks = stdout.strip().rsplit("\n", 1)[-1].strip()
    if len(fields) < 20 or not fields[19].isdigit() or not btime or not ticks.isdigit() or int(ticks) == 0:
        return None
    return name, int(btime.group(1)) + int(fields[19]) / int(ticks)


def pid_namespace_after(host, evidence, when: float) -> str:
    """Why no process that was there at `when` can be in the login's /proc: the login's PID 1 started more than a
    second after it (every process of a PID namespace starts after its PID 1, so the login's namespace is younger
    than the process and never held it); '' when it did not, or its start does not read."""
    started = pid1_started(evidence.cmd(host, PID1_START).stdout)
    if started is None or started[1] <= when + 1:
        return ""
    return (f"this login runs in a PID namespace of its own: its PID 1 ({started[0]!r}) started at "
            f"{_when(started[1])}")


def _when(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256(host, evidence, path: str) -> str | None:
    """The file's sha256, or None when there is no such file; unreadable is an ObserverError.
    Not host.file(path).sha256sum: its `sha256sum | cut` pipeline answers nothing alike for both."""
    result = observe(host, evidence, "sha256sum -- %s", path, tools=("sha256sum",), paths=(path,),
                     doing=f"read {path}")
    found = result.stdout.split(" ")[0].strip() if result.rc == 0 else None
    evidence.note(f"sha256 of {path}: {found or 'none (no such file)'}")
    return found


def list_dir(host, evidence, path: str) -> list[str]:
    """The names in a directory ([] when it does not exist); unreadable is an ObserverError."""
    result = observe(host, evidence, "ls -1A -- %s", path, tools=("ls",), paths=(path,), doing=f"list {path}")
    names = result.stdout.split("\n") if result.rc == 0 else []
    return [name for name in names if name]


def addresses(host, evidence, name: str) -> list[str]:
    """The addresses a host name resolves to on the target (getent ahosts: the resolver order of nsswitch.conf)."""
    result = observe(host, evidence, "getent ahosts %s", name, tools=("getent",), doing=f"resolve {name}")
    return sorted({line.split()[0] for line in result.stdout.splitlines() if line.split()})


def rpm_macro(host, evidence, name: str) -> str:
    """The rpm macro's value on the target (`rpm --eval '%{?name}'`, read-only), or "" where it is undefined or the
    target has no rpm; the command and its answer recorded."""
    result = evidence.cmd(host, "rpm --eval %s", f"%{{?{name}}}")
    return result.stdout.strip() if result.rc == 0 else ""


def mtime(host, evidence, path: str) -> float | None:
    """When the file was last written (POSIX time, whole seconds), or None when it cannot be told."""
    result = evidence.cmd(host, "stat -c %%Y -- %s", path)
    return float(result.stdout.strip()) if result.rc == 0 and result.stdout.strip().isdigit() else None


# Where a marker file is made on the host: /tmp, else /var/tmp, where a login's /tmp is read-only (a CI runner container
# started with --read-only and the engine's socket: "Read-only file system").
MARKER = "mktemp /tmp/%s.XXXXXX || mktemp /var/tmp/%s.XXXXXX"


def marker(host, evidence, name: str) -> str:
    """Make an empty file on the host (mktemp, see MARKER) and return its path; where the login can create none, an
    ObserverError naming mktemp's answer: the crossing cannot be tried, which says nothing of the host."""
    made = evidence.cmd(host, MARKER, name, name)
    path = made.stdout.strip()
    if made.rc != 0 or not path:
        raise ObserverError(f"{evidence.target_id}: cannot make a marker file on the host in /tmp or /var/tmp: "
                            f"rc={made.rc} {clip(' '.join(made.stderr.split()), 300)}")
    return path


def exists(host, evidence, path: str) -> bool:
    """Whether the path exists on the target (host.file(path).exists)."""
    found = host.file(path).exists
    evidence.note(f"host.file({path!r}).exists -> {found}")
    return found


def units_settled(host, evidence, seconds: float) -> units.Snapshot:
    """The docker units read again once docker.service has left `activating` (systemd asked every 0.5 s, never the
    engine's socket), bounded by seconds."""
    looks = max(1, int(seconds * 2))
    wait = (f"i=0; while systemctl show -p ActiveState docker.service | grep -qx ActiveState=activating "
            f"&& [ $i -lt {looks} ]; do sleep 0.5; i=$((i+1)); done; ")
    return units.parse(evidence.cmd(host, wait + units.COMMAND, timeout=seconds + 5).stdout)


def stat_path(host, evidence, path: str) -> bool:
    """Whether path exists, proven either way: True when stat succeeds, False when it answers No such file or
    directory. Anything else (permission denied on a parent, ...) is an ObserverError: the login cannot look."""
    result = observe(host, evidence, "stat -c %%i -- %s", path, tools=("stat",), paths=(path,), doing=f"look at {path}")
    if result.rc == 0:
        return True
    if ABSENT.search(result.stderr):
        return False
    raise ObserverError(f"{evidence.target_id}: cannot look at {path}: stat answered rc {result.rc}, "
                        f"{result.stderr.strip()[:200]!r}")



def unit_state(host, evidence, unit: str) -> units.UnitState:
    """One unit as `systemctl show` and `systemctl is-enabled` print it (e.g. the unit an alias names)."""
    return unit_states(host, evidence, [unit])[0]


def unit_states(host, evidence, names: list[str]) -> list[units.UnitState]:
    """Several units as `systemctl show` and `systemctl is-enabled` print them, with one command."""
    found = units.parse(evidence.cmd(host, units.command(tuple(names))).stdout).units
    return [found.get(name) or units.UnitState(name) for name in names]


def in_boot_transaction(host, evidence, unit: str) -> bool:
    """Whether the unit is among default.target's dependencies (what systemd starts at boot)."""
    listing = evidence.cmd(host, "systemctl list-dependencies --plain --no-pager default.target")
    return unit in listing.stdout.split()


def persistent_wants_links(host, evidence, unit: str) -> str:
    """The persistent .wants/.requires links to the unit (under /etc and the unit directories, not /run), joined."""
    found = evidence.cmd(host, "ls -d " + " ".join(f"{d}/*.{kind}/%s" for d in ("/etc/systemd/system",
                                                                               "/lib/systemd/system",
                                                                               "/usr/lib/systemd/system")
                                                   for kind in ("wants", "requires")) + " 2>/dev/null",
                         *[unit] * 6)
    return " ".join(found.stdout.split())


def sysv_start_links(host, evidence, name: str) -> str:
    """The SysV start links of the init script `name` in /etc/rc[2-5].d, joined ('' when there are none); an error
    when the host has neither systemctl nor rc directories (nothing to ask whether it starts at boot)."""
    found = evidence.cmd(host, "ls -d /etc/rc[2-5].d >/dev/null 2>&1 || exit 3; ls -d /etc/rc[2-5].d/S[0-9][0-9]%s "
                               "2>/dev/null; true", name)
    if found.rc == 3:
        raise TargetError(f"{evidence.target_id}: service.enabled: no service manager found to ask whether {name} "
                          "starts at boot: no systemctl and no /etc/rc[2-5].d")
    return " ".join(found.stdout.split())


def image_export(client, image: str, evidence, seconds: float) -> tuple[int | None, str]:
    """(HTTP status, the engine's message) of GET /images/{image}/get, the export behind `docker save`: the engine
    writes every layer out first, checking each layer's files against its digest, and answers only then. The
    body (the image's tar) is never read: the response is closed once the status is known."""
    api = client.api
    url = f"{api.base_url}/v{api.api_version}/images/{urllib.parse.quote(image, safe='')}/get"
    with engines.reading(f"{evidence.target_id}: engine API GET /images/{image}/get"), \
            api.get(url, stream=True, timeout=seconds) as response:  # requests.Session.get: docker-py's own session
        status = response.status_code
        message = "" if status == 200 else _engine_message(response)  # reads the body: the engine may die meanwhile
    evidence.api(f"GET /images/{image}/get", status=status, message=message,
                 read="the status only; the response closed unread")
    return status, message


def _engine_message(response) -> str:
    try:
        return str(response.json().get("message", ""))
    except ValueError:
        return clip(response.text, 300)


# `docker exec -u 0`, for the experiments that write the container's files: the image's USER may not (an nginx:latest
# of the host's own that runs as www-data cannot write /etc/nginx/nginx.conf or /). Reads stay the image's user's: root
# without CAP_SYS_PTRACE may not read /proc/1/ns/pid of a PID 1 that runs as another user.
ROOT = "0"


def lines_for(*keys: str) -> Callable[[str], bool]:
    """A run_in `prints` rule: the output has a line whose first word is each of keys."""
    return lambda output: set(keys) <= {line.split()[0] for line in output.splitlines() if line.split()}


def has_lines(count: int) -> Callable[[str], bool]:
    """A run_in `prints` rule: the output has at least count lines that are not blank."""
    return lambda output: len([line for line in output.splitlines() if line.strip()]) >= count


def run_in(container, argv: list[str], evidence, seconds: float = 20,
           prints: bool | Callable[[str], bool] = False, user: str = "") -> tuple[int, str]:
    """Run argv in the container under coreutils timeout (exec_run has no client timeout); (exit code, output).
    prints: a read-only command whose output, when it exits 0, has a line (True) or meets this rule (lines_for,
    has_lines); user: as whom ('': the image's USER, as `docker exec` does)."""
    wrapped = ["timeout", str(int(seconds)), *argv]
    whole = prints if callable(prints) else has_lines(1)
    # docker-py lost the output a short command printed before the answer's head was read (docker/docker-py#3332,
    # #2042; read now through engine._UpgradedStream). Should it still fall short, a read-only command that must
    # print is asked again, at most twice, every attempt evidence, and then ends as an ObserverError.
    for _ in range(3 if prints else 1):
        result = bounded(lambda: container.exec_run(wrapped, user=user), seconds + 10,
                         f"{evidence.target_id}: exec in container {container.short_id}")
        output = text(result.output)
        evidence.api(f"POST /containers/{container.short_id}/exec", cmd=argv, **({"User": user} if user else {}),
                     exit_code=result.exit_code,
                     output=clip(output, 2000, end=True))
        if result.exit_code is not None and (result.exit_code != 0 or whole(output)):
            return result.exit_code, output
    if result.exit_code is None:  # exec inspect: still running after its stream ended (the stream was cut)
        raise ObserverError(f"{evidence.target_id}: `{shlex.join(argv)}` in container {container.short_id}: its "
                            "stream ended before the command did (the engine reports no exit code): not judged")
    if prints:  # what the command printed never arrived whole: nothing to judge, and no finding
        raise ObserverError(f"{evidence.target_id}: `{shlex.join(argv)}` in container {container.short_id} exited 0 "
                            f"three times without printing what it must (output {clip(output, 200, end=True)!r}): "
                            "its output was lost on the way; not judged")
    return result.exit_code, output


def wait_exit(container, evidence, seconds: float) -> int | None:
    """Wait for the container to exit; None when it did not within seconds."""
    try:
        status = container.wait(timeout=seconds)
    except requests.exceptions.RequestException as e:  # a read timeout arrives as ConnectionError over unix sockets
        evidence.api(f"POST /containers/{container.short_id}/wait", timeout_s=seconds, error=clip(e, 300))
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


def output_to_exit(make, image: str, command, evidence, seconds: float) -> tuple[int | None, str]:
    """Create a container, attach to its stdout and stderr, start it and read what it prints until it exits
    (bounded), then its exit code; (exit code or None, output). The process's own output as `docker run` reads it,
    whatever the engine's log driver: GET /logs is a side channel ("log-driver": "none" keeps no logs)."""
    __tracebackhide__ = True
    try:
        container = make.created(image, command)
    except docker.errors.APIError as e:
        evidence.api(f"POST /images/create, /containers/create ({image})", error=str(e.explanation or e))
        expect(False, f"{image} pulled and created", f"{type(e).__name__}: {e.explanation or e}")
    api = container.client.api
    stream = bounded(lambda: api.attach(container.id, stdout=True, stderr=True, stream=True, logs=False),
                     seconds, f"{evidence.target_id}: attach to container {container.short_id}")
    try:
        container.start()
    except docker.errors.APIError as e:
        engines.close_stream(stream)
        evidence.api(f"POST /containers/{container.short_id}/start", error=str(e.explanation or e))
        expect(False, f"{image} started", f"{type(e).__name__}: {e.explanation or e}")
    chunks: list[bytes] = []
    reading = f"{evidence.target_id}: read the output of container {container.short_id}"
    try:
        with engines.reading(reading):
            bounded(lambda: chunks.extend(stream), seconds, reading)
        exited = True
    except engines.StreamBroken:
        raise  # the engine or the link went away: nothing to judge
    except TargetError as e:
        container.reload()
        evidence.api(f"GET /containers/{container.short_id}/json", why="its output still open", Status=container.status)
        if container.status == "exited":  # it ended, yet its stream did not: the link held the output back
            raise ObserverError(f"{e}; the container had exited by then: its output was lost on the way; not judged")
        exited = False  # still running after `seconds` (e.g. a tag that names a server): not exited, as wait_exit says
    finally:
        engines.close_stream(stream)
    output = text(b"".join(chunks))
    code = wait_exit(container, evidence, seconds) if exited else None
    evidence.api(f"POST /containers/{container.short_id}/attach?stream=1&stdout=1&stderr=1 (before its start)",
                 image=image, cmd=command, exit_code=code, output=output[-2000:])
    if code == 0 and not output:
        output = logs_instead(container, evidence, seconds)
    return code, output


def logs_instead(container, evidence, seconds: float) -> str:
    """The output of an exited container whose attach read nothing: docker-py over ssh:// now and then returns an
    empty stream (docker/docker-py#3332, as for exec: run_in), seen in CI under load. The engine's log of it; where
    its log driver keeps none ("log-driver": "none") what it printed is unknown: an ObserverError, never ''."""
    call = f"GET /containers/{container.short_id}/logs?stdout=1&stderr=1"
    try:
        logs = text(bounded(lambda: container.logs(stdout=True, stderr=True), seconds + 10,
                            f"{evidence.target_id}: read the log of container {container.short_id}"))
    except docker.errors.APIError as e:
        evidence.api(call, why="the attach read nothing", error=clip(e, 300))
        raise ObserverError(f"{evidence.target_id}: container {container.short_id} exited 0, the attach to it read "
                            f"nothing and the engine keeps no log of it ({clip(e.explanation or e, 200)}): what it "
                            "printed is unknown; not judged") from e
    evidence.api(call, why="the attach read nothing", output=clip(logs, 2000, end=True))
    return logs


class CredentialsNeeded(ObserverError):
    """A registry answers only an authorised client: the suite has no credentials and never sends the operator's."""


HTTP_CLIENTS = ("curl", "wget", "python3", "busybox wget")  # tried in this order; the first found is used
# python3's stand-in for `curl -i`: no proxy (or only the one given), no redirect followed, TLS trusted as told
# ("on"/"off", then "ca=FILE" and "cert=CERT KEY" lines), the answer printed as status line, headers, body.
PYTHON_GET = """import ssl, sys, urllib.request as u, urllib.error as e
class Keep(u.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
url, seconds, proxy, tls = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4].split('\\n')
headers = dict(h.split(': ', 1) for h in sys.argv[5:])
context = ssl.create_default_context()
if hasattr(context, 'hostname_checks_common_name'):  # as Go since 1.15: only the subjectAltName names the host
    context.hostname_checks_common_name = False
if tls[0] == 'off':
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
for ca in tls[1:]:
    if ca.startswith('ca='): context.load_verify_locations(ca[3:])
    else: context.load_cert_chain(*ca[5:].split(' ', 1))
try:
    r = u.build_opener(u.ProxyHandler({'http': proxy, 'https': proxy} if proxy else {}), u.HTTPSHandler(context=context),
                       Keep).open(u.Request(url, headers=headers), timeout=seconds)
except e.HTTPError as error:
    r = error
except Exception as error:
    sys.exit(f'{type(error).__name__}: {error}')
head = f'HTTP/1.1 {r.code} {r.reason}' + ''.join(f'\\r\\n{k}: {v}' for k, v in r.headers.items())
sys.stdout.buffer.write(head.encode() + b'\\r\\n\\r\\n' + r.read())
"""

# The leaf certificate an https server presents, as PEM: one TLS handshake, nothing verified and no request sent
# (openssl s_client, else this python3 stand-in); through an http proxy with CONNECT, as dockerd goes through it.
PYTHON_LEAF = """import socket, ssl, sys
host, port, seconds, proxy = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
if proxy:
    name, _, number = proxy.rpartition(':')
    sock = socket.create_connection((name.strip('[]'), int(number)), seconds)
    sock.sendall(('CONNECT %s:%d HTTP/1.1\\r\\nHost: %s:%d\\r\\n\\r\\n' % (host, port, host, port)).encode())
    head = b''
    while b'\\r\\n\\r\\n' not in head and len(head) < 65536:
        chunk = sock.recv(4096)
        if not chunk: break
        head += chunk
    if head.split(b' ')[1:2] != [b'200']:
        sys.exit('proxy answered %r' % head.split(b'\\r\\n')[0][:200])
else:
    sock = socket.create_connection((host, port), seconds)
context = ssl.create_default_context()
context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
with context.wrap_socket(sock, server_hostname=host) as tls:
    print(ssl.DER_cert_to_PEM_cert(tls.getpeercert(True)))
"""
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")



class Http:
    """GET from the target, ignoring any proxy of the login: requests on local://, otherwise the first HTTP client
    the target has (HTTP_CLIENTS; bridge IPs are only reachable there). None of them: error naming the ones tried.
    With proxy, through that proxy only (the one dockerd itself would use for the URL)."""

    def __init__(self, host, evidence, timeout: float):
        self.host, self.evidence, self.timeout = host, evidence, timeout

    def get(self, url: str, accept: tuple[str, ...] = (), proxy: str | None = None, tls: TlsTrust | None = None,
            authorization: str | None = None) -> tuple[int | None, dict[str, str], str]:
        """(status or None when nothing answered, lower-cased headers, body). tls: how to trust an https answer
        (default: the system's roots, as any client). authorization: an Authorization header to send (the target's
        anonymous token; evidence masks it)."""
        if proxy:
            self.evidence.note(f"GET {url} through {proxy}, the proxy dockerd uses for it (GET /info)")
        if tls is not None:
            self.evidence.note(tls.why)
            self._can_read(url, tls)
        if is_local(self.host):
            session = requests.Session()
            session.trust_env = False  # not the runner's proxies: the target's own view of the URL
            session.proxies = {"http": proxy, "https": proxy} if proxy else {}
            if tls is not None:
                _trust_in_session(session, tls)
            try:
                headers = {"Accept": ", ".join(accept)} if accept else {}
                headers.update({"Authorization": authorization} if authorization else {})
                r = session.get(url, headers=headers, timeout=self.timeout)
                status, headers, body = r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.text
            except requests.exceptions.RequestException as e:
                self.evidence.note(f"requests.get({url!r}) -> {type(e).__name__}: {clip(e, 300)}")
                status, headers, body = None, {}, ""
        else:
            # One Accept header listing every type (as requests sends it): a client that keeps one header per name
            # (python3's urllib, wget) would otherwise send only the last, and the registry answer another manifest.
            sent = [f"Accept: {', '.join(accept)}"] if accept else []
            status, headers, body = self._remote(url, sent + ([f"Authorization: {authorization}"] if authorization
                                                               else []), proxy, tls)
        self.evidence.http(url, status, page_title(body))
        return status, headers, body

    def _can_read(self, url: str, tls: TlsTrust) -> None:
        """dockerd (root) reads certs.d's CA files and client pair; where this login may not read one, its GET cannot be
        dockerd's (curl and python3 fail before they connect, as if nothing answered): an ObserverError naming it."""
        files = (*(tls.ca_files if tls.verify else ()), *(tls.client_pair or ()))
        if files:
            observe(self.host, self.evidence, "cat" + " %s" * len(files) + " > /dev/null", *files, tools=("cat",),
                    paths=files, doing=f"probe {url} with dockerd's TLS files")

    def get_anonymously(self, url: str, accept: tuple[str, ...], repository: str,
                        proxy_for: Callable[[str], str | None], tls: TlsTrust | None = None
                        ) -> tuple[tuple[int | None, dict[str, str], str], str]:
        """GET a registry URL as dockerd's anonymous pull does (distribution registry/client/auth): on a 401 with a
        Bearer challenge, one token request to its realm (scope repository:<repository>:pull), through the proxy
        dockerd uses for the realm (proxy_for) with the endpoint's TLS trust, then one retry with the token.
        (the last answer, how it was authorised: '' when no token was asked). The suite has no credentials and
        sends none: a Basic challenge, or a token endpoint that refuses anonymous access, is CredentialsNeeded."""
        answer = self.get(url, accept, proxy=proxy_for(url), tls=tls)
        if answer[0] != 401:
            return answer, ""
        scheme, params = registry.auth_challenge(answer[1])
        if scheme == "basic":
            raise CredentialsNeeded(f"{self.evidence.target_id}: {url} asks for credentials (WWW-Authenticate Basic): "
                                "the suite has none and never sends the operator's, so it cannot see what an "
                                "authorised pull gets there")
        if scheme != "bearer":
            return answer, ""
        try:
            asked = registry.token_url(params, repository)
        except ValueError as refused:
            self.evidence.note(f"no token asked: {refused}")
            return answer, f"no token asked: {refused}"
        status, _, body = self.get(asked, proxy=proxy_for(asked), tls=tls if asked.startswith("https://") else None)
        if status in (401, 403):
            raise CredentialsNeeded(f"{self.evidence.target_id}: the token endpoint {asked} refuses anonymous access "
                                f"(HTTP {status}): the suite has no credentials and never sends the operator's, so it "
                                "cannot see what an authorised pull gets there")
        token = registry.anonymous_token(body) if status is not None and 200 <= status < 300 else None
        if token is None:
            seen = f"HTTP {status}" if status is not None else "no answer"
            return answer, f"token endpoint {asked} -> {seen}, no usable token"
        return self.get(url, accept, proxy=proxy_for(url), tls=tls, authorization=f"Bearer {token}"), (
            f"with an anonymous token from {asked}")

    def leaf_certificate(self, url: str, proxy: str | None = None) -> str | None:
        """The PEM of the certificate url's server presents (a handshake only: nothing sent, nothing verified), read
        on the target with openssl, else python3, through proxy when dockerd uses one; None when it cannot be read
        (no such tool, no answer, a proxy other than http://): the evidence says why."""
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port or 443
        if proxy and not proxy.startswith("http://"):
            self.evidence.note(f"{url}'s certificate not read: only through an http:// proxy, not {proxy}")
            return None
        seconds, via = str(int(self.timeout)), ""
        if proxy:  # host:port, Go's default port for an http:// proxy being 80
            through = urllib.parse.urlsplit(proxy)
            via = _host_port(through.hostname or "", through.port or 80)
        endpoint = _host_port(host, port)
        options = [*(["-servername", host] if registry._ip(host) is None else []), *(["-proxy", via] if via else [])]
        command = ("if command -v openssl >/dev/null 2>&1; then timeout %s openssl s_client -connect %s"
                   + " %s" * len(options) + " </dev/null 2>&1; "
                   "elif command -v python3 >/dev/null 2>&1; then timeout %s python3 -c %s %s %s %s %s 2>&1; "
                   "else echo 'neither openssl nor python3 on the target'; exit 127; fi")
        result = self.evidence.cmd(self.host, command, seconds, endpoint, *options, seconds, PYTHON_LEAF, host,
                                   str(port), seconds, via, timeout=self.timeout + 5)
        found = PEM_CERTIFICATE.search(result.stdout)
        if not found:
            last = (result.stdout.strip().splitlines() or ["no output"])[-1]
            self.evidence.note(f"{url}'s certificate not read (rc {result.rc}: {clip(last, 200)})")
            return None
        return found.group(0)

    def client(self) -> str:
        """The HTTP client to use on the target, looked for once per target (recorded in each check's evidence)."""
        backend = self.host.backend
        found = getattr(backend, "conformance_http_client", None)
        if found is None:
            script = ('for t in curl wget python3; do command -v "$t" >/dev/null && echo "$t"; done; '
                      'command -v busybox >/dev/null && busybox wget --help >/dev/null 2>&1 && echo "busybox wget"; true')
            result = self.evidence.cmd(self.host, script)
            have = [line.strip() for line in result.stdout.splitlines() if line.strip() in HTTP_CLIENTS]
            found = backend.conformance_http_client = have[0] if have else ""
        else:
            self.evidence.note(f"HTTP client on the target: {found or 'none'} (looked for {', '.join(HTTP_CLIENTS)} "
                               "earlier in this run)")
        if not found:
            raise ObserverError(f"{self.evidence.target_id}: cannot probe HTTP: no HTTP client on the target "
                                f"(looked for {', '.join(HTTP_CLIENTS)})")
        return found

    def _remote(self, url: str, headers: list[str], proxy: str | None = None, tls: TlsTrust | None = None
                ) -> tuple[int | None, dict[str, str], str]:
        """One GET with the target's client. curl and wget take one CA file per call: with several certs.d CAs each
        is tried in turn while the answer is a verification failure (a chain ends in one root, so some call
        verifies it exactly when dockerd's pool of them all does)."""
        tool = self.client()
        if tls is not None and tls.verify and tool == "busybox wget":
            raise ObserverError(f"{self.evidence.target_id}: cannot probe {url} as dockerd does: busybox wget, the "
                                "only HTTP client on the target, does not verify TLS certificates")
        # then the client's own roots (None): --capath /etc/ssl/certs holds no hashed roots on RHEL
        ca_files = (*tls.ca_files, None) if tls is not None and tls.verify and tool != "python3" else (None,)
        for ca_file in ca_files:
            command, args = self._command(tool, url, headers, proxy, tls, ca_file)
            if tls is not None and tls.verify:
                command = LOGIN_ROOTS_UNSET + command
            result = self.evidence.cmd(self.host, command, *args)
            if result.rc != TLS_VERIFY_FAILED.get(tool):
                break
        problem = observer_problem(result.rc, result.stderr, tools=(tool.split()[0],),
                                   paths=tls.client_pair if tls is not None and tls.client_pair else ())
        if problem:
            raise observer_error(self.host, self.evidence, problem, f"probe HTTP with {tool}")
        if result.rc - 128 in signal.valid_signals():  # the shell's 128 + signal: the client died, no host's answer
            raise ObserverError(f"{self.evidence.target_id}: cannot probe {url}: {tool} died of "
                                f"{signal.Signals(result.rc - 128).name}")
        if tool.endswith("wget"):
            head = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
            starts = [i for i, line in enumerate(head) if line.startswith("HTTP/")]  # the last answer's head
            return parse_http("\n".join(head[starts[-1]:]) + "\n\n" + result.stdout) if starts else (None, {}, "")
        return parse_http(result.stdout)


    def _command(self, tool: str, url: str, headers: list[str], proxy: str | None, tls: TlsTrust | None,
                 ca_file: str | None) -> tuple[str, list[str]]:
        seconds = str(int(self.timeout))
        pair = list(tls.client_pair) if tls is not None and tls.client_pair else []
        if tool == "curl":
            via, via_args = ("--noproxy '' --proxy %s", [proxy]) if proxy else ("--noproxy '*'", [])
            trust, trust_args = ("-k ", []) if tls is not None and not tls.verify else ("", [])
            if ca_file:  # --cacert replaces the default roots: --capath keeps the system's
                trust, trust_args = "--cacert %s --capath /etc/ssl/certs ", [ca_file]
            if pair:
                trust, trust_args = trust + "--cert %s --key %s ", [*trust_args, *pair]
            # -q first: not the login's ~/.curlrc (an `insecure` or `fail` there would change the answer)
            command = f"curl -q {via} {trust}-sS -i -m %s " + "-H %s " * len(headers) + "%s"
            return command, [*via_args, *trust_args, seconds, *headers, url]
        if tool == "python3":
            lines = ["off" if tls is not None and not tls.verify else "on"]
            lines += [f"ca={ca}" for ca in (tls.ca_files if tls is not None and tls.verify else ())]
            lines += [f"cert={pair[0]} {pair[1]}"] if pair else []
            # urllib skips the given proxy for hosts in the login's no_proxy: emptied, as for wget
            return (("env no_proxy= NO_PROXY= " if proxy else "") + "python3 -c %s %s %s %s %s" + " %s" * len(headers),
                    [PYTHON_GET, url, seconds, proxy or "", "\n".join(lines), *headers])
        # GNU wget or busybox wget: the answer's head on stderr (-S), its body on stdout
        if proxy:  # only the proxy given: the login's no_proxy emptied (busybox reads the proxy from the env)
            env, env_args = "env no_proxy= NO_PROXY= http_proxy=%s https_proxy=%s ", [proxy, proxy]
        else:
            env, env_args = "", []
        own = ("-nv --max-redirect=0 -t 1 --content-on-error " + ("-e use_proxy=on" if proxy else "--no-proxy")
               if tool == "wget" else "-q " + ("-Y on" if proxy else "-Y off"))
        # GNU wget: certificate checking said on the command line, over any check_certificate of a wgetrc
        verify = "off" if tls is not None and not tls.verify else "on"
        trust, trust_args = (f"-e check_certificate={verify} " if tool == "wget" else
                             "--no-check-certificate " if verify == "off" else ""), []
        if ca_file:
            trust, trust_args = trust + "--ca-certificate=%s --ca-directory=/etc/ssl/certs ", [ca_file]
        if pair:
            trust, trust_args = trust + "--certificate=%s --private-key=%s ", [*trust_args, *pair]
        if tool == "wget":
            bound, limit, args = "", "-T %s ", [*env_args, *trust_args, seconds]
        else:  # busybox bounded by timeout(1), not -T: Debian 12's busybox 1.35 wget dies of SIGSEGV with -T
            bound, limit, args = "timeout %s ", "", [*env_args, seconds, *trust_args]
        command = f"{env}{bound}{tool} -S {own} {trust}-O - {limit}" + "--header %s " * len(headers) + "%s"
        return command, [*args, *headers, url]


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# dockerd verifies with the system's roots (Go's SystemCertPool; SSL_CERT_FILE and SSL_CERT_DIR of dockerd's own
# environment): the login's, and curl's CURL_CA_BUNDLE, would make curl, wget (OpenSSL) or python3 trust other roots
LOGIN_ROOTS_UNSET = "env -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR "
TLS_VERIFY_FAILED = {"curl": 60, "wget": 5}  # their exit status when the peer's certificate did not verify


# The system's roots dockerd trusts on Linux, read as Go's crypto/x509 reads them (root_linux.go, loadSystemRoots in
# root_unix.go): the first of these files that reads, plus every file in these directories but a symlink to a name
# beside it (OpenSSL's hash links). The local:// session trusts these, never certifi's bundle nor OpenSSL's default
# paths (those follow the runner's SSL_CERT_FILE and SSL_CERT_DIR: the login's, not dockerd's, as for LOGIN_ROOTS_UNSET)
SYSTEM_ROOT_FILES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
                     "/etc/pki/tls/cacert.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem")
SYSTEM_ROOT_DIRS = ("/etc/ssl/certs", "/etc/pki/tls/certs", "/system/etc/security/cacerts",
                    "/data/misc/keychain/certs-added")


def system_roots() -> list[str]:
    """The PEM certificates of this machine's system roots as dockerd reads them (SYSTEM_ROOT_FILES, _DIRS)."""
    texts = []
    for path in SYSTEM_ROOT_FILES:
        try:
            texts.append(pathlib.Path(path).read_text(errors="replace"))
            break
        except OSError:
            continue
    for directory in SYSTEM_ROOT_DIRS:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                if not (entry.is_symlink() and "/" not in os.readlink(entry.path)):
                    texts.append(pathlib.Path(entry.path).read_text(errors="replace"))
            except OSError:
                continue
    return list(dict.fromkeys(PEM_CERTIFICATE.findall("\n".join(texts))))


def _trust_in_session(session: requests.Session, tls: TlsTrust) -> None:
    """A requests session that trusts as tls says: no verification, or the system's roots plus its CA files."""
    if not tls.verify:
        session.verify = False
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no default paths: system_roots() only
        context.hostname_checks_common_name = False  # as Go since 1.15 and urllib3 2's own contexts
        for pem in system_roots():
            try:
                context.load_verify_locations(cadata=pem)
            except ssl.SSLError:
                continue  # not a certificate OpenSSL parses: skipped, as Go's AppendCertsFromPEM skips one it cannot
        for ca in tls.ca_files:
            context.load_verify_locations(ca)
        session.mount("https://", _ContextAdapter(context))
    if tls.client_pair:
        session.cert = tls.client_pair


class _ContextAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter whose connections verify with the given ssl context only."""

    def __init__(self, context: ssl.SSLContext):
        self.context = context
        super().__init__()

    def cert_verify(self, conn, url, verify, cert):
        super().cert_verify(conn, url, verify, cert)
        conn.ca_certs = conn.ca_cert_dir = None  # not certifi's bundle, which urllib3 would load into the context

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self.context
        return super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy, **proxy_kwargs):  # through a proxy too (requests gives it no context)
        return super().proxy_manager_for(proxy, ssl_context=self.context, **proxy_kwargs)


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


# /etc/init.d/docker (Debian's docker.io, Docker CE's Debian and Ubuntu packages) starts "$DOCKERD" -p "$DOCKER_PIDFILE"
# $DOCKER_OPTS, its own defaults overridden by /etc/default/docker, which it sources: the start where no dockerd runs and
# systemd has no docker.service (sysvinit, `service docker start` on WSL without systemd, Devuan), and what a
# docker.service that systemd generated from it (ExecStart /etc/init.d/docker start) runs. Its default lines are
# evaluated and the file sourced as the script does, by the script's own interpreter (its #! line: Debian's is
# /bin/bash, so the file may use bash, e.g. DOCKER_OPTS+=, which a login's /bin/sh, dash, does not read), run as the
# kernel runs it: the interpreter and at most one argument, the rest of the line (`#!/usr/bin/env bash`,
# `#!/usr/bin/env -S bash -e`); a file the login may not read: `from=unreadable`.
SYSV_ARGV = r"""case "$argv" in ""|/etc/init.d/docker|/etc/init.d/docker[[:space:]]*)
if grep -qs '^DOCKERD=' /etc/init.d/docker && grep -qs 'DOCKER_OPTS' /etc/init.d/docker; then
  if [ -e /etc/default/docker ] && [ ! -r /etc/default/docker ]; then echo "from=unreadable"; argv=
  else echo "from=sysv"; argv=$(cd / && run=$(sed -n '1s/^#![[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/init.d/docker) &&
    with=$(sed -n '1{s/[[:space:]]*$//; s/^#![[:space:]]*[^[:space:]]*[[:space:]]*//p;}' /etc/init.d/docker) &&
    "${run:-sh}" ${with:+"$with"} -c 'eval "$(grep -E "^(BASE|DOCKERD|DOCKER_PIDFILE|DOCKER_OPTS)=" /etc/init.d/docker)"
    [ ! -f /etc/default/docker ] || . /etc/default/docker >/dev/null 2>&1; printf "%s\n" "$DOCKERD" -p "$DOCKER_PIDFILE" $DOCKER_OPTS')
  fi
fi ;; esac"""
SYSV_DEFAULTS = "/etc/default/docker"
# The pidfile of an argv (one word a line) as dockerd takes it, the last -p/--pidfile given (pflag): its DOCKER_PIDFILE,
# or a -p in DOCKER_OPTS after it; the forms of registry.dockerd_flags (-p X, -pX, -p=X, --pidfile X, --pidfile=X).
LAST_PIDFILE = (r"""awk 'p { f = $0 } { p = 0 } $0 == "-p" || $0 == "--pidfile" { p = 1 } """
                r"""/^--pidfile=/ { f = substr($0, 11) } /^-p./ { f = substr($0, 3); sub(/^=/, "", f) } END { print f }'""")


# The dockerd that serves this host: docker.service's MainPID, else the oldest dockerd in the observer's PID
# namespace (a host that runs lab hosts or other containers has their dockerds too); its argv one per line (from
# /proc, a bare first word, `dockerd` run from a PATH the login lacks as dockerd-rootless.sh does from the static
# rootless install's ~/bin, as the binary /proc/PID/exe names; else the argv systemd starts it with: where /proc
# hides root's processes from the login (hidepid), and where no dockerd runs, whose next start reads what that argv
# names; else SYSV_ARGV); where docker.service runs it (its MainPID), its ExecStart too, the argv of its next start,
# which a drop-in may have changed since (`--- next`);
# where /etc/init.d/docker started it (its pid in the pidfile of its own start's last -p, not the next start's: a
# DOCKER_PIDFILE changed since names a file not written yet), SYSV_ARGV as the next start (`next=sysv`, `--- next`),
# which /etc/default/docker may have changed since;
# then the version of the binary that reads the configuration at its next start.
SBIN_PATH = 'PATH="$PATH:/usr/sbin:/usr/bin:/sbin:/bin"'  # dockerd lives in sbin, which a login's PATH may lack
DOCKERD = r"""pid=$(systemctl show -p MainPID --value docker.service 2>/dev/null); main=$pid
case "$pid" in ""|0) main=; pid=$(pgrep -xo --ns $$ --nslist pid dockerd 2>/dev/null || pgrep -xo dockerd) ;; esac
echo "pid=$pid"; exe=dockerd; argv=
unit=$(systemctl show -p ExecStart --value docker.service 2>/dev/null | sed -n 's/.*argv\[\]=\([^;]*\);.*/\1/p' | tr ' ' '\n')
[ -z "$pid" ] || argv=$(tr '\0' '\n' 2>/dev/null < /proc/$pid/cmdline)
case "$(echo "$argv" | head -n 1)" in ""|*/*) ;; *) path=$(readlink /proc/$pid/exe 2>/dev/null) &&
  argv=$(echo "${path% (deleted)}"; echo "$argv" | tail -n +2) ;; esac
[ -n "$argv" ] || argv=$unit
""" + SYSV_ARGV + r"""
next=; if [ -n "$pid" ]; then running=$argv; argv=$unit
""" + SYSV_ARGV + r""" >/dev/null
[ "$argv" = "$unit" ] || [ "$(cat "$(echo "$running" | """ + LAST_PIDFILE + r""")" 2>/dev/null)" != "$pid" ] ||
  { echo "next=sysv"; next=$argv; }
argv=$running; fi
[ -z "$argv" ] || { echo "--- argv"; echo "$argv"; exe=$(echo "$argv" | head -n 1); }
case "$main:$(echo "$unit" | head -n 1)" in :*) ;; *:dockerd|*/dockerd) echo "--- next"; echo "$unit" ;; esac
[ -z "$next" ] || { echo "--- next"; echo "$next"; }
if [ -n "$pid" ]; then
""" + rootless.PROCESS + r"""
fi
echo "--- version"; """ + SBIN_PATH + r""" "${exe:-dockerd}" --version 2>&1"""


@dataclasses.dataclass(frozen=True)
class DaemonConfig:
    """The configuration dockerd reads: its --config-file (default daemon.json) as bytes, None when absent."""
    pid: str
    argv: tuple[str, ...]
    path: str
    raw: bytes | None
    version_text: str
    flag_mirrors: tuple[str, ...]


def parse_dockerd(stdout: str) -> tuple[str, tuple[str, ...], str]:
    """(pid, argv, version line) from the output of DOCKERD."""
    head, _, version = stdout.partition("--- version\n")
    pid_line, _, argv = head.partition("--- argv\n")
    pid = (pid_line.strip().splitlines() or [""])[0].removeprefix("pid=")
    argv = argv.partition("--- process\n")[0].partition("--- next\n")[0]
    return pid, tuple(a for a in argv.splitlines() if a), version.strip()


def parse_next_start(stdout: str) -> tuple[str, ...]:
    """The argv of the running dockerd's next start from DOCKERD's output: docker.service's ExecStart (unexpanded)
    where docker.service runs it, /etc/init.d/docker's where that script started it."""
    section = stdout.partition("--- version\n")[0].partition("--- next\n")[2].partition("--- process\n")[0]
    return tuple(a for a in section.splitlines() if a)


def dockerd_source(stdout: str) -> str:
    """Where DOCKERD took the argv of a start from SYSV_ARGV: 'sysv', 'unreadable', else ''."""
    found = re.search(r"^from=(\w+)$", stdout.partition("--- argv\n")[0], re.M)
    return found.group(1) if found else ""


def parse_dockerd_process(stdout: str) -> rootless.Dockerd | None:
    """The dockerd process (owner, the environment that places its configuration) from DOCKERD's output."""
    pid = parse_dockerd(stdout)[0]
    section = stdout.partition("--- version\n")[0].partition("--- process\n")[2]
    return rootless.parse(pid, section) if pid else None


DOCKERD_KEPT = "conformance.dockerd"  # Target.shared's key of the DOCKERD read kept for the target's later checks


def dockerd_output(target, evidence) -> str:
    """DOCKERD's output, read once per target (service.running, service.enabled and the registry checks judge it)
    where it found a dockerd and no connection can start another: systemd is not PID 1, or docker.service was active
    before the suite's first connection (Target.units); a later check's evidence gets the first read. Read again
    elsewhere: a connection since may have started docker.service (socket activation), whose dockerd DOCKERD names."""
    kept = target.shared.get(DOCKERD_KEPT)
    if kept is not None:
        evidence.note("dockerd as an earlier check of this target read it (read once per target):")
        evidence.items.append(kept[0])
        return kept[1]
    stdout = evidence.cmd(target.host, DOCKERD).stdout
    try:
        units = target.units()
        settled = not units.systemd_pid1 or units.service.active == "active"
    except TargetError:
        settled = False
    if parse_dockerd(stdout)[0] and settled:
        target.share(DOCKERD_KEPT, lambda: (evidence.items[-1], stdout))
    return stdout


def dockerd(target, evidence) -> rootless.Dockerd | None:
    """The running dockerd (see DOCKERD), read without a connection to the engine; None when none runs."""
    return parse_dockerd_process(dockerd_output(target, evidence))


def dockerd_pidfile(target, evidence, default: str) -> str:
    """The pidfile the dockerd that serves this host writes its pid to (DOCKERD's argv: the running dockerd's, else
    its next start's), read without a connection to the engine: its -p/--pidfile flag, which init scripts pass
    (Debian's /etc/init.d/docker passes -p "$DOCKER_PIDFILE", which /etc/default/docker may set), else default."""
    argv = parse_dockerd(dockerd_output(target, evidence))[1]
    named = registry.flag_values(argv, "--pidfile")
    evidence.note(f"dockerd's pidfile: {named[-1]} (its -p/--pidfile)" if named else
                  f"dockerd's pidfile: {default} (the default; no -p/--pidfile in {' '.join(argv) or 'no argv read'})")
    return named[-1] if named else default


# A word of ExecStart that names a variable: $VAR as a word of its own, ${VAR} anywhere (systemd.service(5), Command
# lines). systemctl show prints ExecStart's argv unexpanded: Debian's and Ubuntu's docker.service end in $DOCKER_OPTS.
UNIT_VARIABLE = re.compile(r"^\$(\w+)$|\$\{(\w+)\}")
UNIT_ENVIRONMENT = ("systemctl show -p Environment --value docker.service 2>/dev/null; echo '--- files'; "
                    "systemctl show -p EnvironmentFiles --value docker.service 2>/dev/null")


def expand_unit_argv(argv, environment: dict[str, str]) -> tuple[str, ...]:
    """ExecStart's argv as systemd starts it: a word $VAR becomes the variable's value split at whitespace (no word
    at all when it is unset or empty), ${VAR} within a word its value."""
    expanded: list[str] = []
    for arg in argv:
        whole = UNIT_VARIABLE.fullmatch(arg)
        if whole and whole.group(1):
            expanded.extend(environment.get(whole.group(1), "").split())
        else:  # $VAR matches only as the whole word: here every match is a ${VAR}
            expanded.append(UNIT_VARIABLE.sub(lambda m: environment.get(m.group(2), ""), arg))
    return tuple(expanded)


def parse_environment(text: str, file: bool = True) -> dict[str, str]:
    """The KEY=VALUE assignments of an EnvironmentFile= (one a line, the value all the rest of it, unquoted; comments
    # and ;, backslash continuations), or (file False) of `systemctl show -p Environment --value` (several a line)."""
    assignments: dict[str, str] = {}
    for line in text.replace("\\\n", "").splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, _, value = line.partition("=")
        try:
            words = [key + "=" + " ".join(shlex.split(value))] if file else shlex.split(line)
        except ValueError:
            words = [line] if file else line.split()
        for word in words:
            key, sep, value = word.partition("=")
            if sep and re.fullmatch(r"\w+", key.strip()):
                assignments[key.strip()] = value.strip()
    return assignments


def unit_environment(host, evidence) -> dict[str, str]:
    """docker.service's environment for its ExecStart: Environment=, then its EnvironmentFile= files, which win
    (systemd.exec(5)); a file that does not exist adds nothing. A file the login may not read: ObserverError."""
    listed = evidence.cmd(host, UNIT_ENVIRONMENT).stdout
    inline, _, files = listed.partition("--- files\n")
    environment = parse_environment(inline, file=False)
    for line in files.splitlines():
        path = line.rpartition(" (ignore_errors=")[0] if " (ignore_errors=" in line else line.strip()
        if not path:
            continue
        result = evidence.cmd(host, "cat -- %s", path)
        if result.rc == 0:
            environment.update(parse_environment(result.stdout))
        elif not ABSENT.search(result.stderr):
            raise ObserverError(f"{evidence.target_id}: cannot read {path}, an EnvironmentFile of docker.service whose "
                                f"variables its ExecStart uses: rc={result.rc} {result.stderr.strip()[:200]}")
    return environment


def validate_argv(argv, path: str) -> list[str]:
    """The arguments of `dockerd --validate` for the running dockerd: its own flags (argv[1:]: a key set both as a
    flag and in the file is refused at its next start, `hosts` against `-H fd://` on every systemd host) with its
    --config-file (and any --validate) dropped, then --validate --config-file PATH."""
    kept, skip = [], False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg == "--config-file":
            skip = True
        elif not arg.startswith("--config-file=") and arg not in ("--validate", "--validate=true"):
            kept.append(arg)
    return [*kept, "--validate", "--config-file", path]


def dockerd_refuses(host, evidence, config: DaemonConfig) -> str | None:
    """What `dockerd --validate` (23.0 on) says of the file dockerd reads when it refuses it, else None. The binary
    the running dockerd was started from, with that dockerd's own flags, merges them with the file, checks the
    result (unknown keys, types, a key set both ways, TLS files) and exits before it opens a socket or starts
    anything (moby v26.1.0 cmd/dockerd/daemon.go start(): loadDaemonCliConfig, newAPIServerTLSConfig, then
    `if opts.Validate { return nil }`); the checks a start makes after that (verifyDaemonSettings: --icc=false with
    --iptables=false) it never reaches. The running engine is not asked (tried on a lab host's 26.1 with -H fd://:
    no file changed, no listener)."""
    exe = config.argv[0] if config.argv else "dockerd"
    args = validate_argv(config.argv, config.path)
    result = evidence.cmd(host, SBIN_PATH + " %s" * (1 + len(args)), exe, *args)
    return None if result.rc == 0 else (result.stderr.strip() or result.stdout.strip() or f"exit status {result.rc}")


def dockerd_unknown_flags(host, evidence, config: DaemonConfig, names: list[str]) -> list[str]:
    """The names the dockerd binary that reads the file has no flag for: each asked as `dockerd --NAME=x --version`,
    which parses its flags, then prints its version and exits (cobra; nothing started or written): pflag's
    'unknown flag: --NAME', where a known flag takes x or refuses it as its value (checked on a lab host's 20.10)."""
    if not names:
        return []
    exe = config.argv[0] if config.argv else "dockerd"
    script = (f'for k; do {SBIN_PATH} "$0" "--$k=x" --version 2>&1 | grep -qF -- "unknown flag: --$k" && echo "$k"; '
              "done; true")
    result = evidence.cmd(host, "sh -c %s %s" + " %s" * len(names), script, exe, *names)
    return [line for line in result.stdout.splitlines() if line in names]


def dockerd_help(host, evidence, config: DaemonConfig) -> str:
    """`dockerd --help` of the binary that reads the file: its flags, each with the type pflag names for it (cobra
    prints it and exits; nothing started or written); '' where it does not answer."""
    exe = config.argv[0] if config.argv else "dockerd"
    result = evidence.cmd(host, SBIN_PATH + " %s --help", exe)
    return result.stdout if result.rc == 0 else ""


# docker.service's ExecStart as systemd keeps it (its D-Bus property, a(sasbttttuii): path, argv, ...), each word a JSON
# string (busctl --json, systemd 240 on): `systemctl show` joins the words with spaces, so one that holds a space
# ("--label=owner=ops team", quoted in the unit) reads as two, which dockerd refuses ("accepts no argument(s)").
UNIT_ARGV = ("busctl --json=short get-property org.freedesktop.systemd1 /org/freedesktop/systemd1/unit/docker_2eservice "
             "org.freedesktop.systemd1.Service ExecStart")


def unit_words(host, evidence) -> tuple[str, ...]:
    """docker.service's ExecStart word for word as systemd keeps it; () where busctl cannot answer (systemd before
    240, no system bus for the login, no such unit)."""
    result = evidence.cmd(host, UNIT_ARGV)
    try:
        return tuple(json.loads(result.stdout)["data"][0][1]) if result.rc == 0 else ()
    except (ValueError, LookupError, TypeError):
        return ()


def as_systemd_starts(host, evidence, argv: tuple[str, ...]) -> tuple[str, ...]:
    """An argv as systemd starts it: docker.service's ExecStart words with its $VAR and ${VAR} expanded from the unit's
    environment (a running dockerd's own argv has none, and is returned as it is)."""
    if not any(UNIT_VARIABLE.search(a) for a in argv):
        return argv
    expanded = expand_unit_argv(argv, unit_environment(host, evidence))
    evidence.note(f"docker.service's ExecStart {' '.join(argv)} as systemd starts it: {' '.join(expanded)}")
    return expanded


def daemon_config(target, evidence, default_path: str) -> DaemonConfig:
    """Find the running dockerd, the configuration file it reads (--config-file, else default_path) and its
    --registry-mirror flags, and read that file as bytes (base64: testinfra decodes output as text). Read once per
    target where dockerd_output keeps its read (no connection can start another dockerd; the registry checks ask four
    times): a later check's evidence gets the first read."""
    key = f"conformance.daemon-config {default_path}"
    kept = target.shared.get(key)
    if kept is not None:
        evidence.note("dockerd's configuration as an earlier check of this target read it (read once per target):")
        evidence.items.extend(kept[0])
        return kept[1]
    first = len(evidence.items)
    config = _read_daemon_config(target, evidence, default_path)
    if DOCKERD_KEPT in target.shared:
        target.share(key, lambda: (evidence.items[first:], config))
    return config


def _read_daemon_config(target, evidence, default_path: str) -> DaemonConfig:
    host, stdout = target.host, dockerd_output(target, evidence)
    pid, argv, version_text = parse_dockerd(stdout)
    following = parse_next_start(stdout)
    if (following or not pid) and not dockerd_source(stdout) and not re.search(r"^next=sysv$", stdout, re.M):
        # the words of docker.service's ExecStart, as `systemctl show` printed it
        exact = unit_words(host, evidence)
        argv, following = (exact if exact and " ".join(exact) == " ".join(words) else words
                           for words in (argv, following))
    argv = as_systemd_starts(host, evidence, argv)
    following = as_systemd_starts(host, evidence, following)
    if following and " ".join(following) != " ".join(argv):  # a drop-in, or DOCKER_OPTS, changed since it started
        changed = (f"/etc/init.d/docker's next start, with {SYSV_DEFAULTS}," if re.search(r"^next=sysv$", stdout, re.M)
                   else "docker.service's next start")
        evidence.note(f"{changed} runs {' '.join(following)}, not the running dockerd's "
                      f"{' '.join(argv)} (changed since it started): the next start's flags are judged")
        argv = following
    source = dockerd_source(stdout)
    if source == "unreadable":
        raise ObserverError(f"{evidence.target_id}: cannot read {SYSV_DEFAULTS}, which /etc/init.d/docker sources for the "
                            f"DOCKER_OPTS of dockerd's next start; {NEEDS_ROOT}")
    process = parse_dockerd_process(stdout)
    try:
        default = process.config_path(default_path) if process else default_path
    except ValueError as e:
        raise ObserverError(f"{evidence.target_id}: {e}") from None
    path = (registry.flag_values(argv, "--config-file") or [default])[-1]
    mirrors = tuple(registry.flag_values(argv, "--registry-mirror"))
    sysv = f"/etc/init.d/docker's start, with {SYSV_DEFAULTS}: {' '.join(argv)}" if source == "sysv" else ""
    running = (f"pid {pid}" + (f" (its argv not readable: {sysv})" if sysv else "") if pid else
               f"not running, its next start ({sysv or 'docker.service ExecStart'})")
    evidence.note(f"dockerd {running}: reads {path}"
                  + (" (--config-file)" if registry.flag_values(argv, "--config-file") else
                     f" (rootless: its user's default, not {default_path}; no --config-file)" if default != default_path
                     else " (the default; no --config-file)")
                  + (f"; --registry-mirror {list(mirrors)}" if mirrors else "") + f"; {version_text or 'version unknown'}")

    def decoded(stdout):
        try:
            return base64.b64decode(stdout).decode(errors="replace")
        except (binascii.Error, ValueError):
            return stdout
    result = evidence.cmd(host, "base64 -w 0 -- %s", path, shown=decoded)
    if result.rc == 0:
        raw = base64.b64decode(result.stdout)
    elif "No such file" in result.stderr:
        raw = None
    else:
        raise TargetError(f"{evidence.target_id}: cannot read {path}, the file dockerd reads: "
                          f"rc={result.rc} {result.stderr.strip()[:200]}")
    return DaemonConfig(pid, argv, path, raw, version_text, mirrors)

"""Per-target state for the whole session: probe, engine client, profile, facts, shared resources."""
from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any, NamedTuple

import docker.errors

from conformance import audit as audits, cleanup, engine as engines, engine_kind, hostkeys, units as unit_states
from conformance.config import Settings, TargetSettings
from conformance.evidence import KILL_AFTER
from conformance.masking import clip
from conformance.outcomes import ObserverError, TargetError, one_line
from conformance.profiles import READ_OS_RELEASE, os_release, profile_from_os_release, profile_of

DEFAULT_PORTS = {"ssh": "22", "safe-ssh": "22", "paramiko": "22"}  # a port shown in a display name only when not these


def _once(method):
    """Cache a method's result or its TargetError, so a broken target costs its timeout once."""
    name = "_cached_" + method.__name__

    def wrapper(self):
        if name not in self.__dict__:
            try:
                self.__dict__[name] = (True, method(self))
            except TargetError as e:
                self.__dict__[name] = (False, e)
        ok, value = self.__dict__[name]
        if not ok:
            raise type(value)(str(value))  # its own kind again (an ObserverError stays one)
        return value
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


def login_noise(stdout: str) -> str | None:
    """What is wrong when `true` run through the target's login printed something (None: it printed nothing). The
    login's shell prints it before every command (an echo in ~/.bashrc, which bash reads for ssh commands), so no
    answer the checks parse can be told from it: every check is an error naming the text, never failed."""
    if not stdout.strip():
        return None
    return (f"cannot observe: the login prints {one_line(stdout.strip(), 120)!r} on every command (`true` printed "
            "it; its shell's startup files, e.g. ~/.bashrc, for non-interactive commands): the checks cannot tell "
            "the target's answers from it; make the login print nothing unless interactive")


def display_name(spec: str, inventory_name: str | None = None) -> str:
    """A target's short name before it is made unique: its inventory name, else user@host[:port] (never a password;
    the port only when not the backend's default), `local` for local://."""
    if inventory_name:
        return inventory_name
    scheme, sep, rest = spec.partition("://")
    if not sep:
        scheme, rest = "paramiko", spec  # testinfra's backend for a bare host
    if scheme == "local":
        return "local"
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, hostport = netloc.rpartition("@")  # the last '@': a password with a raw '@' stays out
    user = urllib.parse.unquote(userinfo.split(":", 1)[0]) if at else ""
    if hostport.startswith("["):  # IPv6 literal
        host, _, port = hostport[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
    host = urllib.parse.unquote(host) or scheme
    port = "" if port == DEFAULT_PORTS.get(scheme) else port
    return (f"{user}@" if user else "") + (f"[{host}]" if port and ":" in host else host) + (f":{port}" if port else "")


def path_safe(name: str) -> str:
    """A display name as a file or folder name (evidence/<name>/) that a link can name as it is (no '#', no '/')."""
    return re.sub(r"^\.", "_", re.sub(r"[^\w.@+-]+", "_", name).strip("_")) or "target"


def display_names(targets: list[tuple[str, str | None]]) -> dict[str, str]:
    """target id -> display name for (target id, inventory name or None) in run order: display_name(), and unique
    also as a file name: a name taken by an earlier target gets #2, #3, ..."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for target_id, inventory_name in targets:
        base = name = display_name(target_id, inventory_name)
        n = 1
        while path_safe(name) in taken:
            n += 1
            name = f"{base}#{n}"
        taken.add(path_safe(name))
        names[target_id] = name
    return names


class Target:
    """One target host as given in --hosts; everything expensive is created once and lazily.

    id is the spec (settings, engine URL and conformance-cleanup go by it); name is its display name, which every
    message and report shows (display_names)."""

    def __init__(self, spec: str, host, settings: TargetSettings, run_id: str, name: str | None = None):
        self.id = spec
        self.name = name or display_name(spec)
        self.host = host
        self.settings = settings
        self.run_id = run_id
        self.shared: dict[str, Any] = {}
        self._teardowns: list[Callable[[], object]] = []
        self.audit = audits.Audit(spec, run_id)
        self.inventory_facts: dict[str, str] = {}
        self.host_keys = hostkeys.Policy(check=not settings.skip_host_key_check,
                                         ssh_config=getattr(host.backend, "ssh_config", None),
                                         names=(host.backend.hostname,))
        if hasattr(host.backend, "host_key_policy"):  # conformance.paramiko_backend: before its first connection
            host.backend.host_key_policy = self.host_keys
        # Every testinfra command of this host is bounded; the outer limit leaves room for coreutils timeout
        # (evidence.cmd's -k KILL_AFTER), whose rc 124 names the command more precisely.
        self.connection = engines.guard_backend(host.backend, self.name, settings.call_timeout + KILL_AFTER + 2)

    def __repr__(self) -> str:
        return f"<Target {self.name}>"

    def run(self, command: str, *args: str, what: str):
        """host.run under coreutils timeout, bounded again from outside; returns the CommandResult."""
        seconds = max(1, int(self.settings.call_timeout))
        line = self.host.backend.quote(command, *args)
        try:
            return self.host.run("timeout %s sh -c %s", str(seconds), line, conformance_bound=seconds + 2)
        except engines.LinkFailed as e:
            raise TargetError(f"{self.name}: {what}: {e.reason}") from e
        except TargetError as e:
            raise TargetError(f"{self.name}: {what}: {str(e).removeprefix(self.name + ': ')}") from e
        except Exception as e:  # noqa: BLE001 - any backend failure means the target is unreachable
            stderr = getattr(e.args[0], "stderr", None) if e.args else None
            detail = engines.ssh_reason(stderr) if stderr else (str(e) or type(e).__name__)
            raise TargetError(f"{self.name}: {what}: {one_line(detail)}") from e

    @_once
    def reachable(self) -> bool:
        """Probe the target once with a trivial command: it must succeed and print nothing (a login that prints on
        every command, e.g. an echo in ~/.bashrc, mixes its text into every answer the checks parse)."""
        result = self.run("true", what="run a command")
        if result.rc != 0:
            raise TargetError(f"{self.name}: run a command: rc={result.rc} {one_line(result.stderr)}")
        noise = login_noise(result.stdout)
        if noise:
            raise ObserverError(f"{self.name}: {noise}")
        return True

    @_once
    def units(self) -> unit_states.Snapshot:
        """docker.service and docker.socket as systemd reports them, read once, before any connection to the engine
        (a connection would start a socket-activated docker.service); the leak audit compares them at the end."""
        result = self.run(unit_states.COMMAND, what="read the docker units (systemctl show, systemctl is-enabled)")
        snapshot = unit_states.parse(result.stdout)
        self.audit.start_units(snapshot)
        # Registered before any engine teardown, so it runs last: after the sweep and the audit's engine part.
        self.on_teardown(lambda: self.audit.finish_units(self))
        return snapshot

    def engine_opened(self) -> bool:
        """Whether this process has a client of the target's engine (without making one)."""
        return self.__dict__.get("_cached__engine", (False,))[0]

    @property
    def engine(self):
        """The docker-py client of this target (created once per process, after the docker units were read)."""
        return self._engine()

    @_once
    def engine_url(self) -> str:
        """The engine's URL (engines.url_for), resolved once: for the connection and the facts' engine route."""
        return engines.url_for(self.id, self.host.backend, self.settings.engine_url)  # its message names the spec

    @_once
    def _engine(self):
        self.units()  # never connect before the service state is read: the connection may start the service
        url = self.engine_url()
        try:
            client = engines.connect(self.name, url, self.settings.call_timeout, self.host_keys)
        except TargetError as e:
            # a frozen engine: dial-stdio would hang as long again and say nothing more
            said = "" if isinstance(e, engines.NoAnswer) or engines.timed_out(e) else self._dial_stdio_says(url)
            if not said:
                raise
            head = f"{self.name}: connect to engine {url}: "
            raise TargetError(f"{head}the login's `docker system dial-stdio` says: {said} "
                              f"(docker-py: {str(e).removeprefix(head)})") from e
        breaker = engines.guard_client(client, self.name, self.settings.call_timeout)
        self.on_teardown(client.close)
        # Registered right after the client, so they run last before close, after every shared teardown:
        # the sweep of this run's labels, then the audit's second snapshot.
        self.on_teardown(lambda: self.audit.finish(self, client, self._released()))
        self.on_teardown(lambda: (breaker.reset(), cleanup.sweep(client, self.run_id, self._released()))[1])
        self.audit.start(self, client)
        return client

    def _dial_stdio_says(self, url: str) -> str:
        """Over ssh:// docker-py talks through the login's own `docker system dial-stdio` and drops what it prints:
        when that CLI reaches no engine (the login's DOCKER_HOST or docker context names another, no permission on
        the socket) its first line on stderr says why ('' if nothing). Asked only after the connection failed."""
        if not url.startswith("ssh://"):
            return ""
        try:
            result = self.run("docker system dial-stdio < /dev/null", what="ask the login's docker CLI")
        except TargetError:
            return ""
        return clip(next((line.strip() for line in result.stderr.splitlines() if line.strip()), ""), 300)

    def _released(self) -> dict[str, str]:
        """What became of the images the run pulled (the sweep adds those it removes once their containers went)."""
        pulled = self.shared.get("conformance.pulled")
        return pulled.released if pulled else {}

    @property
    def profile(self) -> str:
        return self._profile()[0]

    @property
    def profile_reason(self) -> str:
        return self._profile()[1]

    @_once
    def _profile(self) -> tuple[str, str]:
        if self.settings.profile != "auto":
            return self.settings.profile, f"set by {self.settings.profile_source}"
        result = self.host_answers()["os-release"]
        if result.rc == 0:
            profile, how = profile_from_os_release(result.stdout)
            return profile, f"auto: {how}"
        # RHEL 6 and older have no os-release, only /etc/redhat-release.
        legacy = self.run("cat /etc/redhat-release", what="read /etc/redhat-release")
        if legacy.rc == 0 and legacy.stdout.strip():
            return profile_of({"rhel"}), f"auto: /etc/redhat-release says {legacy.stdout.strip()!r}"
        return "unknown", "auto: neither /etc/os-release, /usr/lib/os-release nor /etc/redhat-release is readable"

    @property
    def make(self) -> cleanup.Factory:
        """A factory whose objects live until the end of the session (for shared resources)."""
        return self.share("conformance.make", lambda: self._factory(), lambda f: f.cleanup())

    def _factory(self) -> cleanup.Factory:
        return cleanup.Factory(self.engine, self.run_id, self.pulled_images)

    @property
    def pulled_images(self) -> cleanup.PulledImages:
        """Images present before the run, and those the run pulled (removed when the session ends)."""
        return self.share("conformance.pulled", lambda: cleanup.PulledImages(self.engine, self.run_id, self.name),
                          lambda p: p.remove_pulled())

    def share(self, key: str, create: Callable[[], Any], destroy: Callable[[Any], object] | None = None) -> Any:
        """Return shared[key], creating it once; destroy(value) runs when the session ends."""
        if key not in self.shared:
            value = create()
            self.shared[key] = value
            if destroy is not None:
                self.on_teardown(lambda: destroy(value))
        return self.shared[key]

    def on_teardown(self, callback: Callable[[], object]) -> None:
        self._teardowns.append(callback)

    def facts(self) -> dict[str, str]:
        """Facts for the report (inventory name, groups and labels first); a fact not read says so. The engine's
        are read only from a client the checks opened (never opened for the facts: service.running is judged
        first), so a later check's report carries them."""
        facts = {**self.inventory_facts, **self._host_facts()}
        if self.engine_opened() and "_engine_facts" not in self.__dict__:
            self.__dict__["_engine_facts"] = gather_engine_facts(self)
        facts.update(self.__dict__.get("_engine_facts", {}))
        for key in ENGINE_FACTS:
            facts.setdefault(key, "not read: the run did not connect to the engine (yet)")
        unchecked = self.host_keys.fact()  # read each time: the keys accepted so far
        if unchecked:
            facts["SSH host key"] = unchecked
        return facts

    @_once
    def _host_facts(self) -> dict[str, str]:
        return gather_host_facts(self)

    @_once
    def host_answers(self) -> dict[str, Answer]:
        """os-release and the host's facts (HOST_READS), read once with one command; no engine is asked."""
        self.reachable()
        reads = {name: command for name, command in HOST_READS.items()
                 if name != "engine route" or engine_route_read(self)}
        what = "read os-release and the host's facts"
        stdout = self.run(host_reads_script(reads), what=what).stdout
        try:
            return host_reads_answers(stdout, reads)
        except TargetError as e:
            raise TargetError(f"{self.name}: {what}: {e}") from None

    @_once
    def observer_container(self) -> str:
        """The engine's own container the login runs in ('' when none): the login is in a container (its
        /etc/hostname is bound from <engine root>/containers/<id>/hostname) given the engine's socket (bound in
        at /var/run/docker.sock), and the engine has a container of that id. Its reads of os-release, packages,
        units and daemon.json are then the container's. The engine is asked only then: a connection may start a
        socket-activated engine, and there it runs the login's container."""
        found = login_container(self.host_answers()["container"].stdout)
        if not found:
            return ""
        try:
            container = self.engine.api.inspect_container(found)
        except docker.errors.NotFound:
            return ""
        except docker.errors.APIError as e:
            raise TargetError(f"{self.name}: ask the engine for container {found[:12]}, the login's own: "
                              f"{one_line(str(e))}") from None
        return f"{str(container.get('Name', '')).lstrip('/')} ({found[:12]})"

    def close(self) -> list[str]:
        """Run teardown callbacks, newest first; the last ones sweep this run's labels and close the client."""
        problems = []
        while self._teardowns:
            callback = self._teardowns.pop()
            try:
                result = callback()
                problems += result if isinstance(result, list) else []
            except Exception as e:  # noqa: BLE001 - one failed cleanup must not stop the others
                problems.append(one_line(str(e) or type(e).__name__))
        self.shared.clear()
        return problems


ENGINE_FACTS = ("engine version", "engine", "storage driver", "cgroup driver", "mirrors")


def gather_host_facts(target: Target) -> dict[str, str]:
    facts: dict[str, str] = {}
    try:
        answers = target.host_answers()
        fields = os_release(answers["os-release"].stdout)
        facts["OS"] = fields["PRETTY_NAME"] if "PRETTY_NAME" in fields else "could not read os-release"
        kernel = answers["kernel"]
        facts["kernel"] = kernel.stdout.strip() if kernel.rc == 0 else f"could not read: rc={kernel.rc}"
        init = answers["init"]
        facts["init (PID 1)"] = init_fact(init.stdout.strip()) if init.rc == 0 else f"could not read: rc={init.rc}"
        facts["observer"] = observer(target, answers["observer"])
        facts["engine socket"] = engine_kind.socket_fact(answers["engine socket"].stdout.strip())
        facts["engine route"] = engine_route(target, answers.get("engine route"))
    except TargetError as e:
        facts["OS"] = facts["kernel"] = facts["init (PID 1)"] = facts["observer"] = facts["engine socket"] = \
            facts["engine route"] = f"could not read: {e}"
    try:
        service = target.units().service
        facts["docker.service"] = (service.state or "not read (systemd is not PID 1)") + \
            f", is-enabled {service.enabled_word or '(nothing)'}" + (", socket-activated" if target.units().socket_activated else "")
    except TargetError as e:
        facts["docker.service"] = f"could not read: {e}"
    return facts


# The login's docker CLI settings that choose its engine, read from its environment and files only: any docker
# command, `docker context inspect` too, pings the engine first, and a ping starts a socket-activated docker.service.
# Only currentContext is taken from config.json (the rest may hold credentials).
CLI_ROUTE = r"""cfg="${DOCKER_CONFIG:-$HOME/.docker}"
printf 'DOCKER_HOST=%s\nDOCKER_CONTEXT=%s\n' "${DOCKER_HOST-}" "${DOCKER_CONTEXT-}"
grep -o '"currentContext"[^,}]*' "$cfg/config.json" 2>/dev/null
for meta in "$cfg"/contexts/meta/*/meta.json; do [ -f "$meta" ] && { cat "$meta"; echo; }; done; true"""


class Answer(NamedTuple):
    """One command's exit status and output, from HOST_READS' one command."""
    rc: int
    stdout: str


# What the run reads of the host itself (os-release for the profile, the rest for the report's facts), asked with one
# command: each read's output follows a line naming it, and its exit status a line after it.
HOST_READS = {"os-release": READ_OS_RELEASE, "kernel": "uname -r", "init": "cat /proc/1/comm", "observer": "id",
              "engine socket": "readlink -e /var/run/docker.sock", "engine route": CLI_ROUTE,
              "container": "grep -E ' /etc/hostname | /(var/)?run/docker[.]sock ' /proc/self/mountinfo"}
READ_MARK = "@@conformance-read"

# /proc/self/mountinfo: a container's /etc/hostname is bound from its engine's per-container folder, Docker's
# <root>/containers/<id>/hostname, Podman's .../overlay-containers/<id>/userdata/hostname (field 4, the mount's root).
CONTAINER_HOSTNAME = re.compile(r"/([0-9a-f]{64})(?:/userdata)?/hostname$")


def login_container(mountinfo: str) -> str:
    """The id of the container the login runs in when it is given an engine's socket, from /proc/self/mountinfo
    lines: its /etc/hostname bound from a container's folder, and /var/run/docker.sock (or /run/docker.sock) a
    mount point; '' otherwise (a host, or a container that runs its own engine, as the lab's hosts do)."""
    mounts = {fields[4]: fields[3] for fields in (line.split() for line in mountinfo.splitlines()) if len(fields) > 4}
    named = CONTAINER_HOSTNAME.search(mounts.get("/etc/hostname", ""))
    socket = "/var/run/docker.sock" in mounts or "/run/docker.sock" in mounts
    return named.group(1) if named and socket else ""


def host_reads_script(reads: dict[str, str]) -> str:
    """One shell script that runs each read in a subshell (stderr dropped) between READ_MARK lines."""
    return "\n".join(f"echo '{READ_MARK} {name}'; ( {command}\n) 2>/dev/null; printf '\\n{READ_MARK}-rc %s\\n' \"$?\""
                     for name, command in reads.items())


def host_reads_answers(stdout: str, reads: dict[str, str]) -> dict[str, Answer]:
    """Each read's Answer from host_reads_script's output; a read whose lines are missing (the script was cut short)
    raises TargetError naming it."""
    answers = {}
    for block in stdout.split(f"{READ_MARK} ")[1:]:
        name, _, rest = block.partition("\n")
        output, marked, rc = rest.rpartition(f"\n{READ_MARK}-rc ")
        if marked and rc.strip().isdigit():
            answers[name] = Answer(int(rc.strip()), output)
    missing = [name for name in reads if name not in answers]
    if missing:
        raise TargetError(f"no answer for {', '.join(missing)} (the command's output ends early)")
    return answers


def cli_route(output: str) -> tuple[str, str]:
    """(context, engine host) the login's docker CLI uses, from CLI_ROUTE's output, as the CLI resolves them:
    DOCKER_HOST, else DOCKER_CONTEXT, else config.json's currentContext, else the default context; a named context's
    host from its meta.json (contexts/meta/<sha256 of the name>/meta.json: matched here by its Name field)."""
    env = dict(line.split("=", 1) for line in output.splitlines()[:2] if "=" in line)
    if env.get("DOCKER_HOST"):
        return "default (DOCKER_HOST)", env["DOCKER_HOST"]
    current = re.search(r'"currentContext"\s*:\s*"([^"]*)"', output)
    name = env.get("DOCKER_CONTEXT") or (current.group(1) if current else "") or "default"
    if name == "default":
        return name, "unix:///var/run/docker.sock"
    for line in output.splitlines():
        try:
            meta = json.loads(line)
        except ValueError:
            continue
        if isinstance(meta, dict) and meta.get("Name") == name:
            return name, str(((meta.get("Endpoints") or {}).get("docker") or {}).get("Host") or "?")
    return name, "? (no meta.json names it)"


def engine_route_read(target: Target) -> bool:
    """Whether the engine route needs the login's CLI settings: over ssh:// with no --engine-url."""
    try:
        url = target.engine_url()
    except Exception:  # noqa: BLE001 - no route at all: engine_route says so in the facts; the profile needs none
        return False
    return not target.settings.engine_url and url.startswith("ssh://")


def engine_route(target: Target, cli_settings: Answer | None) -> str:
    """Which engine the checks talk to: --engine-url or the runner's, else over ssh:// the one the login's docker CLI
    reaches (docker-py runs its `docker system dial-stdio`: the login's DOCKER_HOST or docker context decides), from
    CLI_ROUTE's answer."""
    url = target.engine_url()
    if cli_settings is None:
        return url
    name, host = cli_route(cli_settings.stdout)
    usual = host in ("unix:///var/run/docker.sock", "unix:///run/docker.sock")
    return (f"{url}, through the login's docker CLI: context {name}, {host}"
            + ("" if usual else " (not the system socket /var/run/docker.sock: the engine checks judge that engine)"))


def observer(target: Target, found: Answer) -> str:
    """Who the suite observes the target as (`id`'s answer; under ?sudo=true the id sudo gives the login, and says
    so): what it can see depends on it (README: Who observes)."""
    who = found.stdout.strip() if found.rc == 0 else f"could not read: rc={found.rc}"
    return who + (" (through sudo)" if getattr(target.host.backend, "sudo", False) else "")


def gather_engine_facts(target: Target) -> dict[str, str]:
    facts: dict[str, str] = {}
    try:
        info = target.engine.info()
        facts["engine version"] = str(info.get("ServerVersion", "not reported"))
        facts["engine"] = engine_kind.describe(target.engine.version(), info)
        facts["storage driver"] = str(info.get("Driver", "not reported"))
        facts["cgroup driver"] = str(info.get("CgroupDriver", "not reported"))
        mirrors = (info.get("RegistryConfig") or {}).get("Mirrors") or []
        facts["mirrors"] = ", ".join(mirrors) or "none"
    except Exception as e:  # noqa: BLE001 - facts never fail a check
        for key in ENGINE_FACTS:
            facts[key] = f"could not read: {one_line(str(e) or type(e).__name__)}"
    return facts


def init_fact(comm: str) -> str:
    """What PID 1 is: systemd, or another init (then no systemd unit runs the engine)."""
    return "systemd" if comm == "systemd" else f"{comm or '?'}: not systemd (no systemd unit runs the engine)"


def is_local(host) -> bool:
    """The target is this machine (testinfra's local backend)."""
    return host.backend.get_connection_type() == "local"


class Targets:
    """The session's targets, keyed by the spec exactly as given in --hosts."""

    def __init__(self, specs: list[str], settings: Settings, run_id: str, host_options: dict[str, Any],
                 inventory=None, names: dict[str, str] | None = None):
        self.specs = specs
        self.given_names = names or {}  # --shard: the names of a run over every target (conformance.shard)
        self.inventory = inventory.by_spec() if inventory is not None else {}
        self.settings = settings
        self.run_id = run_id
        self.host_options = host_options
        self._spec_by_pytest_id: dict[str, str] | None = None
        self._names: dict[str, str] | None = None
        self._targets: dict[str, Target] = {}

    def _by_pytest_id(self) -> dict[str, str]:
        """pytest id -> target id, in --hosts order: the spec, or the pytest id where a spec names several hosts."""
        if self._spec_by_pytest_id is None:
            import testinfra.backend  # late: importing it before its plugin loads defeats assert rewriting
            mapping: dict[str, str] = {}
            for spec in self.specs:
                backends = testinfra.backend.get_backends([spec], **self.host_options)
                for backend in backends:
                    pid = backend.get_pytest_id()
                    mapping.setdefault(pid, spec if len(backends) == 1 else pid)
            self._spec_by_pytest_id = mapping
        return self._spec_by_pytest_id

    def spec_of(self, host) -> str:
        """The --hosts spec a testinfra host came from (testinfra only keeps its pytest id)."""
        pid = host.backend.get_pytest_id()
        return self._by_pytest_id().get(pid, "local://" if pid == "local" else pid)

    def name_of(self, target_id: str) -> str:
        """The target's display name, unique in the run (the same in every xdist process: same specs, same order)."""
        if self._names is None:
            ids = dict.fromkeys(self._by_pytest_id().values())
            self._names = display_names([(i, self.inventory[i].name if i in self.inventory else None) for i in ids])
            self._names.update({i: n for i, n in self.given_names.items() if i in self._names})
        return self._names.get(target_id) or display_name(target_id)

    def order(self, spec: str) -> int:
        return self.specs.index(spec) if spec in self.specs else len(self.specs)

    def get(self, host) -> Target:
        spec = self.spec_of(host)
        if spec not in self._targets:
            settings = self.settings.for_target(spec, host.backend.get_pytest_id())
            target = Target(spec, host, settings, self.run_id, self.name_of(spec))
            entry = self.inventory.get(spec)
            target.inventory_facts = entry.facts() if entry else {}
            self._targets[spec] = target
        return self._targets[spec]

    def all(self) -> list[Target]:
        return list(self._targets.values())

    def close(self) -> dict[str, list[str]]:
        return {spec: target.close() for spec, target in self._targets.items()}

"""The Docker API client of a target: which URL, how it connects, every call bounded in time.

ssh:// targets use docker-py's paramiko transport (docker/transport/sshconn.py). It takes the
user, port, IdentityFile and ProxyCommand only from ~/.ssh/config; a spec's ssh_identity_file cannot be
handed to it without monkeypatching. For such a target write `Host <name>` / `IdentityFile <file>` to
~/.ssh/config (the lab does this for its hosts), or point the engine elsewhere with --engine-url TARGET=URL.
Its host key is checked as for testinfra's paramiko backend (conformance.hostkeys). docker-py's own transport
(7.x; RejectPolicy since 6.0, docker/docker-py#2932, WarningPolicy before) loads only ~/.ssh/known_hosts and
cannot name the key it refused.
"""
from __future__ import annotations

import base64
import contextlib
import http.client
import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import TypeVar

import docker
import docker.auth
import paramiko
import requests
import urllib3
from docker.constants import DEFAULT_MAX_POOL_SIZE, DEFAULT_NUM_POOLS_SSH, MINIMUM_DOCKER_API_VERSION
from docker.transport import SSHHTTPAdapter
from docker.utils import parse_host
from docker.utils.proxy import ProxyConfig

from conformance import api_versions, hostkeys, spare_threads
from conformance.outcomes import TargetError, one_line

LOCAL_SOCKET = "unix:///var/run/docker.sock"
SSH_BACKENDS = ("ssh", "safe-ssh", "paramiko")
SSH_HINT = ("docker-py's ssh transport reads the key only from ~/.ssh/config (IdentityFile); add it there or use "
            "--engine-url TARGET=URL")
LONG_POLLS = ("/wait", "/attach", "/events")  # API paths that answer only when something happens
T = TypeVar("T")


class NoAnswer(TargetError):
    """A call bounded() gave up on: the target did not answer in time."""


def bounded(call: Callable[[], T], seconds: float, what: str) -> T:
    """Run call in a daemon thread and give up after seconds (for libraries without a timeout)."""
    box: dict[str, object] = {}
    answered = threading.Event()

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = e

    spare_threads.start(run, f"bounded {what}", answered)
    if not answered.wait(seconds):
        raise NoAnswer(f"{what}: no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


class Breaker:
    """Remembers that a target stopped answering, so later calls fail at once instead of each waiting."""

    def __init__(self, target_id: str, what: str):
        self.target_id, self.what = target_id, what
        self.tripped: str | None = None

    def check(self, operation: str) -> None:
        if self.tripped:
            raise TargetError(f"{operation}: not tried, the {self.what} stopped answering earlier ({self.tripped})")

    def trip(self, error: TargetError) -> None:
        self.tripped = self.tripped or str(error).removeprefix(f"{self.target_id}: ")

    def reset(self) -> None:
        """Allow one more try (the end-of-run sweep and audit: the engine may be back)."""
        self.tripped = None


def _timed_out(error: BaseException) -> bool:
    """requests reports a read timeout over unix and ssh sockets as a ConnectionError; look through the chain."""
    while error is not None:
        if isinstance(error, (requests.exceptions.Timeout, TimeoutError)) or "timed out" in str(error).lower():
            return True
        error = error.__cause__ or error.__context__
    return False


CHANNEL_RETRY_PAUSES = (0.25, 0.5, 1.0, 2.0)


CHANNEL_NOT_OPENED = "Unable to open channel."  # paramiko's SSHException when the sshd closed the open without a reason


def _channel_refused(error: BaseException) -> bool:
    """sshd refused a new session (MaxSessions, default 10, until closed ones are reaped; paramiko's ChannelException,
    or its SSHException 'Unable to open channel.' when no reason came): nothing was sent."""
    while error is not None:
        if (type(error).__name__ == "ChannelException" or "ChannelException(" in repr(error)
                or CHANNEL_NOT_OPENED in str(error)):
            return True  # urllib3 wraps it in ProtocolError's args, not as a cause
        error = error.__cause__ or error.__context__
    return False


channel_refused = _channel_refused  # conformance.ahead: work ahead over ssh degrades to inline on a refusal
timed_out = _timed_out  # conformance.unfinished_pulls: a silent event stream ends by the read timeout


def _retry_refused_channel(call: Callable[[], T]) -> T:
    """Call again after a short pause when the ssh transport could not open a channel (bounded: about 4 s)."""
    for pause in CHANNEL_RETRY_PAUSES:
        try:
            return call()
        except Exception as e:  # noqa: BLE001 - only a refused channel is retried, everything else goes up
            if not _channel_refused(e):
                raise
            time.sleep(pause)
    return call()


def guard_client(client: docker.DockerClient, target_id: str, seconds: float) -> Breaker:
    """Bound and name every HTTP request of the client; transport failures become TargetError.

    docker-py's own timeout only bounds reads, and not over every transport (see the library notes), so
    each request also runs under bounded(). A caller's explicit timeout (container.wait(timeout=...))
    keeps its own exception, which the caller expects.
    """
    breaker = Breaker(target_id, "engine")
    api = client.api
    plain = api.request

    def request(method, url, *args, **kwargs):
        path = urllib.parse.urlsplit(url).path.split("/v1.", 1)[-1].partition("/")[2]
        operation = f"{target_id}: engine API {method} /{path}"  # names the engine in every error
        breaker.check(operation)
        waiting = path.endswith(LONG_POLLS)  # answers when something happens: a timeout is the caller's answer
        if kwargs.get("timeout", api.timeout) is None and not waiting and "exec/" not in path:
            # docker-py pulls with timeout=None: a frozen engine or cut link would stall the progress stream
            # for ever. Bound each read of it (an exec's output is bounded by its caller, probes.run_in).
            kwargs["timeout"] = seconds
        own = kwargs.get("timeout", api.timeout)
        limit = (own or seconds) + 5
        try:
            return _retry_refused_channel(lambda: bounded(lambda: plain(method, url, *args, **kwargs), limit, operation))
        except TargetError as e:
            if not waiting:
                breaker.trip(e)
            raise
        except Exception as e:  # noqa: BLE001 - inside request() only the transport fails (APIError comes later)
            if _timed_out(e) and waiting:
                raise  # e.g. container.wait(timeout=...): the caller handles it
            if _timed_out(e):
                error = TargetError(f"{operation}: no answer within {own:g} s")
                breaker.trip(error)
                raise error from e
            raise TargetError(f"{operation}: {one_line(str(e) or type(e).__name__)}") from e

    api.request = request
    return breaker


class StreamBroken(TargetError):
    """An answer's body could not be read to its end: the engine died or the link was cut while it was sent."""


# What a connection that breaks or stalls while docker-py reads an answer's body raises: requests' wrappers where
# requests reads (ChunkedEncodingError, ConnectionError), urllib3's where docker-py reads response.raw itself (a pull's
# progress: ProtocolError 'Connection broken: IncompleteRead', ReadTimeoutError), http.client's, and the socket's or
# the ssh channel's (an attach reads the bare socket: ConnectionResetError).
BROKEN_STREAM = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException,
                 ConnectionError, paramiko.SSHException)


@contextlib.contextmanager
def reading(operation: str):
    """Read an answer's body (a pull's progress, an attach's output, an export's error text): a connection that broke
    or stalled meanwhile becomes StreamBroken naming the operation and what happened. guard_client bounds and names
    the request itself; its body is read later, by the caller, outside that guard."""
    try:
        yield
    except docker.errors.APIError:
        raise  # the engine answered (APIError is a requests HTTPError): the caller's finding
    except BROKEN_STREAM as e:
        what = ("stopped sending mid-answer (engine frozen or link stalled)" if _timed_out(e)
                else "connection broke mid-answer (engine stopped or link cut)")
        raise StreamBroken(f"{operation}: {what}: {one_line(str(e) or type(e).__name__)}") from e


def close_stream(stream) -> None:
    """Close a stream docker-py returned (attach, events); docker-py refuses to over ssh:// (DockerException), where
    the response is closed."""
    try:
        stream.close()
    except docker.errors.DockerException:
        stream._response.close()


# Every command runs in the C locale: the probes read the tools' English words ("No such file or directory",
# "Permission denied"), which a login in another locale gets translated (zh_CN.UTF-8 from /etc/default/locale through
# pam_env, or LANG sent by the runner's ssh: "没有那个文件或目录"). LC_ALL also overrides LANGUAGE (gettext ignores it in C).
# Through env and sh, not an assignment: the login's own shell may be fish or csh, which have no `VAR=value;`.
C_LOCALE = "env LC_ALL=C sh -c %s"
# A login shell of the csh family (csh, tcsh) ends a quoted word at a newline ("Unmatched '."): a command of several
# lines reaches the login as one line, base64 (no character any login shell reads in single quotes) that sh decodes;
# a decoding that fails (no base64 on the target) ends the command with its status, never as an empty script's 0.
SEVERAL_LINES = "script=$(printf %%s %s | base64 -d) && eval \"$script\""


def for_any_login(backend, command: str) -> str:
    """The command line handed to the login's shell: the command in the C locale (C_LOCALE), on one line."""
    if "\n" in command:
        command = backend.quote(SEVERAL_LINES, base64.b64encode(command.encode()).decode())
    return backend.quote(C_LOCALE, command)


def ssh_reason(stderr: str) -> str:
    """The line of ssh's stderr that says what went wrong (its host key warning opens with a row of '@')."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip().strip("@").strip()]
    reason = lines[-1] if lines else stderr.strip()
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr:
        reason = (f"host key mismatch: the host's key differs from the one in known_hosts (ssh: {reason}); "
                  "if the host was rebuilt, replace its known_hosts entry")
    return reason


class LinkFailed(TargetError):
    """A command that could not run: ssh itself failed (exit 255) or paramiko's connection ended; reason says why.
    An error, never a check's finding (a lab host stopped mid-run made registry.mirror-configured 'failed')."""

    def __init__(self, operation: str, reason: str):
        self.reason = one_line(reason)
        super().__init__(f"{operation}: the ssh link failed: {self.reason}")


def guard_backend(backend, target_id: str, seconds: float) -> Breaker:
    """Bound every testinfra command of a backend (testinfra has no command timeout; see the library notes).

    Pass conformance_bound=SECONDS to host.run for a longer command; testinfra hands extra keyword
    arguments to the backend's run, which is wrapped here. Each command runs in the C locale, on one line
    (for_any_login).
    Idempotent: testinfra caches hosts per process.
    """
    existing = getattr(backend, "conformance_breaker", None)
    if existing is not None:
        return existing
    breaker = Breaker(target_id, "connection")
    plain = backend.run

    def run(command, *args, conformance_bound: float | None = None, **kwargs):
        operation = f"{target_id}: run {one_line(command, 80)}"
        breaker.check(operation)
        line = for_any_login(backend, backend.quote(command, *args))
        try:
            return bounded(lambda: plain(line, **kwargs), conformance_bound or seconds, operation)
        except TargetError as e:
            breaker.trip(e)
            raise
        except RuntimeError as e:  # testinfra's ssh backend: ssh itself failed (its exit status 255), nothing ran
            answer = e.args[0] if e.args else None
            if getattr(answer, "rc", None) != 255:
                raise
            raise LinkFailed(operation, ssh_reason(answer.stderr) if answer.stderr else str(e)) from e
        except (paramiko.SSHException, EOFError, ConnectionError) as e:  # paramiko's connection ended or was refused
            raise LinkFailed(operation, str(e) or type(e).__name__) from e

    backend.run = run
    backend.conformance_breaker = breaker
    return breaker


def url_for(target_id: str, backend, configured: str | None) -> str:
    """The engine URL of a target (the suite's and conformance-cleanup's): --engine-url; else DOCKER_HOST or the
    local socket; else ssh://user@host:port, resolved through the backend's --ssh-config (docker-py reads only
    ~/.ssh/config); an ansible host's through the native backend testinfra runs its commands with."""
    if configured:
        return configured
    kind = backend.get_connection_type()
    ssh_config = getattr(backend, "ssh_config", None)
    if kind == "ansible" and not backend.force_ansible:
        native = backend.ansible_runner.get_host(backend.host, ssh_config=ssh_config,
                                                 ssh_identity_file=backend.ssh_identity_file)  # host: a name here
        if native is not None and native.backend.get_connection_type() in SSH_BACKENDS:
            backend, kind, ssh_config = native.backend, native.backend.get_connection_type(), None
    if kind == "local":
        return os.environ.get("DOCKER_HOST") or LOCAL_SOCKET
    if kind in SSH_BACKENDS:
        spec = backend.host
        user, name, port = spec.user, spec.name, spec.port
        if ssh_config:
            import paramiko
            try:
                with open(ssh_config, encoding="utf-8") as f:
                    found = paramiko.SSHConfig.from_file(f).lookup(name)
                user, name, port = user or found.get("user"), found.get("hostname", name), port or found.get("port")
            except OSError:
                pass  # testinfra reports the unreadable file on the first command
        return f"ssh://{user + '@' if user else ''}{name}{':' + str(port) if port else ''}"
    raise TargetError(f"{target_id}: no Docker API route for a {kind}:// target; give --engine-url {target_id}=URL")


def _socket_hint(url: str, error: BaseException) -> str:
    """Name the usual cause of a unix socket failure (its errno sits deep in requests' exception chain)."""
    text = str(error)
    if url.startswith("unix://") and ("FileNotFoundError" in text or "No such file" in text):
        return f" (no socket at {url.removeprefix('unix://')}: is the engine running, is the path right?)"
    if url.startswith("unix://") and ("PermissionError" in text or "Permission denied" in text):
        return (f" (permission denied on {url.removeprefix('unix://')}: run as root or as a member of the socket's "
                "group, usually docker)")
    return ""


class _NoCredentials(docker.auth.AuthConfig):
    """An auth store that holds nothing and is never refilled: docker-py reloads the runner's config whenever its
    store is empty (docker.auth.get_config_header) and asks credential helpers when it resolves a registry."""

    is_empty = False

    def __init__(self):
        super().__init__({})

    def __bool__(self) -> bool:
        return True

    def resolve_authconfig(self, registry=None):
        return None

    def get_credential_store(self, registry):
        return None

    def get_all_credentials(self):
        return {}


class TargetAPIClient(docker.APIClient):
    """docker-py's APIClient without the runner's docker config (~/.docker/config.json or $DOCKER_CONFIG).

    docker-py reads that file when it builds a client and then uses it on every request: pulls carry an
    X-Registry-Auth header built from its auths and credential helpers, containers.create/run copy its proxies
    (with any user:password@) into the container's Env (use_config_proxy=True), and its HttpHeaders go with
    every request. It is the operator's configuration, not the target's, and over ssh:// it would travel through
    the target's own `docker system dial-stdio`. These properties always answer "nothing configured" and drop what
    docker-py assigns to them, so nothing read from the file is used, from the first request (the version
    negotiation) on. docker-py has no switch for this; it still opens the file while building the client.

    Nor does the runner's environment reach a request (requests' trust_env, always False here): its proxies
    (HTTP_PROXY, ALL_PROXY: a unix-socket or ssh engine would be asked through them), its ~/.netrc credentials
    (sent to a tcp:// engine's host) and its CA bundle variables are the operator's. Reading os.environ on every
    request also raced with pytest, which sets and deletes PYTEST_CURRENT_TEST in the main thread while the work
    ahead's requests run in others (KeyError 'PYTEST_CURRENT_TEST' from os.environ.items(), seen once in CI).
    """

    trust_env = property(lambda self: False, lambda self, value: None)
    _general_configs = property(lambda self: {}, lambda self, value: None)
    _proxy_configs = property(lambda self: ProxyConfig(), lambda self, value: None)
    _auth_configs = property(lambda self: _NoCredentials(), lambda self, value: None)

    def __init__(self, base_url: str, version: str | None = None, timeout: float = 60,
                 max_pool_size: int = DEFAULT_MAX_POOL_SIZE, host_keys: hostkeys.Policy | None = None):
        if not base_url.startswith("ssh://"):
            super().__init__(base_url=base_url, version=version, timeout=timeout, max_pool_size=max_pool_size)
            return
        # docker-py's paramiko transport connects while the client is built, with its own host key handling.
        # Build the client over its shell-out transport (which connects nothing) and a fixed version, mount the
        # checked transport in its place, then ask the engine for its API version through it.
        super().__init__(base_url=base_url, version=MINIMUM_DOCKER_API_VERSION, timeout=timeout,
                         max_pool_size=max_pool_size, use_ssh_client=True)
        self._custom_adapter.close()
        self._custom_adapter = _CheckedSSHAdapter(parse_host(base_url), timeout, pool_connections=DEFAULT_NUM_POOLS_SSH,
                                                  max_pool_size=max_pool_size, host_keys=host_keys or hostkeys.Policy())
        self.mount("http+docker://ssh", self._custom_adapter)
        self._version = version if version not in (None, "auto") else self._retrieve_server_version()

    def _get_raw_response_socket(self, response):
        """An exec's or attach's upgraded stream, read through the reader that read the answer's head (see
        _UpgradedStream); docker-py's own answer reads the socket or ssh channel under that reader."""
        return _UpgradedStream(response.raw._fp.fp, super()._get_raw_response_socket(response))

    def _retrieve_server_version(self) -> str:
        """The newest API version both the engine and the suite know (docker-py would take the engine's newest)."""
        try:
            answer = self.version(api_version=False)
        except Exception as e:  # as docker-py words it (its own _retrieve_server_version)
            raise docker.errors.DockerException(f"Error while fetching server API version: {e}") from e
        return api_versions.negotiate(answer)


class _UpgradedStream:
    """The stream of an exec or an attach (HTTP 101, then the engine's frames), read through http.client's reader of
    the answer. docker-py (7.1) reads it from the socket (or the paramiko channel) under that reader, so the bytes the
    reader took in with the answer's head were lost: a command that printed before the head was read (a short one,
    under load) returned exit 0 with no output or its first lines missing (docker/docker-py#3332, #2042; seen three
    times in a row for one exec, over ssh:// in a fleet on a loaded machine). `recv` reads through the reader, whose
    read(n) returns its buffered bytes first and waits for n bytes or the end, as docker-py's framing asks (a
    frame's header, then its length); the rest (fileno for docker-py's poll, timeouts) is the socket's."""

    def __init__(self, reader, raw):
        self._reader, self._raw = reader, raw

    def recv(self, size: int) -> bytes:
        return self._reader.read(size)

    def __getattr__(self, name):
        return getattr(self._raw, name)


ENGINE_POOL = "http+docker://ssh/"  # the pool key of every request over ssh:// (_CheckedSSHAdapter.get_connection)


class _CheckedSSHAdapter(SSHHTTPAdapter):
    """docker-py's ssh:// transport (settings from ~/.ssh/config) whose host key a hostkeys.Policy checks."""

    def __init__(self, *args, host_keys: hostkeys.Policy, **kwargs):
        self.host_keys = host_keys
        super().__init__(*args, **kwargs)

    def _create_paramiko_client(self, base_url: str) -> None:
        super()._create_paramiko_client(base_url)  # ssh_params: HostName, Port, User, IdentityFile, ProxyCommand
        self.ssh_client = paramiko.SSHClient()  # without the keys and the policy docker-py gave its own
        self.host_keys.apply(self.ssh_client, urllib.parse.urlsplit(base_url).hostname, self.ssh_params["hostname"])

    def _connect(self) -> None:
        if self.ssh_client:
            self.host_keys.connect(self.ssh_client, **self.ssh_params)

    def get_connection(self, url, proxies=None):
        """The one pool of the engine's connections. docker-py (7.1, 7.2) keys its ssh pools by the whole request URL,
        path and query included, so nearly every request made a pool of its own: a new ssh channel and a new
        `docker system dial-stdio` on the target for each (123 of a run's 164 requests), and up to 9 pools holding
        idle channels against the sshd's MaxSessions (10). Every request goes to the same engine."""
        return super().get_connection(ENGINE_POOL, proxies)


def sessions_refused(client: docker.DockerClient, count: int) -> str | None:
    """Over an ssh:// engine link: open `count` more sessions on its ssh connection, each closed at once (nothing is
    run in them), to learn whether the target's sshd allows that many beside those open (MaxSessions, default 10);
    the sshd's refusal as text, or None (they were all allowed, or the link is not ssh)."""
    adapter = getattr(getattr(client, "api", None), "_custom_adapter", None)
    ssh_client = getattr(adapter, "ssh_client", None) if isinstance(adapter, _CheckedSSHAdapter) else None
    transport = ssh_client.get_transport() if ssh_client is not None else None
    if transport is None:
        return None
    opened = []
    try:
        for _ in range(count):
            opened.append(transport.open_session(timeout=10))
    except (paramiko.SSHException, OSError, EOFError) as e:
        return f"{len(opened)} of {count} more sessions allowed ({one_line(str(e) or type(e).__name__, 120)})"
    finally:
        for channel in opened:
            channel.close()
    return None


class TargetClient(docker.DockerClient):
    """docker.DockerClient over a TargetAPIClient: the only way the suite talks to a target's engine."""

    def __init__(self, *args, **kwargs):  # noqa: super().__init__ would build a plain APIClient
        self.api = TargetAPIClient(*args, **kwargs)


def connect(target_id: str, url: str, timeout: float, host_keys: hostkeys.Policy | None = None) -> docker.DockerClient:
    """Create the client (it asks the daemon for its API version at once); failures become TargetError.

    host_keys: how an ssh:// link checks the target's host key (default: against known_hosts, refused if unknown).
    """
    try:
        # Explicit base_url: docker-py 7.2 would otherwise follow the docker CLI context.
        # A small pool over ssh: each pooled connection holds an sshd session, and sshd allows 10 per connection.
        pool = {"max_pool_size": 2} if url.startswith("ssh://") else {}
        return bounded(lambda: TargetClient(base_url=url, timeout=timeout, host_keys=host_keys, **pool),
                       timeout, f"{target_id}: connect to engine {url}")
    except TargetError:
        raise
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError, Exception) as e:
        ssh_setup = type(e).__name__ in ("AuthenticationException", "SSHException")  # a HostKeyError says it all
        hint = f" ({SSH_HINT})" if url.startswith("ssh://") and ssh_setup else _socket_hint(url, e)
        raise TargetError(f"{target_id}: connect to engine {url}: {one_line(str(e) or type(e).__name__)}{hint}") from e

"""SSH host keys of the suite's paramiko connections: testinfra's paramiko backend and docker-py's ssh:// engine link.

Both are checked alike: the keys of ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts and the ssh config's
UserKnownHostsFile / GlobalKnownHostsFile are loaded, and a key that is unknown or differs is refused with an
error naming the host and the key's fingerprint. Only --skip-host-key-check (per target) accepts any key, and then
the key accepted is noted. testinfra's own paramiko backend accepts any key (WarningPolicy, no known_hosts loaded);
the ssh and safe-ssh backends run OpenSSH, which checks with its own settings.
"""
from __future__ import annotations

import dataclasses
import os

import paramiko

USER_KNOWN_HOSTS = "~/.ssh/known_hosts"
GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
PIN_HINT = "check the key against a fingerprint obtained out of band (README, 'Security model')"


class HostKeyError(paramiko.SSHException):
    """The host's key is not the one known for it (an SSHException, so every caller sees an SSH failure)."""


def describe(key: paramiko.PKey) -> str:
    """'ssh-ed25519 SHA256:...' as ssh-keygen -lf and ssh-keyscan | ssh-keygen -lf - print it."""
    return f"{key.get_name()} {key.fingerprint}"


def _config(path: str | None) -> paramiko.SSHConfig | None:
    try:
        with open(os.path.expanduser(path or "~/.ssh/config"), encoding="utf-8") as f:
            return paramiko.SSHConfig.from_file(f)
    except OSError:
        return None  # no config (the connection itself reports an unreadable --ssh-config)


def known_hosts_files(ssh_config: str | None, *names: str) -> list[str]:
    """The known_hosts files for a host: the user's and the system's, and those its ssh config names."""
    files = [USER_KNOWN_HOSTS, GLOBAL_KNOWN_HOSTS]
    config = _config(ssh_config)
    for name in filter(None, names):
        found = config.lookup(name) if config else {}
        for key in ("userknownhostsfile", "globalknownhostsfile"):
            files += str(found.get(key, "")).split()
    return list(dict.fromkeys(os.path.expanduser(f) for f in files))


@dataclasses.dataclass(frozen=True)
class Policy:
    """How one target's paramiko connections treat host keys."""
    check: bool = True
    ssh_config: str | None = None  # the target's --ssh-config (else ~/.ssh/config): its known_hosts files count too
    names: tuple[str, ...] = ()  # the target's host names as given (an ssh config alias may carry the files)
    accepted: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)  # unchecked: host -> key

    def apply(self, client: paramiko.SSHClient, *names: str) -> None:
        """Load the known keys into client and set what happens to an unknown one (before client.connect)."""
        if not self.check:
            client.set_missing_host_key_policy(_Unchecked(self.accepted))
            return
        files = known_hosts_files(self.ssh_config, *self.names, *names)
        for path in files:
            if os.path.isfile(path):
                client.load_system_host_keys(path)
        client.set_missing_host_key_policy(_Reject(files))

    def fact(self) -> str | None:
        """The target's fact when its host key is not checked: which keys were accepted."""
        if self.check:
            return None
        keys = "; ".join(f"{host} {key}" for host, key in sorted(self.accepted.items())) or "none yet"
        return f"not checked (--skip-host-key-check), accepted: {keys}"

    def connect(self, client: paramiko.SSHClient, **params) -> None:
        """client.connect(**params) over aead_first's transport; a key that differs from the known one is a HostKeyError
        naming both. Once connected, the transport's thread wakes less often (wake_less)."""
        try:
            client.connect(transport_factory=aead_first, **params)
            wake_less(client)
        except paramiko.BadHostKeyException as e:
            port = int(params.get("port") or 22)
            host = e.hostname if port == 22 else f"[{e.hostname}]:{port}"
            raise HostKeyError(
                f"host key mismatch: {host} offered {describe(e.key)}, known_hosts has {describe(e.expected_key)}; "
                f"if the host was rebuilt, {PIN_HINT}, then replace its known_hosts entry") from None


# paramiko's transport thread reads its socket with a 0.1 s timeout (Transport._active_check_timeout) to look for its
# own end and for a rekey: 1.1 ms of CPU per connection and second, measured, about 0.2 CPU-s per host of a fleet run
# (two connections per paramiko:// host). Once connected it waits a second: its close is seen at once (the socket is
# closed under it), a due rekey at most that much later; keepalives are not used.
WAKE_EVERY_S = 1.0


def aead_first(*args, **kwargs) -> paramiko.Transport:
    """paramiko's transport, offering its AES-GCM ciphers first (AEAD: no HMAC a packet computed apart, 1.57 against
    1.82 ms of CPU a command over paramiko, measured), its CTR and CBC ciphers with their MACs after them, for an
    sshd without GCM (OpenSSH before 6.2)."""
    transport = paramiko.Transport(*args, **kwargs)
    options = transport.get_security_options()
    options.ciphers = tuple(sorted(options.ciphers, key=lambda name: "-gcm@" not in name))
    return transport


def wake_less(client: paramiko.SSHClient) -> None:
    transport = client.get_transport()
    if transport is not None:
        transport.sock.settimeout(WAKE_EVERY_S)


class _Reject(paramiko.MissingHostKeyPolicy):
    def __init__(self, files: list[str]):
        self.files = files

    def missing_host_key(self, client, hostname, key):
        raise HostKeyError(f"unknown host key: {hostname} offered {describe(key)}, in none of {', '.join(self.files)}; "
                           f"{PIN_HINT}, then add it there (or accept any key: --skip-host-key-check)")


class _Unchecked(paramiko.MissingHostKeyPolicy):
    """--skip-host-key-check: accept the key, and remember it for the target's facts."""

    def __init__(self, accepted: dict[str, str]):
        self.accepted = accepted

    def missing_host_key(self, client, hostname, key):
        self.accepted[hostname] = describe(key)


def install() -> None:
    """Make testinfra build conformance.paramiko_backend.CheckedParamikoBackend for paramiko:// specs (idempotent).

    testinfra looks its backends up by class path in this table when it builds a host; importing testinfra.backend
    here, late, keeps it from being imported before pytest loads testinfra's plugin (see targets.Targets.spec_of).
    """
    import testinfra.backend
    testinfra.backend.BACKENDS["paramiko"] = "conformance.paramiko_backend.CheckedParamikoBackend"

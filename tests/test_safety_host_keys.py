"""Host keys of the paramiko connections: an impostor sshd on 127.0.0.1 with another key gets no command."""
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from conformance import engine as engines
from conformance.lab import engine as lab_engine
from conformance.outcomes import TargetError
from conformance.selftest import make_project, requirement, results

SSHD = "/usr/sbin/sshd"  # Debian's openssh-server
READY_S = 15
pytestmark = [
    pytest.mark.skipif(not os.path.exists(SSHD), reason=f"needs Debian's openssh-server ({SSHD}) for the impostor"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the impostor sshd logs the test's user in as root"),
]
CHECKS = """
    import pytest

    @pytest.mark.req("engine.info")
    def test_os(target, evidence):
        evidence.note(target.run("cat /etc/os-release", what="read /etc/os-release").stdout)
"""


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
                   check=True, timeout=30)
    return path


def fingerprint(public_key: Path) -> str:
    """'ssh-ed25519 SHA256:...' from ssh-keygen -lf (the form of the suite's messages)."""
    bits, digest, *_ = subprocess.run(["ssh-keygen", "-lf", str(public_key)], capture_output=True, text=True,
                                      check=True, timeout=30).stdout.split()
    return f"ssh-ed25519 {digest}"


def known_line(host: str, public_key: Path) -> str:
    return f"{host} {' '.join(public_key.read_text().split()[:2])}\n"


class Impostor:
    """sshd -D on 127.0.0.1 with its own host key; every command it is asked to run is written to self.record."""

    def __init__(self, folder: Path):
        folder.mkdir()
        self.folder = folder
        self.host_key = keygen(folder / "host_key")
        self.client_key = keygen(folder / "client_key")
        self.record = folder / "commands"
        (folder / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        recorder = folder / "record.sh"
        recorder.write_text(f'#!/bin/sh\nprintf "%s\\n" "$SSH_ORIGINAL_COMMAND" >> {self.record}\n'
                            'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n')
        recorder.chmod(0o755)
        with socket.socket() as probe:  # a free port on loopback for sshd
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        (folder / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1\nPidFile {folder / 'sshd.pid'}\nAuthorizedKeysFile {folder / 'authorized_keys'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            f"PermitRootLogin prohibit-password\nForceCommand {recorder}\nMaxSessions 30\nLogLevel INFO\n")
        self.log: list[str] = []
        self.listening = threading.Event()

    @property
    def name(self) -> str:
        return f"[127.0.0.1]:{self.port}"

    def __enter__(self) -> "Impostor":
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.folder / "sshd_config"), "-p", str(self.port),
                                      "-h", str(self.host_key)], stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self.listening.wait(READY_S):
            self.__exit__()
            pytest.fail(f"sshd did not listen on 127.0.0.1:{self.port} within {READY_S} s: {self.log}")
        return self

    def _read_log(self) -> None:
        for line in self.proc.stderr:  # ends when sshd exits
            self.log.append(line.rstrip())
            if f"Server listening on 127.0.0.1 port {self.port}" in line:
                self.listening.set()

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def commands(self) -> list[str]:
        return self.record.read_text().splitlines() if self.record.exists() else []

    def logins(self) -> list[str]:
        return [line for line in self.log if "Accepted publickey" in line]


@pytest.fixture
def impostor(tmp_path):
    with Impostor(tmp_path / "impostor") as sshd:
        yield sshd


@pytest.fixture
def other_key(tmp_path):
    """The key the operator's known_hosts lists for the impostor's address (the real host's, say)."""
    return keygen(tmp_path / "real_host_key").with_suffix(".pub")


def run_suite(pytester, impostor, *args):
    """The suite on paramiko://root@127.0.0.1:PORT (pytester's HOME is pytester.path: ~/.ssh is the test's)."""
    make_project(pytester, [requirement("engine.info")], CHECKS)
    spec = f"paramiko://root@127.0.0.1:{impostor.port}"  # the key comes from ~/.ssh/config: a short target id
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--hosts={spec}", "--call-timeout=10", *args)
    host = results(Path(pytester.path))["hosts"][spec]
    return result, spec, host


def home_ssh(pytester) -> Path:
    folder = Path(pytester.path) / ".ssh"
    folder.mkdir(exist_ok=True)
    return folder


def identity(impostor) -> str:
    return f"Host 127.0.0.1\n  IdentityFile {impostor.client_key}\n"


@pytest.fixture(autouse=True)
def home_config(request):
    """~/.ssh/config giving 127.0.0.1 the impostor's client key, in pytester's HOME (for the suite runs)."""
    if "pytester" in request.fixturenames:
        pytester, impostor = request.getfixturevalue("pytester"), request.getfixturevalue("impostor")
        (home_ssh(pytester) / "config").write_text(identity(impostor))


def test_a_paramiko_target_with_another_host_key_gets_no_command(pytester, impostor, other_key):
    (home_ssh(pytester) / "known_hosts").write_text(known_line(impostor.name, other_key))
    result, spec, host = run_suite(pytester, impostor)
    message = host["requirements"]["engine.info"]["message"]
    assert host["requirements"]["engine.info"]["status"] == "error", message
    assert message.startswith(f"{host['name']}: ") and "host key mismatch" in message, message
    assert f"offered {fingerprint(impostor.host_key.with_suffix('.pub'))}" in message, message
    assert f"known_hosts has {fingerprint(other_key)}" in message, message
    assert host["facts"]["OS"].startswith("could not read"), host["facts"]
    assert impostor.commands() == [] and impostor.logins() == [], (impostor.commands(), impostor.logins())
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # the only target could not be reached


def test_an_unknown_host_key_is_refused_naming_its_fingerprint(pytester, impostor):
    result, spec, host = run_suite(pytester, impostor)
    message = host["requirements"]["engine.info"]["message"]
    assert host["requirements"]["engine.info"]["status"] == "error", message
    assert (f"unknown host key: {impostor.name} offered {fingerprint(impostor.host_key.with_suffix('.pub'))}"
            in message), message
    assert impostor.commands() == [] and impostor.logins() == []


def test_the_key_pinned_in_the_ssh_configs_known_hosts_file_is_accepted(pytester, impostor):
    pinned = Path(pytester.path) / "pinned_known_hosts"
    pinned.write_text(known_line(impostor.name, impostor.host_key.with_suffix(".pub")))
    config = Path(pytester.path) / "ssh_config"
    config.write_text(f"{identity(impostor)}  UserKnownHostsFile {pinned}\n")
    result, spec, host = run_suite(pytester, impostor, f"--ssh-config={config}")
    assert host["requirements"]["engine.info"]["status"] == "passed", host["requirements"]["engine.info"]["message"]
    assert "cat /etc/os-release" in "\n".join(impostor.commands())


def test_skip_host_key_check_accepts_the_key_and_reports_it(pytester, impostor, other_key):
    (home_ssh(pytester) / "known_hosts").write_text(known_line(impostor.name, other_key))
    result, spec, host = run_suite(pytester, impostor, "--skip-host-key-check=true")
    assert host["requirements"]["engine.info"]["status"] == "passed", host["requirements"]["engine.info"]["message"]
    assert host["facts"]["SSH host key"] == (f"not checked (--skip-host-key-check), accepted: {impostor.name} "
                                             f"{fingerprint(impostor.host_key.with_suffix('.pub'))}")


def test_ssh_keyscan_shows_the_fingerprint_the_error_names(impostor):
    """The README's pinning steps: ssh-keyscan | ssh-keygen -lf - prints the fingerprint the suite reports."""
    scanned = subprocess.run(["ssh-keyscan", "-t", "ed25519", "-p", str(impostor.port), "127.0.0.1"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    listed = subprocess.run(["ssh-keygen", "-lf", "-"], input=scanned, capture_output=True, text=True, timeout=30,
                            check=True).stdout
    assert fingerprint(impostor.host_key.with_suffix(".pub")).split()[1] in listed


# ---- the engine's ssh:// link (docker-py's paramiko transport) ---------------------------------------------

@pytest.fixture
def ssh_home(tmp_path, monkeypatch, impostor):
    """HOME with ~/.ssh/config giving the impostor's address the client key (docker-py reads only that file)."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(f"Host 127.0.0.1\n  IdentityFile {impostor.client_key}\n  IdentitiesOnly yes\n")
    monkeypatch.setenv("HOME", str(home))
    return home / ".ssh"


def test_the_engine_link_to_a_host_with_another_key_fails_naming_both_keys(impostor, other_key, ssh_home):
    (ssh_home / "known_hosts").write_text(known_line(impostor.name, other_key))
    with pytest.raises(TargetError) as error:
        engines.connect("ssh://impostor", f"ssh://root@127.0.0.1:{impostor.port}", 10)  # checked by default
    message = str(error.value)
    assert message.startswith("ssh://impostor: connect to engine") and "host key mismatch" in message, message
    assert f"offered {fingerprint(impostor.host_key.with_suffix('.pub'))}" in message, message
    assert impostor.commands() == [] and impostor.logins() == []


def test_the_engine_link_refuses_an_unknown_key_unless_told_to_skip_the_check(impostor, ssh_home):
    with pytest.raises(TargetError, match=r"unknown host key: \[127\.0\.0\.1\]:\d+ offered ssh-ed25519 SHA256:"):
        engines.connect("ssh://impostor", f"ssh://root@127.0.0.1:{impostor.port}", 10)
    assert impostor.logins() == []
    if not shutil.which("docker") or not lab_engine.answers():
        pytest.skip("no docker CLI and engine here to answer `docker system dial-stdio` through the impostor")
    from conformance import hostkeys
    policy = hostkeys.Policy(check=False)
    client = engines.connect("ssh://impostor", f"ssh://root@127.0.0.1:{impostor.port}", 10, policy)
    try:
        assert client.version()["ApiVersion"]
    finally:
        client.close()
    assert "docker system dial-stdio" in impostor.commands()
    assert policy.fact() == f"not checked (--skip-host-key-check), accepted: {impostor.name} " \
                            f"{fingerprint(impostor.host_key.with_suffix('.pub'))}"

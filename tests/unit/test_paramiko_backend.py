"""The paramiko:// backend's commands (conformance/paramiko_backend.py): output, errors and exit status as sent."""
import io

from conformance.paramiko_backend import CheckedParamikoBackend


class Channel:
    """A session channel that has run its command: stdout, stderr and the exit status as the sshd sent them."""

    def __init__(self, stdout: bytes, stderr: bytes, status: int):
        self.stdout, self.stderr, self.status, self.ran = stdout, stderr, status, None

    def exec_command(self, command):
        self.ran = command

    def makefile(self, mode):
        return io.BytesIO(self.stdout)

    def makefile_stderr(self, mode):
        return io.BytesIO(self.stderr)

    def recv_exit_status(self):
        return self.status


class Client:
    def __init__(self, channel):
        self.channel = channel

    def get_transport(self):
        return self

    def open_session(self):
        return self.channel


def test_a_command_returns_its_whole_output_errors_and_status():
    stdout = b"line 1\n\nline 3 \xff\r\n" + b"x" * 100_000 + b"\nno newline at the end"
    channel = Channel(stdout, b"warning: one\nwarning: two", 3)
    backend = CheckedParamikoBackend("root@h")
    backend.client = Client(channel)  # functools.cached_property: set, it is never connected
    result = backend.run("printf %s", "a b")
    assert channel.ran == b"printf 'a b'"
    assert (result.rc, result.stdout_bytes, result.stderr_bytes) == (3, stdout, b"warning: one\nwarning: two")

"""Bad input: each case ends with one clear paragraph and the right outcome (exit 4, error for the host, or a failed check)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import engine as engines
from conformance.judges import registry
from conformance.outcomes import TargetError

REPO = Path(__file__).resolve().parents[1]
# The suite of this tree, also when another copy of the package is installed (editable or not).
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
LIMIT_S = 120


def suite(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The real suite, run from cwd (reports land there), with --req engine.info to keep it short."""
    return subprocess.run([sys.executable, "-m", "pytest", str(REPO / "suites"), "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml"), *args],
                          cwd=cwd, env=ENV, capture_output=True, text=True, timeout=LIMIT_S)


def one_paragraph(proc: subprocess.CompletedProcess) -> str:
    """The usage error: a single non-empty ERROR line and no traceback."""
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-2000:]
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: "), out[-2000:]
    return lines[0]


def latest(cwd: Path, target: str = "local://") -> dict:
    return json.loads((cwd / "reports" / "latest" / "results.json").read_text())["hosts"][target]


@pytest.mark.parametrize("args, message", [
    (["--hosts=foo://x"], "--hosts foo://x: Unknown connection type 'foo'"),
    (["--hosts=local://,ssh://root@[::1"], "--hosts ssh://root@[::1: Invalid IPv6 URL"),
    (["--mirror", "not a url"], "malformed mirror URL 'not a url'"),
    (["--profile", "nope"], "bad --profile value ['nope'] for profile: expected one of auto, rhel, debian"),
    (["--req", "nope."], "--req nope.: no requirement id starts with it"),
    (["--call-timeout", "-1"], "bad --call-timeout value"),
])
def test_usage_errors_exit_4_with_one_paragraph(tmp_path, args, message):
    proc = suite(tmp_path, *args)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert message in one_paragraph(proc)


@pytest.mark.parametrize("content, message", [
    ("call_timeout = 3\nprofile = \n", "is not valid TOML: Invalid value (at line 2, column 11)"),
    ("nope = 1\n", "unknown setting 'nope'"),
])
def test_malformed_config_file_names_file_and_line(tmp_path, content, message):
    config = tmp_path / "bad.toml"
    config.write_text(content)
    proc = suite(tmp_path, f"--conformance-config={config}")
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    line = one_paragraph(proc)
    assert str(config) in line and message in line


def test_report_folder_not_writable_is_a_usage_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = suite(tmp_path, f"--report-dir={blocker}/reports")
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert "is not writable: Not a directory (set --report-dir" in one_paragraph(proc)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 24 KiB tmpfs: room for the run folder, not for its reports."""
    mount = tmp_path / "full"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_disk_full_while_writing_reports(tmp_path, tiny_tmpfs):
    proc = suite(tmp_path, f"--report-dir={tiny_tmpfs}", "--req", "engine.info")
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and "INTERNALERROR" not in out, out[-2000:]
    assert "No space left on device" in out and "the verdicts in this summary stand" in out
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED  # a gate must not pass without its report


def test_unresolvable_host_is_an_error_for_that_host(tmp_path):
    proc = suite(tmp_path, "--hosts=local://,ssh://root@nohost.invalid", "--req", "engine.info", "--call-timeout=5")
    assert "Traceback" not in proc.stdout + proc.stderr
    bad = latest(tmp_path, "ssh://root@nohost.invalid")["requirements"]
    assert {e["status"] for e in bad.values()} == {"error"}
    assert "Could not resolve hostname nohost.invalid" in bad["engine.info"]["message"]
    assert {e["status"] for e in latest(tmp_path)["requirements"].values()} == {"passed"}
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED


def test_missing_engine_socket_errors_the_engine_checks(tmp_path):
    proc = suite(tmp_path, "--engine-url=local://=unix:///nonexistent.sock", "--req", "engine.info", "--call-timeout=5")
    assert "Traceback" not in proc.stdout + proc.stderr
    host = latest(tmp_path)
    info = host["requirements"]["engine.info"]
    assert info["status"] == "error"
    assert "no socket at /nonexistent.sock: is the engine running, is the path right?" in info["message"]
    assert host["run_checks"]["run.leak-audit"]["status"] == "skipped"  # nothing reached the engine
    assert proc.returncode == pytest.ExitCode.TESTS_FAILED


def test_permission_denied_on_the_socket_names_the_cause():
    """As nobody (a forked child: the interpreter under /root is not readable to nobody, so no subprocess)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to nobody")
    if not Path("/var/run/docker.sock").exists():
        pytest.skip("no local engine socket")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to nobody, try the engine, report the message
        message = "connected"
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            engines.connect("local://", "unix:///var/run/docker.sock", 5).close()
        except TargetError as e:
            message = str(e)
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            message = f"unexpected {type(e).__name__}: {e}"
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as f:
        message = f.read()
    assert "permission denied on /var/run/docker.sock: run as root or as a member of the socket's group" in message


@pytest.mark.parametrize("content, found", [
    ('{\n  "registry-mirrors": [\n    "http://m:5000",\n  ]\n}\n', "not valid JSON: line 4 column 3"),
    ('["http://m:5000"]\n', "the top level is a JSON list, not an object"),
])
def test_daemon_json_malformed_or_not_an_object_fails_the_check(content, found):
    verdict = registry.mirror_configured("/etc/docker/daemon.json", content.encode(), (20, 10, 24), [], ())
    assert not verdict.ok and found in verdict.found


def test_cleanup_cli_bad_input(tmp_path):
    run = [sys.executable, "-m", "conformance.cleanup_cli"]
    proc = subprocess.run([*run, "--hosts", "foo://x", "--all-runs"], capture_output=True, text=True, timeout=60, env=ENV)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "foo://x: not a target spec testinfra understands: Unknown connection type 'foo'" in proc.stderr
    proc = subprocess.run([*run, "--hosts", "local://", "--run", "x", "--all-runs"], capture_output=True, text=True,
                          timeout=60, env=ENV)
    assert proc.returncode == 2 and "give --run or --all-runs, not both" in proc.stderr

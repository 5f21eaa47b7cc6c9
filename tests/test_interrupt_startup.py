"""An interrupt while pytest is still starting (plugins loading, capture set-up) ends like any other interrupt:
one line, exit status 2, no traceback."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from report_project import CATALOGUE, CHECKS, _Dir
from conformance.selftest import make_project


def catches(pid: int, sig: int) -> bool:
    """True once process `pid` has its own handler for `sig` (the SigCgt mask in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (sig - 1)))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_interrupt_during_start_up_is_one_line_and_exit_2(tmp_path, sig):
    make_project(_Dir(tmp_path), CATALOGUE, CHECKS)
    # SIGINT at its default in the command, as in a terminal's foreground job: a runner that starts its jobs in the
    # background of a non-interactive shell hands them SIGINT ignored, which Python then keeps ignoring.
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "-p", "no:cacheprovider", "--profile=debian"],
                            cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # The observable point: the command has put its SIGTERM handler in place, its first statement; pytest itself
    # (hundreds of milliseconds of imports, plugin loading and capture set-up) is still to come.
    deadline = time.monotonic() + 30
    while not catches(proc.pid, signal.SIGTERM):
        assert proc.poll() is None and time.monotonic() < deadline, "the command never set its SIGTERM handler"
        time.sleep(0.001)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out
    assert "Traceback" not in out, out
    assert "exit status 2: interrupted" in out, out

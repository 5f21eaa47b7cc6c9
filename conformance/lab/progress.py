"""Step-by-step progress lines with elapsed time, and bounded subprocesses that show they are alive."""
from pathlib import Path
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

_START = time.monotonic()


class LabError(RuntimeError):
    """A lab step failed; the message says which and why."""


def say(text):
    print(f"[{time.monotonic() - _START:6.1f}s] {text}", flush=True)


@contextmanager
def step(title):
    """Print a step's start and its duration when it ends."""
    began = time.monotonic()
    say(f"{title} ...")
    yield
    say(f"{title}: done in {time.monotonic() - began:.1f}s")


@contextmanager
def heartbeat(title, every=5.0):
    """Print a line every few seconds while a long step runs, so nobody wonders whether it hangs."""
    began = time.monotonic()
    done = threading.Event()

    def beat():
        while not done.wait(every):
            say(f"  {title}: still running ({time.monotonic() - began:.0f}s)")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def run(cmd, *, title, timeout, log=None, check=True, **kwargs):
    """Run a command with a heartbeat and a hard timeout; its output goes to `log` (or is captured)."""
    with heartbeat(title):
        try:
            if log is not None:
                log.parent.mkdir(parents=True, exist_ok=True)
                with open(log, "ab") as out:
                    proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, **kwargs)
            else:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
        except subprocess.TimeoutExpired:
            raise LabError(f"{title}: did not finish within {timeout} s") from None
    if check and proc.returncode != 0:
        where = f"; see {log}" if log else f": {(proc.stderr or proc.stdout or '').strip()[-800:]}"
        raise LabError(f"{title}: exit {proc.returncode}{where}")
    return proc


def wait_for(predicate, *, what, timeout, interval=0.2):
    """Poll `predicate` until it is true; raise a clear LabError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise LabError(f"{what} within {timeout:g} s")
        time.sleep(interval)


def fail(text):
    print(f"conformance-lab: {text}", file=sys.stderr)
    return 1


def exited(pid: int, child: subprocess.Popen | None = None) -> bool:
    """True once process `pid` has exited: gone, reaped (`child`, when it is that process, is reaped here), or a
    zombie that another parent has not reaped yet (e.g. a PID 1 that reaps no orphans)."""
    if child is not None and child.pid == pid:
        return child.poll() is not None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"  # the state field follows the parenthesised command name

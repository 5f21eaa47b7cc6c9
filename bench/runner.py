"""What one run of the suite costs the runner: wall time, CPU seconds and peak RSS of its own process tree.

The runner is the pytest controller, its xdist workers and what they start on this machine: the `ssh` clients of
testinfra's ssh backend and the OpenSSH ControlMaster the first of them forks into the background (ControlPersist:
it outlives the run, detached from pytest, and does every command's crypto). Not the lab hosts' own work, which
runs in their containers on the same cores. The bench makes itself the subreaper of its children
(PR_SET_CHILD_SUBREAPER), so a detached master stays in its tree; after pytest exits, the masters it left are ended
(by pid, they are the run's own) and reaped, and everything reaped counts in RUSAGE_CHILDREN: the CPU figure is the
difference of that counter around the run. Peak RSS is the summed VmRSS of the tree, sampled every 0.2 s.
"""
from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import threading
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
SAMPLE_EVERY_S = 0.2
# The exit statuses of a suite run that judged its target (README: Exit status): 0 it conforms, 1 it does not. The
# local:// runs check whatever engine the bench's machine has, which need not conform (a dockerd no systemd unit
# starts fails service.enabled): they are timed all the same. 2-4 (interrupted, internal error, nothing could run)
# time no judgement.
VERDICT_REACHED = (0, 1)


def become_subreaper() -> bool:
    """Orphaned descendants (a detached ssh ControlMaster) are re-parented to this process, not to init."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def parents() -> dict[int, int]:
    """pid -> parent pid for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    table[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return table


def descendants(root: int) -> set[int]:
    table, tree, changed = parents(), {root}, True
    while changed:
        grown = {p for p, pp in table.items() if pp in tree}
        changed = not grown <= tree
        tree |= grown
    return tree - {root}


def _rss_kib(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _end_leftovers() -> int:
    """End and reap what the run left re-parented to this process (ssh ControlMasters); how many."""
    me, left = os.getpid(), []
    for pid, parent in parents().items():
        if parent == me:
            left.append(pid)
    for pid in left:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for pid in left:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return len(left)


def measure(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict:
    """Run argv once: wall seconds, the runner's CPU seconds, the machine's busy CPU seconds, peak summed RSS
    (MiB), exit status, output and its last line, and the 1-minute load average before it. The caller closes any
    ControlMaster to its hosts first (conformance.lab.sshconf.close_master), else the run would use one it does
    not pay for."""
    _end_leftovers()  # an earlier run's master, if still here: this run starts and pays for its own
    load = os.getloadavg()[0]
    cpu_before, busy_before = _children_cpu_s(), busy_cpu_s()
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, done = [0], threading.Event()

    def sample():
        while not done.wait(SAMPLE_EVERY_S):
            peak[0] = max(peak[0], _rss_kib(descendants(os.getpid())))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0]
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    leftovers = _end_leftovers()
    cpu, busy = _children_cpu_s() - cpu_before, busy_cpu_s() - busy_before
    lines = [line for line in output.splitlines() if line.strip()]
    return {"wall_s": round(wall, 2), "runner_cpu_s": round(cpu, 2), "machine_cpu_s": round(busy, 1),
            "peak_rss_mib": round(peak[0] / 1024, 1), "exit": proc.returncode, "load_before": round(load, 2),
            "leftover_processes": leftovers, "last_line": lines[-1] if lines else "", "output": output}

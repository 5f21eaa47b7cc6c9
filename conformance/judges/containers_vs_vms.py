"""Judges of seed 1.1 docker与虚拟机比较, docker版本: a container is a process on the host's kernel; CE and EE editions."""
from __future__ import annotations

import re

from conformance.judges import Verdict, engine_time, version_tuple


def shared_kernel(host_release: str, container_release: str) -> Verdict:
    """Judge engine.shared-kernel."""
    host_release, container_release = host_release.strip(), container_release.strip()
    return Verdict(bool(host_release) and host_release == container_release,
                   f"the host's kernel {host_release!r} inside the container", f"{container_release!r}")


def pid_isolation(inside_pid1: str, state_pid: int, top_pids: list[str] | str, host_comm: str,
                  container_ns: str, host_ns: str) -> Verdict:
    """Judge engine.pid-isolation: PID 1 inside, an ordinary process on the host in another PID namespace.

    top_pids: the PIDs `docker top` lists, or why it listed none (the engine runs the host's `ps` for it: a host
    without procps answers 500); the host's /proc and the namespaces judge then."""
    inside_pid1, host_comm = inside_pid1.strip(), host_comm.strip()
    top = f"docker top: {', '.join(top_pids) or '-'}" if isinstance(top_pids, list) else f"docker top: {top_pids}"
    found = (f"inside PID 1 is {inside_pid1!r}; State.Pid {state_pid} ({top}) "
             f"is {host_comm or 'no process'!r} on the host; namespaces {container_ns or '?'} vs host {host_ns or '?'}")
    listed = str(state_pid) in top_pids if isinstance(top_pids, list) else True
    ok = (bool(inside_pid1) and inside_pid1 == host_comm and state_pid > 1 and listed
          and bool(container_ns) and container_ns != host_ns)
    return Verdict(ok, "the container's PID 1 is host process State.Pid (not 1) in its own PID namespace", found)


def start_latency(elapsed_ms: float, budget_ms: int, exit_code: int | None, clock: str = "") -> Verdict:
    """Judge engine.start-latency; clock: whose clock measured it, for the finding."""
    return Verdict(exit_code == 0 and elapsed_ms <= budget_ms, f"create+start+exit within {budget_ms} ms",
                   f"{elapsed_ms:.0f} ms{' ' + clock if clock else ''}, exit code {exit_code}")


def time_again(timing: tuple[float, int | None, str], budget_ms: int) -> bool:
    """Whether a start (ms, exit code, clock) is timed again: it ran (exit 0) but over budget. One slow start under a
    load spike (a busy CI runner, a fleet's neighbours) is not the engine's speed; a slow engine is slow every time."""
    elapsed_ms, exit_code, _ = timing
    return exit_code == 0 and elapsed_ms > budget_ms


def fastest_start(timings: list[tuple[float, int | None, str]]) -> tuple[float, int | None, str]:
    """The start judged among those timed: the fastest that exited 0, else the first."""
    ran = [t for t in timings if t[1] == 0]
    return min(ran, key=lambda t: t[0]) if ran else timings[0]


def engine_elapsed_ms(created: str | None, finished: str | None) -> float | None:
    """A container's create to its exit by the engine's clock (Created to State.FinishedAt), in ms; None when either
    time does not read or the container has not exited."""
    start, end = engine_time(created), engine_time(finished)
    return (end - start) * 1000 if start is not None and end is not None and end >= start else None


def edition_of(version: dict) -> str:
    """'ee' or 'ce' from GET /version: Platform.Name (Docker Engine - Enterprise, and Mirantis Container Runtime, its
    successor), else the version suffix; distribution builds are community."""
    name = ((version.get("Platform") or {}).get("Name") or "").lower()
    number = str(version.get("Version", "")).lower()
    if "enterprise" in name or "mirantis" in name or re.search(r"-ee\b", number):
        return "ee"
    return "ce"


def edition(version: dict, required: str, min_version: str | None) -> Verdict:
    """Judge engine.edition against the policy (edition any|ce|ee, minimum version)."""
    have = edition_of(version)
    platform = (version.get("Platform") or {}).get("Name") or "(none: distribution build)"
    found = f"{have.upper()} {version.get('Version')} (Platform.Name {platform})"
    expected = f"edition {required}" + (f", version >= {min_version}" if min_version else "")
    ok = required in ("any", have) and (not min_version or version_tuple(version.get("Version", "")) >= version_tuple(min_version))
    return Verdict(ok, expected, found)

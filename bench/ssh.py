"""The whole suite over ssh:// on one debian lab host, with and without --ssh-work-ahead (issue #17).

Starts lab host <prefix>bench-ssh (prefix: $CONFORMANCE_BENCH_HOST_PREFIX) and runs one warm-up (work ahead,
cold: the host pulls nginx and hello-world from the mirror; --keep-pulled-images leaves them there, so the timed
runs find the images present, as the local:// bench does). Then --runs rounds of: the local:// suite (bench/run.py's
command), work ahead, inline; alternating, so that a change of the machine's load falls on all three and the
ssh/local ratio compares runs made at the same load. Before each run the ControlMaster to the host is closed, so
every run opens (and pays for) its own connections. Records wall time, the runner's CPU seconds (bench/runner.py)
and the load before each run under "ssh" in reports/bench.json; stops the host.

    python bench/ssh.py [--runs 3] [--out reports/bench.json] [--keep-host]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import figures, runner  # noqa: E402
from conformance.lab import engine, hosts, registry, sshconf  # noqa: E402

MODES = {"work ahead": "--ssh-work-ahead=true", "inline": "--ssh-work-ahead=false"}
LOCAL = "local:// (same rounds)"  # bench/run.py's suite run, in the same rounds: the ssh/local ratio at one load


def command(spec: str, mirror: str, mode: str, report_dir: Path, *extra: str) -> list[str]:
    if mode == LOCAL:
        return [sys.executable, "-m", "pytest", "-q", "suites"]
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--hosts={spec}", f"--mirror={mirror}",
            MODES[mode], f"--report-dir={report_dir}", *extra, "suites"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="Timed runs of each mode (after one warm-up)")
    p.add_argument("--out", default=str(figures.DEFAULT), help="JSON file whose 'ssh' key is written")
    p.add_argument("--keep-host", action="store_true", help="Leave the lab host running")
    args = p.parse_args(argv)
    runner.become_subreaper()
    name, out = f"{figures.HOST_PREFIX}bench-ssh", Path(args.out)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    runs: dict[str, list[dict]] = {mode: [] for mode in [LOCAL, *MODES]}
    load_before = os.getloadavg()
    with engine.client(timeout=120) as client:
        mirror = registry.url(hosts.bridge_gateway(client))
        try:
            spec = hosts.start(client, name, "debian")
            ip = urllib.parse.urlsplit(spec).hostname

            def once(mode: str, *extra: str) -> dict:
                sshconf.close_master(ip)
                row = runner.measure(command(spec, mirror, mode, out.parent / "bench-ssh-runs", *extra), figures.ROOT,
                                     env)
                print(f"{mode}: {row['wall_s']} s, runner CPU {row['runner_cpu_s']} s, load "
                      f"{row['load_before']}, exit {row['exit']}: {row['last_line']}", flush=True)
                return row
            warm = once("work ahead", "--keep-pulled-images")
            for _ in range(args.runs):
                for mode in runs:
                    runs[mode].append(once(mode))
        finally:
            if not args.keep_host:
                hosts.stop(client, name)
    failed = [r for mode, rows in [("work ahead", [warm]), *runs.items()] for r in rows
              if r["exit"] not in (runner.VERDICT_REACHED if mode == LOCAL else (0,))]  # the lab host conforms
    if failed:
        print(failed[0]["output"], file=sys.stderr)
    result = {"host": f"{name} (debian lab host)", "runs": args.runs, "started_by": "bench/ssh.py",
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()],
              "cold_first_run": {k: warm[k] for k in ("wall_s", "runner_cpu_s", "load_before", "exit", "last_line")},
              "modes": {mode: {"wall_s": figures.summary([r["wall_s"] for r in rows]),
                               "runner_cpu_s": figures.summary([r["runner_cpu_s"] for r in rows]),
                               "runs_s": [r["wall_s"] for r in rows], "loads": [r["load_before"] for r in rows],
                               "exits": [r["exit"] for r in rows], "outcome": rows[-1]["last_line"]}
                        for mode, rows in runs.items()}}
    figures.save("ssh", result, out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Fleet benchmark (issue 6): the whole suite on 1, 4 and 8 lab hosts in one run, one xdist worker per host; then the
largest fleet again with as many workers as the machine has cores and in one process (no xdist), and both over
paramiko:// (issue #17: where the runner's CPU per host goes). The one-process rows, which issue #17's CPU goal is
read from, run --repeats times in alternating rounds (ssh, paramiko, ssh, ...), so that a change of the machine's load
falls on both; each such row gives the median of its runs and their spread.

Starts lab hosts <prefix>fleet-b1..fleet-b8 (debian variant; prefix: $CONFORMANCE_BENCH_HOST_PREFIX), runs
`pytest -n N --hosts=...` once per row of plan() (schedule(): the one-process rows --repeats times), and records
wall time, the runner's CPU seconds (controller, workers and their ssh clients and ControlMasters, not the lab hosts'
own work: bench/runner.py), the peak summed RSS of that process tree, the machine's busy CPU seconds and the load
before each run. Before each run the ControlMasters to the hosts are closed, so the run pays for its own. Writes them
under "fleet" in reports/bench.json (beside the other bench scripts' figures) and prints a table; stops every host it
started.

    python bench/fleet.py [--sizes 1,4,8] [--repeats 3] [--out reports/bench.json] [--keep-hosts]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import figures, runner  # noqa: E402
from conformance.lab import engine, hosts, registry, sshconf  # noqa: E402

GOAL_RATIO = 2.5  # 8 hosts may take at most 2.5x the wall time of 1 (issue 6)


def plan(sizes: list[int], cores: int) -> list[tuple[int, int, str]]:
    """(hosts, workers, backend) of each run: every size with one worker per host over ssh:// (OpenSSH, testinfra's
    default); then the largest size with one worker per core and in one process (workers 0: no xdist, the hosts'
    engine work side by side in threads) over ssh://, and the same worker counts over paramiko:// (the commands
    over one paramiko connection per host instead of an `ssh` client per command)."""
    largest = max(sizes)
    rows = [(size, size, "ssh") for size in sizes]
    counts = list(dict.fromkeys((largest, min(cores, largest), 0)))
    rows += [(largest, workers, "ssh") for workers in counts[1:]]
    rows += [(largest, workers, "paramiko") for workers in counts]
    return rows


def schedule(rows: list[tuple[int, int, str]], repeats: int) -> list[tuple[int, int, str]]:
    """The runs, in order: each row once, then the one-process rows (workers 0) in `repeats` rounds, alternating."""
    return [row for row in rows if row[1]] + [row for row in rows if not row[1]] * repeats


def merged(runs: list[dict]) -> dict:
    """One row's figures from its runs: the median wall time and runner CPU (with each run's), the highest peak RSS,
    the first failing exit status (else 0), the load before the first run."""
    failed = [run for run in runs if run["exit"] != 0]
    return {"wall_s": round(statistics.median(run["wall_s"] for run in runs), 2),
            "runner_cpu_s": round(statistics.median(run["runner_cpu_s"] for run in runs), 2),
            "machine_cpu_s": round(statistics.median(run["machine_cpu_s"] for run in runs), 1),
            "peak_rss_mib": max(run["peak_rss_mib"] for run in runs), "exit": (failed or runs)[0]["exit"],
            "load_before": runs[0]["load_before"], "leftover_processes": max(run["leftover_processes"] for run in runs),
            "last_line": (failed or runs)[-1]["last_line"],
            "runs": [{k: run[k] for k in ("wall_s", "runner_cpu_s", "load_before", "exit")} for run in runs]}


def workers_label(workers: int) -> str:
    """-n N, or one process for 0 (no xdist)."""
    return f"-n {workers}" if workers else "one process"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1,4,8", help="Fleet sizes to run, comma-separated")
    p.add_argument("--out", default=str(figures.DEFAULT), help="JSON file whose 'fleet' key is written")
    p.add_argument("--repeats", type=int, default=3, help="Runs of each one-process row (median reported)")
    p.add_argument("--keep-hosts", action="store_true", help="Leave the lab hosts running")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    cores = os.cpu_count() or 1
    names = [f"{figures.HOST_PREFIX}fleet-b{i}" for i in range(1, max(sizes) + 1)]
    runner.become_subreaper()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = Path(args.out)
    runs: dict[tuple[int, int, str], list[dict]] = {}
    with engine.client(timeout=120) as client:
        mirror = registry.url(hosts.bridge_gateway(client))
        try:
            specs = [hosts.start(client, name, "debian") for name in names]
            for size, workers, backend in schedule(plan(sizes, cores), max(1, args.repeats)):
                targets = [backend + spec.removeprefix("ssh") for spec in specs[:size]]  # ssh://... or paramiko://...
                command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           *([f"-n{workers}"] if workers else []), f"--hosts={','.join(targets)}", f"--mirror={mirror}",
                           f"--report-dir={out.parent / 'bench-fleet-runs'}", "suites"]
                for spec in specs[:size]:
                    sshconf.close_master(urllib.parse.urlsplit(spec).hostname)
                measured = runner.measure(command, ROOT, env)
                if measured["exit"] != 0:
                    print(measured["output"], file=sys.stderr)
                runs.setdefault((size, workers, backend), []).append(measured)
                print(f"{size} host(s), {backend}://, {workers_label(workers)}: {measured['wall_s']} s, runner "
                      f"{measured['runner_cpu_s']} CPU-s, peak {measured['peak_rss_mib']} MiB, exit {measured['exit']}",
                      flush=True)
        finally:
            if not args.keep_hosts:
                for name in names:
                    hosts.stop(client, name)
    rows = [{"hosts": size, "workers": workers, "backend": backend, **merged(runs[size, workers, backend])}
            for size, workers, backend in plan(sizes, cores) if (size, workers, backend) in runs]
    one = next((r["wall_s"] for r in rows if r["hosts"] == 1 and r["backend"] == "ssh"), None)
    for row in rows:
        row["ratio_to_1"] = round(row["wall_s"] / one, 2) if one else None
        row["runner_cpu_s_per_host"] = round(row["runner_cpu_s"] / row["hosts"], 2)  # issue #17: goal <= 1.1 at 8
        row["runner_cpu_s_per_host_runs"] = [round(run["runner_cpu_s"] / row["hosts"], 2) for run in row["runs"]]
    result = {"sizes": rows, "goal": f"8 hosts <= {GOAL_RATIO}x the wall time of 1", "cpus": cores,
              "repeats": args.repeats, "started_by": "bench/fleet.py",
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    figures.save("fleet", result, out)
    print(f"\n{'hosts':>5}  {'backend':>8}  {'workers':>7}  {'wall s':>7}  {'x of 1':>6}  {'peak MiB':>8}  "
          f"{'runner CPU s':>12}  {'per host':>8}  {'machine CPU s':>13}  {'load':>5}  exit  runs (CPU-s per host)")
    for r in rows:
        print(f"{r['hosts']:>5}  {r['backend']:>8}  {workers_label(r['workers']):>7}  {r['wall_s']:>7}  {r['ratio_to_1']!s:>6}  "
              f"{r['peak_rss_mib']:>8}  {r['runner_cpu_s']:>12}  {r['runner_cpu_s_per_host']:>8}  "
              f"{r['machine_cpu_s']:>13}  {r['load_before']:>5}  {r['exit']:>4}  {len(r['runs'])} "
              f"({', '.join(map(str, r['runner_cpu_s_per_host_runs']))})")
    print(f"written to {out}")
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Fleet benchmark (issue 6): the whole suite on 1, 4 and 8 lab hosts in one run, one xdist worker per host.

Starts lab hosts fleet-b1..fleet-b8 (debian variant), runs `pytest -n N --hosts=...` once per size, and records
wall time, the peak summed RSS of the pytest processes (controller + workers, sampled from /proc every 0.2 s) and
the machine's load before each run. Writes them under "fleet" in reports/bench.json (beside bench/run.py's
figures) and prints a table; stops every host it started.

    python bench/fleet.py [--sizes 1,4,8] [--out reports/bench.json] [--keep-hosts]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from conformance.lab import engine, hosts, registry  # noqa: E402

GOAL_RATIO = 2.5  # 8 hosts may take at most 2.5x the wall time of 1 (issue 6)


def _children() -> dict[int, int]:
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


def _tree_rss_kib(root: int) -> int:
    parents = _children()
    tree, changed = {root}, True
    while changed:
        grown = {p for p, pp in parents.items() if pp in tree}
        changed = not grown <= tree
        tree |= grown
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def measure(argv: list[str]) -> dict:
    """Run argv from the repository root: wall seconds, peak summed RSS (MiB), CPU seconds of the pytest
    processes (controller and the workers it reaps) and of the whole machine, exit status, last output line."""
    load = os.getloadavg()[0]
    cpu_before, busy_before = resource.getrusage(resource.RUSAGE_CHILDREN), _busy_cpu_s()
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, done = [0], threading.Event()

    def sample():
        while not done.wait(0.2):
            peak[0] = max(peak[0], _tree_rss_kib(proc.pid))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0]
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    cpu_after, busy = resource.getrusage(resource.RUSAGE_CHILDREN), _busy_cpu_s() - busy_before
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    lines = [l for l in output.strip().splitlines() if l.strip()]
    return {"wall_s": round(wall, 2), "peak_rss_mib": round(peak[0] / 1024, 1), "runner_cpu_s": round(cpu, 1),
            "machine_cpu_s": round(busy, 1),
            "exit": proc.returncode,
            "load_before": round(load, 2), "last_line": lines[-1] if lines else ""}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1,4,8", help="Fleet sizes to run, comma-separated")
    p.add_argument("--out", default=str(ROOT / "reports" / "bench.json"), help="JSON file whose 'fleet' key is written")
    p.add_argument("--keep-hosts", action="store_true", help="Leave the lab hosts running")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    names = [f"fleet-b{i}" for i in range(1, max(sizes) + 1)]
    out = Path(args.out)
    rows = []
    with engine.client(timeout=120) as client:
        mirror = registry.url(hosts.bridge_gateway(client))
        try:
            specs = [hosts.start(client, name, "debian") for name in names]
            for size in sizes:
                command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"-n{size}",
                           f"--hosts={','.join(specs[:size])}", f"--mirror={mirror}",
                           f"--report-dir={out.parent / 'bench-fleet-runs'}", "suites"]
                row = {"hosts": size, "workers": size, **measure(command)}
                rows.append(row)
                print(f"{size} host(s): {row['wall_s']} s, peak {row['peak_rss_mib']} MiB, exit {row['exit']}",
                      flush=True)
        finally:
            if not args.keep_hosts:
                for name in names:
                    hosts.stop(client, name)
    one = next((r["wall_s"] for r in rows if r["hosts"] == 1), None)
    for row in rows:
        row["ratio_to_1"] = round(row["wall_s"] / one, 2) if one else None
        row["runner_cpu_s_per_host"] = round(row["runner_cpu_s"] / row["hosts"], 2)  # issue #17: goal <= 1.1 at 8
    result = {"sizes": rows, "goal": f"8 hosts <= {GOAL_RATIO}x the wall time of 1", "cpus": os.cpu_count(),
              "started_by": "bench/fleet.py", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        figures = json.loads(out.read_text())
    except (OSError, ValueError):
        figures = {}
    out.write_text(json.dumps({**figures, "fleet": result}, indent=2) + "\n")
    print(f"\n{'hosts':>5}  {'wall s':>7}  {'x of 1':>6}  {'peak MiB':>8}  {'runner CPU s':>12}  {'per host':>8}  "
          f"{'machine CPU s':>13}  {'load':>5}  exit")
    for r in rows:
        print(f"{r['hosts']:>5}  {r['wall_s']:>7}  {r['ratio_to_1']!s:>6}  {r['peak_rss_mib']:>8}  "
              f"{r['runner_cpu_s']:>12}  {r['runner_cpu_s_per_host']:>8}  {r['machine_cpu_s']:>13}  "
              f"{r['load_before']:>5}  {r['exit']}")
    print(f"written to {out}")
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The last step of `tox -e bench`: local://, ssh:// and fleet figures side by side, from reports/bench.json.

bench/run.py (local:// suite, bare script, collection), bench/ssh.py (one debian lab host, with and without
--ssh-work-ahead) and bench/fleet.py (1, 4, 8 lab hosts) each write their key; this prints one table of them with
issue #17's goals and the load each was measured at. Figures, not pass/fail: exit status 0 unless a key is missing.

    python bench/table.py [--out reports/bench.json]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import figures  # noqa: E402

SSH_GOAL, CPU_GOAL = 1.5, 1.1  # ssh/local wall time; runner CPU seconds per host in the 8-host fleet


def _spread(wall: dict) -> str:
    return f"{wall['median']:.2f} ({wall['min']:.2f}–{wall['max']:.2f})"


def rows(data: dict) -> list[tuple[str, str, str, str, str, str]]:
    """(measure, median s (min–max), runs, runner CPU s, load, goal) for each figure there is."""
    out = []
    local = data.get("figures", {})
    local_median = local.get("suite", {}).get("wall_s", {}).get("median")
    load = f"{data.get('load_before', ['?'])[0]} → {data.get('load_after', ['?'])[0]}"
    for name, label in (("suite", "suite on local://"), ("bare", "bare docker-py script"),
                        ("collect", "pytest --collect-only")):
        if name in local:
            cpu = local[name].get("cpu_s", {}).get("median")
            out.append((label, _spread(local[name]["wall_s"]), str(data.get("runs", "?")),
                        "" if cpu is None else f"{cpu:.2f}", load, ""))
    ssh = data.get("ssh", {})
    cold = ssh.get("cold_first_run")
    if cold:
        out.append(("ssh:// 1 lab host, cold first run (pulls), work ahead", f"{cold['wall_s']:.2f}", "1",
                    f"{cold['runner_cpu_s']:.2f}", str(cold["load_before"]), ""))
    modes = ssh.get("modes", {})
    same_rounds = modes.get("local:// (same rounds)", {}).get("wall_s", {}).get("median")
    for mode, f in modes.items():
        base = same_rounds or local_median  # the local:// runs made between the ssh runs, at their load
        ratio = f["wall_s"]["median"] / base if base and "local" not in mode else None
        goal = f"ssh/local {ratio:.1f} (goal ≤ {SSH_GOAL}: {'met' if ratio <= SSH_GOAL else 'not met'})" if ratio else ""
        loads = f["loads"]
        label = mode if "local" in mode else f"ssh:// 1 lab host, images present, {mode}"
        out.append((label, _spread(f["wall_s"]), str(ssh["runs"]),
                    f"{f['runner_cpu_s']['median']:.2f}", f"{min(loads)}–{max(loads)}", goal))
    for r in data.get("fleet", {}).get("sizes", []):
        per_host, runs = r["runner_cpu_s_per_host"], r.get("runner_cpu_s_per_host_runs", [])
        spread = f" ({min(runs):.2f}–{max(runs):.2f})" if len(runs) > 1 else ""
        goal = (f"{per_host:.2f}{spread} CPU-s/host (goal ≤ {CPU_GOAL}: {'met' if per_host <= CPU_GOAL else 'not met'})"
                if r["hosts"] == 8 else f"{per_host:.2f} CPU-s/host")
        workers = f"-n {r['workers']}" if r["workers"] else "one process"
        loads = [run["load_before"] for run in r.get("runs", [r])]  # a bench.json of before --repeats: one run
        load = str(loads[0]) if min(loads) == max(loads) else f"{min(loads)}–{max(loads)}"
        out.append((f"fleet {r['hosts']} host(s), {r.get('backend', 'ssh')}://, {workers}",
                    f"{r['wall_s']:.2f} (× {r['ratio_to_1']} of 1)", str(len(loads)), f"{r['runner_cpu_s']:.2f}", load,
                    goal))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(figures.DEFAULT), help="The JSON file the bench scripts wrote")
    args = p.parse_args(argv)
    data = figures.load(Path(args.out))
    m = data.get("machine", {})
    print(f"\n{m.get('os', '?')}, {m.get('cores', '?')} cores, engine {m.get('engine', '?')}, Python "
          f"{m.get('python', '?')}; load average (1 min) before / after each part as shown")
    header = ("measure", "wall s, median (min–max)", "runs", "runner CPU s", "load", "issue #17 goal")
    table = [header, *rows(data)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip())
    missing = [key for key in ("figures", "ssh", "fleet") if key not in data]
    if missing:
        print(f"bench: no figures for {', '.join(missing)} in {args.out}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

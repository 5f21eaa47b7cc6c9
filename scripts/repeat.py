"""Run the full suite N times against one target and report whether every run gave the same outcomes (not CI).

    python scripts/repeat.py --hosts ssh://root@172.17.0.2 -n 20          # any target
    python scripts/repeat.py --lab -n 20                                   # a fresh lab host, stopped afterwards

Each run is a subprocess (`pytest suites --hosts TARGET`) of the committed tree (git archive HEAD, so an
edit in progress in the work tree does not count as a difference); the outcomes compared are every
requirement's status, the leak audit's status and the exit code. Extra arguments after `--` go to pytest.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_LIMIT_S = 600  # one run; a hung run is an outcome too


def one_run(tree: Path, hosts: str, extra: list[str], reports: Path) -> tuple[tuple, float]:
    """(exit code, leak audits, statuses) of one run and its wall time; the tree's own package is imported (cwd)."""
    began = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider",
                               f"--hosts={hosts}", f"--report-dir={reports}", *extra], cwd=tree,
                              capture_output=True, text=True, timeout=RUN_LIMIT_S)
    except subprocess.TimeoutExpired:
        return ("timed out",), time.monotonic() - began
    elapsed = time.monotonic() - began
    latest = reports / "latest" / "results.json"
    if not latest.exists():
        return (proc.returncode, "no results.json", proc.stdout[-500:]), elapsed
    for line in proc.stdout.splitlines():
        if line.startswith("conformance: cleanup problem"):
            print(f"    {line[:400]}")
    data = json.loads(latest.read_text())
    latest.parent.unlink()  # the link only: a later run that writes no results.json must not reuse this one
    outcome = tuple(sorted((target, req_id, entry["status"]) for target, host in data["hosts"].items()
                           for req_id, entry in host["requirements"].items()))
    for target, host in data["hosts"].items():
        for req_id, entry in host["requirements"].items():
            if entry["status"] not in ("passed", "not-applicable"):
                print(f"    {req_id} {entry['status']}: {entry['message'][:300]}")
        audit = host.get("run_checks", {}).get("run.leak-audit", {})
        if audit.get("status") != "passed":
            print(f"    run.leak-audit {audit.get('status')}: {audit.get('message', '')[:500]}")
    audits = tuple(sorted((t, h.get("run_checks", {}).get("run.leak-audit", {}).get("status")) for t, h in data["hosts"].items()))
    return (proc.returncode, audits, outcome), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", help="Target spec(s), as for pytest --hosts")
    parser.add_argument("--lab", action="store_true", help="Start a fresh debian lab host and stop it afterwards")
    parser.add_argument("-n", type=int, default=20, help="Number of runs (default: 20)")
    parser.add_argument("pytest_args", nargs="*", help="Extra pytest arguments (after --)")
    args = parser.parse_args()
    if bool(args.hosts) == bool(args.lab):
        parser.error("give --hosts or --lab")
    name = f"repeat-{os.getpid()}"
    hosts = args.hosts
    if args.lab:
        started = subprocess.run(["conformance-lab", "host", "start", name, "--variant", "debian"],
                                 capture_output=True, text=True, timeout=300)
        if started.returncode != 0:
            print(started.stderr, file=sys.stderr)
            return 1
        hosts = started.stdout.strip().splitlines()[-1]
    try:
        with tempfile.TemporaryDirectory(prefix="conformance-repeat-") as tmp:
            tree = Path(tmp) / "tree"
            tree.mkdir()
            archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD"], capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
            seen = collections.Counter()
            first = None
            times = []
            for i in range(args.n):
                outcome, elapsed = one_run(tree, hosts, args.pytest_args, Path(tmp) / "reports")
                times.append(elapsed)
                seen[outcome] += 1
                first = first or outcome
                same = "same" if outcome == first else "DIFFERENT"
                print(f"run {i + 1}/{args.n}: exit {outcome[0]}, {elapsed:.1f} s, {same}", flush=True)
    finally:
        if args.lab:
            subprocess.run(["conformance-lab", "host", "stop", name], capture_output=True, timeout=120)
    print(f"\n{args.n} runs against {hosts}: {len(seen)} distinct outcome(s); "
          f"wall time per run min {min(times):.1f} s, max {max(times):.1f} s, mean {sum(times) / len(times):.1f} s")
    for outcome, count in seen.most_common():
        code, audits, statuses = outcome if len(outcome) == 3 else (*outcome, ())
        summary = dict(collections.Counter(s for *_, s in statuses)) if isinstance(statuses, tuple) else statuses
        print(f"  {count}x exit {code}, leak audit {audits}, {summary}")
    return 0 if len(seen) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())

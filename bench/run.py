"""`tox -e bench`, first part: wall time of the suite on a warm local:// target against the bare script, and collection time.

Each measurement runs in a subprocess (one warm-up run first, not counted), several times; the table and
reports/bench.json give median, min and max, the peak RSS of the process (wait4's ru_maxrss), and the load of
the machine before and after, which other runs on a shared machine inflate. Figures, not pass/fail: the
exit status is 0 whenever every run worked: the suite's runs reached a verdict (bench.runner.VERDICT_REACHED: the
machine's own engine need not conform), the others exited 0.

    python bench/run.py [--runs 5] [--out reports/bench.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import figures as figures_mod  # noqa: E402 - the bench's one summary and bench.json
from bench.runner import VERDICT_REACHED  # noqa: E402
GOALS = {"suite_s": 4.0, "ratio": 1.5, "collect_s": 1.0}
MEASURES = {
    "suite": [sys.executable, "-m", "pytest", "-q", "suites"],
    "bare": [sys.executable, "bench/bare.py"],
    "collect": [sys.executable, "-m", "pytest", "--collect-only", "-q", "suites"],
}
WORKED = {"suite": VERDICT_REACHED}  # the exit statuses of a run that worked; 0 for the others


def timed(argv: list[str]) -> dict:
    """Run argv from the repository root; wall seconds, peak RSS in MiB, exit status and the last output line."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with bytecode caching, as a default Python has it
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage (RUSAGE_CHILDREN would mix all runs)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in output.splitlines() if line.strip()]
    return {"wall_s": round(wall, 3), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "exit": proc.returncode, "last_line": lines[-1] if lines else "", "output": output}


def machine() -> dict:
    def read(path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError:
            return ""
    pretty = re.search(r'^PRETTY_NAME="?([^"\n]*)', read("/etc/os-release"), re.M)
    try:
        engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                                text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        engine = "?"
    return {"os": pretty.group(1) if pretty else "?", "cores": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "engine": engine or "?",
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Timed runs of each measurement (after one warm-up)")
    parser.add_argument("--out", default="reports/bench.json", help="Where to write the figures as JSON")
    args = parser.parse_args()
    load_before = os.getloadavg()
    results: dict[str, list[dict]] = {}
    for name, argv in MEASURES.items():
        print(f"bench: {name}: 1 warm-up + {args.runs} runs of {' '.join(argv[1:])}", flush=True)
        worked = WORKED.get(name, (0,))
        warm = timed(argv)
        if warm["exit"] not in worked:
            print(warm["output"], file=sys.stderr)
            print(f"bench: {name} failed (exit {warm['exit']}): {warm['last_line']}", file=sys.stderr)
            return 1
        results[name] = [timed(argv) for _ in range(args.runs)]
        failed = [r for r in results[name] if r["exit"] not in worked]
        if failed:
            print(failed[0]["output"], file=sys.stderr)
            print(f"bench: a {name} run failed (exit {failed[0]['exit']})", file=sys.stderr)
            return 1
    figures = {name: {"wall_s": figures_mod.summary([r["wall_s"] for r in runs]),
                      "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
                      "cpu_s": figures_mod.summary([r["cpu_s"] for r in runs]),
                      "runs_s": [r["wall_s"] for r in runs], "outcome": runs[-1]["last_line"]}
               for name, runs in results.items()}
    ratio = round(figures["suite"]["wall_s"]["median"] / figures["bare"]["wall_s"]["median"], 2)
    report = {"machine": machine(), "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()], "runs": args.runs, "target": "local://",
              "figures": figures, "suite_over_bare": ratio, "goals": GOALS,
              "goals_met": {"suite_s": figures["suite"]["wall_s"]["median"] <= GOALS["suite_s"],
                            "ratio": ratio <= GOALS["ratio"],
                            "collect_s": figures["collect"]["wall_s"]["median"] <= GOALS["collect_s"]}}
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**figures_mod.load(out), **report}, indent=2) + "\n")  # ssh and fleet's keys kept
    m = report["machine"]
    print(f"\n{m['os']}, {m['cores']} cores, {m['mem_gib']} GiB, kernel {m['kernel']}, engine {m['engine']}, "
          f"Python {m['python']}; load average before {report['load_before']}, after {report['load_after']}")
    print(f"{'measure':<10} {'median s':>9} {'min s':>7} {'max s':>7} {'peak RSS MiB':>13}  outcome")
    for name, f in figures.items():
        w = f["wall_s"]
        print(f"{name:<10} {w['median']:>9.2f} {w['min']:>7.2f} {w['max']:>7.2f} {f['peak_rss_mib']:>13.1f}  {f['outcome']}")
    print(f"suite / bare (medians): {ratio}   goals: suite <= {GOALS['suite_s']} s, ratio <= {GOALS['ratio']}, "
          f"collect <= {GOALS['collect_s']} s; met: {report['goals_met']}")
    print(f"written: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

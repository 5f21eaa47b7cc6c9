"""The main job on the built-in lab: up, two lab hosts, the suite against them and local://."""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from conformance import report
from conformance.lab import cli, engine, hosts, registry
from conformance.outcomes import BLOCKED, ERROR, FAILED, Blocked

HOSTS = (("lab-debian", "debian"), ("lab-centos7", "centos7-sim"))
LOCAL = "local://"


def untold(entries: dict) -> list[str]:
    """The ids the suite could not tell on a target: its errors and the ids they blocked (catalogue order)."""
    out = []
    for req_id, e in entries.items():
        if e["status"] == ERROR or (e["status"] == BLOCKED and any(
                e["message"].startswith(Blocked("", cause).text().rstrip()) for cause in out)):
            out.append(req_id)
    return out


def judged(code: int, results: dict | None) -> tuple[int, str]:
    """The main job's exit status and the line saying why. The lab hosts prove the lab and the suite work, so the
    suite's exit status stands, but for a 1 whose only cause is what the suite could not tell on local:// (this
    machine, whose engine the lab started outside any boot: service.enabled where systemd is not PID 1); a failed
    (or blocked) MUST there, a local:// the suite could check not at all, or a leak still fails the main job."""
    host = (results or {}).get("hosts", {}).get(LOCAL)
    if host is None or code not in (0, 1):
        return code, f"main job: exit {code}, the suite's: {report.EXIT_MEANINGS.get(code, 'pytest exit status')}"
    entries = host["requirements"]
    aside = [] if host["verdict"] == "could not be checked" else untold(entries)
    told = {i: e for i, e in entries.items() if i not in aside}
    leaks = [h["name"] for h in results["hosts"].values()
             if any(c["status"] in (FAILED, ERROR) for c in (h.get("run_checks") or {}).values())]
    lab = [h["name"] for t, h in results["hosts"].items() if t != LOCAL and h["verdict"] != "conforms"]
    ours = 0 if (code == 1 and aside and not lab and not leaks
                 and report.host_verdict(told, results["strict_should"]) == "conforms") else code
    failed = [i for i, e in told.items() if e["status"] == FAILED]
    return ours, "; ".join(filter(None, (
        f"main job: exit {ours}{f' (the suite: {code})' if ours != code else ''}: "
        + (f"lab hosts {', '.join(lab)} do not conform" if lab else "the lab hosts conform"),
        f"local:// (this machine) {host['verdict']}" + (f": {', '.join(failed)} failed" if failed else ""),
        aside and "the suite cannot tell there " + ", ".join(f"{i} ({entries[i]['status']}: {entries[i]['message']})"
                                                          for i in aside),
        ours == 0 and aside and "what it cannot tell does not fail the main job, a failed MUST there would",
        leaks and f"leak audit failed on {', '.join(leaks)}")))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m conformance.lab.main_job", description=__doc__)
    p.add_argument("--keep-hosts", action="store_true", help="Leave the lab hosts running afterwards")
    p.add_argument("--report-dir", default=os.environ.get("CONFORMANCE_REPORT_DIR", "reports"),
                   help="Folder for the run folders and the latest link (default: reports)")
    args, pytest_args = p.parse_known_args(argv)
    if cli.main(["up"]) != 0:
        return 1
    specs = [LOCAL]
    latest = Path(args.report_dir) / "latest"
    before = latest.resolve() if latest.exists() else None
    with engine.client(timeout=120) as client:
        gateway = hosts.bridge_gateway(client)
        try:
            for name, variant in HOSTS:
                specs.append(hosts.start(client, name, variant))
            command = [sys.executable, "-m", "pytest", f"--hosts={','.join(specs)}", f"--report-dir={args.report_dir}",
                       f"--mirror=local://={registry.url('127.0.0.1')}",
                       f"--mirror=ssh://*={registry.url(gateway)}", *pytest_args]
            print("running:", " ".join(command), flush=True)
            code = subprocess.run(command).returncode
        finally:
            if not args.keep_hosts:
                for name, _ in HOSTS:
                    hosts.stop(client, name)
    try:  # this run's results.json, not an earlier run's
        results = json.loads((latest / "results.json").read_text()) if latest.resolve() != before else None
    except (OSError, ValueError):
        results = None
    code, line = judged(code, results)
    print(line, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

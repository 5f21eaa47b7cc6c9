"""conformance-cleanup: remove what crashed or killed runs left on a target, by run label only."""
from __future__ import annotations

import argparse
import sys
import time

from conformance import cleanup, engine as engines, hostkeys
from conformance.masking import redact
from conformance.outcomes import TargetError, one_line

ATTEMPTS, PAUSE_S = 3, 2


def say(line: str, **kwargs) -> None:
    """print, redacted: target specs may hold passwords, and run ids and image names come from the target's labels."""
    print(redact(line), **kwargs)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="conformance-cleanup",
        description="Remove the containers, images, networks and volumes labelled conformance.run=<id> "
                    "(and the images such a run pulled). Without --run or --all-runs, list the runs found.")
    parser.add_argument("--hosts", required=True, help="Comma-separated targets, as for pytest --hosts")
    parser.add_argument("--run", action="append", default=[], metavar="ID", help="Run id to clean up; repeatable")
    parser.add_argument("--all-runs", action="store_true", help="Clean up every run's leftovers (do not use while a run is in progress)")
    parser.add_argument("--engine-url", metavar="URL", help="Docker API URL instead of the one derived from the target")
    parser.add_argument("--call-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="Timeout of every Docker call (default: 30)")
    parser.add_argument("--ssh-config", help="SSH config file for ssh:// targets")
    parser.add_argument("--ssh-identity-file", help="SSH key for ssh:// targets")
    parser.add_argument("--skip-host-key-check", action="store_true",
                        help="Accept any SSH host key of the engine's ssh:// link (default: checked against known_hosts)")
    args = parser.parse_args(argv)
    if args.run and args.all_runs:
        parser.error("give --run or --all-runs, not both")
    if args.call_timeout <= 0:
        parser.error("--call-timeout must be above 0")
    return args


def clean(spec: str, args: argparse.Namespace) -> list[str]:
    """Clean one target; return its problems (printed as they happen)."""
    import testinfra  # late: importing it costs a little and is only needed here

    try:
        backend = testinfra.get_host(spec, ssh_config=args.ssh_config,
                                     ssh_identity_file=args.ssh_identity_file).backend
    except Exception as e:  # noqa: BLE001 - testinfra raises RuntimeError or RuntimeError-likes for bad specs
        raise TargetError(f"{spec}: not a target spec testinfra understands: {one_line(str(e) or type(e).__name__)}") from e
    url = engines.url_for(spec, backend, args.engine_url)
    policy = hostkeys.Policy(check=not args.skip_host_key_check, ssh_config=args.ssh_config, names=(backend.hostname,))
    client = engines.connect(spec, url, args.call_timeout, policy)
    engines.guard_client(client, spec, args.call_timeout)
    try:
        found = sorted(cleanup.leftover_runs(client))
        runs = found if args.all_runs else args.run
        if not runs:
            say(f"{spec}: leftovers of run(s): {', '.join(found) or 'none'}"
                  + (" (clean them with --run ID or --all-runs)" if found else ""))
            return []
        problems = []
        for run_id in runs:
            released: dict[str, str] = {}
            run_problems = cleanup.sweep(client, run_id, released)
            state = "not found" if run_id not in found else ("removed" if not run_problems else "problems")
            kept = sorted(ref for ref, what in released.items() if what == cleanup.KEPT)
            say(f"{spec}: run {run_id}: {state}" + (f" ({cleanup.KEPT}: {', '.join(kept)})" if kept else ""))
            problems += [f"{spec}: run {run_id}: {p}" for p in run_problems]
        return problems
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    problems = []
    for spec in [s.strip() for s in args.hosts.split(",") if s.strip()]:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                problems += clean(spec, args)
                break
            except TargetError as e:
                # A target that just came back (engine restarted, link up again) may refuse the first tries.
                if attempt == ATTEMPTS or "not a target spec" in str(e):
                    problems.append(str(e))
                    break
                say(f"{spec}: attempt {attempt} failed ({e}); trying again in {PAUSE_S} s", file=sys.stderr)
                time.sleep(PAUSE_S)
    for problem in problems:
        say(f"conformance-cleanup: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The main job on the built-in lab: up, two lab hosts, the suite against them and local://."""
import argparse
import subprocess
import sys

from conformance.lab import cli, engine, hosts, registry

HOSTS = (("lab-debian", "debian"), ("lab-centos7", "centos7-sim"))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m conformance.lab.main_job", description=__doc__)
    p.add_argument("--keep-hosts", action="store_true", help="Leave the lab hosts running afterwards")
    args, pytest_args = p.parse_known_args(argv)
    if cli.main(["up"]) != 0:
        return 1
    specs = ["local://"]
    with engine.client(timeout=120) as client:
        gateway = hosts.bridge_gateway(client)
        try:
            for name, variant in HOSTS:
                specs.append(hosts.start(client, name, variant))
            command = [sys.executable, "-m", "pytest", f"--hosts={','.join(specs)}",
                       f"--mirror=local://={registry.url('127.0.0.1')}",
                       f"--mirror=ssh://*={registry.url(gateway)}", *pytest_args]
            print("running:", " ".join(command), flush=True)
            return subprocess.run(command).returncode
        finally:
            if not args.keep_hosts:
                for name, _ in HOSTS:
                    hosts.stop(client, name)


if __name__ == "__main__":
    sys.exit(main())

"""Rehearse the README's first command (with --both, its two) on a brand-new machine: a Debian 12 container with
Python and git but no engine, no lab state and no Debian packages of the lab, into which this tree is copied; inside
it, `pip install tox && tox -e lab` runs as a newcomer types it (apt branch, engine start, images, lab hosts, suite),
and with --both `pip install tox && tox -e selftest` after it (what .ci/run calls).

The container stands for this machine kind (root, systemd installed but not PID 1, the machine's own certificate authorities
from /usr/local/share/ca-certificates, through which its package mirrors are reached). Two differences, both said in
the output:
Debian's own python3 stands for the machine's Python (pip may install as root: PIP_BREAK_SYSTEM_PACKAGES=1), and
its engine's data lives on a volume (overlay2 cannot sit on the container's overlay root).
"""
import argparse
import io
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from conformance.lab import cli, engine, hosts, images, paths
from conformance.lab.progress import LabError, fail, heartbeat, say

FRESH = images.Recipe(
    name="fresh", builder="debootstrap", sources=("fresh/setup.sh",),
    # This machine kind has systemd installed (not as PID 1: `systemctl is-enabled` works, `is-active` does not).
    packages=("python3", "python3-pip", "python3-venv", "git", "ca-certificates", "procps", "iproute2", "systemd",
              "systemd-sysv"),
    changes=('CMD ["sleep", "infinity"]',))
NAME = hosts.PREFIX + "fresh"
ROLE = "fresh"
REPO = Path(__file__).resolve().parents[2]
FIRST_COMMAND = "pip install tox && tox -e lab"
BOTH_COMMANDS = FIRST_COMMAND + " && pip install tox && tox -e selftest"  # the README's two, one after the other
ENV = {"PIP_BREAK_SYSTEM_PACKAGES": "1", "PIP_DEFAULT_TIMEOUT": "180", "DEBIAN_FRONTEND": "noninteractive",
       "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt"}
LOCAL_CAS = Path("/usr/local/share/ca-certificates")


def machine_cas() -> bytes:
    """The machine's own certificate authorities (as a tar for the same folder in the container)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for ca in sorted(LOCAL_CAS.glob("*.crt")):
            tar.add(ca, arcname=str(ca).lstrip("/"))
    return buf.getvalue()


def tree_archive(repo: Path = REPO) -> bytes:
    """This tree as git sees it (tracked files and untracked ones it does not ignore), as a tar under src/."""
    names = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True, check=True, timeout=60).stdout.decode().split("\0")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in filter(None, names):
            if (repo / name).exists():
                tar.add(repo / name, arcname=f"src/{name}", recursive=False)
    return buf.getvalue()


def remove(client) -> None:
    for c in client.containers.list(all=True, filters={"label": f"{paths.LABEL}={ROLE}"}):
        c.remove(force=True, v=True)
    for v in client.volumes.list(filters={"label": f"{paths.LABEL}={ROLE}"}):
        v.remove(force=True)


def rehearse(client, log: Path, limit: float, command: str = FIRST_COMMAND) -> int:
    image = images.ensure_built(client, FRESH)
    remove(client)
    labels = {paths.LABEL: ROLE}
    volume = client.volumes.create(f"{NAME}-docker", labels=labels)
    container = client.containers.run(
        image.id, name=NAME, hostname="fresh", labels=labels, detach=True, environment=ENV,
        cap_add=["ALL"], cap_drop=hosts.CAP_DROP, security_opt=hosts.SECURITY_OPT, cgroupns="host",
        volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
                 volume.name: {"bind": "/var/lib/docker", "mode": "rw"}})
    try:
        if not (container.put_archive("/", tree_archive()) and container.put_archive("/", machine_cas())):
            raise LabError(f"could not copy the tree and the machine's certificate authorities into {NAME}")
        code, out = container.exec_run(["update-ca-certificates"])
        if code != 0:
            raise LabError(f"update-ca-certificates in {NAME}: exit {code}: {out.decode(errors='replace')[-500:]}")
        say(f"in {NAME} (Debian 12, no engine, no lab state): cd /src && {command}; output in {log}")
        began = time.monotonic()
        exec_id = client.api.exec_create(container.id, ["timeout", str(int(limit)), "sh", "-c",
                                                        f"cd /src && {command}"])["Id"]
        with open(log, "wb") as out, heartbeat(command, every=30):
            for chunk in client.api.exec_start(exec_id, stream=True):
                out.write(chunk)
                out.flush()
        took = time.monotonic() - began
        code = client.api.exec_inspect(exec_id)["ExitCode"]
        say(f"`{command}` on a fresh machine: exit {code} in {took / 60:.1f} min (see {log})")
        if code != 0:
            print("".join(log.read_text(errors="replace").splitlines(keepends=True)[-40:]), flush=True)
        return code
    finally:
        remove(client)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m conformance.lab.fresh", description=__doc__)
    p.add_argument("--limit", type=float, default=2400, help="Seconds the first command may take")
    p.add_argument("--log", type=Path, default=paths.LOGS / "fresh.log", help="Where its output goes")
    p.add_argument("--both", action="store_true", help="Run the README's second command (tox -e selftest) after it")
    args = p.parse_args(argv)
    say("fresh-machine rehearsal: Debian's python3 stands for the machine's Python (PIP_BREAK_SYSTEM_PACKAGES=1); "
        "the inner engine keeps its data on a volume")
    if cli.main(["up"]) != 0:  # the machine's own engine and debootstrap
        return 1
    try:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        with engine.client(timeout=300) as client:
            command = BOTH_COMMANDS if args.both else FIRST_COMMAND
            return 0 if rehearse(client, args.log, args.limit, command) == 0 else 1
    except LabError as e:
        return fail(str(e))


if __name__ == "__main__":
    sys.exit(main())

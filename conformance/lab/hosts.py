"""Lab hosts: containers that are whole Docker hosts (systemd, sshd, their own dockerd), reached over SSH."""
import io
import ipaddress
import json
import re
import socket
import subprocess
import tarfile
import time
from dataclasses import dataclass, replace

import docker

from conformance.lab import extra_registry, images, paths, registry, releases, rpms, sshconf, variants
from conformance.lab.progress import LabError, say, step, wait_for
from conformance.profiles import DAEMON_JSON

PREFIX = "conformance-lab-"
HOST_LABEL = "conformance.lab.host"
RELEASE_LABEL = "conformance.lab.release"
STORE_LABEL = "conformance.lab.store"
ROLE = "host"
# A mirror miss must never leave the machine: Docker Hub's names resolve to nowhere inside a lab host.
DOCKER_HUB = ("registry-1.docker.io", "index.docker.io", "auth.docker.io", "production.cloudflare.docker.com")
# --privileged is refused here; these are what systemd and a nested dockerd need instead.
CAP_DROP = ["SYS_RESOURCE", "MAC_OVERRIDE"]
SECURITY_OPT = ["seccomp=unconfined", "apparmor=unconfined"]
SSH_TIMEOUT = 20
BOOT_TIMEOUT = 30
ENGINE_TIMEOUT = 30
EXEC_TIMEOUT = 120
# Volumes for the host's engine data: /var/lib/docker always, /var/lib/containerd for the containerd image store
# (where its images and snapshots live).
DATA_VOLUMES = {"docker": "/var/lib/docker", "containerd": "/var/lib/containerd"}


@dataclass(frozen=True)
class Row:
    """One lab host as `host list` shows it."""
    name: str
    variant: str
    state: str
    spec: str
    engine: str = ""  # release, init system and image store, e.g. "sid (sysvinit, no systemd), containerd"

    def __str__(self):
        return f"{self.name:20} {self.variant:24} {self.state:10} {self.engine:40} {self.spec}"


OBSERVER_LABEL = "conformance.lab.observer"  # the user the suite logs in as, when not root
SUDO_LABEL = "conformance.lab.observer-sudo"  # "true": the suite runs its commands through sudo (?sudo=true)


def spec(ip, user=sshconf.USER, sudo=False):
    """The target spec: testinfra's ssh backend as-is; ssh://root@<ip> also works for docker-py (via ~/.ssh)."""
    return f"ssh://{user}@{ip}?ssh_identity_file={sshconf.client_key()}" + ("&sudo=true" if sudo else "")


def bridge_gateway(client):
    """The default bridge's gateway. Its IPAM config names it only when the engine was given one; an engine that
    chose its own subnet (e.g. 172.18.0.0/16 where 172.17.0.0/16 is taken) gives the bridge the subnet's first
    address."""
    config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    return config.get("Gateway") or str(ipaddress.ip_network(config["Subnet"]).network_address + 1)


def substitutions(client):
    """What "{gateway}" and "{mirror}" stand for in variants.toml (and in a variant's policy)."""
    gateway = bridge_gateway(client)
    return {"{gateway}": gateway, "{mirror}": registry.url(gateway)}


def engine_description(release_name, store):
    """How a lab host runs its engine, as `host list` shows it."""
    release = releases.get(release_name)
    return f"{release.name} ({release.describe()}), {store}"


def start(client, name, variant_name, release=None, store=None):
    """Start (or replace) lab host `name` as `variant_name` (on another Debian release or image store than the
    variant names, when given); return its target spec once it is ready."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", name):
        raise LabError(f"lab host name {name!r}: use lower-case letters, digits and '-' (it becomes the hostname)")
    variant = variants.get(variant_name)
    if release or store:
        variant = replace(variant, release=releases.get(release or variant.release).name,
                          store=releases.check_store(store or variant.store))
    began = time.monotonic()
    old = _find(client, name)
    if old is not None:
        say(f"lab host {name} exists ({old.labels.get(paths.VARIANT_LABEL)}, {old.status}): replacing it")
        _remove(client, old)
    image = images.ensure_built(client, images.host_recipe(variant.release))
    sshconf.ensure_keys()
    values = substitutions(client)
    gateway = values["{gateway}"]
    if not registry.answers(gateway):
        say(f"warning: the lab mirror does not answer on {registry.url(gateway)}; pulls in the host will fail "
            "(run `conformance-lab up`)")
    with step(f"lab host {name} ({variant.name}, {engine_description(variant.release, variant.store)}): create and boot"):
        container = _create(client, name, variant, image, _substitute(variant.mirror, values))
        if variant.registry:  # after the labelled container exists: a concurrent stop then keeps the registry
            extra_registry.ensure(gateway, variant.registry["port"], variant.registry["serves"])
        container.start()
        ip = _ip(container)
        _wait_ready(container, ip, releases.get(variant.release))
        sshconf.add(ip)
        _check_ssh(ip)
    user = variant.observer.get("user", sshconf.USER)
    if variant.observer:
        with step(f"lab host {name}: observer {user} (groups {', '.join(variant.observer.get('groups', [])) or '-'})"):
            _add_observer(container, user, variant.observer.get("groups", []), variant.observer.get("sudo", False))
            _check_ssh(ip, user)
    for s in variant.steps:
        with step(f"lab host {name}: {_substitute(str(s), values)}"):
            _apply(container, s, values, releases.get(variant.release))
    say(f"lab host {name} ({variant.name}) ready at {ip} in {time.monotonic() - began:.1f}s")
    return spec(ip, user, variant.observer.get("sudo", False))


def stop(client, name):
    """Remove lab host `name`, its volume and its SSH entries; fine if it is already gone."""
    container = _find(client, name)
    if container is None:
        say(f"no lab host {name}")
    else:
        _remove(client, container)
    _remove_volume(client, name)


def run(client, name, command):
    """Run a shell command as root in lab host `name` (bounded); (exit code, output)."""
    container = _find(client, name)
    if container is None:
        raise LabError(f"no lab host {name}")
    return _exec(container, command)


def list_hosts(client):
    """A Row per lab host container."""
    rows = []
    for c in client.containers.list(all=True, filters={"label": f"{paths.LABEL}={ROLE}"}):
        ip = _ip(c) if c.status == "running" else ""
        release = c.labels.get(RELEASE_LABEL, releases.DEFAULT)  # hosts started before releases existed
        rows.append(Row(c.labels.get(HOST_LABEL, c.name), c.labels.get(paths.VARIANT_LABEL, "?"), c.status,
                        spec(ip, c.labels.get(OBSERVER_LABEL, sshconf.USER), c.labels.get(SUDO_LABEL) == "true")
                        if ip else "", engine_description(release, c.labels.get(STORE_LABEL, "overlay2"))))
    return sorted(rows, key=lambda r: r.name)


def remove_all(client):
    """Remove every lab host container and volume (by label only) and every lab SSH entry."""
    for c in client.containers.list(all=True, filters={"label": f"{paths.LABEL}={ROLE}"}):
        _remove(client, c)
    for v in client.volumes.list(filters={"label": f"{paths.LABEL}={ROLE}"}):
        v.remove(force=True)
    sshconf.remove_all()


def _labels(name, variant):
    labels = {paths.LABEL: ROLE, paths.VARIANT_LABEL: variant.name, HOST_LABEL: name,
              RELEASE_LABEL: variant.release, STORE_LABEL: variant.store}
    if variant.registry:
        labels[extra_registry.PORT_LABEL] = str(variant.registry["port"])
    if variant.observer:
        labels[OBSERVER_LABEL] = variant.observer["user"]
        if variant.observer.get("sudo"):
            labels[SUDO_LABEL] = "true"
    return labels


def _find(client, name):
    try:
        c = client.containers.get(PREFIX + name)
    except docker.errors.NotFound:
        return None
    if c.labels.get(paths.LABEL) != ROLE:
        raise LabError(f"container {PREFIX + name} exists but is not a lab host (no {paths.LABEL}={ROLE} label); "
                       "the lab leaves it alone: choose another name")
    return c


def _remove(client, container):
    ip = _ip(container) if container.status == "running" else ""
    if ip:
        sshconf.remove(ip)
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    _remove_volume(client, container.labels.get(HOST_LABEL, ""))
    port = container.labels.get(extra_registry.PORT_LABEL)
    if port:
        selector = {"label": [f"{paths.LABEL}={ROLE}", f"{extra_registry.PORT_LABEL}={port}"]}
        extra_registry.release(bridge_gateway(client), int(port),
                               lambda: bool(client.containers.list(all=True, filters=selector)))


def _remove_volume(client, name):
    for kind in DATA_VOLUMES:
        try:
            volume = client.volumes.get(f"{PREFIX}{name}-{kind}")
        except docker.errors.NotFound:
            continue
        if volume.attrs.get("Labels", {}).get(paths.LABEL) == ROLE:
            volume.remove(force=True)


def _create(client, name, variant, image, mirror):
    labels = _labels(name, variant)
    release = releases.get(variant.release)
    # An engine's data on the host container's own root (the outer engine's overlay) cannot be overlay-mounted again.
    kinds = [k for k in DATA_VOLUMES if k == "docker" or variant.store == k]
    data = {client.volumes.create(f"{PREFIX}{name}-{k}", labels=labels).name: {"bind": DATA_VOLUMES[k], "mode": "rw"}
            for k in kinds}
    container = client.containers.create(
        image.id, name=PREFIX + name, hostname=name, labels=labels, detach=True,
        cap_add=["ALL"], cap_drop=CAP_DROP, security_opt=SECURITY_OPT, cgroupns="host",
        tmpfs={"/run": "rw,exec,mode=755", "/run/lock": "rw,mode=1777"},
        volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
                 **data},
        extra_hosts={h: "127.0.0.1" for h in DOCKER_HUB}, stop_signal="SIGRTMIN+3" if release.systemd else "SIGTERM",
        environment=release.environment or None)
    host_pub = sshconf.host_key().with_suffix(".pub")
    files = {
        "/etc/ssh/ssh_host_ed25519_key": (sshconf.host_key().read_bytes(), 0o600),
        "/etc/ssh/ssh_host_ed25519_key.pub": (host_pub.read_bytes(), 0o644),
        "/root/.ssh/authorized_keys": (sshconf.client_key().with_suffix(".pub").read_bytes(), 0o600),
    }
    config = {**({"registry-mirrors": [mirror]} if mirror else {}), **releases.daemon_json(variant.store, mirror)}
    if config:
        files[DAEMON_JSON] = (_json(config), 0o644)
    _put(container, files)
    return container


def _json(data):
    return (json.dumps(data, indent=2) + "\n").encode()


def _put(container, files):
    """Write {path: (bytes, mode)} into the container (parents are created by the engine)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, (data, mode) in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    if not container.put_archive("/", buf.getvalue()):
        raise LabError(f"could not copy {', '.join(files)} into {container.name}")


def _ip(container):
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]


def _exec(container, command, timeout=EXEC_TIMEOUT):
    """Run a shell command as root in the host, bounded by coreutils timeout; (exit code, output). A bound longer
    than EXEC_TIMEOUT may outlast the engine client's read timeout: that command runs detached and is waited for."""
    if timeout > EXEC_TIMEOUT:
        return _exec_detached(container, command, timeout)
    code, out = container.exec_run(["timeout", str(timeout), "sh", "-c", command])
    return code, out.decode(errors="replace").strip()


def _exec_detached(container, command, timeout):
    """_exec for a long command (a package install from the mirror on a loaded machine): started detached, its
    output into a file in the host, its end awaited through the engine's exec state; (exit code, output's tail)."""
    api = container.client.api
    log = "/tmp/conformance-lab-step.log"
    exec_id = api.exec_create(container.id, ["timeout", str(timeout), "sh", "-c", f"({command}) >{log} 2>&1"])["Id"]
    api.exec_start(exec_id, detach=True)
    wait_for(lambda: not api.exec_inspect(exec_id)["Running"], what=f"{container.name}: `{command}` did not end",
             timeout=timeout + 10, interval=0.5)
    code = api.exec_inspect(exec_id)["ExitCode"]
    return code, _exec(container, f"tail -c 800 {log}; rm -f {log}", timeout=10)[1]


def _sshd_answers(ip):
    try:
        with socket.create_connection((ip, 22), timeout=1) as s:
            s.settimeout(1)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _wait_ready(container, ip, release=releases.BOOKWORM):
    def diagnose(what):
        container.reload()
        if container.status != "running":
            logs = container.logs(tail=20).decode(errors="replace")
            return LabError(f"{what}: the container stopped ({container.status}); last output:\n{logs}")
        if not release.systemd:
            log = _exec(container, "tail -n 20 /var/log/docker.log", timeout=10)[1]
            return LabError(f"{what}; /var/log/docker.log ends:\n{log or '(empty)'}")
        failed = _exec(container, "systemctl --failed --no-legend --plain", timeout=10)[1]
        return LabError(f"{what}; failed units: {failed or 'none'}")

    state = {"boot": ""}

    def booted():
        state["boot"] = _exec(container, "systemctl is-system-running", timeout=10)[1]
        return state["boot"] in ("running", "degraded")

    checks = (
        (lambda: _sshd_answers(ip), f"sshd did not answer on {ip}:22", SSH_TIMEOUT),
        *(((booted, "systemd did not reach running or degraded", BOOT_TIMEOUT),) if release.systemd else ()),
        (lambda: _exec(container, "docker version --format '{{.Server.Version}}'", timeout=10)[0] == 0,
         "the host's own Docker engine did not answer", ENGINE_TIMEOUT),
    )
    for predicate, what, timeout in checks:
        try:
            wait_for(predicate, what=what, timeout=timeout)
        except LabError as e:
            extra = f" (last state: {state['boot']})" if predicate is booted else ""
            raise diagnose(f"{container.name}: {e}{extra}") from None


def _check_ssh(ip, user=sshconf.USER):
    """The exact path the suite takes: the lab's known_hosts entry and identity, no password, no prompt."""
    try:
        proc = subprocess.run(["ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=no", "-o", "ConnectTimeout=5",
                               f"{user}@{ip}", "id -un"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise LabError(f"ssh {user}@{ip} id -un: no answer within 30 s") from None
    if proc.returncode != 0:
        raise LabError(f"ssh {user}@{ip} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    if proc.stdout.strip() != user:  # e.g. a ControlPath without %r hands every user root's master connection
        raise LabError(f"ssh {user}@{ip} logged in as {proc.stdout.strip()!r}, not {user!r}")


def _add_observer(container, user, groups, sudo):
    """Create the non-root login the suite observes as, with the lab's key (and its groups, e.g. docker); with sudo,
    a sudoers entry that lets it run anything as root without a password (what ?sudo=true needs: no terminal)."""
    _check(container, f"useradd -m -s /bin/sh {'-G ' + ','.join(groups) if groups else ''} {user}"
                      f" && install -d -m 700 -o {user} -g {user} /home/{user}/.ssh"
                      f" && install -m 600 -o {user} -g {user} /root/.ssh/authorized_keys /home/{user}/.ssh/")
    if sudo:
        _check(container, f"echo '{user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{user} && chmod 440 "
                          f"/etc/sudoers.d/{user} && su -s /bin/sh -c 'sudo -n true' {user}")


def _substitute(value, values):
    """Replace {gateway}/{mirror} in every string inside value."""
    if isinstance(value, str):
        for k, v in values.items():
            value = value.replace(k, v)
        return value
    if isinstance(value, list):
        return [_substitute(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, values) for k, v in value.items()}
    return value


def restart_command(release):
    """How the host's engine is restarted: through its service manager."""
    return "systemctl restart docker" if release.systemd else "/etc/init.d/docker restart"


def _apply(container, s, values, release=releases.BOOKWORM):
    """Carry out one variant step inside the host."""
    arg, opts = _substitute(s.arg, values), _substitute(s.options, values)
    if s.kind == "write":
        data = opts["content"].encode() if "content" in opts else \
            _substitute(paths.recipe(opts["source"]).read_text(), values).encode()
        _put(container, {arg: (data, opts.get("mode", 0o644))})
    elif s.kind == "remove":
        _check(container, f"rm -rf -- '{arg}'")
    elif s.kind == "run":
        _check(container, arg, opts.get("timeout", EXEC_TIMEOUT))
    elif s.kind == "daemon_json":
        current = {}
        if not opts.get("replace"):
            code, text = _exec(container, f"cat {DAEMON_JSON} 2>/dev/null || echo '{{}}'")
            try:
                current = json.loads(text or "{}")
            except json.JSONDecodeError as e:
                raise LabError(f"daemon_json step: {DAEMON_JSON} in the host is not JSON ({e}); "
                               "use replace = true or a write step") from None
        _put(container, {DAEMON_JSON: (_json({**current, **arg}), 0o644)})
        if opts.get("restart", True):
            _check(container, restart_command(release))
            wait_for(lambda: _exec(container, "docker version >/dev/null", timeout=10)[0] == 0,
                     what="the host's engine did not answer after the restart", timeout=ENGINE_TIMEOUT)
    elif s.kind == "rpm":
        files = {f"/tmp/lab-rpms/{p.name}": (p.read_bytes(), 0o644) for p in rpms.ensure_built(arg)}
        _put(container, files)
        _check(container, "rpm -U --justdb --nodeps --nosignature --replacepkgs /tmp/lab-rpms/*.rpm"
                          " && rm -rf /tmp/lab-rpms")
    else:
        raise LabError(f"no way to apply step kind {s.kind!r}")


def _check(container, command, timeout=EXEC_TIMEOUT):
    code, out = _exec(container, command, timeout)
    if code == 124:  # coreutils timeout
        raise LabError(f"{container.name}: `{command}` did not end within {timeout} s (exit 124)")
    if code != 0:
        raise LabError(f"{container.name}: `{command}` exited {code}" + (f": {out[-800:]}" if out else ""))

"""The docker units' state as systemd reports it, read once per target before anything connects to the engine.

A connection to /var/run/docker.sock starts a stopped docker.service where docker.socket listens (socket
activation: the unit has Requires=docker.socket), so the suite reads the service state first, with one command
that asks systemd only (`systemctl show`, `systemctl is-enabled`), and judges service.running from that reading.
"""
from __future__ import annotations

import dataclasses
import shlex

UNITS = ("docker.service", "docker.socket")
# systemd.unit(5): the units that must start with this one (Requires, BindsTo) or be active already (Requisite);
# where one is masked, this one cannot start either ("Unit docker.socket is masked"). systemd 219 (CentOS 7) has all three.
HARD_DEPENDENCIES = ("Requires", "BindsTo", "Requisite")
PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "MainPID", "TriggeredBy", "Triggers",
              "Listen", "FragmentPath", "SourcePath", *HARD_DEPENDENCIES)
# One command, no socket connection. is-enabled's stdout only: systemctl writes its sysv redirect note to stderr.
# Where systemd is not PID 1 `systemctl show` cannot answer, but is-enabled still reads the unit files offline.
# `systemctl show` answers for any unit name, a unit that does not exist too (LoadState=not-found): where it fails,
# its first stderr line is kept (show-failed=): systemd did not answer this login (a non-root login asks it over the
# system bus, which a host without a running dbus does not have: "Failed to connect to bus").
def command(names: tuple[str, ...] = UNITS) -> str:
    """The shell command that prints the state of the named units (shell-quoted here: it holds '%')."""
    return ("command -v systemctl >/dev/null 2>&1 && echo systemctl=yes || echo systemctl=no; "
            "test -d /run/systemd/system && echo systemd-pid1=yes || echo systemd-pid1=no; "
            "echo read-at=$(date -u +%FT%TZ); echo boot-init=$(readlink -e /sbin/init); "
            "echo \"pid1=$(tr '\\0' '\\n' </proc/1/cmdline 2>/dev/null | head -n 1 | head -c 200)\"; "
            f"for u in {' '.join(shlex.quote(n) for n in names)}; do echo \"== $u\"; "
            "systemctl show --no-pager " + " ".join(f"-p {p}" for p in PROPERTIES) + " \"$u\" 2>/dev/null || "
            "echo \"show-failed=$(systemctl show -p Id \"$u\" 2>&1 >/dev/null | head -n 1)\"; "
            "w=$(systemctl is-enabled \"$u\" 2>/dev/null); echo \"is-enabled=$(echo $w)\"; done")


COMMAND = command()


@dataclasses.dataclass(frozen=True)
class UnitState:
    """One unit as `systemctl show` and `systemctl is-enabled` printed it ('' where nothing was printed)."""
    name: str
    properties: dict[str, str] = dataclasses.field(default_factory=dict)
    enabled_word: str = ""  # the printed word of `systemctl is-enabled` (never its exit code)

    def get(self, key: str) -> str:
        return self.properties.get(key, "")

    @property
    def active(self) -> str:
        return self.get("ActiveState")

    @property
    def state(self) -> str:
        """'active (running)', 'inactive (dead)', or '' when systemd did not answer."""
        return f"{self.active} ({self.get('SubState')})" if self.active else ""

    @property
    def unanswered(self) -> str:
        """Why `systemctl show` gave nothing for this unit ('' when it answered): its own words."""
        return self.get("show-failed") or ("systemctl show failed" if "show-failed" in self.properties else "")

    @property
    def known(self) -> bool:
        """systemd answered for this unit (it may still be not-found)."""
        return bool(self.active)

    def hard_dependencies(self) -> list[tuple[str, str]]:
        """(property, unit) for every unit this one Requires, BindsTo or is Requisite of, as systemctl show printed them."""
        return [(key, name) for key in HARD_DEPENDENCIES for name in self.get(key).split()]

    @property
    def unwatched(self) -> bool:
        """Active while systemd watches no main process of it (MainPID 0): a unit systemd-sysv-generator made from an
        init script (Type=forking, no PIDFile, RemainAfterExit=yes) stays active (exited) once its daemon is gone, and
        active (running) while anything is left in its cgroup; its state then says nothing of the daemon."""
        return self.active == "active" and self.get("MainPID") == "0"

    @property
    def listening(self) -> bool:
        return self.active == "active" and self.get("SubState") in ("listening", "running")

    def summary(self) -> str:
        shown = " ".join(f"{k}={self.properties[k]}" for k in PROPERTIES if self.properties.get(k))
        return f"{self.name}: {shown or 'systemctl show answered nothing'}; is-enabled={self.enabled_word or '(nothing)'}"


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """docker.service and docker.socket, whether systemd is PID 1 and systemctl exists, and when it was read."""
    units: dict[str, UnitState]
    systemd_pid1: bool
    systemctl: bool
    read_at: str
    boot_init: str = ""  # what /sbin/init resolves to: the init the host boots ('' when not read)
    pid1: str = ""  # PID 1's command line ('' when not read: /proc hidden from the login, or an older recording)

    @property
    def boots_without_systemd(self) -> bool:
        """systemd neither runs the host nor boots it (/sbin/init is another init, e.g. sysvinit): its unit files,
        which systemctl still reads offline where systemd is installed, say nothing about what starts at boot."""
        return not self.systemd_pid1 and bool(self.boot_init) and not self.boot_init.endswith("/systemd")

    @property
    def booted_otherwise(self) -> str:
        """Why the unit files say nothing about this host's boot, or '': /sbin/init is systemd but systemd is not
        PID 1, so the running system was not booted by /sbin/init (a container; WSL2 without systemd, whose PID 1
        is Microsoft's /init), and what starts at its boot is nothing the suite can read."""
        if self.systemd_pid1 or not self.boot_init.endswith("/systemd"):
            return ""
        return (f"systemd is not PID 1 (PID 1 is {self.pid1 or 'unreadable'}), yet /sbin/init is {self.boot_init}: "
                "this host was not booted by /sbin/init (a container, or WSL2 without systemd), so `systemctl "
                "is-enabled` tells what a systemd boot would start, not what starts at this host's boot; the suite "
                "cannot tell what starts docker here at boot")

    @property
    def pid1_elsewhere(self) -> str:
        """PID 1's command as the login sees it where systemd runs the host (/run/systemd/system) but the login's
        PID 1 is neither systemd nor an init: the login runs in a PID namespace of its own ('' otherwise, or unread)."""
        name = self.pid1.rsplit("/", 1)[-1]
        return self.pid1 if self.systemd_pid1 and name and name not in ("systemd", "init") else ""

    @property
    def unanswered(self) -> str:
        """Why systemd, PID 1, told this login nothing of the docker units ('' when it answered): a state that was not
        read, never one that says the units are missing."""
        if not self.systemd_pid1:
            return ""
        return next((f"{u.name}: {u.unanswered}" for u in self.units.values() if u.unanswered), "")

    @property
    def service(self) -> UnitState:
        return self.units.get("docker.service") or UnitState("docker.service")

    @property
    def socket(self) -> UnitState:
        return self.units.get("docker.socket") or UnitState("docker.socket")

    @property
    def socket_activated(self) -> bool:
        """docker.service is started by docker.socket, which listens: the first API connection starts it."""
        return "docker.socket" in self.service.get("TriggeredBy").split() and self.socket.listening

    def active_states(self) -> dict[str, str]:
        """unit -> 'ActiveState (SubState)' for the units systemd answered for (what the leak audit compares)."""
        return {name: unit.state for name, unit in self.units.items() if unit.known}

    def note(self) -> str:
        """The evidence line: what was read, when, and that the suite had not connected to the engine yet."""
        manager = ("systemd is PID 1" if self.systemd_pid1 else
                   "systemd is not PID 1 (systemctl reads unit files offline)" if self.systemctl else "no systemctl")
        lines = [f"docker units read at {self.read_at or '?'} with one systemctl command, before the suite's first "
                 f"connection to the engine (no connection yet); {manager}"]
        lines += [f"systemd did not answer this login: {self.unanswered}"] if self.unanswered else []
        return "\n".join(lines + [unit.summary() for unit in self.units.values()])


def parse(text: str) -> Snapshot:
    """Parse COMMAND's output."""
    head: dict[str, str] = {}
    units: dict[str, tuple[dict[str, str], str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("== "):
            current = line[3:].strip()
            units[current] = ({}, "")
        elif "=" in line:
            key, value = line.split("=", 1)
            if current is None:
                head[key] = value.strip()
            elif key == "is-enabled":
                units[current] = (units[current][0], value.strip().split(" ")[0] if value.strip() else "")
            else:
                units[current][0][key] = value.strip()
    return Snapshot({name: UnitState(name, props, word) for name, (props, word) in units.items()},
                    head.get("systemd-pid1") == "yes", head.get("systemctl") == "yes", head.get("read-at", ""),
                    head.get("boot-init", ""), head.get("pid1", ""))

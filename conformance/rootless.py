"""Rootless Docker: which daemon.json and which unit apply when dockerd runs as a user, read from the process.

dockerd-rootless.sh runs dockerd under rootlesskit as an ordinary user (uid != 0 as the host sees it). dockerd then
reads $XDG_CONFIG_HOME/docker/daemon.json (default ~/.config/docker/daemon.json) of that user, not
/etc/docker/daemon.json: it honours XDG when rootlesskit runs it (ROOTLESSKIT_STATE_DIR in its environment, moby's
rootless.RunningWithRootlessKit), and its unit is that user's docker.service (`systemctl --user`), not the
system's. This is read from the dockerd process (its owner and three variables of its environment), without a
connection to the engine, so that service.running can use it too (a connection could start a socket-activated
engine); GET /info's SecurityOptions name=rootless (conformance.engine_kind) says the same once connected.
"""
from __future__ import annotations

import dataclasses

# Appended to DOCKERD (conformance.probes) where a dockerd was found: its owner, and from its environment only the
# variables that place its configuration (never the rest: it may hold a proxy's credentials).
PROCESS = r"""echo "--- process"; echo "uid=$(stat -c %u /proc/$pid 2>/dev/null)"
if tr '\0' '\n' < /proc/$pid/environ >/dev/null 2>&1; then echo "environ=read"
tr '\0' '\n' < /proc/$pid/environ | grep -E '^(ROOTLESSKIT_STATE_DIR|HOME|XDG_CONFIG_HOME)='
else echo "environ=unreadable"; fi"""
VARIABLES = ("ROOTLESSKIT_STATE_DIR", "HOME", "XDG_CONFIG_HOME")


@dataclasses.dataclass(frozen=True)
class Dockerd:
    """The dockerd process as PROCESS printed it ('' where nothing was printed)."""
    pid: str
    uid: str = ""
    environ_read: bool = False
    env: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def rootless(self) -> bool:
        """rootlesskit runs it, or (its environment unreadable) it runs as another user than root."""
        return bool(self.env.get("ROOTLESSKIT_STATE_DIR")) if self.environ_read else self.uid not in ("", "0")

    def config_path(self, default_path: str) -> str:
        """The file this dockerd reads without --config-file; ValueError naming why it cannot be told."""
        if not self.rootless:
            return default_path
        if not self.environ_read:
            raise ValueError(f"dockerd pid {self.pid} runs as uid {self.uid}, not root (rootless Docker): it reads "
                             "$XDG_CONFIG_HOME/docker/daemon.json (default ~/.config/docker/daemon.json) of that user, "
                             f"which only its environment names, and /proc/{self.pid}/environ is not readable by this "
                             "login (needs root on the target, or that user's login)")
        if self.env.get("XDG_CONFIG_HOME"):
            return f"{self.env['XDG_CONFIG_HOME'].rstrip('/')}/docker/daemon.json"
        if self.env.get("HOME"):
            return f"{self.env['HOME'].rstrip('/')}/.config/docker/daemon.json"
        raise ValueError(f"dockerd pid {self.pid} is rootless (uid {self.uid}) but its environment has neither "
                         "XDG_CONFIG_HOME nor HOME: the daemon.json it reads cannot be told")

    def describe(self) -> str:
        return (f"dockerd pid {self.pid} runs rootless as uid {self.uid or '?'}"
                + (" (rootlesskit: ROOTLESSKIT_STATE_DIR set)" if self.env.get("ROOTLESSKIT_STATE_DIR") else ""))

    def unit_reason(self, unit: str) -> str:
        """Why the system's unit says nothing about this engine (service.running, service.enabled end as error)."""
        return (f"{self.describe()}: its service is user {self.uid or '?'}'s {unit} (`systemctl --user`), not the "
                f"system's {unit}, which the suite reads; the suite does not judge a user unit")


def parse(pid: str, section: str) -> Dockerd:
    """PROCESS's output (after its '--- process' line) of the dockerd with this pid."""
    fields = dict(line.split("=", 1) for line in section.splitlines() if "=" in line)
    env = {k: fields[k] for k in VARIABLES if k in fields}
    return Dockerd(pid, fields.get("uid", "").strip(), fields.get("environ") == "read", env)

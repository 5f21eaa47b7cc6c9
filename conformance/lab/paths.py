"""Where the lab keeps its state: one folder, overridable for tests."""
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from conformance import profiles
from conformance.lab.progress import LabError, say

HOME = Path(os.environ.get("CONFORMANCE_LAB_HOME", "/var/lib/conformance-lab"))
REGISTRY_DATA = HOME / "registry"
LOGS = HOME / "logs"
BUILD = HOME / "build"
DEB_CACHE = HOME / "debs"
KEYS = HOME / "keys"
DAEMON_JSON = Path(os.environ.get("CONFORMANCE_LAB_DAEMON_JSON", profiles.DAEMON_JSON))  # the machine's own
DAEMON_JSON_BACKUP = HOME / "daemon.json.orig"
DAEMON_JSON_ABSENT = HOME / "daemon.json.absent"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lab"  # the recipes: a checkout's, never installed

LABEL = "conformance.lab"
VARIANT_LABEL = "conformance.lab.variant"
REGISTRY_PORT = 5000


def recipe(name: str) -> Path:
    """A file of the lab's recipes. The lab is a development tool of a checkout: an installed package has none."""
    if not FIXTURES.is_dir():
        raise LabError(f"the lab's recipes are not here ({FIXTURES} is missing): the lab runs from a checkout of "
                       "docker-host-conformance (git clone, then pip install -e .), not from an installed package; "
                       "verify-report works anywhere")
    return FIXTURES / name


@contextmanager
def locked(name: str, waiting: str = ""):
    """Hold HOME/<name>.lock exclusively: serialises one kind of edit between lab processes. waiting: what to say
    when another process holds it (the wait is as long as that process's own bounded work)."""
    HOME.mkdir(parents=True, exist_ok=True)
    with open(HOME / f"{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                say(waiting)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield

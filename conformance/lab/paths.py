"""Where the lab keeps its state: one folder, overridable for tests."""
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from conformance import profiles

HOME = Path(os.environ.get("CONFORMANCE_LAB_HOME", "/var/lib/conformance-lab"))
REGISTRY_DATA = HOME / "registry"
LOGS = HOME / "logs"
BUILD = HOME / "build"
DEB_CACHE = HOME / "debs"
KEYS = HOME / "keys"
DAEMON_JSON = Path(os.environ.get("CONFORMANCE_LAB_DAEMON_JSON", profiles.DAEMON_JSON))  # the machine's own
DAEMON_JSON_BACKUP = HOME / "daemon.json.orig"
DAEMON_JSON_ABSENT = HOME / "daemon.json.absent"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lab"

LABEL = "conformance.lab"
VARIANT_LABEL = "conformance.lab.variant"
REGISTRY_PORT = 5000


@contextmanager
def locked(name: str):
    """Hold HOME/<name>.lock exclusively: serialises one kind of edit between lab processes."""
    HOME.mkdir(parents=True, exist_ok=True)
    with open(HOME / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield

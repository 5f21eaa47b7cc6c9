"""Where the lab keeps its state: one folder, overridable for tests."""
import os
from pathlib import Path

HOME = Path(os.environ.get("CONFORMANCE_LAB_HOME", "/var/lib/conformance-lab"))
REGISTRY_DATA = HOME / "registry"
LOGS = HOME / "logs"
BUILD = HOME / "build"
DEB_CACHE = HOME / "debs"
KEYS = HOME / "keys"
DAEMON_JSON = Path(os.environ.get("CONFORMANCE_LAB_DAEMON_JSON", "/etc/docker/daemon.json"))
DAEMON_JSON_BACKUP = HOME / "daemon.json.orig"
DAEMON_JSON_ABSENT = HOME / "daemon.json.absent"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lab"

LABEL = "conformance.lab"
VARIANT_LABEL = "conformance.lab.variant"
REGISTRY_PORT = 5000

"""The newcomer's first command: `conformance-lab up` on a stopped engine, no daemon.json and no lab state."""
import os
import subprocess
import sys

import pytest

from conformance.lab import engine, paths, registry

pytestmark = pytest.mark.lab


def lab_up(home):
    env = {**os.environ, "CONFORMANCE_LAB_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "conformance.lab.cli", "up"], env=env,
                          capture_output=True, text=True, timeout=600)


def stop_registries(home):
    env = {**os.environ, "CONFORMANCE_LAB_HOME": str(home)}
    subprocess.run([sys.executable, "-c", "from conformance.lab import registry; registry.stop()"], env=env,
                   check=True, timeout=60)


@pytest.fixture
def first_run_state(tmp_path):
    """The machine as a newcomer has it: engine stopped, no daemon.json, no lab state (a new, empty lab home).
    Afterwards the lab is brought back as it was: the engine and registries started from the real lab home."""
    saved = paths.DAEMON_JSON.read_bytes() if paths.DAEMON_JSON.exists() else None
    new_home = tmp_path / "lab-home"
    engine.stop()
    registry.stop()
    paths.DAEMON_JSON.unlink(missing_ok=True)
    yield new_home
    stop_registries(new_home)
    if engine.answers():
        engine.stop()
    if saved is None:
        paths.DAEMON_JSON.unlink(missing_ok=True)
    else:
        paths.DAEMON_JSON.write_bytes(saved)
    back = lab_up(paths.HOME)
    assert back.returncode == 0, back.stdout + back.stderr


def test_first_up_passes_on_a_stopped_engine_with_no_daemon_json_and_no_lab_state(first_run_state):
    assert not engine.answers()
    out = lab_up(first_run_state)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "lab is up" in out.stdout
    # The engine read the mirror when it started: no restart was needed, and it uses the mirror now.
    assert "restarting" not in out.stdout
    with engine.client() as client:
        mirrors = [m.rstrip("/") for m in client.info()["RegistryConfig"]["Mirrors"]]
    assert registry.url() in mirrors

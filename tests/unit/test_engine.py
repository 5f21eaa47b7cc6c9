"""The engine URL of a target (conformance/engine.py url_for), the suite's and conformance-cleanup's one derivation."""
import shutil

import pytest
import testinfra

from conformance import engine
from conformance.outcomes import TargetError


def backend(spec, **options):
    return testinfra.get_host(spec, **options).backend


def test_configured_url_wins_and_local_uses_docker_host_or_the_socket(monkeypatch):
    assert engine.url_for("local://", backend("local://"), "tcp://127.0.0.1:2375") == "tcp://127.0.0.1:2375"
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert engine.url_for("local://", backend("local://"), None) == engine.LOCAL_SOCKET
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2375")
    assert engine.url_for("local://", backend("local://"), None) == "tcp://10.0.0.1:2375"


def test_ssh_target_as_given():
    assert engine.url_for("ssh://root@h:2222", backend("ssh://root@h:2222"), None) == "ssh://root@h:2222"
    assert engine.url_for("paramiko://h", backend("paramiko://h"), None) == "ssh://h"


def test_ssh_target_resolved_through_its_ssh_config(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text("Host alias\n  HostName 10.0.0.9\n  User admin\n  Port 2200\n")
    assert engine.url_for("ssh://alias", backend("ssh://alias", ssh_config=str(config)), None) == "ssh://admin@10.0.0.9:2200"
    spec = "ssh://root@alias:22"  # what the spec says wins over the config
    assert engine.url_for(spec, backend(spec, ssh_config=str(config)), None) == "ssh://root@10.0.0.9:22"
    missing = str(tmp_path / "absent")
    assert engine.url_for("ssh://alias", backend("ssh://alias", ssh_config=missing), None) == "ssh://alias"


def test_other_backends_need_an_engine_url():
    with pytest.raises(TargetError, match="no Docker API route for a docker:// target; give --engine-url"):
        engine.url_for("docker://box", backend("docker://box"), None)


def test_ansible_host_through_its_native_backend(tmp_path):
    if not shutil.which("ansible-inventory"):
        pytest.skip("ansible-core is not installed (pip install 'docker-host-conformance[ansible]')")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[edge]\nh1 ansible_host=192.0.2.1 ansible_user=ops ansible_port=2201\n"
                         "box ansible_connection=docker\n")
    assert engine.url_for("ansible://h1", backend("ansible://h1", ansible_inventory=str(inventory)), None) == (
        "ssh://ops@192.0.2.1:2201")
    with pytest.raises(TargetError, match="no Docker API route for a ansible:// target"):
        engine.url_for("ansible://box", backend("ansible://box", ansible_inventory=str(inventory)), None)

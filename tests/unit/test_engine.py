"""The engine URL of a target (conformance/engine.py url_for), the suite's and conformance-cleanup's one derivation."""
import shutil
import socket

import paramiko
import pytest
import testinfra

from conformance import api_versions, engine, hostkeys
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


# GET /version (unversioned) answers, as engines give them: Engine 29 (docs/api/version-history.md: v1.52, minimum
# 1.44), Debian's 20.10, Podman 4.3's Docker-compatible API.
ENGINE_29 = {"Version": "29.0.0", "ApiVersion": "1.52", "MinAPIVersion": "1.44"}
ENGINE_20_10 = {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41", "MinAPIVersion": "1.12"}
PODMAN_4_3 = {"Version": "4.3.1", "ApiVersion": "1.41", "MinAPIVersion": "1.24",
              "Components": [{"Name": "Podman Engine", "Version": "4.3.1"}]}


@pytest.mark.parametrize("answer,spoken", [(ENGINE_29, "1.52"), (ENGINE_20_10, "1.41"), (PODMAN_4_3, "1.41"),
                                           ({"Version": "31.0.0", "ApiVersion": "1.56", "MinAPIVersion": "1.44"}, "1.52")],
                         ids=["engine-29", "engine-20.10", "podman-4.3", "newer-engine-that-still-speaks-1.52"])
def test_the_newest_api_version_both_know_is_spoken(answer, spoken):
    assert api_versions.negotiate(answer) == spoken


@pytest.mark.parametrize("answer,words", [
    ({"Version": "40.0.0", "ApiVersion": "1.70", "MinAPIVersion": "1.60"}, "too new: the engine (40.0.0) speaks API 1.60 to 1.70"),
    ({"Version": "1.11.2", "ApiVersion": "1.23", "MinAPIVersion": "1.12"}, "too old: the engine (1.11.2) speaks API 1.12 to 1.23"),
    ({"Version": "x"}, "GET /version names no ApiVersion"),
], ids=["too-new", "too-old", "no-api-version"])
def test_no_common_api_version_names_both_sides(answer, words):
    with pytest.raises(api_versions.NoCommonVersion) as failure:
        api_versions.negotiate(answer)
    assert words in str(failure.value) and f"speaks API 1.24 to {api_versions.NEWEST_KNOWN}" in str(failure.value)


def test_a_target_whose_engine_speaks_no_common_api_version_is_an_error(monkeypatch):
    monkeypatch.setattr(engine.TargetAPIClient, "version", lambda self, api_version=True: {
        "Version": "40.0.0", "ApiVersion": "1.70", "MinAPIVersion": "1.60"})
    with pytest.raises(TargetError) as failure:
        engine.connect("web1", "unix:///nonexistent.sock", 5)
    assert "web1: connect to engine unix:///nonexistent.sock: the engine's API is too new" in str(failure.value)
    assert "speaks API 1.60 to 1.70" in str(failure.value) and "speaks API 1.24 to 1.52" in str(failure.value)


def test_every_request_over_ssh_shares_one_pool_of_engine_connections(monkeypatch):
    """docker-py keys its ssh pools by the whole URL: each path then opened a channel and a dial-stdio of its own."""
    monkeypatch.setattr(engine._CheckedSSHAdapter, "_connect", lambda self: None)  # no sshd here: nothing connects
    adapter = engine._CheckedSSHAdapter("ssh://root@web1", 5, max_pool_size=2, host_keys=hostkeys.Policy())
    urls = ["http+docker://ssh/v1.41/containers/json", "http+docker://ssh/v1.41/containers/0123abcd/json?size=1",
            "http+docker://ssh/v1.41/images/nginx:latest/json", "http+docker://ssh/v1.41/exec/4567/start"]
    pools = {id(adapter.get_connection(url)) for url in urls}
    assert len(pools) == 1 and len(adapter.pools) == 1


def test_the_runners_environment_never_reaches_a_request(monkeypatch):
    """The operator's proxies, ~/.netrc and CA bundle variables are not the engine's; and reading os.environ on each
    request raced with pytest's PYTEST_CURRENT_TEST in the work ahead's threads (KeyError, once in CI)."""
    monkeypatch.setenv("ALL_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/operator/ca.pem")
    client = engine.TargetAPIClient("unix:///nonexistent.sock", version="1.41")
    client.trust_env = True  # as requests.Session.__init__ sets it: ignored
    settings = client.merge_environment_settings("http+docker://localhost/v1.41/info", {}, None, None, None)
    assert client.trust_env is False and settings["proxies"] == {}
    assert settings["verify"] != "/operator/ca.pem"


def test_paramiko_connections_offer_aes_gcm_first_and_the_older_ciphers_after():
    """AES-GCM first (no HMAC a packet computed apart: less CPU a command); CTR and CBC still offered to an sshd without
    GCM (OpenSSH before 6.2, RHEL 6)."""
    ours, theirs = socket.socketpair()
    try:
        offered = hostkeys.aead_first(ours).get_security_options().ciphers
        assert offered[0] == "aes128-gcm@openssh.com" and {"aes128-ctr", "aes128-cbc"} <= set(offered)
        assert sorted(offered) == sorted(paramiko.Transport._preferred_ciphers)
    finally:
        ours.close(), theirs.close()

"""Seed 1.3 registry checks fed recorded daemon.json texts and engine answers that are broken."""
import pytest

from conformance.judges import registry as judge
from conformance.profiles import DAEMON_JSON, profiles
from judged import message

HUB = profiles()["engine"]["hub_index"]
PATH = DAEMON_JSON
DIGEST = "sha256:e7aeafa2b5a08ccfa87223f3051177c2d794588fa5a50f29eed0d5f74ed36ea1"


@pytest.mark.red("registry.default-hub")
def test_other_default_index_fails():
    info = {"IndexServerAddress": HUB, "RegistryConfig": {"IndexConfigs": {"docker.io": {"Official": True}}}}
    assert judge.default_hub(info, HUB).ok
    assert "registry.example.org" in message(judge.default_hub({**info, "IndexServerAddress": "https://registry.example.org/v1/"}, HUB))


@pytest.mark.red("registry.mirror-configured")
def test_daemon_json_missing_malformed_or_without_mirror_fails():
    assert judge.mirror_configured(PATH, '{"registry-mirrors": ["http://f1361db2.m.daocloud.io"]}', ()).ok
    assert "does not exist" in message(judge.mirror_configured(PATH, None, ()))
    assert "line 3 column 1" in message(judge.mirror_configured(PATH, '{\n  "registry-mirrors": ["http://m"],\n}', ()))
    assert "registry-mirrors []" in message(judge.mirror_configured(PATH, '{"log-driver": "json-file"}', ()))
    assert "not a list of strings" in message(judge.mirror_configured(PATH, '{"registry-mirrors": "http://m"}', ()))


def test_expected_mirror_absent_fails_and_trailing_slash_is_ignored():
    content = '{"registry-mirrors": ["http://10.0.0.5:5000/"]}'
    assert judge.mirror_configured(PATH, content, ("http://10.0.0.5:5000",)).ok
    assert "missing ['http://mirror.example']" in message(judge.mirror_configured(PATH, content, ("http://mirror.example",)))


@pytest.mark.red("registry.mirror-applied")
def test_pending_restart_is_drift():
    assert judge.mirror_applied(["http://172.17.0.1:5000"], ["http://172.17.0.1:5000/"]).ok
    text = message(judge.mirror_applied(["http://172.17.0.1:5001"], ["http://172.17.0.1:5000/"]))
    assert "drift" in text and "restart pending" in text


def test_mirrors_in_use_prefers_the_running_daemon():
    assert judge.mirrors_in_use(["http://a:5000/"], ["http://b:5001"]) == ["http://a:5000"]
    assert judge.mirrors_in_use([], ["http://b:5001/"]) == ["http://b:5001"]


@pytest.mark.red("registry.mirror-reachable")
def test_mirror_down_fails():
    assert judge.mirror_reachable({"http://m:5000": 200}).ok and judge.mirror_reachable({"http://m": 401}).ok
    assert "http://m:5000/v2/ -> no answer" in message(judge.mirror_reachable({"http://m:5000": None}))
    assert "-> 404" in message(judge.mirror_reachable({"http://m:5000": 404}))
    assert "no mirror" in message(judge.mirror_reachable({}))


@pytest.mark.red("registry.mirror-serves-pulls")
def test_mirror_without_the_pulled_manifest_fails():
    local = [f"hello-world@{DIGEST}"]
    assert judge.serves_pulls({"http://m:5000": (200, DIGEST)}, local).ok
    assert "HTTP 404" in message(judge.serves_pulls({"http://m:5000": (404, None)}, local))
    assert "digest sha256:0000" in message(judge.serves_pulls({"http://m:5000": (200, "sha256:0000")}, local))

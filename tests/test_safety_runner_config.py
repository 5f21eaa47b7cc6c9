"""The runner's docker config (registry credentials, proxies, headers) never reaches a target's engine."""
import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import engine as engines
from conformance.selftest import make_project, requirement
from engine_spy import EngineSpy, FakeEngine

REPO = Path(__file__).resolve().parents[1]
ENGINE_SOCKET = "/var/run/docker.sock"
PULLED = "hello-world"  # usually absent on the lab machine (the lab tags its images conformance-lab/*): the suite pulls it
MIRRORED = "127.0.0.1:5000/library/hello-world:latest"  # served by the lab's registry mirror
RUN_LIMIT_S = 300
SECRET = f"s3cr3t-{secrets.token_hex(6)}"  # in every credential of the runner's config below
PROXY_VARIABLES = {"http_proxy", "https_proxy", "ftp_proxy", "no_proxy"}


def runner_docker_config(folder: Path, **extra) -> Path:
    """A DOCKER_CONFIG folder as an operator's: credentials for the lab mirror and the hub, proxies, a header."""
    def auth(user):
        return {"auth": base64.b64encode(f"{user}:{SECRET}".encode()).decode()}
    proxy = f"http://proxyuser:{SECRET}@127.0.0.1:3128"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "auths": {"127.0.0.1:5000": auth("mirror-user"), "172.17.0.1:5000": auth("mirror-user"),
                  "https://index.docker.io/v1/": auth("hub-user")},
        "proxies": {"default": {"httpProxy": proxy, "httpsProxy": proxy, "ftpProxy": proxy, "noProxy": SECRET}},
        "HttpHeaders": {"X-Operator-Token": SECRET}, **extra,
    }))
    return folder


def registry_auth(header: str) -> str:
    """X-Registry-Auth is base64url of JSON (docker.auth.encode_header)."""
    return base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)).decode(errors="replace")


def assert_nothing_of_the_runners_config(requests, raw: bytes) -> None:
    carried = [(r.path, registry_auth(r.headers["x-registry-auth"])) for r in requests if "x-registry-auth" in r.headers]
    assert not [c for c in carried if SECRET in c[1] or "password" in c[1].lower()], carried
    assert not [r.path for r in requests if "x-operator-token" in r.headers]
    for create in (r for r in requests if r.method == "POST" and "/containers/create" in r.path):
        env_names = {item.partition("=")[0].lower() for item in create.json().get("Env") or []}
        assert not env_names & PROXY_VARIABLES, (create.path, create.json().get("Env"))
    assert SECRET.encode() not in raw, "the secret went to the engine in some request"


def test_a_target_client_uses_nothing_of_the_runners_docker_config(tmp_path, monkeypatch):
    helper = tmp_path / "bin" / "docker-credential-operator"  # a credential helper that notes every call
    helper.parent.mkdir()
    helper.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'helper-called'}\n"
                      f"echo '{{\"Username\": \"helper-user\", \"Secret\": \"{SECRET}\"}}'\n")
    helper.chmod(0o755)
    config = runner_docker_config(tmp_path / "docker-config", credHelpers={"127.0.0.1:5000": "operator"})
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    with FakeEngine(tmp_path / "engine.sock") as fake:
        client = engines.connect("local://", fake.url, 10)
        client.api.pull("hello-world", tag="latest")
        client.api.pull("127.0.0.1:5000/library/hello-world", tag="latest")
        client.api.create_container("hello-world", environment=["KEEP=1"])
        client.close()
    requests = fake.received
    assert [r.path.split("?")[0].rsplit("/", 1)[-1] for r in requests if r.method == "POST"] == ["create"] * 3
    assert_nothing_of_the_runners_config(requests, b"".join(
        r.body + json.dumps(r.headers).encode() for r in requests))
    assert requests[-1].json()["Env"] == ["KEEP=1"]
    assert not (tmp_path / "helper-called").exists(), "a credential helper of the runner was asked"


PULL_CHECK = f"""
    import pytest

    @pytest.mark.req("engine.info")
    def test_pull(make, evidence):
        evidence.note(make.pull("{MIRRORED}").id)
"""


@pytest.mark.lab
def test_the_runners_docker_config_never_reaches_the_target(pytester, tmp_path, client, monkeypatch):
    hub_images_absent = not client.images.list(name=PULLED)  # then the suite pulls them (through the mirror)
    mirrored_absent = not client.images.list(name=MIRRORED.rsplit(":", 1)[0])  # then the small project pulls it
    if not (hub_images_absent or mirrored_absent):
        pytest.skip(f"{PULLED} and {MIRRORED} are both present here: no run would pull, so no pull could carry "
                    "credentials")
    config = runner_docker_config(tmp_path / "docker-config")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with EngineSpy(ENGINE_SOCKET, tmp_path / "spy.sock") as spy:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", str(REPO / "suites"), "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO),
             "-c", str(REPO / "pyproject.toml"), "--hosts=local://", f"--engine-url=local://={spy.url}",
             f"--report-dir={tmp_path / 'reports'}"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_LIMIT_S)
        if mirrored_absent:  # a pull from the lab mirror by its own name: the config's auths name that registry too
            make_project(pytester, [requirement("engine.info")], PULL_CHECK)
            pulled = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--engine-url=local://={spy.url}",
                                                   timeout=RUN_LIMIT_S)
            assert pulled.ret == 0, pulled.stdout.str()[-3000:]
    out = run.stdout + run.stderr
    assert run.returncode in (0, 1), out[-3000:]
    assert "run.leak-audit on local: passed" in out, out[-3000:]
    requests = spy.requests()
    pulls = [r for r in requests if r.method == "POST" and "/images/create" in r.path]
    creates = [r for r in requests if r.method == "POST" and "/containers/create" in r.path]
    assert pulls and creates, f"the runs must pull and create through the spy: {[r.path for r in requests][:40]}"
    assert_nothing_of_the_runners_config(requests, spy.raw())

"""The built-in lab, used for real: engine, mirror, seed images."""
import re
import subprocess
import sys
import time

import docker
import pytest
import requests

from conformance.lab import images, paths, registry

pytestmark = pytest.mark.lab
LABELS = {"conformance.lab": "selftest"}


@pytest.fixture
def container(client):
    """Start a labelled, detached container; removed afterwards."""
    made = []

    def start(image, **kwargs):
        c = client.containers.run(image, detach=True, labels=LABELS, **kwargs)
        made.append(c)
        return c

    yield start
    for c in made:
        try:
            c.remove(force=True)
        except docker.errors.NotFound:
            pass


def test_engine_answers(client):
    assert client.ping()
    assert client.version()["ApiVersion"]


def test_registry_serves_the_seed_images():
    assert {"library/hello-world", "library/nginx"} <= set(registry.catalog())


def test_engine_uses_the_lab_mirror(client):
    mirrors = [m.rstrip("/") for m in client.info()["RegistryConfig"]["Mirrors"]]
    assert registry.url() in mirrors


def test_hello_world_is_pulled_through_the_mirror(client, container):
    log = paths.LOGS / "registry-127.0.0.1.log"
    offset = log.stat().st_size
    client.images.pull("hello-world", tag="latest")
    requests_seen = log.read_bytes()[offset:].decode(errors="replace")
    # HEAD when the image is already local, GET when it is not: either way the mirror answered.
    assert re.search(r'"(GET|HEAD) /v2/library/hello-world/manifests/latest HTTP/1.1" 200', requests_seen)
    c = container("hello-world")
    assert c.wait(timeout=30)["StatusCode"] == 0
    assert "Hello from Docker!" in c.logs().decode()


def test_nginx_serves_its_welcome_page_on_its_bridge_ip(client, container):
    client.images.pull("nginx", tag="latest")
    c = container("nginx")
    c.reload()
    ip = c.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    page = None
    deadline = time.monotonic() + 15
    while page is None and time.monotonic() < deadline:
        try:
            page = requests.get(f"http://{ip}/", timeout=2)
        except requests.ConnectionError:
            time.sleep(0.1)
    assert page is not None, f"nginx did not answer on {ip}:80 within 15 s"
    assert page.status_code == 200
    assert "<title>Welcome to nginx!</title>" in page.text


def test_nginx_image_carries_cmd_expose_and_env(client):
    config = client.images.get(images.NGINX.tag).attrs["Config"]
    assert config["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert "80/tcp" in config["ExposedPorts"]
    assert "NGINX_FLAVOUR=nginx-light" in config["Env"]


def test_second_up_rebuilds_and_restarts_nothing():
    out = subprocess.run([sys.executable, "-m", "conformance.lab.cli", "up"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "build " not in out.stdout and "push " not in out.stdout and "restarting" not in out.stdout
    assert out.stdout.count("up to date") == 2 * len(images.SEED_IMAGES)

"""The floor for `tox -e bench`: the engine operations and HTTP requests the suite's checks need, with no pytest.

One docker-py client and requests, one operation after the other in the order a person would type them.
The only concurrency is the nginx.run watch (five looks over 2 s), which runs beside the rest instead of
idling. Host reads (testinfra: package, service, file and cat commands) are not included: they are the
suite's own extra work. Prints the wall time in seconds as JSON on its last line.

    python bench/bare.py [--mirror http://127.0.0.1:5000]
"""
from __future__ import annotations

import argparse
import json
import threading
import time

import docker
import requests

NGINX, HELLO = "nginx:latest", "hello-world:latest"
ROOTFS_DIRS = ("/dev", "/proc", "/bin", "/etc", "/lib", "/usr", "/tmp")
CONF = "/etc/nginx/nginx.conf"
LABELS = {"conformance.suite": "bench-bare"}
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def present(client, ref: str):
    try:
        return client.images.get(ref)
    except docker.errors.ImageNotFound:
        repository, _, tag = ref.rpartition(":")
        return client.images.pull(repository, tag=tag)


def run(client, image: str, made: list):
    container = client.containers.run(image, detach=True, labels=LABELS)
    made.append(container)
    return container


def sh(container, script: str) -> int:
    return container.exec_run(["sh", "-c", script]).exit_code


def main(mirror: str) -> dict:
    started = time.monotonic()
    client = docker.from_env(timeout=60)
    made: list = []
    try:
        client.info(), client.version()
        present(client, HELLO), present(client, NGINX)
        hello = run(client, HELLO, made)                       # engine.hello-world
        assert hello.wait(timeout=30)["StatusCode"] == 0 and b"Hello from Docker!" in hello.logs()
        nginx = run(client, NGINX, made)                       # nginx.run: watched beside the rest
        states: list[str] = []

        def watch():
            for _ in range(5):
                nginx.reload()
                states.append(nginx.status)
                time.sleep(0.5)
        watcher = threading.Thread(target=watch)
        watcher.start()
        t0 = time.monotonic()                                  # engine.start-latency
        timed = run(client, HELLO, made)
        timed.wait(timeout=30)
        latency_ms = (time.monotonic() - t0) * 1000
        client.api.containers()                                # nginx.listed
        nginx.exec_run(["bash", "-c", "hostname"])             # nginx.exec
        nginx.exec_run(["touch", "/bench-inside"])             # nginx.isolated-fs
        nginx.exec_run(["test", "-e", "/tmp/bench-marker"])
        nginx.reload()                                         # nginx.bridge-ip, nginx.http
        client.networks.get("bridge")
        ip = nginx.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        for _ in range(20):
            try:
                assert requests.get(f"http://{ip}/", timeout=5).status_code == 200
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        nginx.exec_run(["uname", "-r"])                        # engine.shared-kernel
        nginx.top(), nginx.exec_run(["cat", "/proc/1/comm"])   # engine.pid-isolation
        client.version()                                       # engine.edition
        for path in ROOTFS_DIRS:                               # image.rootfs
            nginx.exec_run(["test", "-d", path])
        client.images.get(NGINX)                               # image.config-applied
        nginx.exec_run(["cat", "/proc/1/comm"]), nginx.exec_run(["env"])
        client.info()                                          # image.union-mount
        before = client.images.get(NGINX).id                   # image.read-only
        sh(run(client, NGINX, made), f"echo x >> {CONF} && echo x > /bench-ro")
        assert client.images.get(NGINX).id == before
        cow = run(client, NGINX, made)                         # image.copy-on-write
        cow.reload()
        sh(cow, f"echo x >> {CONF} && echo x > /bench-cow")
        cow.diff()
        cow.exec_run(["sha256sum", CONF])
        first = run(client, NGINX, made)                       # image.no-leak
        first.exec_run(["sha256sum", CONF])
        sh(first, f"echo x >> {CONF} && echo x > /bench-leak")
        first.exec_run(["sha256sum", CONF])
        second = run(client, NGINX, made)
        second.exec_run(["test", "-e", "/bench-leak"]), second.exec_run(["sha256sum", CONF])
        gone = run(client, NGINX, made)                        # image.rm-discards
        sh(gone, "echo x > /bench-rm")
        gone.reload()
        gone.remove(force=True)
        made.remove(gone)
        run(client, NGINX, made).exec_run(["test", "-e", "/bench-rm"])
        base = run(client, NGINX, made)                        # image.commit-persists
        sh(base, "echo x > /bench-commit")
        base.commit(repository="bench-bare/commit", tag="latest")
        client.images.get(NGINX), client.images.get("bench-bare/commit:latest")
        run(client, "bench-bare/commit:latest", made).exec_run(["test", "-e", "/bench-commit"])
        client.info()                                          # registry.*
        requests.get(f"{mirror}/v2/", timeout=5)
        client.images.get(HELLO)
        requests.get(f"{mirror}/v2/library/hello-world/manifests/latest", headers={"Accept": MANIFEST}, timeout=5)
        watcher.join()
        assert states == ["running"] * 5, states
    finally:
        for container in made:
            container.remove(force=True, v=True)
        try:
            client.images.remove("bench-bare/commit:latest")
        except docker.errors.ImageNotFound:
            pass
        client.close()
    return {"wall_s": round(time.monotonic() - started, 3), "start_latency_ms": round(latency_ms)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default="http://127.0.0.1:5000", help="Registry mirror the engine pulls through")
    print(json.dumps(main(parser.parse_args().mirror)))

"""The floor for `tox -e bench`: the engine operations and HTTP requests the suite's checks need, with no pytest.

One docker-py client and requests, scheduled as the suite schedules them on local:// (conformance/ahead.py):
the shared nginx and its nginx.run watch (five looks over 1 s) first, then the timed hello-world alone,
then the hello-world run, the rootfs exec and the two image experiments four at a time in threads, while
the main thread does the reads on the shared nginx. Host reads (testinfra: package, service, file and cat
commands) are not included: they are the suite's own extra work. Prints the wall time as JSON last.

    python bench/bare.py [--mirror http://127.0.0.1:5000]
"""
from __future__ import annotations

import argparse
import concurrent.futures
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


def run(client, image: str, made: list, command=None):
    container = client.containers.run(image, command, detach=True, labels=LABELS)
    made.append(container)
    return container


def sh(container, script: str) -> int:
    return container.exec_run(["sh", "-c", script]).exit_code


def look(client, image: str, path: str, made: list) -> bytes:
    """A new container that only reports whether path exists and the sha256 of CONF (as the suite's)."""
    container = run(client, image, made, ["sh", "-c", f'test -e "$1"; echo "exists=$?"; sha256sum {CONF}', "sh", path])
    container.wait(timeout=30)
    return container.logs()


def hello_world(client) -> None:                                 # engine.hello-world
    made: list = []
    hello = run(client, HELLO, made)
    assert hello.wait(timeout=30)["StatusCode"] == 0 and b"Hello from Docker!" in hello.logs()
    remove(made)


def write_then_start_another(client) -> None:                    # image.read-only, copy-on-write, no-leak
    made: list = []
    client.images.get(NGINX)
    first = run(client, NGINX, made)
    first.exec_run(["sha256sum", CONF])
    first.reload()
    sh(first, f"echo x >> {CONF} && echo x > /bench-write")
    first.diff()
    first.exec_run(["sha256sum", CONF])
    client.images.get(NGINX)
    look(client, NGINX, "/bench-write", made)
    remove(made)


def write_commit_remove(client) -> None:                         # image.commit-persists, rm-discards
    made: list = []
    first = run(client, NGINX, made)
    sh(first, "echo x > /bench-commit")
    first.reload()
    first.commit(repository="bench-bare/commit", tag="latest")
    client.images.get(NGINX), client.images.get("bench-bare/commit:latest")
    look(client, "bench-bare/commit:latest", "/bench-commit", made)
    first.remove(force=True)
    made.remove(first)
    look(client, NGINX, "/bench-commit", made)
    remove(made)
    client.images.remove("bench-bare/commit:latest")


def remove(made: list) -> None:
    for container in made:
        container.remove(force=True, v=True)
    made.clear()


def main(mirror: str) -> dict:
    started = time.monotonic()
    client = docker.from_env(timeout=60)
    made: list = []
    try:
        client.info(), client.version()
        present(client, HELLO), present(client, NGINX)
        nginx = run(client, NGINX, made)                       # nginx.run: watched beside the rest
        states: list[str] = []

        def watch():
            for look_number in range(5):
                if look_number:
                    time.sleep(0.25)
                nginx.reload()
                states.append(nginx.status)
        watcher = threading.Thread(target=watch)
        watcher.start()
        t0 = time.monotonic()                                  # engine.start-latency, alone
        run(client, HELLO, made).wait(timeout=30)
        latency_ms = (time.monotonic() - t0) * 1000
        rootfs = ["sh", "-c", 'for d in "$@"; do test -d "$d"; echo "$d $?"; done', "sh", *ROOTFS_DIRS]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            ahead = [pool.submit(hello_world, client), pool.submit(nginx.exec_run, rootfs),  # image.rootfs
                     pool.submit(write_then_start_another, client), pool.submit(write_commit_remove, client)]
            client.api.containers()                            # nginx.listed
            nginx.exec_run(["bash", "-c", "hostname"])         # nginx.exec
            nginx.exec_run(["touch", "/bench-inside"])         # nginx.isolated-fs
            nginx.exec_run(["test", "-e", "/tmp/bench-marker"])
            nginx.reload()                                     # nginx.bridge-ip, nginx.http
            client.networks.get("bridge")
            ip = nginx.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
            for _ in range(20):
                try:
                    assert requests.get(f"http://{ip}/", timeout=5).status_code == 200
                    break
                except requests.ConnectionError:
                    time.sleep(0.05)
            nginx.exec_run(["uname", "-r"])                    # engine.shared-kernel
            nginx.top(), nginx.exec_run(["cat", "/proc/1/comm"])  # engine.pid-isolation
            client.version()                                   # engine.edition
            client.images.get(NGINX)                           # image.config-applied
            nginx.exec_run(["cat", "/proc/1/comm"]), nginx.exec_run(["env"])
            client.info()                                      # image.union-mount
            client.info()                                      # registry.*
            requests.get(f"{mirror}/v2/", timeout=5)
            client.images.get(HELLO)
            requests.get(f"{mirror}/v2/library/hello-world/manifests/latest", headers={"Accept": MANIFEST}, timeout=5)
            for future in ahead:
                future.result(timeout=120)
        watcher.join()
        assert states == ["running"] * 5, states
    finally:
        remove(made)
        client.close()
    return {"wall_s": round(time.monotonic() - started, 3), "start_latency_ms": round(latency_ms)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default="http://127.0.0.1:5000", help="Registry mirror the engine pulls through")
    print(json.dumps(main(parser.parse_args().mirror)))

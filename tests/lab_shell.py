"""Commands in a lab host's own root shell (through the lab engine, not SSH), for tests that set up or watch it."""
import os
import time

# A prefix of the lab host names these self-tests start (people sharing one lab keep their hosts apart), e.g. e2-.
HOST_PREFIX = os.environ.get("CONFORMANCE_LAB_HOST_PREFIX", "")


def inside(client, container: str, command: str, check: bool = True) -> str:
    """Run a shell command in the lab host (its root shell, not through SSH)."""
    code, out = client.containers.get(container).exec_run(["timeout", "120", "sh", "-c", command])
    text = out.decode(errors="replace")
    assert not check or code == 0, f"{command}: exit {code}: {text}"
    return text


def wait_for_labelled_container(client, container: str, limit: float = 90, image: str | None = None) -> None:
    """Until the run has a labelled container on the host (mid-run, with something to clean up); with `image`,
    one of that image (e.g. nginx:latest: the run's pulls are behind it)."""
    deadline = time.monotonic() + limit
    query = "docker ps -q --filter label=conformance.run" + (f" --filter ancestor={image}" if image else "")
    while not inside(client, container, query, check=False).strip():
        assert time.monotonic() < deadline, f"no labelled container on {container} within {limit} s"
        time.sleep(0.5)

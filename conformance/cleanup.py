"""Everything a check creates on a target: labelled with the run id and removed afterwards."""
from __future__ import annotations

import docker

SUITE = "docker-host-conformance"
RUN_LABEL = "conformance.run"
SUITE_LABEL = "conformance.suite"


def labels(run_id: str) -> dict[str, str]:
    return {RUN_LABEL: run_id, SUITE_LABEL: SUITE}


def image_ref(image: str) -> str:
    """'nginx' -> 'nginx:latest'; digests and explicit tags unchanged."""
    last = image.rsplit("/", 1)[-1]
    return image if "@" in image or ":" in last else f"{image}:latest"


def _quietly(remove) -> str | None:
    """Run one removal; 'already gone' is fine, anything else is reported."""
    try:
        remove()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        return str(e.explanation or e)
    return None


class PulledImages:
    """Per target: which image refs existed before the run, and which ones the run pulled."""

    def __init__(self, client: docker.DockerClient):
        self.client = client
        self.before = {tag for image in client.images.list() for tag in image.tags}
        self.pulled: list[str] = []

    def ensure(self, image: str):
        ref = image_ref(image)
        try:
            return self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            pass
        repository, _, tag = ref.rpartition(":") if "@" not in ref else (ref, "", None)
        pulled = self.client.images.pull(repository, tag=tag or None)
        if ref not in self.before and ref not in self.pulled:
            self.pulled.append(ref)
        return pulled

    def remove_pulled(self) -> list[str]:
        problems = [_quietly(lambda r=ref: self.client.images.remove(r)) for ref in reversed(self.pulled)]
        self.pulled.clear()
        return [p for p in problems if p]


class Factory:
    """Creates labelled containers, images, networks and volumes; cleanup() removes them all."""

    def __init__(self, client: docker.DockerClient, run_id: str, pulled: PulledImages):
        self.client = client
        self.run_id = run_id
        self.labels = labels(run_id)
        self._pulled = pulled
        self._made: list[tuple[str, object]] = []

    def container(self, image: str, command=None, **run_kwargs):
        """Start a detached, labelled container (pulling the image first if absent)."""
        self.pull(image)
        run_kwargs["labels"] = {**(run_kwargs.get("labels") or {}), **self.labels}
        run_kwargs["detach"] = True
        container = self.client.containers.run(image, command, **run_kwargs)
        self._made.append(("container", container))
        return container

    def commit(self, container, repository: str, tag: str):
        """Commit a container to repository:tag, labelled; the image is removed at cleanup."""
        changes = [f"LABEL {k}={v}" for k, v in self.labels.items()]
        image = container.commit(repository=repository, tag=tag, changes=changes)
        self._made.append(("image", f"{repository}:{tag}"))
        return image

    def pull(self, image: str):
        """Return the image, pulling it only if absent; an image the run pulled is removed at the end of the run."""
        return self._pulled.ensure(image)

    def network(self, name: str, **kwargs):
        kwargs["labels"] = {**(kwargs.get("labels") or {}), **self.labels}
        network = self.client.networks.create(name, **kwargs)
        self._made.append(("network", network))
        return network

    def volume(self, name: str | None = None, **kwargs):
        kwargs["labels"] = {**(kwargs.get("labels") or {}), **self.labels}
        volume = self.client.volumes.create(name, **kwargs)
        self._made.append(("volume", volume))
        return volume

    def cleanup(self) -> list[str]:
        """Remove what this factory made, newest first; return what could not be removed."""
        order = {"container": 0, "image": 1, "network": 2, "volume": 3}
        problems = []
        for kind, thing in sorted(reversed(self._made), key=lambda made: order[made[0]]):
            if kind == "container":
                problem = _quietly(lambda c=thing: c.remove(force=True, v=True))
            elif kind == "image":
                problem = _quietly(lambda ref=thing: self.client.images.remove(ref))
            else:
                problem = _quietly(thing.remove)
            if problem:
                problems.append(f"{kind}: {problem}")
        self._made.clear()
        return problems


def sweep(client: docker.DockerClient, run_id: str) -> list[str]:
    """Remove whatever still carries this run's label (a check that bypassed the factory, an interrupt)."""
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    problems = [_quietly(lambda c=c: c.remove(force=True, v=True)) for c in client.containers.list(all=True, filters=selector)]
    problems += [_quietly(lambda i=i: client.images.remove(i.id, force=True)) for i in client.images.list(filters=selector)]
    problems += [_quietly(n.remove) for n in client.networks.list(filters=selector)]
    problems += [_quietly(v.remove) for v in client.volumes.list(filters=selector)]
    return [p for p in problems if p]

"""Everything a check creates on a target: labelled with the run id and removed afterwards."""
from __future__ import annotations

import secrets

import docker

SUITE = "docker-host-conformance"
RUN_LABEL = "conformance.run"
SUITE_LABEL = "conformance.suite"
IMAGE_LABEL = "conformance.image"  # on a run's image records: the image ref it uses
PULLED_LABEL = "conformance.pulled"  # yes: the run pulled it (it was absent) and removes it at its end


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
    """Per target: the image refs the run uses, each recorded on the target before any pull.

    The record is a small volume labelled with the run id and the ref (conformance.image) and whether
    this run pulled it (conformance.pulled). It survives a crash, so conformance-cleanup can remove
    what a dead run pulled, and a concurrent run can see that another one still uses an image.
    """

    def __init__(self, client: docker.DockerClient, run_id: str):
        self.client = client
        self.run_id = run_id
        self.used: set[str] = set()
        self.pulling: set[str] = set()
        self.released: dict[str, str] = {}  # ref -> what became of it at the end (for the leak audit)

    def ensure(self, image: str):
        ref = image_ref(image)
        try:
            found = self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            found = None
        if found is None and ref not in self.pulling:
            record(self.client, self.run_id, ref, pulled=True)  # before the pull: a crash must not hide it
            self.pulling.add(ref)
        elif ref not in self.used:
            record(self.client, self.run_id, ref, pulled=False)
        self.used.add(ref)
        if found is not None:
            return found
        repository, _, tag = ref.rpartition(":") if "@" not in ref else (ref, "", None)
        return self.client.images.pull(repository, tag=tag or None)

    def remove_pulled(self) -> list[str]:
        """Remove the images this run pulled, unless another run still uses them (then it inherits them)."""
        problems = release_images(self.client, self.run_id, self.released)
        self.used.clear()
        self.pulling.clear()
        return problems


def record(client: docker.DockerClient, run_id: str, ref: str, pulled: bool) -> None:
    """Record on the target that run_id uses ref (and whether it must remove it at its end)."""
    name = f"conformance-{run_id}-image-{secrets.token_hex(4)}"
    client.volumes.create(name, labels={**labels(run_id), IMAGE_LABEL: ref, PULLED_LABEL: "yes" if pulled else "no"})


def _labels_of(volume) -> dict[str, str]:
    return volume.attrs.get("Labels") or {}


def _records(client: docker.DockerClient, run_id: str | None = None) -> list:
    selector = [IMAGE_LABEL] + ([f"{RUN_LABEL}={run_id}"] if run_id else [])
    return client.volumes.list(filters={"label": selector})


def release_images(client: docker.DockerClient, run_id: str, released: dict[str, str] | None = None) -> list[str]:
    """Remove the image refs run_id pulled; one another run also uses is handed over to that run instead.

    released, if given, receives ref -> 'removed' or 'handed over to run X' for the leak audit.
    """
    released = {} if released is None else released
    mine = _records(client, run_id)
    pulled = {_labels_of(v)[IMAGE_LABEL] for v in mine if _labels_of(v).get(PULLED_LABEL) == "yes"}
    others = {}
    for v in _records(client):
        owner = _labels_of(v).get(RUN_LABEL)
        if owner and owner != run_id:
            others.setdefault(_labels_of(v)[IMAGE_LABEL], owner)
    problems = []
    for ref in sorted(pulled):
        if ref in others:
            record(client, others[ref], ref, pulled=True)  # the other run removes it when it ends
            released[ref] = f"handed over to run {others[ref]}"
        else:
            problem = _quietly(lambda r=ref: client.images.remove(r))
            problems.append(problem)
            if not problem:
                released[ref] = "removed"
    problems += [_quietly(v.remove) for v in mine]
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
    """Remove whatever still carries this run's label (a check that bypassed the factory, an interrupt, a crash)."""
    selector = {"label": [f"{RUN_LABEL}={run_id}", f"{SUITE_LABEL}={SUITE}"]}
    problems = [_quietly(lambda c=c: c.remove(force=True, v=True)) for c in client.containers.list(all=True, filters=selector)]
    problems += [_quietly(lambda i=i: client.images.remove(i.id, force=True)) for i in client.images.list(filters=selector)]
    problems += [_quietly(n.remove) for n in client.networks.list(filters=selector)]
    problems += release_images(client, run_id)
    problems += [_quietly(v.remove) for v in client.volumes.list(filters=selector)]
    return [p for p in problems if p]


def leftover_runs(client: docker.DockerClient) -> set[str]:
    """Run ids whose labelled objects are on the target (crashed, interrupted or still running)."""
    selector = {"label": [RUN_LABEL, f"{SUITE_LABEL}={SUITE}"]}
    found = [c.labels for c in client.containers.list(all=True, filters=selector)]
    found += [i.labels for i in client.images.list(filters=selector)]
    found += [n.attrs.get("Labels") or {} for n in client.networks.list(filters=selector)]
    found += [v.attrs.get("Labels") or {} for v in client.volumes.list(filters=selector)]
    return {labels[RUN_LABEL] for labels in found if labels.get(RUN_LABEL)}

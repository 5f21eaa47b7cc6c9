"""Everything a check creates on a target: labelled with the run id and removed afterwards."""
from __future__ import annotations

import secrets
import time

import docker

from conformance import engine as engines, unfinished_pulls
from conformance.outcomes import one_line

SUITE = "docker-host-conformance"
RUN_LABEL = "conformance.run"
SUITE_LABEL = "conformance.suite"
IMAGE_LABEL = "conformance.image"  # on a run's image records: the image ref it uses
PULLED_LABEL = "conformance.pulled"  # yes: the run pulled it (it was absent) and removes it at its end; keep: it
# pulled it and keeps it (--keep-pulled-images); no: it was there already
KEPT = "kept by request"  # what became of an image the run pulled under --keep-pulled-images (for the leak audit)
_KEEPING: set[str] = set()  # ids of runs in this process that keep the images they pull
HANDED_LABEL = "conformance.handed-by"  # on a record one run made for another when it ended first


# How a container the run made is removed (DELETE /containers/{id}?force=1&v=1): v, with its anonymous volumes, which
# an image of the host's own may declare (VOLUME /etc/nginx): else they outlive the run.
REMOVAL = {"force": True, "v": True}


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

    def __init__(self, client: docker.DockerClient, run_id: str, target_id: str):
        self.client = client
        self.run_id = run_id
        self.target_id = target_id  # names the target in a broken pull's error, as guard_client names each request
        self.used: set[str] = set()
        self.pulling: set[str] = set()
        # ref -> time.monotonic() when its pull was asked for, while its progress was not read to the end (an
        # interrupt, a broken connection): the engine may still be pulling it
        self.unfinished: dict[str, float] = {}
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
        self.unfinished[ref] = time.monotonic()  # until its progress is read to the end
        try:
            with engines.reading(f"{self.target_id}: pull {ref}"):  # an APIError (the engine answered) is the check's finding
                image = self.client.images.pull(repository, tag=tag or None)
        except docker.errors.APIError:
            self.unfinished.pop(ref, None)  # the engine ended the pull itself
            raise
        self.unfinished.pop(ref, None)
        return image

    def pulled_by_run(self, image: str) -> bool:
        """Whether this run pulled the image: it was absent when the run first needed it."""
        return image_ref(image) in self.pulling

    def remove_pulled(self) -> list[str]:
        """Remove the images this run pulled, unless another run still uses them (then it inherits them); first wait,
        bounded, for the pulls the run left unfinished (the engine may finish them after the client left)."""
        bound = min(unfinished_pulls.WAIT_S, self.client.api.timeout)
        problems = unfinished_pulls.wait(self.client, self.unfinished, bound)
        problems += release_images(self.client, self.run_id, self.released, final=False)
        self.used.clear()
        self.pulling.clear()
        return problems


def keep_pulled_images(run_id: str) -> None:
    """run_id keeps the images it pulls (--keep-pulled-images): its records on the target say so, so that its own
    end, the sweep and conformance-cleanup after a crash all leave those images in place."""
    _KEEPING.add(run_id)


def record(client: docker.DockerClient, run_id: str, ref: str, pulled: bool, handed_by: str | None = None) -> None:
    """Record on the target that run_id uses ref (and whether it must remove it at its end)."""
    name = f"conformance-{run_id}-image-{secrets.token_hex(4)}"
    extra = {HANDED_LABEL: handed_by} if handed_by else {}
    pulled_value = ("keep" if run_id in _KEEPING and not handed_by else "yes") if pulled else "no"
    client.volumes.create(name, labels={**labels(run_id), IMAGE_LABEL: ref, PULLED_LABEL: pulled_value, **extra})


def _records(client: docker.DockerClient, run_id: str | None = None) -> list[dict]:
    selector = [IMAGE_LABEL] + ([f"{RUN_LABEL}={run_id}"] if run_id else [])
    found = client.api.volumes(filters={"label": selector}).get("Volumes") or []
    return [{**v, "Labels": v.get("Labels") or {}} for v in found]


def _users(client: docker.DockerClient, run_id: str) -> dict[str, str]:
    """ref -> another run still in progress that uses it (it has records of its own, not only handed ones)."""
    users = {}
    for v in _records(client):
        owner = v["Labels"].get(RUN_LABEL)
        if owner and owner != run_id and HANDED_LABEL not in v["Labels"]:
            users.setdefault(v["Labels"][IMAGE_LABEL], owner)
    return users


def _remove_image(client: docker.DockerClient, ref: str, released: dict[str, str], held: set[str] | None = None
                  ) -> str | None:
    """Remove ref; with held, a 409 conflict (a container still uses the image) adds ref to held instead of
    being a problem."""
    try:
        client.images.remove(ref)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        if held is not None and e.status_code == 409:
            held.add(ref)
            return None
        return str(e.explanation or e)
    released[ref] = "removed"
    return None


def _remove_volume(client: docker.DockerClient, name: str) -> str | None:
    return _quietly(lambda: client.api.remove_volume(name))


def release_images(client: docker.DockerClient, run_id: str, released: dict[str, str] | None = None,
                   final: bool = True) -> list[str]:
    """Remove the image refs run_id pulled; one another run still uses is handed over to that run instead.

    An image run_id pulled under --keep-pulled-images stays (its record goes).
    released, if given, receives ref -> 'removed', 'handed over to run X' or KEPT for the leak audit.
    final=False (the run's own end, before its sweep): an image a container still uses keeps its record and is
    not reported, so that the sweep, which removes the run's labelled containers first, removes it then.
    """
    released = {} if released is None else released
    problems, handed, held = [], {}, set()
    for _ in range(3):  # what another run hands to this one while it releases is taken in the next round
        mine = _records(client, run_id)
        if not mine:
            break
        users = _users(client, run_id)
        kept = {v["Labels"][IMAGE_LABEL] for v in mine if v["Labels"].get(PULLED_LABEL) == "keep"}
        released.update(dict.fromkeys(kept, KEPT))
        for ref in sorted({v["Labels"][IMAGE_LABEL] for v in mine if v["Labels"].get(PULLED_LABEL) == "yes"} - kept):
            if ref in users:
                record(client, users[ref], ref, pulled=True, handed_by=run_id)  # removed when that run ends
                handed[ref] = users[ref]
                released[ref] = f"handed over to run {users[ref]}"
            else:
                # Not final: a ref held by a container keeps its record; the sweep removes the run's containers,
                # then the image.
                problems.append(_remove_image(client, ref, released, None if final else held))
        problems += [_remove_volume(client, v["Name"]) for v in mine if v["Labels"][IMAGE_LABEL] not in held]
        if held and {v["Labels"][IMAGE_LABEL] for v in mine} <= held:
            break
    # Two runs ending at once may hand an image to each other; one whose receiver has ended since takes it back.
    for ref, owner in handed.items():
        theirs = _records(client, owner)
        if theirs and all(HANDED_LABEL in v["Labels"] for v in theirs) and ref not in _users(client, run_id):
            problems += [_remove_volume(client, v["Name"]) for v in theirs if v["Labels"][IMAGE_LABEL] == ref]
            problems.append(_remove_image(client, ref, released))
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
        """Start a detached, labelled container (pulling the image first if absent). Created and started in two
        steps, as `containers.run` does, so that a container the engine created but could not start (a runtime that
        fails) is removed with the others, before the images the run pulled: it would keep them in use."""
        container = self.created(image, command, detach=True, **run_kwargs)
        container.start()
        return container

    def created(self, image: str, command=None, **create_kwargs):
        """Create a labelled container without starting it (pulling the image first if absent)."""
        self.pull(image)
        create_kwargs["labels"] = {**(create_kwargs.get("labels") or {}), **self.labels}
        container = self.client.containers.create(image, command, **create_kwargs)
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

    def remove(self, container) -> None:
        """Remove one of its containers now (REMOVAL); cleanup() finds it gone."""
        container.remove(**REMOVAL)

    def cleanup(self) -> list[str]:
        """Remove what this factory made, newest first; return what could not be removed."""
        order = {"container": 0, "image": 1, "network": 2, "volume": 3}
        problems = []
        for kind, thing in sorted(reversed(self._made), key=lambda made: order[made[0]]):
            if kind == "container":
                problem = _quietly(lambda c=thing: self.remove(c))
            elif kind == "image":
                problem = _quietly(lambda ref=thing: self.client.images.remove(ref))
            else:
                problem = _quietly(thing.remove)
            if problem:
                problems.append(f"{kind}: {problem}")
        self._made.clear()
        return problems


def sweep(client: docker.DockerClient, run_id: str, released: dict[str, str] | None = None) -> list[str]:
    """Remove whatever still carries this run's label (a check that bypassed the factory, an interrupt, a crash).

    released, if given, receives what became of the images the run pulled (see release_images)."""
    selector = {"label": [f"{RUN_LABEL}={run_id}", f"{SUITE_LABEL}={SUITE}"]}
    api = client.api
    steps = (  # raw lists: the models' list() inspects each object and fails on one removed meanwhile
        lambda: [_quietly(lambda i=c["Id"]: api.remove_container(i, **REMOVAL))
                 for c in api.containers(all=True, filters=selector)],
        lambda: [_quietly(lambda i=i["Id"]: api.remove_image(i, force=True)) for i in api.images(filters=selector)],
        lambda: [_quietly(lambda i=n["Id"]: api.remove_network(i)) for n in api.networks(filters=selector)],
        lambda: release_images(client, run_id, released),
        lambda: [_remove_volume(client, v["Name"]) for v in api.volumes(filters=selector).get("Volumes") or []],
    )
    problems = []
    for step in steps:
        try:
            problems += step()
        except Exception as e:  # noqa: BLE001 - one failed step must not keep the others from running
            problems.append(one_line(str(e) or type(e).__name__))
    return [p for p in problems if p]


def leftover_runs(client: docker.DockerClient) -> set[str]:
    """Run ids whose labelled objects are on the target (crashed, interrupted or still running)."""
    selector = {"label": [RUN_LABEL, f"{SUITE_LABEL}={SUITE}"]}
    api = client.api
    found = [c.get("Labels") for c in api.containers(all=True, filters=selector)]
    found += [i.get("Labels") for i in api.images(filters=selector)]
    found += [n.get("Labels") for n in api.networks(filters=selector)]
    found += [v.get("Labels") for v in api.volumes(filters=selector).get("Volumes") or []]
    return {labels[RUN_LABEL] for labels in found if labels and labels.get(RUN_LABEL)}

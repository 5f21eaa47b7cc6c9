"""Leak audit: a target's containers, images, networks, volumes and daemon.json before and after a run."""
from __future__ import annotations

import dataclasses
import hashlib

from conformance.cleanup import RUN_LABEL
from conformance.outcomes import one_line

DAEMON_JSON = "/etc/docker/daemon.json"
# Objects of the project's own concurrent activity: another run of the suite (its own audit covers
# them) or the built-in lab (lab hosts and images on the machine that runs the lab). Never on a
# production target unless someone runs the suite or the lab there.
OTHER_ACTIVITY_LABELS = ("conformance.lab",)
LAB_REPOSITORY = "conformance-lab/"
CHECK_ID = "run.leak-audit"  # a run-level check, not a catalogue requirement: kept apart in results.json


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What the target holds: each object by id (volumes by name) with what must not change."""
    containers: dict[str, str]
    images: dict[str, tuple[str, ...]]
    networks: dict[str, str]
    volumes: dict[str, str]
    daemon_json: str
    ours: frozenset[str]  # keys of objects labelled with this run's id

    def counts(self) -> str:
        return (f"{len(self.containers)} container(s), {len(self.images)} image(s), {len(self.networks)} network(s), "
                f"{len(self.volumes)} volume(s)")


def _foreign(labels: dict | None, run_id: str, tags: tuple[str, ...] | None = None) -> bool:
    """True for another run's objects and the lab's; a lab image that also carries a user tag is audited."""
    labels = labels or {}
    other_run = labels.get(RUN_LABEL) not in (None, run_id)
    lab = any(key in labels for key in OTHER_ACTIVITY_LABELS)
    if lab and tags is not None:
        lab = all(tag.startswith(LAB_REPOSITORY) for tag in tags)
    elif lab:
        # A container inherits its image's labels: one run from a lab-built image is not a lab object.
        lab = any(labels.get(key) != "image" for key in OTHER_ACTIVITY_LABELS if key in labels)
    return other_run or lab


def _daemon_json(target) -> str:
    """sha256 of daemon.json, 'absent', or why it could not be read (compared as text)."""
    result = target.run("cat %s", DAEMON_JSON, what=f"read {DAEMON_JSON}")
    if result.rc == 0:
        return "sha256:" + hashlib.sha256(result.stdout_bytes).hexdigest()
    if "No such file" in result.stderr:
        return "absent"
    return f"unreadable: {one_line(result.stderr)}"


def snapshot(target, client) -> Snapshot:
    """Read everything the audit compares (raw API lists: a few calls whatever the host holds)."""
    run_id, ours = target.run_id, set()
    api = client.api

    def keep(key: str, labels: dict | None, tags: tuple[str, ...] | None = None) -> bool:
        if (labels or {}).get(RUN_LABEL) == run_id:
            ours.add(key)
        return not _foreign(labels, run_id, tags)

    def tags(image: dict) -> tuple[str, ...]:
        return tuple(sorted(t for t in image.get("RepoTags") or [] if t != "<none>:<none>"))

    containers = {c["Id"]: f"{','.join(n.lstrip('/') for n in c.get('Names') or [])} image {c.get('ImageID', '?')[:19]}"
                  for c in api.containers(all=True) if keep("container " + c["Id"], c.get("Labels"))}
    images = {i["Id"]: tags(i) for i in api.images() if keep("image " + i["Id"], i.get("Labels"), tags(i))}
    networks = {n["Id"]: f"{n.get('Name')} ({n.get('Driver')})"
                for n in api.networks() if keep("network " + n["Id"], n.get("Labels"))}
    volumes = {v["Name"]: f"created {v.get('CreatedAt', '?')}"
               for v in api.volumes().get("Volumes") or [] if keep("volume " + v["Name"], v.get("Labels"))}
    return Snapshot(containers, images, networks, volumes, _daemon_json(target), frozenset(ours))


def _short(key: str) -> str:
    """A 64-hex id shortened like docker ps does; names (volumes) in full."""
    return key[:12] if len(key) == 64 and all(c in "0123456789abcdef" for c in key) else key


def differences(before: Snapshot, after: Snapshot, explained_refs: dict[str, str]) -> list[str]:
    """Every difference the run does not explain; explained_refs: image refs the run pulled -> what became of them."""
    found = []
    for kind in ("containers", "networks", "volumes"):
        old, new = getattr(before, kind), getattr(after, kind)
        noun = kind[:-1]
        for key in old.keys() - new.keys():
            found.append(f"{noun} {_short(key)} ({old[key]}) was there before the run and is gone")
        for key in new.keys() - old.keys():
            whose = "left behind by this run" if f"{noun} {key}" in after.ours else "appeared during the run, not labelled by it"
            found.append(f"{noun} {_short(key)} ({new[key]}) {whose}")
        for key in old.keys() & new.keys():
            if old[key] != new[key]:
                found.append(f"{noun} {_short(key)} changed: {old[key]} -> {new[key]}")
    for image_id in before.images.keys() | after.images.keys():
        old, new = before.images.get(image_id), after.images.get(image_id)
        if old is not None and new is None:
            if not old or not set(old) <= explained_refs.keys():
                found.append(f"image {image_id[7:19]} ({', '.join(old) or 'untagged'}) was there before the run and is gone")
        elif old is None and new is not None:
            if f"image {image_id}" in after.ours:
                found.append(f"image {image_id[7:19]} ({', '.join(new) or 'untagged'}) left behind by this run")
            elif not new or not set(new) <= explained_refs.keys():
                found.append(f"image {image_id[7:19]} ({', '.join(new) or 'untagged'}) appeared during the run, "
                             "not pulled by it")
        elif old is not None and new is not None:
            for tag in sorted(set(old) ^ set(new)):
                if tag not in explained_refs:
                    change = "removed from" if tag in old else "added to"
                    found.append(f"tag {tag} {change} image {image_id[7:19]}")
    if before.daemon_json != after.daemon_json:
        found.append(f"{DAEMON_JSON} changed: {before.daemon_json} -> {after.daemon_json}")
    return found


@dataclasses.dataclass
class Audit:
    """One target's audit: the snapshot before, then the verdict after the run's cleanup."""
    target_id: str
    run_id: str
    before: Snapshot | None = None
    status: str = "skipped"
    message: str = "the run never reached the engine, so it created nothing there"
    details: list[str] = dataclasses.field(default_factory=list)

    def start(self, target, client) -> None:
        try:
            self.before = snapshot(target, client)
        except Exception as e:  # noqa: BLE001 - the audit reports, it never breaks the run
            self.status, self.message = "error", f"could not read the target before the run: {one_line(str(e) or type(e).__name__)}"

    def finish(self, target, client, explained_refs: dict[str, str]) -> None:
        if self.before is None:
            return
        try:
            after = snapshot(target, client)
        except Exception as e:  # noqa: BLE001 - the audit reports, it never breaks the run
            self.status = "error"
            self.message = (f"could not read the target after the run: {one_line(str(e) or type(e).__name__)}; leftovers of run {self.run_id} may "
                            f"remain: remove them with `conformance-cleanup --hosts {self.target_id} --run {self.run_id}`")
            return
        self.details = differences(self.before, after, explained_refs)
        if self.details:
            self.status = "failed"
            self.message = f"{len(self.details)} difference(s) the run does not explain: " + "; ".join(self.details)
        else:
            self.status, self.message = "passed", f"unchanged: {after.counts()} and {DAEMON_JSON} ({after.daemon_json})"

    def as_json(self) -> dict:
        return {"status": self.status, "message": self.message, "differences": self.details}

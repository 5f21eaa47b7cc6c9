"""Leak audit: a target's containers, images, networks, volumes, daemon.json and docker units before and after a run."""
from __future__ import annotations

import dataclasses
import hashlib

from conformance.cleanup import HANDED_LABEL, KEPT, RUN_LABEL
from conformance import units as unit_states
from conformance.outcomes import TargetError, one_line
from conformance.profiles import DAEMON_JSON

# Objects of the project's own concurrent activity: another run of the suite (its own audit covers
# them) or the built-in lab (lab hosts and images on the machine that runs the lab). Never on a
# production target unless someone runs the suite or the lab there.
OTHER_ACTIVITY_LABELS = ("conformance.lab",)
LAB_REPOSITORY = "conformance-lab/"
CHECK_ID = "run.leak-audit"  # a run-level check, not a catalogue requirement: kept apart in results.json
VOLUME_LIMIT_KIB = 64 * 1024  # a pre-existing volume's content is hashed up to this size (du -sk), else noted
# Prints "<name>\t<sha256 of a tar of the volume's files>" or "<name>\t<why not>" per (name, mountpoint) pair.
# tar --sort=name where GNU tar has it (1.28+; CentOS 7's 1.26 keeps the directory order, stable while unchanged);
# tar's exit status comes back on stderr, beside sha256sum's line.
VOLUME_HASH = r"""
limit=$1; shift
while [ $# -gt 1 ]; do
  name=$1; dir=$2; shift 2
  if ! kib=$(du -sxk -- "$dir" 2>&1); then
    printf '%s\tnot read: %s\n' "$name" "$(printf '%s' "$kib" | head -n 1)"; continue
  fi
  kib=${kib%%[!0-9]*}
  if [ "$kib" -gt "$limit" ]; then
    printf '%s\tnot compared: %s KiB, above the %s KiB limit\n' "$name" "$kib" "$limit"; continue
  fi
  sort=; tar --sort=name --no-recursion -cf /dev/null -C "$dir" . 2>/dev/null && sort=--sort=name
  out=$( { { tar $sort --numeric-owner -cf - -C "$dir" . 2>/dev/null; echo "tar=$?" >&2; } | sha256sum; } 2>&1 )
  sum=$(printf '%s\n' "$out" | sed -n 's/^\([0-9a-f]\{64\}\) .*/\1/p')
  case "$out" in
    *tar=0*) printf '%s\tsha256:%s\n' "$name" "$sum" ;;
    *) printf '%s\tnot read: tar failed (%s)\n' "$name" "$(printf '%s\n' "$out" | sed -n 's/^tar=//p')" ;;
  esac
done
"""


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What the target holds: each object by id (volumes by name) with what must not change."""
    containers: dict[str, str]
    images: dict[str, tuple[str, ...]]
    networks: dict[str, str]
    volumes: dict[str, str]
    daemon_json: str
    ours: frozenset[str]  # keys of objects labelled with this run's id
    # Pre-existing volumes: "sha256:<hex>" of their files, or why their content is not compared.
    volume_content: dict[str, str] = dataclasses.field(default_factory=dict)

    def counts(self) -> str:
        return (f"{len(self.containers)} container(s), {len(self.images)} image(s), {len(self.networks)} network(s), "
                f"{len(self.volumes)} volume(s)")

    def content_notes(self) -> list[str]:
        return [f"volume {name}: content {why}" for name, why in sorted(self.volume_content.items())
                if not why.startswith("sha256:")]


def _foreign(labels: dict | None, run_id: str, tags: tuple[str, ...] | None = None) -> bool:
    """True for another run's objects and the lab's; a lab image that also carries a user tag is audited.

    An image record another run handed to this one (HANDED_LABEL) is the other run's: when this run has ended
    meanwhile, that run takes it back (cleanup.release_images), possibly after this audit read the target."""
    labels = labels or {}
    other_run = labels.get(RUN_LABEL) not in (None, run_id) or labels.get(HANDED_LABEL) not in (None, run_id)
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


def volume_contents(target, volumes: list[dict], busy: dict[str, str], skip: bool = False) -> dict[str, str]:
    """name -> sha256 of the files of each volume (read on the target in one bounded command), or why not.

    Not compared: every volume under --skip-volume-hashing (skip: nothing is read), a volume a running or
    restarting container mounts (its content changes as that container works; busy: see busy_volumes), one of another driver or with driver options (nfs, bind:
    the files are elsewhere), one above VOLUME_LIMIT_KIB.
    """
    found, pairs = {}, []
    for volume in volumes:
        name = volume["Name"]
        if skip:
            found[name] = "not compared: --skip-volume-hashing"
        elif name in busy:
            found[name] = f"not compared: mounted by {busy[name]}"
        elif volume.get("Driver") != "local" or volume.get("Options") or not volume.get("Mountpoint"):
            # the options themselves are not shown: a cifs volume's options hold its password
            elsewhere = " with options (nfs, bind, ...): its files are elsewhere" if volume.get("Options") else ""
            found[name] = f"not compared: driver {volume.get('Driver')}{elsewhere}"
        else:
            pairs += [name, volume["Mountpoint"]]
    if not pairs:
        return found
    what = f"hash the content of {len(pairs) // 2} volume(s)"
    try:
        result = target.run("sh -c %s audit %s" + " %s" * len(pairs), VOLUME_HASH, str(VOLUME_LIMIT_KIB),
                            *pairs, what=what)
    except TargetError as e:
        return {**found, **{name: f"not read: {one_line(str(e))}" for name in pairs[::2]}}
    lines = dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)
    for name in pairs[::2]:
        found[name] = lines.get(name) or f"not read: rc={result.rc} {one_line(result.stderr)}"
    return found


WORKING_STATES = ("running", "restarting")  # a container in these may write to its volumes during the run


def busy_volumes(listed: list[dict]) -> dict[str, str]:
    """volume name -> the container that may be writing to it (GET /containers/json?all=1 entries): a running one,
    or one its restart policy keeps restarting (a crash loop is "restarting" between its runs)."""
    return {m["Name"]: f"{c.get('State')} container " + (",".join(n.lstrip("/") for n in c.get("Names") or [])
                                                        or c["Id"][:12])
            for c in listed if c.get("State") in WORKING_STATES
            for m in c.get("Mounts") or [] if m.get("Type") == "volume"}


def snapshot(target, client, content_of: set[str] | None = None) -> Snapshot:
    """Read everything the audit compares (raw API lists: a few calls whatever the host holds).

    content_of: the volumes whose content to hash (None: every volume that is not the run's own or foreign).
    """
    run_id, ours = target.run_id, set()
    api = client.api

    def keep(key: str, labels: dict | None, tags: tuple[str, ...] | None = None) -> bool:
        if (labels or {}).get(RUN_LABEL) == run_id:
            ours.add(key)
        return not _foreign(labels, run_id, tags)

    def tags(image: dict) -> tuple[str, ...]:
        return tuple(sorted(t for t in image.get("RepoTags") or [] if t != "<none>:<none>"))

    listed = api.containers(all=True)
    containers = {c["Id"]: f"{','.join(n.lstrip('/') for n in c.get('Names') or [])} image {c.get('ImageID', '?')[:19]}"
                  for c in listed if keep("container " + c["Id"], c.get("Labels"))}
    busy = busy_volumes(listed)
    images = {i["Id"]: tags(i) for i in api.images() if keep("image " + i["Id"], i.get("Labels"), tags(i))}
    networks = {n["Id"]: f"{n.get('Name')} ({n.get('Driver')})"
                for n in api.networks() if keep("network " + n["Id"], n.get("Labels"))}
    audited = [v for v in api.volumes().get("Volumes") or [] if keep("volume " + v["Name"], v.get("Labels"))]
    volumes = {v["Name"]: f"created {v.get('CreatedAt', '?')}" for v in audited}
    hashed = [v for v in audited if ("volume " + v["Name"]) not in ours
              and (content_of is None or v["Name"] in content_of)]
    return Snapshot(containers, images, networks, volumes, _daemon_json(target), frozenset(ours),
                    volume_contents(target, hashed, busy, skip=target.settings.skip_volume_hashing))


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
    for name in sorted(before.volume_content.keys() & after.volume_content.keys()):
        old, new = before.volume_content[name], after.volume_content[name]
        if old.startswith("sha256:") and new.startswith("sha256:") and old != new:
            found.append(f"volume {name} content changed: {old[:19]} -> {new[:19]}")
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


def unit_differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """A docker unit whose ActiveState changed during the run (before and after: unit -> 'ActiveState (SubState)')."""
    found = []
    for unit in sorted(before.keys() & after.keys()):
        if before[unit].split(" ")[0] != after[unit].split(" ")[0]:
            found.append(f"{unit} was {before[unit]} before the run and is {after[unit]} after it"
                         + (": the run started the engine" if after[unit].startswith("active") else ""))
    return found


def kept_images(after: Snapshot, explained_refs: dict[str, str]) -> list[str]:
    """'ref (image id)' of each image the run pulled and kept by request that is on the target after the run."""
    ids = {tag: image_id for image_id, tags in after.images.items() for tag in tags}
    return [f"{ref} ({ids[ref][7:19]})" for ref, what in sorted(explained_refs.items()) if what == KEPT and ref in ids]


@dataclasses.dataclass
class Audit:
    """One target's audit: the snapshot before, then the verdict after the run's cleanup."""
    target_id: str
    run_id: str
    before: Snapshot | None = None
    status: str = "skipped"
    message: str = "the run never reached the engine, so it created nothing there"
    details: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)  # what was not compared, and why
    kept: list[str] = dataclasses.field(default_factory=list)  # images the run pulled and kept (--keep-pulled-images)
    units_before: dict[str, str] = dataclasses.field(default_factory=dict)  # unit -> 'ActiveState (SubState)'

    def start_units(self, snapshot: unit_states.Snapshot) -> None:
        """The docker units as read before the first connection to the engine (Target.units)."""
        self.units_before = snapshot.active_states()

    def finish_units(self, target) -> None:
        """Read the docker units again, last of all; a changed ActiveState is a difference (also when the run
        never reached the engine: then this is the whole audit)."""
        if not self.units_before:
            return  # systemd did not answer before the run (not PID 1): nothing to compare
        try:
            after = unit_states.parse(target.run(unit_states.COMMAND, what="read the docker units").stdout).active_states()
        except TargetError as e:
            if self.status != "error":
                self.status = "error"
                self.message = f"could not read the docker units after the run: {one_line(str(e))}"
            return
        changed = unit_differences(self.units_before, after)
        states = ", ".join(f"{unit} {state}" for unit, state in sorted(after.items()))
        if self.status == "skipped":
            self.status, self.message = "passed", f"the run never reached the engine; unchanged: {states}"
        elif self.status == "passed":
            self.message += f"; unchanged: {states}" if not changed else ""
        if changed:
            self.details += changed
            if self.status == "error":
                self.message += "; " + "; ".join(changed)
            else:
                self.status = "failed"
                self.message = f"{len(self.details)} difference(s) the run does not explain: " + "; ".join(self.details)

    def start(self, target, client) -> None:
        try:
            self.before = snapshot(target, client)
        except Exception as e:  # noqa: BLE001 - the audit reports, it never breaks the run
            self.status, self.message = "error", f"could not read the target before the run: {one_line(str(e) or type(e).__name__)}"

    def finish(self, target, client, explained_refs: dict[str, str]) -> None:
        if self.before is None:
            return
        try:
            hashed = {name for name, content in self.before.volume_content.items() if content.startswith("sha256:")}
            after = snapshot(target, client, hashed)
        except Exception as e:  # noqa: BLE001 - the audit reports, it never breaks the run
            self.status = "error"
            self.message = (f"could not read the target after the run: {one_line(str(e) or type(e).__name__)}; leftovers of run {self.run_id} may "
                            f"remain: remove them with `conformance-cleanup --hosts {self.target_id} --run {self.run_id}`")
            return
        self.details = differences(self.before, after, explained_refs)
        self.notes = list(dict.fromkeys(self.before.content_notes() + after.content_notes()))
        compared = sum(c.startswith("sha256:") for c in after.volume_content.values())
        if self.details:
            self.status = "failed"
            self.message = f"{len(self.details)} difference(s) the run does not explain: " + "; ".join(self.details)
        else:
            self.status, self.message = "passed", (f"unchanged: {after.counts()} (content of {compared} compared by "
                                                   f"sha256) and {DAEMON_JSON} ({after.daemon_json})")
        self.kept = kept_images(after, explained_refs)
        if self.kept:
            self.message += "; kept by request (--keep-pulled-images): " + ", ".join(self.kept)
        if self.notes:
            self.message += "; not compared: " + "; ".join(self.notes)

    def as_json(self) -> dict:
        return {"status": self.status, "message": self.message, "differences": self.details, "notes": self.notes,
                "kept": self.kept}

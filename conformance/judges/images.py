"""Judges of seed 1.3 镜像管理: read-only images, rootfs, the union-mounted read-write layer, commit."""
from __future__ import annotations

import posixpath

from conformance.judges import Verdict
from conformance.profiles import profiles

DIFF_KINDS = {0: "C", 1: "A", 2: "D"}  # docker diff's Kind: changed, added, deleted


def read_only(before: dict, after: dict, writes_exit: int) -> Verdict:
    """Judge image.read-only from the image's inspect data before and after a container wrote."""
    def layers(a):
        return (a.get("RootFS") or {}).get("Layers") or []
    same = before.get("Id") == after.get("Id") and layers(before) == layers(after)
    return Verdict(writes_exit == 0 and same, f"writes succeed and the image stays {before.get('Id', '?')[:19]} "
                                              f"with {len(layers(before))} layer(s)",
                   f"writes exit {writes_exit}; image now {after.get('Id', '?')[:19]} with layers "
                   + ("unchanged" if layers(before) == layers(after) else str(layers(after))))


def rootfs_dir(path: str, exit_code: int) -> Verdict:
    """Judge one image.rootfs directory."""
    return Verdict(exit_code == 0, f"{path} is a directory in the container's rootfs",
                   f"test -d {path} exit {exit_code}")


def process_cmd(image_config: dict, path: str, args: list[str], pid1_comm: str) -> Verdict:
    """Judge image.config-applied (CMD): the container runs Entrypoint+Cmd and PID 1 is that program."""
    want = list(image_config.get("Entrypoint") or []) + list(image_config.get("Cmd") or [])
    have = [path, *args]
    program = posixpath.basename(want[0]) if want else ""
    ok = bool(want) and want == have and pid1_comm.strip() == program[:15]  # comm holds 15 characters
    return Verdict(ok, f"process {want} (PID 1 {program!r})", f"process {have} (PID 1 {pid1_comm.strip()!r})")


def process_env(image_env: list[str], container_env: list[str], inside_env: str) -> Verdict:
    """Judge image.config-applied (ENV): the image's ENV is the container's and a process inside has it."""
    inside = {e for e in inside_env.splitlines() if e}
    missing = [e for e in image_env if e not in (container_env or [])]
    unseen = [e for e in image_env if e not in inside]
    found = ("all present" if not (missing or unseen) else
             f"missing from Config.Env {missing}, from the environment inside {unseen}")
    return Verdict(bool(image_env) and not missing and not unseen,
                   f"the image's ENV {image_env} in the container's Config.Env and in a process inside", found)


def root_mount(mountinfo: str) -> tuple[str, dict[str, str]]:
    """(fstype, super options) of the '/' mount in /proc/PID/mountinfo; ('', {}) if absent."""
    for line in mountinfo.splitlines():
        fields, sep, tail = line.partition(" - ")
        parts = fields.split()
        if sep and len(parts) >= 5 and parts[4] == "/":
            fstype, _, rest = tail.partition(" ")
            options = rest.partition(" ")[2]
            return fstype, dict(o.partition("=")[::2] for o in options.split(","))
    return "", {}


def storage_of(container_inspect: dict) -> dict:
    """The container's storage as GraphDriver {Name, Data}. API 1.52 (Engine 29) omits GraphDriver under the
    containerd image store and reports Storage.RootFS.Snapshot {Name} instead; older APIs on the same engine get
    GraphDriver {Name: <snapshotter>} back (moby daemon/server/router/container/inspect.go)."""
    graph = container_inspect.get("GraphDriver")
    if graph:
        return graph
    snapshot = ((container_inspect.get("Storage") or {}).get("RootFS") or {}).get("Snapshot") or {}
    return {"Name": snapshot["Name"], "Data": None} if snapshot.get("Name") else {}


def layer_dirs(graph: dict, fstype: str, mount_options: dict[str, str]) -> tuple[list[str], str | None]:
    """(lower dirs, upper dir) from GraphDriver.Data, else (containerd store) the overlay root mount's options."""
    data = graph.get("Data") or {}
    if data.get("UpperDir"):
        return [d for d in (data.get("LowerDir") or "").split(":") if d], data["UpperDir"]
    # Only for a union driver: under vfs on a host that is itself a container, '/' can be the outer overlay.
    if fstype != "overlay" or graph.get("Name") not in profiles()["engine"]["union_drivers"]:
        return [], None
    lower = [d for d in mount_options.get("lowerdir", "").split(":") if d.startswith("/")]
    upper = mount_options.get("upperdir") or None
    return lower, upper


def union_mount(driver: str, union_drivers: list[str], lower: list[str], upper: str | None, fstype: str) -> Verdict:
    """Judge image.union-mount."""
    found = f"driver {driver or '?'}, root mount {fstype or '?'}, {len(lower)} lower dir(s), upper dir {upper or 'none'}"
    ok = driver in union_drivers and bool(lower) and bool(upper)
    return Verdict(ok, f"a union driver ({', '.join(union_drivers)}) with lower and upper dirs", found)


def copy_on_write(changes: list[dict], path: str, upper_sha: str | None, inside_sha: str,
                  lower_before: str | None, lower_after: str | None) -> Verdict:
    """Judge image.copy-on-write from docker diff, the upper dir's copy and the image's (lower) copy."""
    kinds = {c.get("Path"): DIFF_KINDS.get(c.get("Kind"), "?") for c in changes or []}
    found = (f"docker diff {path}: {kinds.get(path, 'not listed')}; upper copy sha256 {upper_sha or 'absent'}; "
             f"inside {inside_sha or '?'}; image copy {lower_before or '?'} -> {lower_after or '?'}")
    ok = (kinds.get(path) in ("C", "A") and bool(upper_sha) and upper_sha == inside_sha
          and bool(lower_before) and lower_before == lower_after and lower_before != inside_sha)
    return Verdict(ok, f"{path} listed C/A, its new content in the upper dir, the image's copy unchanged", found)


def no_leak(original_sha: str, written_sha: str, second_sees_file: bool, second_sha: str) -> Verdict:
    """Judge image.no-leak."""
    found = (f"first container changed the file {original_sha[:12]} -> {written_sha[:12]}; second container: "
             f"sha {second_sha[:12] or '?'}, sees the added file: {second_sees_file}")
    ok = original_sha != written_sha and second_sha == original_sha and not second_sees_file
    return Verdict(ok, "the second container has the image's original file and not the first one's new file", found)


def rm_discards(upper: str | None, upper_exists_after: bool | None, new_sees_file: bool) -> Verdict:
    """Judge image.rm-discards; upper None: the driver exposes no upper dir to look at."""
    found = (f"new container sees the change: {new_sees_file}; old upper dir {upper or '(driver exposes none)'} "
             + ("" if upper is None else ("still exists" if upper_exists_after else "gone")))
    return Verdict(not new_sees_file and not upper_exists_after,
                   "the change and the removed container's upper dir are gone", found)


def commit_persists(base_layers: list[str], new_layers: list[str], new_sees_file: bool) -> Verdict:
    """Judge image.commit-persists."""
    ok = new_sees_file and len(new_layers) == len(base_layers) + 1 and new_layers[: len(base_layers)] == base_layers
    return Verdict(ok, f"the base's {len(base_layers)} layer(s) plus one, and the change visible",
                   f"{len(new_layers)} layer(s) "
                   + ("on top of the base's" if new_layers[: len(base_layers)] == base_layers else "not based on the base's")
                   + f"; change visible: {new_sees_file}")

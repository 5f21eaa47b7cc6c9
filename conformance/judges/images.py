"""Judges of seed 1.3 镜像管理: read-only images, rootfs, the union-mounted read-write layer, commit."""
from __future__ import annotations

import posixpath

from conformance.judges import Verdict
from conformance.profiles import profiles

DIFF_KINDS = {0: "C", 1: "A", 2: "D"}  # docker diff's Kind: changed, added, deleted


CONTAINERD_STORE = ["driver-type", "io.containerd.snapshotter.v1"]  # in GET /info DriverStatus under that image store


def export_checks_unpacked_files(driver_status: list) -> bool:
    """Whether the engine's export (docker save) is written from the unpacked layer files, each checked against its
    digest (graph drivers: overlay2, vfs, ...). The containerd image store sends the layer blobs as they were
    pulled: an edit of its unpacked snapshot does not show in the export (seen on a lab host's 26.1)."""
    return CONTAINERD_STORE not in driver_status


def read_only(before: dict, after: dict, writes_exit: int, export: tuple[int | None, str],
              unpacked_checked: bool = True) -> Verdict:
    """Judge image.read-only from the image's inspect data before and after a container wrote, and from the engine's
    export of the image after it (export: (HTTP status of GET /images/{name}/get, the engine's message)). The Id
    and layer digests are content digests fixed at pull: only the export, where the engine checks every layer's
    files against its digest, sees an image whose files changed in place; unpacked_checked: whether the export is
    made from the unpacked files (export_checks_unpacked_files), which the evidence then says."""
    def layers(a):
        return (a.get("RootFS") or {}).get("Layers") or []
    same = before.get("Id") == after.get("Id") and layers(before) == layers(after)
    status, message = export
    intact = status == 200
    return Verdict(writes_exit == 0 and same and intact,
                   f"writes succeed, the image stays {before.get('Id', '?')[:19]} with {len(layers(before))} "
                   "layer(s) and the engine exports it with every layer matching its digest",
                   f"writes exit {writes_exit}; image now {after.get('Id', '?')[:19]} with layers "
                   + ("unchanged" if layers(before) == layers(after) else str(layers(after)))
                   + f"; export: {verified(unpacked_checked) if intact else f'HTTP {status}: {message}'}")


def verified(unpacked_checked: bool) -> str:
    return ("every layer verified" if unpacked_checked else "every layer verified as pulled (the containerd image "
            "store exports the pulled layer blobs, not the unpacked files: an in-place edit of those is not seen)")


def rootfs_dir(path: str, exit_code: int) -> Verdict:
    """Judge one image.rootfs directory."""
    return Verdict(exit_code == 0, f"{path} is a directory in the container's rootfs",
                   f"test -d {path} exit {exit_code}")


ENGINE_INITS = ("docker-init", "tini")  # what `docker run --init` / "init": true put at PID 1 (InitBinary)


def engine_inits(init_binary: str) -> tuple[str, ...]:
    """The names (comm, 15 characters) the engine's init may have at PID 1: GET /info InitBinary, else the usual."""
    name = posixpath.basename(init_binary.strip())[:15]
    return tuple(dict.fromkeys([name, *ENGINE_INITS] if name else ENGINE_INITS))


def process_table(listing: str) -> list[tuple[int, int, str]]:
    """(pid, parent pid, name) from lines 'PID PPID NAME' (a name may hold spaces)."""
    table = []
    for line in listing.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            table.append((int(parts[0]), int(parts[1]), parts[2].strip()))
    return table


def process_cmd(image_config: dict, path: str, args: list[str], processes: list[tuple[int, int, str]],
                inits: tuple[str, ...] = ENGINE_INITS) -> Verdict:
    """Judge image.config-applied (CMD): the container runs Entrypoint+Cmd, and that program is PID 1, or the only
    child of PID 1 when PID 1 is the engine's init (`"init": true`, `docker run --init`)."""
    entrypoint, cmd = list(image_config.get("Entrypoint") or []), list(image_config.get("Cmd") or [])
    want, have = entrypoint + cmd, [path, *args]
    programs = started_programs(entrypoint, cmd)
    names = {pid: name for pid, _, name in processes}
    pid1 = names.get(1, "")
    children = [name for _, parent, name in processes if parent == 1]
    if pid1 in inits:
        runs = len(children) == 1 and children[0] in programs
        seen = f"PID 1 {pid1!r} (the engine's init), its children {children}"
    else:
        runs = pid1 in programs
        seen = f"PID 1 {pid1!r}"
    named = " or ".join(repr(p) for p in programs) or "''"
    return Verdict(bool(want) and want == have and runs,
                   f"process {want} (PID 1 {named}, or the only child of the engine's init {'/'.join(inits)})",
                   f"process {have} ({seen})")


SHELLS = ("sh", "bash", "dash", "ash")


def started_programs(entrypoint: list[str], cmd: list[str]) -> tuple[str, ...]:
    """The names (comm, 15 characters) the process started from Entrypoint+Cmd may have by the time it is looked at:
    its first program; with an Entrypoint, also Cmd's first program (an entrypoint script that ends in `exec "$@"`,
    as Docker's official images do); for `sh -c "STRING"`, also STRING's first program (a shell execs a last simple
    command in place)."""
    want = entrypoint + cmd
    firsts = [want[0]] if want else []
    if entrypoint and cmd:
        firsts.append(cmd[0])
    for argv in (want, cmd if entrypoint else []):
        words = argv[2].split() if len(argv) >= 3 and posixpath.basename(argv[0]) in SHELLS and argv[1] == "-c" else []
        words = words[1:] if words[:1] == ["exec"] else words
        if words:
            firsts.append(words[0])
    return tuple(dict.fromkeys(posixpath.basename(f)[:15] for f in firsts))


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


def rm_discards(upper: str | None, visible_before: bool | None, exists_after: bool | None,
                new_sees_file: bool) -> Verdict:
    """Judge image.rm-discards; upper None: the driver exposes no upper dir to look at. The dir's absence after the
    removal counts only when stat saw it before (a login that cannot see it would find it 'gone' too)."""
    if upper is None:
        fate = "(driver exposes none)"
    else:
        fate = (f"{upper} {'seen' if visible_before else 'NOT seen'} before the removal, "
                + ("still exists" if exists_after else "gone (stat: no such file)" if exists_after is False
                   else "not looked at") + " after it")
    ok = not new_sees_file and (upper is None or (visible_before is True and exists_after is False))
    return Verdict(ok, "the change and the removed container's upper dir are gone",
                   f"new container sees the change: {new_sees_file}; old upper dir {fate}")


def commit_persists(base_layers: list[str], new_layers: list[str], new_sees_file: bool) -> Verdict:
    """Judge image.commit-persists."""
    ok = new_sees_file and len(new_layers) == len(base_layers) + 1 and new_layers[: len(base_layers)] == base_layers
    return Verdict(ok, f"the base's {len(base_layers)} layer(s) plus one, and the change visible",
                   f"{len(new_layers)} layer(s) "
                   + ("on top of the base's" if new_layers[: len(base_layers)] == base_layers else "not based on the base's")
                   + f"; change visible: {new_sees_file}")

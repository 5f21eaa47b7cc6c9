"""Seed 1.3 镜像管理: images are read-only templates, rootfs, the union-mounted read-write layer, commit."""
import re

import docker
import pytest

from conformance import ahead, probes
from conformance.judges import images as judge
from conformance.outcomes import ObserverError, expect
from conformance.profiles import profiles
from conformance.masking import clip

# The seed's example rootfs: "如 /dev、/proc、/bin、/etc、/lib、/usr、/tmp".
ROOTFS_DIRS = ("/dev", "/proc", "/bin", "/etc", "/lib", "/usr", "/tmp")
IMAGE_FILE = "/etc/nginx/nginx.conf"  # a file every nginx image carries; containers append to it
# The write experiment changes the first of these that the image carries as a regular file outside the container's
# mounts: an nginx:latest of the host's own may declare VOLUME /etc/nginx, and a write there lands in the volume.
IMAGE_FILES = (IMAGE_FILE, "/etc/passwd")
APPEND = "# written by docker-host-conformance"


def added_file(run_id, what):
    return f"/conformance-{what}-{run_id}"


def sha_inside(container, path, evidence):
    return probes.run_in(container, ["sha256sum", path], evidence, prints=True)[1].split(" ")[0].strip()


def file_to_change(container, evidence):
    """(path, sha256) of the first IMAGE_FILES entry that is a regular file of the container's outside its mounts."""
    mounts = [m["Destination"] for m in container.attrs.get("Mounts") or []]
    evidence.api(f"GET /containers/{container.short_id}/json", Mounts_Destination=mounts)
    outside = [f for f in IMAGE_FILES if not any(f == d or f.startswith(d.rstrip("/") + "/") for d in mounts)]
    script = 'for f in "$@"; do if [ -f "$f" ] && [ ! -L "$f" ]; then sha256sum "$f"; exit 0; fi; done; exit 1'
    code, output = probes.run_in(container, ["sh", "-c", script, "sh", *outside], evidence, prints=True)
    found = re.search(r"^([0-9a-f]{64}) +(\S+)$", output, re.M)
    if not found:
        raise ObserverError(f"{evidence.target_id}: no file to change: none of {', '.join(IMAGE_FILES)} is a regular "
                            f"file of the image outside the container's mounts ({', '.join(mounts) or 'none'}); "
                            f"exit {code}, output {clip(output, 300, end=True)!r}")
    return found.group(2), found.group(1)


def change(container, run_id, what, evidence, path=IMAGE_FILE):
    """Append to the image's file and add a new one; returns the exit code."""
    script = f"echo '{APPEND}' >> {path} && echo {run_id} > {added_file(run_id, what)}"
    return probes.run_in(container, ["sh", "-c", script], evidence, user=probes.ROOT)[0]


def new_container_sees(target, make, image, path, evidence, image_file=IMAGE_FILE):
    """Start a new container from image that only looks: (path exists in it, sha256 of image_file in it)."""
    script = f'test -e "$1"; echo "exists=$?"; sha256sum {image_file}'
    code, output = probes.output_to_exit(make, image, ["sh", "-c", script, "sh", path], evidence,
                                         target.settings.call_timeout)
    found, sha = re.search(r"^exists=(\d+)$", output, re.M), re.search(r"^([0-9a-f]{64}) ", output, re.M)
    if code == 0 and not (found and sha):  # sha256sum exited 0, so both lines were printed: one was lost on the way
        raise ObserverError(f"{evidence.target_id}: a new {image} container exited 0 but its output lacks "
                            f"{'the exists= line' if not found else 'the sha256 line'} ({clip(output, 300, end=True)!r}):"
                            " lost on the way; not judged")
    expect(found, f"a new {image} container that prints exists=<test -e rc>", f"exit {code}, output {clip(output, 300, end=True)!r}")
    return found.group(1) == "0", sha.group(1) if sha else ""


def image_attrs(engine, evidence, ref=probes.NGINX):
    attrs = engine.images.get(ref).attrs
    evidence.api(f"GET /images/{ref}/json", Id=attrs["Id"], RootFS_Layers=attrs["RootFS"]["Layers"])
    return attrs


def layers_of(host, container, evidence):
    """(lower dirs, upper dir, root fstype) of a running container, from GraphDriver.Data (Storage.RootFS.Snapshot
    on API 1.52) and its mountinfo."""
    container.reload()
    graph = judge.storage_of(container.attrs)
    evidence.api(f"GET /containers/{container.short_id}/json", GraphDriver=container.attrs.get("GraphDriver"),
                 **({"Storage": container.attrs["Storage"]} if "Storage" in container.attrs else {}))
    try:
        mountinfo = probes.read_proc(host, evidence, container.attrs["State"]["Pid"], "mountinfo",
                                     born=probes.container_started(container)) or ""
    except ObserverError as e:
        if not (graph.get("Data") or {}).get("UpperDir"):
            raise  # the containerd store names its dirs only in the mount
        evidence.note(f"root mount not read ({e}); GraphDriver.Data names the dirs")
        mountinfo = ""
    fstype, options = judge.root_mount(mountinfo)
    lower, upper = judge.layer_dirs(graph, fstype, options)
    return lower, upper, fstype


@pytest.mark.req("image.read-only")
def test_image_read_only(target, evidence):
    """Writes in a container leave the image's id, layer digests and layer files unchanged."""
    judge.read_only(*ahead.done(target, "image.read-only", evidence)).check(evidence)


@ahead.work("image.rootfs")
def run_test_d(target, make, evidence):
    """test -d of every ROOTFS_DIRS path in the shared nginx container, in one exec; path -> exit code."""
    script = 'for d in "$@"; do test -d "$d"; echo "$d $?"; done'
    _, output = probes.run_in(ahead.shared_nginx(target), ["sh", "-c", script, "sh", *ROOTFS_DIRS], evidence,
                              prints=probes.lines_for(*ROOTFS_DIRS))
    return {path: int(code) for path, code in (line.split() for line in output.splitlines() if line.strip())}


@pytest.mark.req("image.rootfs")
@pytest.mark.parametrize("path", ROOTFS_DIRS)
def test_rootfs_dir(target, evidence, path):
    """The container's root holds the documented rootfs directory."""
    codes = ahead.done(target, "image.rootfs", evidence)
    if path not in codes:  # the script prints a line for every path, absent or not: the output was cut
        raise ObserverError(f"{target.name}: the exec's output has no line for {path} (its output was cut on the "
                            "way, three times: docker/docker-py#3332); the directory was not judged")
    judge.rootfs_dir(path, codes[path]).check(evidence)


# pid, parent pid and name (comm) of every process in the container, read from inside (/proc of its namespace).
PROCESSES = ('for d in /proc/[0-9]*; do n=; pp=; while read -r k v; do case $k in Name:) n=$v;; PPid:) pp=$v;; esac; '
             'done < "$d/status" 2>/dev/null && echo "${d#/proc/} $pp $n"; done')


@pytest.mark.req("image.config-applied")
def test_cmd_applied(target, engine, evidence):
    """The container's process is the image's CMD."""
    container = ahead.shared_nginx(target)
    config = image_attrs(engine, evidence)["Config"]
    container.reload()
    path, args = container.attrs["Path"], container.attrs["Args"]
    init_binary = engine.info().get("InitBinary") or ""
    evidence.api(f"GET /containers/{container.short_id}/json", Path=path, Args=args, HostConfig_Init=
                 container.attrs["HostConfig"].get("Init"), image_Entrypoint=config.get("Entrypoint"),
                 image_Cmd=config.get("Cmd"))
    evidence.api("GET /info", InitBinary=init_binary)
    # PID 1's line comes first, the one an output cut on the way (docker/docker-py#3332) lacks: read again then
    _, listing = probes.run_in(container, ["sh", "-c", PROCESSES], evidence, prints=probes.lines_for("1"))
    judge.process_cmd(config, path, args, judge.process_table(listing), judge.engine_inits(init_binary)).check(evidence)


@pytest.mark.req("image.config-applied")
def test_env_applied(target, engine, evidence):
    """The container's processes get the image's ENV."""
    config = image_attrs(engine, evidence)["Config"]
    container = ahead.shared_nginx(target)
    container.reload()
    evidence.api(f"GET /containers/{container.short_id}/json", Config_Env=container.attrs["Config"]["Env"],
                 image_Env=config.get("Env"))
    # Not /proc/1/environ: nginx writes its process title over its argv and environ.
    _, inside = probes.run_in(container, ["env"], evidence, prints=True)
    judge.process_env(config.get("Env") or [], container.attrs["Config"]["Env"], inside).check(evidence)


@pytest.mark.req("image.union-mount")
def test_union_mount(host, target, engine, evidence):
    """The storage driver is a union driver and the container has lower and upper directories."""
    driver = engine.info().get("Driver", "")
    evidence.api("GET /info", Driver=driver)
    lower, upper, fstype = layers_of(host, ahead.shared_nginx(target), evidence)
    judge.union_mount(driver, profiles()["engine"]["union_drivers"], lower, upper, fstype).check(evidence)


@ahead.work("image.read-only", "image.copy-on-write", "image.no-leak")
def write_then_start_another(target, make, evidence):
    """Write in a new container, then start a second one from the same image: what the image, the first
    container's layers and both containers hold (one experiment, judged by three checks)."""
    host, run_id = target.host, target.run_id
    before = image_attrs(target.engine, evidence)
    first = make.container(probes.NGINX)
    lower, upper, _ = layers_of(host, first, evidence)
    path, original = file_to_change(first, evidence)
    try:  # the layers are files of the engine's: a login that may not read them cannot judge copy-on-write
        if upper and not probes.stat_path(host, evidence, upper):
            raise ObserverError(f"{evidence.target_id}: cannot look into {upper} (GraphDriver.Data.UpperDir): stat "
                                "found no such directory while its container exists (the engine's files are not where "
                                "this login looks: another mount namespace, or the runner in a container)")
        image_copy = next((d + path for d in lower if host.file(d + path).exists), None)
        evidence.note(f"the image's copy of {path}: {image_copy or 'not found in the lower dirs'}")
        lower_before = probes.sha256(host, evidence, image_copy) if image_copy else None
        unseen = None
    except ObserverError as e:
        unseen = e
    code = change(first, run_id, "write", evidence, path)
    changes = first.diff() or []
    evidence.api(f"GET /containers/{first.short_id}/changes",
                 changes=[{"Path": c["Path"], "Kind": judge.DIFF_KINDS.get(c["Kind"])} for c in changes])
    if unseen is None:
        upper_sha = probes.sha256(host, evidence, upper + path) if upper else None
        lower_after = probes.sha256(host, evidence, image_copy) if image_copy else None
    written = sha_inside(first, path, evidence)
    after = image_attrs(target.engine, evidence)
    export = probes.image_export(target.engine, probes.NGINX, evidence, target.settings.call_timeout)
    driver_status = target.engine.info().get("DriverStatus") or []
    evidence.api("GET /info", DriverStatus=driver_status)
    unpacked_checked = judge.export_checks_unpacked_files(driver_status)
    second_sees, second_sha = new_container_sees(target, make, probes.NGINX, added_file(run_id, "write"), evidence,
                                                  path)
    return {"image.read-only": (before, after, code, export, unpacked_checked),
            "image.copy-on-write": unseen or (changes, path, upper_sha, written, lower_before, lower_after),
            "image.no-leak": (original, written, second_sees, second_sha)}


@pytest.mark.req("image.copy-on-write")
def test_copy_on_write(target, evidence):
    """A changed image file is copied up into the upper dir and the image's copy is unchanged."""
    judge.copy_on_write(*ahead.done(target, "image.copy-on-write", evidence)).check(evidence)


@pytest.mark.req("image.no-leak")
def test_no_leak(target, evidence):
    """A second container from the same image does not see the first one's writes."""
    judge.no_leak(*ahead.done(target, "image.no-leak", evidence)).check(evidence)


def upper_visible(host, evidence, upper):
    """Whether the container's upper dir can be seen before its removal (True; None: the driver exposes none), or
    the ObserverError that ends image.rm-discards as error: a dir the login cannot see proves nothing when gone."""
    if not upper:
        return None
    try:
        if probes.stat_path(host, evidence, upper):
            return True
        return ObserverError(f"{evidence.target_id}: cannot watch {upper} (GraphDriver.Data.UpperDir) go: stat "
                             "found no such directory while its container still existed")
    except ObserverError as e:
        return e


@ahead.work("image.rm-discards", "image.commit-persists")
def write_commit_remove(target, make, evidence):
    """Write in a new container, commit it and start the new image, then remove the container and start the
    old image again: the layers, the upper dir's fate and what each new container sees."""
    run_id, added = target.run_id, added_file(target.run_id, "commit")
    first = make.container(probes.NGINX)
    change(first, run_id, "commit", evidence)
    _, upper, _ = layers_of(target.host, first, evidence)
    visible = upper_visible(target.host, evidence, upper)
    repository, tag = "conformance-probe/commit", f"run-{run_id}"
    try:
        make.commit(first, repository, tag)
        base = image_attrs(target.engine, evidence)["RootFS"]["Layers"]
        committed = image_attrs(target.engine, evidence, f"{repository}:{tag}")["RootFS"]["Layers"]
        commit_seen = (base, committed, new_container_sees(target, make, f"{repository}:{tag}", added, evidence)[0])
    except docker.errors.APIError as e:  # image.commit-persists's finding alone; the removal goes on
        evidence.api(f"POST /commit?container={first.short_id}", error=str(e.explanation or e))
        commit_seen = e
    make.remove(first)
    evidence.api(f"DELETE /containers/{first.short_id}?force=1&v=1")
    upper_exists = probes.stat_path(target.host, evidence, upper) if upper and not isinstance(visible, Exception) else None
    new_sees = new_container_sees(target, make, probes.NGINX, added, evidence)[0]
    return {"image.commit-persists": commit_seen,
            "image.rm-discards": visible if isinstance(visible, Exception) else (upper, visible, upper_exists, new_sees)}


@pytest.mark.req("image.rm-discards")
def test_rm_discards(target, evidence):
    """After removing a container its change is gone and so is its upper dir."""
    judge.rm_discards(*ahead.done(target, "image.rm-discards", evidence)).check(evidence)


@pytest.mark.req("image.commit-persists")
def test_commit_persists(target, evidence):
    """A committed container's change is in the new image, which has one layer more."""
    judge.commit_persists(*ahead.done(target, "image.commit-persists", evidence)).check(evidence)

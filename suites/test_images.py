"""Seed 1.3 镜像管理: images are read-only templates, rootfs, the union-mounted read-write layer, commit."""
import pytest

from conformance import probes

# The seed's example rootfs: "如 /dev、/proc、/bin、/etc、/lib、/usr、/tmp".
ROOTFS_DIRS = ("/dev", "/proc", "/bin", "/etc", "/lib", "/usr", "/tmp")
IMAGE_FILE = "/etc/nginx/nginx.conf"  # a file every nginx image carries; containers append to it
APPEND = "# written by docker-host-conformance"


def added_file(run_id, what):
    return f"/conformance-{what}-{run_id}"


def sha_inside(container, path, evidence):
    return probes.run_in(container, ["sha256sum", path], evidence, prints=True)[1].split(" ")[0].strip()


def sha_on_host(host, evidence, path):
    result = evidence.cmd(host, "sha256sum %s", path)
    return result.stdout.split(" ")[0].strip() if result.rc == 0 else None


def change(container, run_id, what, evidence):
    """Append to the image's file and add a new one; returns the exit code."""
    script = f"echo '{APPEND}' >> {IMAGE_FILE} && echo {run_id} > {added_file(run_id, what)}"
    return probes.run_in(container, ["sh", "-c", script], evidence)[0]


def sees(container, path, evidence):
    return probes.run_in(container, ["test", "-e", path], evidence)[0] == 0


def image_attrs(engine, evidence, ref=probes.NGINX):
    attrs = engine.images.get(ref).attrs
    evidence.api(f"GET /images/{ref}/json", Id=attrs["Id"], RootFS_Layers=attrs["RootFS"]["Layers"])
    return attrs


def layers_of(host, container, evidence):
    """(lower dirs, upper dir, root fstype) of a running container, from GraphDriver.Data and its mountinfo."""
    container.reload()
    graph = container.attrs.get("GraphDriver") or {}
    evidence.api(f"GET /containers/{container.short_id}/json", GraphDriver=graph)
    mountinfo = evidence.cmd(host, "cat /proc/%s/mountinfo", str(container.attrs["State"]["Pid"])).stdout
    fstype, options = probes.root_mount(mountinfo)
    lower, upper = probes.layer_dirs(graph, fstype, options)
    return lower, upper, fstype


@pytest.mark.req("image.read-only")
def test_image_read_only(target, engine, evidence, run_id):
    """Writes in a container leave the image's id and layer digests unchanged."""
    before = image_attrs(engine, evidence)
    code = change(probes.fresh_nginx(target, "image.read-only"), run_id, "read-only", evidence)
    probes.read_only(before, image_attrs(engine, evidence), code).check(evidence)


@pytest.mark.req("image.rootfs")
@pytest.mark.parametrize("path", ROOTFS_DIRS)
def test_rootfs_dir(target, evidence, path):
    """The container's root holds the documented rootfs directory."""
    code, _ = probes.run_in(probes.shared_nginx(target), ["test", "-d", path], evidence)
    probes.rootfs_dir(path, code).check(evidence)


@pytest.mark.req("image.config-applied")
def test_cmd_applied(target, engine, evidence):
    """The container's process is the image's CMD."""
    container = probes.shared_nginx(target)
    config = image_attrs(engine, evidence)["Config"]
    container.reload()
    path, args = container.attrs["Path"], container.attrs["Args"]
    evidence.api(f"GET /containers/{container.short_id}/json", Path=path, Args=args,
                 image_Entrypoint=config.get("Entrypoint"), image_Cmd=config.get("Cmd"))
    _, comm = probes.run_in(container, ["cat", "/proc/1/comm"], evidence, prints=True)
    probes.process_cmd(config, path, args, comm).check(evidence)


@pytest.mark.req("image.config-applied")
def test_env_applied(target, engine, evidence):
    """The container's processes get the image's ENV."""
    config = image_attrs(engine, evidence)["Config"]
    container = probes.shared_nginx(target)
    container.reload()
    evidence.api(f"GET /containers/{container.short_id}/json", Config_Env=container.attrs["Config"]["Env"],
                 image_Env=config.get("Env"))
    # Not /proc/1/environ: nginx writes its process title over its argv and environ.
    _, inside = probes.run_in(container, ["env"], evidence, prints=True)
    probes.process_env(config.get("Env") or [], container.attrs["Config"]["Env"], inside).check(evidence)


@pytest.mark.req("image.union-mount")
def test_union_mount(host, target, engine, evidence):
    """The storage driver is a union driver and the container has lower and upper directories."""
    driver = engine.info().get("Driver", "")
    evidence.api("GET /info", Driver=driver)
    lower, upper, fstype = layers_of(host, probes.shared_nginx(target), evidence)
    probes.union_mount(driver, probes.profiles()["engine"]["union_drivers"], lower, upper, fstype).check(evidence)


@pytest.mark.req("image.copy-on-write")
def test_copy_on_write(host, target, evidence, run_id):
    """A changed image file is copied up into the upper dir and the image's copy is unchanged."""
    container = probes.fresh_nginx(target, "image.copy-on-write")
    lower, upper, _ = layers_of(host, container, evidence)
    image_copy = next((d + IMAGE_FILE for d in lower if host.file(d + IMAGE_FILE).exists), None)
    evidence.note(f"the image's copy of {IMAGE_FILE}: {image_copy or 'not found in the lower dirs'}")
    lower_before = sha_on_host(host, evidence, image_copy) if image_copy else None
    change(container, run_id, "cow", evidence)
    changes = container.diff() or []
    evidence.api(f"GET /containers/{container.short_id}/changes",
                 changes=[{"Path": c["Path"], "Kind": probes.DIFF_KINDS.get(c["Kind"])} for c in changes])
    upper_sha = sha_on_host(host, evidence, upper + IMAGE_FILE) if upper else None
    lower_after = sha_on_host(host, evidence, image_copy) if image_copy else None
    inside = sha_inside(container, IMAGE_FILE, evidence)
    probes.copy_on_write(changes, IMAGE_FILE, upper_sha, inside, lower_before, lower_after).check(evidence)


@pytest.mark.req("image.no-leak")
def test_no_leak(target, make, evidence, run_id):
    """A second container from the same image does not see the first one's writes."""
    first = probes.fresh_nginx(target, "image.no-leak")
    original = sha_inside(first, IMAGE_FILE, evidence)
    change(first, run_id, "leak", evidence)
    written = sha_inside(first, IMAGE_FILE, evidence)
    second = make.container(probes.NGINX)
    probes.no_leak(original, written, sees(second, added_file(run_id, "leak"), evidence),
                   sha_inside(second, IMAGE_FILE, evidence)).check(evidence)


@pytest.mark.req("image.rm-discards")
def test_rm_discards(host, target, make, evidence, run_id):
    """After removing a container its change is gone and so is its upper dir."""
    first = probes.fresh_nginx(target, "image.rm-discards")
    change(first, run_id, "rm", evidence)
    _, upper, _ = layers_of(host, first, evidence)
    first.remove(force=True)
    evidence.api(f"DELETE /containers/{first.short_id}?force=1")
    upper_exists = evidence.cmd(host, "test -e %s", upper).rc == 0 if upper else None
    new_sees = sees(make.container(probes.NGINX), added_file(run_id, "rm"), evidence)
    probes.rm_discards(upper, upper_exists, new_sees).check(evidence)


@pytest.mark.req("image.commit-persists")
def test_commit_persists(target, engine, make, evidence, run_id):
    """A committed container's change is in the new image, which has one layer more."""
    first = probes.fresh_nginx(target, "image.commit-persists")
    change(first, run_id, "commit", evidence)
    repository, tag = "conformance-probe/commit", f"run-{run_id}"
    make.commit(first, repository, tag)
    base = image_attrs(engine, evidence)["RootFS"]["Layers"]
    committed = image_attrs(engine, evidence, f"{repository}:{tag}")["RootFS"]["Layers"]
    new_sees = sees(make.container(f"{repository}:{tag}"), added_file(run_id, "commit"), evidence)
    probes.commit_persists(base, committed, new_sees).check(evidence)

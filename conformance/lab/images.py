"""Seed images built offline: hello-world from a static C program, rootfs images with debootstrap."""
import hashlib
import json
import re
import shutil

from dataclasses import dataclass
from pathlib import Path

import docker

from conformance.lab import paths, registry
from conformance.lab.progress import LabError, heartbeat, run, say, step

from conformance.lab import releases

SUITE = "bookworm"  # the machine's own release: its apt source names the mirror every release is fetched from


@dataclass(frozen=True)
class Recipe:
    """What goes into an image; its hash names the image, so an unchanged recipe is never rebuilt."""
    name: str
    builder: str                 # "static-c" or "debootstrap"
    sources: tuple = ()          # files under fixtures/lab that go in (hashed by content)
    packages: tuple = ()         # debootstrap --include
    changes: tuple = ()          # Dockerfile instructions applied at import
    repository: str = ""         # where it is pushed in the lab registry ("" = local only)
    release: str = SUITE         # the Debian release debootstrap installs
    tools: tuple = ()            # files under fixtures/lab copied to the rootfs' / (executable), after sources[0]

    @property
    def digest(self):
        h = hashlib.sha256(json.dumps([self.name, self.builder, self.packages, self.changes, self.release]).encode())
        for source in (*self.sources, *self.tools):
            h.update(paths.recipe(source).read_bytes())
        return h.hexdigest()[:12]

    @property
    def tag(self):
        return f"conformance-lab/{self.name}:{self.digest}"


HELLO_WORLD = Recipe(
    name="hello-world", builder="static-c", sources=("hello-world/hello.c",),
    changes=('CMD ["/hello"]',), repository="library/hello-world")

NGINX = Recipe(
    name="nginx", builder="debootstrap", sources=("nginx-trim.sh",), packages=("nginx-light",),
    changes=('CMD ["nginx", "-g", "daemon off;"]', "EXPOSE 80", "ENV NGINX_FLAVOUR=nginx-light"),
    repository="library/nginx")

HOST = Recipe(
    name="host", builder="debootstrap", sources=("host/setup.sh",),
    packages=releases.BOOKWORM.packages + releases.COMMON,
    changes=('CMD ["/sbin/init"]', "ENV container=docker"))


def host_recipe(release_name=releases.DEFAULT):
    """The lab host image of a Debian release (bookworm's is HOST, its hash unchanged)."""
    release = releases.get(release_name)
    if release.name == releases.DEFAULT:
        return HOST
    return Recipe(name=f"host-{release.name}", builder="debootstrap", sources=(release.setup,),
                  tools=("host/lab-init",), packages=release.packages + releases.COMMON,
                  changes=(f"CMD {json.dumps(list(release.entrypoint))}", "ENV container=docker"),
                  release=release.name)

SEED_IMAGES = (HELLO_WORLD, NGINX)


def debian_mirror(sources_dir=Path("/etc/apt")):
    """The machine's configured Debian mirror for this release, read from its apt sources."""
    for path in sorted(sources_dir.glob("sources.list.d/*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            if SUITE in fields.get("Suites", "").split() and fields.get("URIs"):
                return fields["URIs"].split()[0]
    lists = [sources_dir / "sources.list", *sorted(sources_dir.glob("sources.list.d/*.list"))]
    for path in lists:
        if path.exists():
            for line in path.read_text().splitlines():
                m = re.match(r"deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+" + SUITE + r"\s", line)
                if m:
                    return m.group(1)
    raise LabError(f"no apt source for Debian {SUITE} in {sources_dir}; debootstrap needs the machine's mirror")


def ensure_built(client, recipe):
    """The recipe's image, built unless an image with its hash already exists. One lab process builds at a time:
    builds share the debootstrap cache (two at once broke each other's dpkg) and the build folder."""
    image = _built(client, recipe)
    if image is not None:
        return image
    with paths.locked("build", waiting=f"{recipe.tag}: waiting for another lab process's image build"):
        image = _built(client, recipe)  # that process may have built this very image
        if image is not None:
            return image
        return _build(client, recipe)


def _built(client, recipe):
    try:
        image = client.images.get(recipe.tag)
    except docker.errors.ImageNotFound:
        return None
    say(f"{recipe.tag}: up to date")
    return image


def mounts_under(folder: Path, mountinfo: str) -> list[str]:
    """The mount points at or below folder (/proc/self/mountinfo's field 5), deepest first."""
    inside = [point for point in (line.split()[4] for line in mountinfo.splitlines() if len(line.split()) > 4)
              if point == str(folder) or point.startswith(f"{folder}/")]
    return sorted(inside, key=lambda point: point.count("/"), reverse=True)


def _clear(work):
    """Remove a build folder; first unmount what a failed debootstrap left mounted in it (the chroot's /proc): rmtree
    cannot remove a mount point, and the next build could not start."""
    for point in mounts_under(work, Path("/proc/self/mountinfo").read_text()):
        run(["umount", "-l", point], title=f"unmount {point}, left by a build", timeout=60)
    shutil.rmtree(work, ignore_errors=True)


def _build(client, recipe):
    with step(f"build {recipe.tag}"):
        work = paths.BUILD / recipe.name
        _clear(work)
        rootfs = work / "rootfs"
        rootfs.mkdir(parents=True)
        try:
            if recipe.builder == "static-c":
                _compile_static(recipe, rootfs)
            else:
                _debootstrap(recipe, rootfs, work)
            return _import(client, recipe, rootfs, work)
        finally:
            _clear(work)


def ensure_pushed(client, recipe, image):
    """Push the image to the lab registry as <repository>:latest unless it is already there."""
    if registry.has_manifest(recipe.repository, "latest") == image.id:
        say(f"{recipe.repository}:latest in the registry: up to date")
        return
    remote = f"127.0.0.1:{paths.REGISTRY_PORT}/{recipe.repository}"
    with step(f"push {recipe.repository}:latest"):
        image.tag(remote, "latest")
        try:
            with heartbeat(f"push {recipe.repository}"):
                for line in client.images.push(remote, "latest", stream=True, decode=True):
                    if "error" in line:
                        raise LabError(f"push {remote}:latest failed: {line['error']}")
        finally:
            client.images.remove(f"{remote}:latest", noprune=True)
    if registry.has_manifest(recipe.repository, "latest") != image.id:
        raise LabError(f"after the push the registry does not serve {recipe.repository}:latest as {image.id}")


def _compile_static(recipe, rootfs):
    source = paths.recipe(recipe.sources[0])
    run(["gcc", "-static", "-Os", "-s", "-o", str(rootfs / "hello"), str(source)],
        title="gcc -static hello.c", timeout=120)


def _debootstrap(recipe, rootfs, work):
    paths.DEB_CACHE.mkdir(parents=True, exist_ok=True)
    mirror = debian_mirror()
    run(["debootstrap", "--variant=minbase", f"--include={','.join(recipe.packages)}",
         f"--cache-dir={paths.DEB_CACHE}", recipe.release, str(rootfs), mirror],
        title=f"debootstrap {recipe.release} +{','.join(recipe.packages)} from {mirror}", timeout=900,
        log=paths.LOGS / f"debootstrap-{recipe.name}.log")
    for tool in recipe.tools:
        target = rootfs / Path(tool).name
        shutil.copy(paths.recipe(tool), target)
        target.chmod(0o755)
    script = paths.recipe(recipe.sources[0])
    shutil.copy(script, rootfs / "lab-setup.sh")
    try:
        run(["chroot", str(rootfs), "/bin/sh", "/lab-setup.sh"], title=f"set up {recipe.name} rootfs", timeout=120)
    finally:
        (rootfs / "lab-setup.sh").unlink()


def _import(client, recipe, rootfs, work):
    tarball = work / "rootfs.tar"
    run(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tarball), "."],
        title=f"pack {recipe.name} rootfs", timeout=300)
    labels = [f"LABEL {paths.LABEL}=image", f"LABEL conformance.lab.recipe={recipe.digest}"]
    repository, tag = recipe.tag.split(":")
    with heartbeat(f"docker import {recipe.tag}"):
        client.api.import_image(src=str(tarball), repository=repository, tag=tag,
                                changes=[*recipe.changes, *labels])
    return client.images.get(recipe.tag)


def remove_all(client):
    """Remove every lab-built image (by label), returning how many went."""
    removed = 0
    for image in client.images.list(filters={"label": f"{paths.LABEL}=image"}):
        for tag in image.tags or [image.id]:
            try:
                client.images.remove(tag, force=True)
            except docker.errors.NotFound:
                pass
        removed += 1
    return removed



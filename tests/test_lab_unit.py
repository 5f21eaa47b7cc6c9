"""Unit tests of the lab's pure parts: recipe hashing, daemon.json merge, mirror discovery."""
import dataclasses
import json
import os
import subprocess
import threading
from pathlib import Path

import docker
import pytest

from conformance import bundle
from conformance.lab import cli, daemon_json, hosts, images, paths
from conformance.lab.progress import LabError, exited


@pytest.fixture
def lab_home(tmp_path, monkeypatch):
    home = tmp_path / "lab"
    home.mkdir()
    monkeypatch.setattr(paths, "HOME", home)
    monkeypatch.setattr(paths, "DAEMON_JSON_BACKUP", home / "daemon.json.orig")
    monkeypatch.setattr(paths, "DAEMON_JSON_ABSENT", home / "daemon.json.absent")
    return home


def test_recipe_hash_is_stable_and_names_the_tag():
    assert images.NGINX.digest == images.NGINX.digest
    assert images.NGINX.tag == f"conformance-lab/nginx:{images.NGINX.digest}"


@pytest.mark.parametrize("change", [
    {"packages": ("nginx-full",)},
    {"changes": ('CMD ["nginx"]',)},
    {"name": "nginx2"},
])
def test_recipe_hash_changes_with_any_input(change):
    assert dataclasses.replace(images.NGINX, **change).digest != images.NGINX.digest


def test_recipe_hash_follows_source_content(tmp_path, monkeypatch):
    (tmp_path / "a.c").write_text("int main(void){return 0;}")
    monkeypatch.setattr(paths, "FIXTURES", tmp_path)
    recipe = images.Recipe(name="x", builder="static-c", sources=("a.c",))
    before = recipe.digest
    (tmp_path / "a.c").write_text("int main(void){return 1;}")
    assert recipe.digest != before


def test_merge_keeps_other_keys_and_backs_up(lab_home, tmp_path):
    target = tmp_path / "daemon.json"
    target.write_text(json.dumps({"log-driver": "json-file", "registry-mirrors": ["http://old"]}))
    assert daemon_json.merge(target, {"registry-mirrors": ["http://127.0.0.1:5000"]}) is True
    assert json.loads(target.read_text()) == {"log-driver": "json-file", "registry-mirrors": ["http://127.0.0.1:5000"]}
    assert json.loads((lab_home / "daemon.json.orig").read_text())["registry-mirrors"] == ["http://old"]


def test_merge_unchanged_reports_no_change(lab_home, tmp_path):
    target = tmp_path / "daemon.json"
    target.write_text(json.dumps({"registry-mirrors": ["http://127.0.0.1:5000"]}))
    assert daemon_json.merge(target, {"registry-mirrors": ["http://127.0.0.1:5000"]}) is False


def test_restore_puts_back_the_original(lab_home, tmp_path):
    target = tmp_path / "daemon.json"
    original = '{"debug": true}\n'
    target.write_text(original)
    daemon_json.merge(target, {"registry-mirrors": ["http://127.0.0.1:5000"]})
    assert daemon_json.restore(target) is True
    assert target.read_text() == original


def test_restore_removes_a_file_that_was_absent(lab_home, tmp_path):
    target = tmp_path / "daemon.json"
    daemon_json.merge(target, {"registry-mirrors": ["http://127.0.0.1:5000"]})
    assert target.exists()
    assert daemon_json.restore(target) is True
    assert not target.exists()


def test_merge_refuses_a_malformed_file_and_says_where(lab_home, tmp_path):
    target = tmp_path / "daemon.json"
    broken = '{\n  "debug": true,\n  "registry-mirrors": [\n}\n'
    target.write_text(broken)
    with pytest.raises(LabError, match=r"line 4, column 1"):
        daemon_json.merge(target, {"registry-mirrors": ["http://127.0.0.1:5000"]})
    assert target.read_text() == broken


def test_merge_refuses_a_non_object(lab_home, tmp_path):
    target = tmp_path / "daemon.json"
    target.write_text("[1, 2]")
    with pytest.raises(LabError, match="must hold a JSON object, found list"):
        daemon_json.merge(target, {"registry-mirrors": []})


class ImagesBuiltOnce:
    """client.images of a machine on which the recipe's image exists once built."""

    def __init__(self):
        self.built = None

    def get(self, tag):
        if self.built is None:
            raise docker.errors.ImageNotFound(tag)
        return self.built


def test_two_lab_processes_build_an_image_once_the_second_waiting_for_the_first(lab_home, monkeypatch):
    # Two builds at once shared debootstrap's cache: one failed in dpkg and left /proc mounted in its build folder.
    images_ = ImagesBuiltOnce()
    client = type("Client", (), {"images": images_})()
    building, waiting, release, builds = threading.Event(), threading.Event(), threading.Event(), []

    def build(client, recipe):
        builds.append(recipe.name)
        building.set()
        assert release.wait(30)
        images_.built = f"image {recipe.tag}"
        return images_.built
    monkeypatch.setattr(images, "_build", build)
    monkeypatch.setattr(paths, "say", lambda text: waiting.set() if "waiting for another" in text else None)
    got = {}
    first = threading.Thread(target=lambda: got.setdefault("first", images.ensure_built(client, images.HOST)))
    second = threading.Thread(target=lambda: got.setdefault("second", images.ensure_built(client, images.HOST)))
    first.start()
    assert building.wait(30)
    second.start()
    assert waiting.wait(30)  # the second holds off while the first builds
    release.set()
    first.join(30)
    second.join(30)
    assert builds == ["host"]
    assert got == {"first": f"image {images.HOST.tag}", "second": f"image {images.HOST.tag}"}


def test_a_build_folder_is_cleared_of_mounts_a_failed_build_left_deepest_first():
    mountinfo = ("36 25 0:32 / /var/lib/conformance-lab/build/host/rootfs/proc rw - proc proc rw\n"
                 "37 36 0:33 / /var/lib/conformance-lab/build/host/rootfs/proc/sys/fs/binfmt_misc rw - binfmt_misc x rw\n"
                 "38 25 0:34 / /var/lib/conformance-lab/build/hostile rw - tmpfs tmpfs rw\n"
                 "39 25 0:35 / /proc rw - proc proc rw\n")
    assert images.mounts_under(Path("/var/lib/conformance-lab/build/host"), mountinfo) == [
        "/var/lib/conformance-lab/build/host/rootfs/proc/sys/fs/binfmt_misc",
        "/var/lib/conformance-lab/build/host/rootfs/proc"]


def test_debian_mirror_read_from_deb822_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n")
    assert images.debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_debian_mirror_read_from_sources_list(tmp_path):
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://other.example/debian bookworm main\n")
    assert images.debian_mirror(tmp_path) == "http://other.example/debian"


def test_debian_mirror_missing_is_a_clear_error(tmp_path):
    with pytest.raises(LabError, match="no apt source for Debian bookworm"):
        images.debian_mirror(tmp_path)


def test_a_spawned_child_counts_as_exited_once_reaped_and_an_unreaped_zombie_counts_too():
    """The lab waits for a dockerd it stopped: its own child is reaped (or it stays a zombie whose /proc entry
    never goes, the first-run failure), and a zombie another parent has not reaped yet has exited too."""
    child = subprocess.Popen(["sleep", "600"])
    other = subprocess.Popen(["sleep", "600"])
    try:
        assert not exited(child.pid, child) and not exited(other.pid)
        child.terminate()
        other.terminate()
        for proc in (child, other):  # until each has exited, left unreaped (WNOWAIT): zombies now
            os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        assert exited(other.pid)  # a zombie, not reaped by us
        assert exited(child.pid, child) and child.returncode is not None  # reaped by exited()
        assert not Path(f"/proc/{child.pid}").exists()
    finally:
        for proc in (child, other):
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("config, gateway", [
    ({"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}, "172.17.0.1"),
    ({"Subnet": "172.18.0.0/16"}, "172.18.0.1"),  # an engine that chose its own subnet names no gateway
])
def test_bridge_gateway_with_and_without_a_named_gateway(config, gateway):
    network = type("Network", (), {"attrs": {"IPAM": {"Config": [config]}}})
    client = type("Client", (), {"networks": type("Networks", (), {"get": staticmethod(lambda name: network)})})
    assert hosts.bridge_gateway(client) == gateway


def test_without_its_recipes_the_lab_says_it_runs_from_a_checkout(tmp_path, monkeypatch, capsys):
    """An installed package has no fixtures/lab: one clear line and exit 1, not a traceback; verify-report still works."""
    monkeypatch.setattr(paths, "FIXTURES", tmp_path / "site-packages" / "fixtures" / "lab")
    assert cli.main(["variants"]) == 1
    assert capsys.readouterr().err.startswith("conformance-lab: the lab's recipes are not here (")
    with pytest.raises(LabError, match="the lab runs from a checkout"):
        images.HELLO_WORLD.tag
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text("{}")
    bundle.write_manifest(run)
    assert cli.main(["verify-report", str(run)]) == 0

"""Seed 1.3 image checks fed recorded engine and host answers in which images or layers misbehave."""
import types

import pytest

from conformance.evidence import Evidence
from conformance.judges import images as judge
from conformance.outcomes import ObserverError
from conformance.profiles import profiles
from judged import message
from suites import test_images as suite

LAYERS = ["sha256:624521eee3e786b16c8cb6722f5986a90a41cef0e31bf76e0d5b980daa52eaca"]
IMAGE = {"Id": "sha256:1ce7baf9ef9f", "RootFS": {"Layers": LAYERS},
         "Config": {"Cmd": ["nginx", "-g", "daemon off;"], "Env": ["NGINX_FLAVOUR=nginx-light"]}}
UPPER = "/var/lib/docker/overlay2/9552/diff"
GRAPH = {"Name": "overlay2", "Data": {"LowerDir": "/var/lib/docker/overlay2/9552-init/diff:/var/lib/docker/overlay2/8b82/diff",
                                      "UpperDir": UPPER, "MergedDir": "/var/lib/docker/overlay2/9552/merged"}}
MOUNTINFO = ("80 52 0:43 / / rw,relatime master:2 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/42SG:"
             "/var/lib/docker/overlay2/l/XV4P,upperdir=/snap/12/fs,workdir=/snap/12/work\n"
             "81 80 0:47 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n")
UNION = profiles()["engine"]["union_drivers"]


EXPORTED = (200, "")
# GET /images/nginx:latest/get on Docker 20.10.24 after `echo edited >> <the image's diff dir>/etc/debian_version`
# (lab variant image-layer-edited): the engine checks each layer's files against its diff id while it exports.
TAMPERED = (500, 'file integrity checksum failed for "./etc/debian_version"')


@pytest.mark.red("image.read-only")
def test_image_changed_by_writes_fails():
    assert judge.read_only(IMAGE, IMAGE, 0, EXPORTED).ok
    changed = {**IMAGE, "Id": "sha256:77aa", "RootFS": {"Layers": LAYERS + ["sha256:beef"]}}
    assert "sha256:beef" in message(judge.read_only(IMAGE, changed, 0, EXPORTED))
    assert "writes exit 1" in message(judge.read_only(IMAGE, IMAGE, 1, EXPORTED))


@pytest.mark.red("image.read-only")
def test_image_whose_files_changed_in_place_fails():
    verdict = judge.read_only(IMAGE, IMAGE, 0, TAMPERED)
    assert not verdict.ok and 'HTTP 500: file integrity checksum failed for "./etc/debian_version"' in message(verdict)


def test_the_evidence_says_when_the_export_cannot_see_unpacked_files():
    """The containerd image store exports the pulled blobs: an edit of its unpacked snapshot passes unseen (a lab
    host's 26.1: the edited file printed inside a container, docker save exit 0); the evidence says so."""
    containerd = {"Driver": "overlayfs", "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]}
    assert judge.export_checks_unpacked_files([["Backing Filesystem", "xfs"]])
    assert not judge.export_checks_unpacked_files(containerd["DriverStatus"])
    verdict = judge.read_only(IMAGE, IMAGE, 0, EXPORTED, judge.export_checks_unpacked_files(containerd["DriverStatus"]))
    assert verdict.ok and "an in-place edit of those is not seen" in verdict.found
    assert verdict.found.endswith("export: every layer verified") is False
    assert judge.read_only(IMAGE, IMAGE, 0, EXPORTED).found.endswith("export: every layer verified")


@pytest.mark.red("image.rootfs")
def test_missing_rootfs_dir_fails():
    assert "test -d /tmp exit 1" in message(judge.rootfs_dir("/tmp", 1))


# `PID PPID NAME` from inside the shared nginx (test_cmd_applied's PROCESSES), recorded on the lab's engine 20.10:
# plain, and with "init": true in daemon.json (PID 1 docker-init; exec'd processes have parent 0).
PLAIN = "1 0 nginx\n7 1 nginx\n8 1 nginx\n23 0 sh\n"
WITH_INIT = "1 0 docker-init\n7 1 nginx\n8 7 nginx\n9 7 nginx\n30 0 sh\n"
INITS = judge.engine_inits("docker-init")


@pytest.mark.red("image.config-applied")
def test_process_not_from_image_config_fails():
    cmd = IMAGE["Config"]["Cmd"]
    assert judge.process_cmd(IMAGE["Config"], "nginx", cmd[1:], judge.process_table(PLAIN), INITS).ok
    shell = judge.process_table("1 0 sh\n9 1 sleep\n")
    assert "process ['sh', '-c', 'sleep 1']" in message(judge.process_cmd(IMAGE["Config"], "sh", ["-c", "sleep 1"], shell))
    env = judge.process_env(["NGINX_FLAVOUR=nginx-light"], ["PATH=/usr/bin"], "PATH=/usr/bin\nHOME=/root\n")
    assert "missing from Config.Env ['NGINX_FLAVOUR=nginx-light']" in message(env)
    assert judge.process_env(["A=1"], ["A=1"], "A=1\nHOME=/root\n").ok


@pytest.mark.red("image.config-applied")
def test_process_tree_under_the_engines_init():
    cmd = IMAGE["Config"]["Cmd"]
    assert judge.process_cmd(IMAGE["Config"], "nginx", cmd[1:], judge.process_table(WITH_INIT), INITS).ok
    # the init's only child must be the CMD: a second child, or another program, is not the image's process
    extra = judge.process_table(WITH_INIT + "31 1 sleep\n")
    assert "its children ['nginx', 'sleep']" in message(judge.process_cmd(IMAGE["Config"], "nginx", cmd[1:], extra, INITS))
    other = judge.process_table("1 0 docker-init\n7 1 sh\n")
    assert "its children ['sh']" in message(judge.process_cmd(IMAGE["Config"], "nginx", cmd[1:], other, INITS))
    # PID 1 that is no engine init and not the program (a wrapper the image did not name)
    wrapper = judge.process_table("1 0 dumb-init\n7 1 nginx\n")
    assert "PID 1 'dumb-init'" in message(judge.process_cmd(IMAGE["Config"], "nginx", cmd[1:], wrapper, INITS))
    assert judge.engine_inits("/usr/libexec/docker/docker-init-custom")[0] == "docker-init-cus"  # comm: 15 characters
    assert judge.process_table("12 1 name with spaces\nnoise\n") == [(12, 1, "name with spaces")]


def test_root_mount_and_layer_dirs():
    fstype, options = judge.root_mount(MOUNTINFO)
    assert fstype == "overlay" and options["upperdir"] == "/snap/12/fs"
    assert judge.layer_dirs(GRAPH, fstype, options)[1] == UPPER
    containerd = {"Name": "overlayfs", "Data": None}
    assert judge.layer_dirs(containerd, fstype, options) == (
        ["/var/lib/docker/overlay2/l/42SG", "/var/lib/docker/overlay2/l/XV4P"], "/snap/12/fs")
    assert judge.layer_dirs({"Name": "vfs", "Data": None}, fstype, options) == ([], None)  # outer overlay ignored


# Container inspect under the containerd image store, as the Engine API documents it: API 1.52 (Engine 29) omits
# GraphDriver and reports Storage.RootFS.Snapshot; an older API version on the same engine gets GraphDriver with
# the snapshotter's name and no Data (moby daemon/server/router/container/inspect.go, docs/api/version-history.md).
INSPECT_1_52_CONTAINERD = {"Id": "4fa6e0f0c678", "Storage": {"RootFS": {"Snapshot": {"Name": "overlayfs"}}}}
INSPECT_1_51_CONTAINERD = {"Id": "4fa6e0f0c678", "GraphDriver": {"Name": "overlayfs", "Data": None}}


@pytest.mark.parametrize("inspect", [INSPECT_1_52_CONTAINERD, INSPECT_1_51_CONTAINERD], ids=["api-1.52", "api-1.51"])
def test_containerd_store_layers_from_the_root_mount(inspect):
    fstype, options = judge.root_mount(MOUNTINFO)
    graph = judge.storage_of(inspect)
    assert graph == {"Name": "overlayfs", "Data": None}
    lower, upper = judge.layer_dirs(graph, fstype, options)
    assert upper == "/snap/12/fs" and len(lower) == 2
    assert judge.union_mount("overlayfs", UNION, lower, upper, fstype).ok


@pytest.mark.red("image.union-mount")
def test_no_storage_reported_and_vfs_snapshotter_fail():
    fstype, options = judge.root_mount(MOUNTINFO)  # '/' is an overlay: the outer one of a host that is a container
    assert judge.storage_of({"Id": "x"}) == {}
    lower, upper = judge.layer_dirs(judge.storage_of({"Id": "x"}), fstype, options)
    assert "0 lower dir(s), upper dir none" in message(judge.union_mount("overlayfs", UNION, lower, upper, fstype))
    native = judge.storage_of({"Storage": {"RootFS": {"Snapshot": {"Name": "native"}}}})
    assert judge.layer_dirs(native, fstype, options) == ([], None)
    assert "driver native" in message(judge.union_mount("native", UNION, [], None, fstype))


def test_root_mount_of_a_real_mountinfo():
    # optional fields (shared:, master:) before the " - " separator, and '/' not the first line
    mountinfo = ("24 30 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
                 "30 1 8:1 / / rw,relatime shared:1 master:3 - ext4 /dev/sda1 rw,errors=remount-ro\n")
    assert judge.root_mount(mountinfo) == ("ext4", {"rw": "", "errors": "remount-ro"})
    assert judge.root_mount("24 30 0:22 / /sys rw - sysfs sysfs rw\n") == ("", {})
    assert judge.root_mount("") == ("", {})


@pytest.mark.red("image.union-mount")
def test_vfs_or_missing_upper_dir_fails():
    lower, upper = judge.layer_dirs(GRAPH, "overlay", {})
    assert judge.union_mount("overlay2", UNION, lower, upper, "overlay").ok
    assert "driver vfs" in message(judge.union_mount("vfs", UNION, [], None, "ext4"))
    assert "upper dir none" in message(judge.union_mount("overlay2", UNION, lower, None, "overlay"))


def test_the_legacy_overlay_driver_is_a_union_mount():
    """storage-driver overlay (one lower dir, older CentOS 7 docker-ce hosts): a union mount like overlay2."""
    legacy = {"Name": "overlay", "Data": {"LowerDir": "/var/lib/docker/overlay/7a1c/root",
                                          "UpperDir": "/var/lib/docker/overlay/9b2e/upper",
                                          "MergedDir": "/var/lib/docker/overlay/9b2e/merged",
                                          "WorkDir": "/var/lib/docker/overlay/9b2e/work"}}
    lower, upper = judge.layer_dirs(legacy, "overlay", {})
    assert judge.union_mount("overlay", UNION, lower, upper, "overlay").ok


@pytest.mark.red("image.copy-on-write")
def test_write_through_to_image_or_no_copy_up_fails():
    changes = [{"Path": "/etc", "Kind": 0}, {"Path": "/etc/nginx/nginx.conf", "Kind": 0}]
    path = "/etc/nginx/nginx.conf"
    assert judge.copy_on_write(changes, path, "bb", "bb", "aa", "aa").ok
    assert "image copy aa -> bb" in message(judge.copy_on_write(changes, path, "bb", "bb", "aa", "bb"))
    assert "upper copy sha256 absent" in message(judge.copy_on_write(changes, path, None, "bb", "aa", "aa"))
    assert "not listed" in message(judge.copy_on_write([], path, "bb", "bb", "aa", "aa"))


@pytest.mark.red("image.no-leak")
def test_second_container_sees_first_ones_writes_fails():
    assert judge.no_leak("aaaa", "bbbb", False, "aaaa").ok
    assert "sees the added file: True" in message(judge.no_leak("aaaa", "bbbb", True, "aaaa"))
    assert "sha bbbb" in message(judge.no_leak("aaaa", "bbbb", False, "bbbb"))


@pytest.mark.red("image.rm-discards")
def test_removed_container_leaves_its_layer_fails():
    assert judge.rm_discards(UPPER, True, False, False).ok and judge.rm_discards(None, None, None, False).ok
    assert f"{UPPER} seen before the removal, still exists" in message(judge.rm_discards(UPPER, True, True, False))
    assert "sees the change: True" in message(judge.rm_discards(UPPER, True, False, True))


@pytest.mark.red("image.rm-discards")
def test_rm_discards_needs_the_upper_dir_seen_before():
    # A login that cannot see the dir (or a dir that was never there) finds it 'gone' after the removal too:
    # that proves nothing (the check itself ends as error before judging; the judge never passes it).
    assert "NOT seen before the removal" in message(judge.rm_discards(UPPER, False, False, False))
    assert "not looked at after it" in message(judge.rm_discards(UPPER, True, None, False))


@pytest.mark.red("image.commit-persists")
def test_commit_without_new_layer_or_change_fails():
    assert judge.commit_persists(LAYERS, LAYERS + ["sha256:c0"], True).ok
    assert "1 layer(s) on top" in message(judge.commit_persists(LAYERS, LAYERS, True))
    assert "change visible: False" in message(judge.commit_persists(LAYERS, LAYERS + ["sha256:c0"], False))
    assert "not based on the base's" in message(judge.commit_persists(LAYERS, ["sha256:x", "sha256:c0"], True))


# Docker Hub's nginx: an entrypoint script that ends in `exec "$@"`, so PID 1 is nginx once it has run
HUB_NGINX = {"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"]}


@pytest.mark.red("image.config-applied")
def test_an_entrypoint_that_execs_its_cmd_runs_the_image_config():
    argv = ("/docker-entrypoint.sh", ["nginx", "-g", "daemon off;"])
    for table in ("1 0 nginx\n29 1 nginx\n", "1 0 docker-entrypoi\n"):  # after its exec, or still in the script
        assert judge.process_cmd(HUB_NGINX, *argv, judge.process_table(table), INITS).ok, table
    assert judge.process_cmd(HUB_NGINX, *argv, judge.process_table("1 0 docker-init\n7 1 nginx\n"), INITS).ok
    # a program neither of them names is not the image's process
    verdict = judge.process_cmd(HUB_NGINX, *argv, judge.process_table("1 0 sleep\n"), INITS)
    assert not verdict.ok and "PID 1 'docker-entrypoi' or 'nginx'" in message(verdict)
    assert judge.started_programs(["sh", "-c", "exec nginx -g 'daemon off;'"], []) == ("sh", "nginx")
    assert judge.started_programs([], ["/bin/sh", "-c", "nginx -g 'daemon off;'"]) == ("sh", "nginx")


@pytest.mark.parametrize("output, lacking", [("exists=1\n", "the sha256 line"),
                                             (f"{'ab' * 32}  /etc/nginx/nginx.conf\n", "the exists= line")])
def test_a_new_containers_output_that_lost_a_line_is_an_observer_error(monkeypatch, output, lacking):
    """Its `sha256sum` exited 0, so it printed both lines: image.no-leak judged '' as the second container's sha256
    (failed), and a lost exists= line failed all five ids of the experiments, on a conforming host."""
    monkeypatch.setattr(suite.probes, "output_to_exit", lambda *args: (0, output))
    target = types.SimpleNamespace(settings=types.SimpleNamespace(call_timeout=5))
    with pytest.raises(ObserverError, match=f"exited 0 but its output lacks {lacking} .*lost on the way; not judged"):
        suite.new_container_sees(target, None, "nginx:latest", "/conformance-write-1", Evidence("root@h", 5))

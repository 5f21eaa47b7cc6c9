"""Leak audit judgements on recorded snapshots, volume content hashes, and the guards that bound calls (no engine)."""
import os
import re
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import docker
import paramiko
import pytest

from conformance import audit, cleanup, engine as engines, units
from conformance.audit import Snapshot, busy_volumes, differences, volume_contents
from conformance.outcomes import TargetError
from conformance.engine import ssh_reason

A, B = "a" * 64, "b" * 64
BEFORE = Snapshot(containers={A: "web image sha256:1"}, images={"sha256:" + B: ("nginx:latest",)},
                  networks={}, volumes={"uservol": "created t0"}, daemon_json="sha256:x", ours=frozenset())


def snap(**changes) -> Snapshot:
    return Snapshot(**{**BEFORE.__dict__, **changes})


def test_unchanged_host_has_no_differences():
    assert differences(BEFORE, snap(), {}) == []


@pytest.mark.parametrize("after, expected", [
    (dict(containers={}), f"container {A[:12]} (web image sha256:1) was there before the run and is gone"),
    (dict(images={"sha256:" + B: ()}), "tag nginx:latest removed from image bbbbbbbbbbbb"),
    (dict(volumes={"uservol": "created t1"}), "volume uservol changed: created t0 -> created t1"),
    (dict(daemon_json="sha256:y"), "/etc/docker/daemon.json changed: sha256:x -> sha256:y"),
    (dict(volumes={"uservol": "created t0", "conformance-1-image-2": "created t2"},
          ours=frozenset({"volume conformance-1-image-2"})),
     "volume conformance-1-image-2 (created t2) left behind by this run"),
])
def test_each_unexplained_difference_is_reported(after, expected):
    assert differences(BEFORE, snap(**after), {}) == [expected]


def test_images_the_run_pulled_and_removed_or_handed_over_are_explained():
    pulled = snap(images={**BEFORE.images, "sha256:" + "c" * 64: ("hello-world:latest",)})
    assert differences(BEFORE, pulled, {"hello-world:latest": "handed over to run 1234abcd"}) == []
    assert differences(BEFORE, pulled, {}) == ["image cccccccccccc (hello-world:latest) appeared during the run, "
                                               "not pulled by it"]


def test_bounded_gives_up_and_names_the_operation():
    began = time.monotonic()
    with pytest.raises(TargetError, match="GET /info: no answer within 0.2 s"):
        engines.bounded(lambda: time.sleep(5), 0.2, "GET /info")
    assert time.monotonic() - began < 1


def test_a_bounded_call_runs_in_the_thread_the_one_before_left_waiting():
    first = engines.bounded(threading.current_thread, 5, "GET /version")
    assert engines.bounded(threading.current_thread, 5, "GET /info") is first  # no new thread a call (spare_threads)


def test_a_hung_bounded_call_keeps_its_thread_and_the_next_call_gets_another():
    started, release, hung = threading.Event(), threading.Event(), []

    def hang():
        hung.append(threading.current_thread())
        started.set()
        release.wait(60)
    try:
        with pytest.raises(TargetError, match="no answer within"):
            engines.bounded(hang, 0.05, "GET /info")
        assert started.wait(30)
        assert engines.bounded(threading.current_thread, 5, "GET /version") is not hung[0]
    finally:
        release.set()


def test_a_forked_child_runs_its_bounded_calls_in_threads_of_its_own():
    """The parent's waiting threads do not exist in a forked child (tests/test_safety_inputs.py forks to drop to nobody):
    a call handed to one of them would wait out its time there."""
    engines.bounded(threading.current_thread, 5, "GET /version")  # leaves a thread waiting for the next call
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what its bounded call answered
        try:
            answer = engines.bounded(lambda: "answered", 5, "GET /info")
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            answer = repr(e)
        os.write(write, answer.encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as f:
        assert f.read() == "answered"


def test_a_tripped_breaker_fails_later_calls_at_once():
    breaker = engines.Breaker("t", "engine")
    breaker.trip(TargetError("t: GET /info: no answer within 3 s"))
    with pytest.raises(TargetError, match="not tried, the engine stopped answering earlier .GET /info"):
        breaker.check("t: GET /version")
    breaker.reset()
    breaker.check("t: GET /version")


def test_ssh_reason_names_a_host_key_mismatch():
    stderr = ("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
              "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
              "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
              "Host key for 10.0.0.1 has changed and you have requested strict checking.\n"
              "Host key verification failed.\n")
    assert ssh_reason(stderr).startswith("host key mismatch: the host's key differs from the one in known_hosts "
                                         "(ssh: Host key verification failed.)")
    assert ssh_reason("root@h: Permission denied (publickey).\n") == "root@h: Permission denied (publickey)."


class ChannelException(Exception):
    """Stands in for paramiko's: sshd refused a new session."""


# How paramiko says the sshd refused a channel: ChannelException with a reason, or (seen in the 8-host fleet, work
# ahead over ssh, on POST /containers/<id>/attach) SSHException('Unable to open channel.') when no reason came.
REFUSALS = [ChannelException(2, "Connect failed"), Exception("Unable to open channel.")]


@pytest.mark.parametrize("refusal", REFUSALS, ids=["ChannelException", "Unable to open channel"])
def test_a_refused_ssh_channel_is_tried_again(monkeypatch, refusal):
    monkeypatch.setattr(engines, "CHANNEL_RETRY_PAUSES", (0, 0))
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(("Connection aborted.", refusal))
        return "answer"
    assert engines._retry_refused_channel(flaky) == "answer" and len(calls) == 3


def test_a_channel_refused_for_good_ends_after_a_bounded_number_of_tries(monkeypatch):
    monkeypatch.setattr(engines, "CHANNEL_RETRY_PAUSES", (0, 0))
    calls = []

    def refused():
        calls.append(1)
        raise ConnectionError(ChannelException(2, "Connect failed"))
    with pytest.raises(ConnectionError):
        engines._retry_refused_channel(refused)
    assert len(calls) == 3


def test_other_failures_are_not_retried():
    calls = []

    def broken():
        calls.append(1)
        raise ConnectionError("Connection refused")
    with pytest.raises(ConnectionError):
        engines._retry_refused_channel(broken)
    assert len(calls) == 1


def test_a_record_another_run_handed_to_this_one_is_the_other_runs():
    # CI: two runs on one host; the first ended its cleanup, then the second handed it an image record and took it
    # back, but the first's audit read the target in between ('volume conformance-<first>-image-... left behind').
    from conformance.audit import _foreign
    mine = cleanup.labels("run1")
    assert not _foreign({**mine, cleanup.IMAGE_LABEL: "nginx:latest"}, "run1")
    assert _foreign({**mine, cleanup.IMAGE_LABEL: "nginx:latest", cleanup.HANDED_LABEL: "run2"}, "run1")


def test_a_container_run_from_a_lab_image_is_audited_but_a_lab_host_is_not():
    from conformance.audit import _foreign
    assert not _foreign({"conformance.lab": "image", "conformance.lab.recipe": "70c1fac10a30"}, "run1")
    assert _foreign({"conformance.lab": "host", "conformance.lab.variant": "debian"}, "run1")
    assert _foreign({"conformance.lab": "image"}, "run1", ("conformance-lab/nginx:8c55b330ef82",))


# ---- the content of pre-existing volumes ---------------------------------------------------------------------

class LocalShell:
    """A target whose commands run here, as Target.run runs them on a target (sh -c, arguments quoted)."""
    run_id = "run1"

    def run(self, command, *args, what):
        line = command % tuple(shlex.quote(a) for a in args)
        done = subprocess.run(["sh", "-c", line], capture_output=True, timeout=60)
        return SimpleNamespace(rc=done.returncode, stdout=done.stdout.decode(), stderr=done.stderr.decode())


def volume(path: Path, **extra) -> dict:
    return {"Name": path.name, "Driver": "local", "Mountpoint": str(path), "Options": None, **extra}


@pytest.fixture
def volumes(tmp_path):
    made = []
    for name in ("uservol", "other"):
        (tmp_path / name / "sub").mkdir(parents=True)
        (tmp_path / name / "sub" / "file").write_text("precious\n")
        made.append(tmp_path / name)
    return made


def test_a_volume_content_hash_is_stable_and_sees_every_change(volumes):
    uservol, other = volumes
    contents = lambda: volume_contents(LocalShell(), [volume(uservol), volume(other)], {})  # noqa: E731
    first = contents()
    assert first["uservol"].startswith("sha256:") and len(first["uservol"]) == 71, first
    (uservol / "sub" / "file").read_text()  # reading is no change
    assert contents() == first
    for change in (lambda: (uservol / "sub" / "file").write_text("precious!"),  # one byte more
                   lambda: (uservol / "sub" / "file").chmod(0o600),
                   lambda: (uservol / "new").write_text(""),
                   lambda: (uservol / "new").unlink()):
        before = contents()
        time.sleep(0.01)
        change()
        after = contents()
        assert after["uservol"] != before["uservol"] and after["other"] == before["other"] == first["other"]


def test_volumes_whose_content_is_not_compared_say_why(volumes, tmp_path, monkeypatch):
    uservol, other = volumes
    monkeypatch.setattr(audit, "VOLUME_LIMIT_KIB", 8)
    (other / "big").write_bytes(b"x" * 64 * 1024)
    found = volume_contents(LocalShell(), [volume(uservol), volume(other), volume(tmp_path / "gone"),
                                           volume(tmp_path / "nfs", Options={"type": "nfs", "o": "addr=x,password=s"})],
                            {"uservol": "running container db"})
    assert found["uservol"] == "not compared: mounted by running container db"
    assert re.fullmatch(r"not compared: \d+ KiB, above the 8 KiB limit", found["other"]), found
    assert found["gone"].startswith("not read: du: cannot access"), found
    assert found["nfs"] == "not compared: driver local with options (nfs, bind, ...): its files are elsewhere"


def test_a_volume_a_running_or_crash_looping_container_mounts_is_busy():
    mount = {"Type": "volume", "Name": "loopvol"}
    listed = [{"Id": "a" * 64, "Names": ["/loop"], "State": "restarting", "Mounts": [mount]},
              {"Id": "b" * 64, "Names": ["/db"], "State": "running", "Mounts": [{"Type": "volume", "Name": "dbvol"}]},
              {"Id": "c" * 64, "Names": ["/old"], "State": "exited", "Mounts": [{"Type": "volume", "Name": "kept"}]},
              {"Id": "d" * 64, "Names": ["/web"], "State": "running", "Mounts": [{"Type": "bind", "Name": ""}]}]
    assert busy_volumes(listed) == {"loopvol": "restarting container loop", "dbvol": "running container db"}


def test_changed_volume_content_is_a_difference_and_an_uncompared_one_is_not():
    hashed = snap(volume_content={"uservol": "sha256:" + "1" * 64})
    changed = snap(volume_content={"uservol": "sha256:" + "2" * 64})
    assert differences(hashed, changed, {}) == [f"volume uservol content changed: sha256:{'1' * 12} -> "
                                                f"sha256:{'2' * 12}"]
    assert differences(hashed, snap(volume_content={"uservol": "not compared: mounted by running container db"}),
                       {}) == []


# ---- images the user asked to keep (--keep-pulled-images) -----------------------------------------------------

class RecordingEngine:
    """The few docker-py calls cleanup's image records make, on volumes and images held in memory."""

    def __init__(self, images):
        self.images_present, self.records = set(images), {}
        self.volumes = SimpleNamespace(create=lambda name, labels: self.records.__setitem__(name, labels))
        self.images = SimpleNamespace(remove=self.images_present.remove)
        self.api = SimpleNamespace(volumes=self._list, remove_volume=self.records.pop)

    def _list(self, filters):
        def match(labels):
            return all(labels.get(f.partition("=")[0]) == f.partition("=")[2] if "=" in f else f in labels
                       for f in filters["label"])
        return {"Volumes": [{"Name": n, "Labels": dict(l)} for n, l in self.records.items() if match(l)]}


@pytest.mark.parametrize("keep", [False, True], ids=["default", "keep"])
def test_images_a_run_pulled_are_removed_unless_it_keeps_them(keep, monkeypatch):
    monkeypatch.setattr(cleanup, "_KEEPING", set())
    if keep:
        cleanup.keep_pulled_images("run1")
    engine = RecordingEngine({"nginx:latest", "hello-world:latest", "user:1"})
    cleanup.record(engine, "run1", "nginx:latest", pulled=True)  # absent before the run: it pulled it
    cleanup.record(engine, "run1", "user:1", pulled=False)  # there before the run
    released = {}
    assert cleanup.release_images(engine, "run1", released) == []
    assert engine.records == {}  # the records go in both cases
    if keep:
        assert engine.images_present == {"nginx:latest", "hello-world:latest", "user:1"}
        assert released == {"nginx:latest": cleanup.KEPT}
    else:
        assert engine.images_present == {"hello-world:latest", "user:1"}
        assert released == {"nginx:latest": "removed"}


def test_kept_images_are_explained_and_listed_by_the_audit():
    kept_id = "sha256:" + "d" * 64
    after = snap(images={**BEFORE.images, kept_id: ("hello-world:latest",)})
    explained = {"hello-world:latest": cleanup.KEPT, "nginx:other": "removed"}
    assert differences(BEFORE, after, explained) == []
    assert audit.kept_images(after, explained) == ["hello-world:latest (dddddddddddd)"]
    assert audit.kept_images(after, {"hello-world:latest": "removed"}) == []


def test_skip_volume_hashing_reads_no_volume_and_says_so(tmp_path):
    uservol = tmp_path / "uservol"
    uservol.mkdir()
    (uservol / "file").write_text("precious")

    class Refusing(LocalShell):
        def run(self, *args, **kwargs):
            raise AssertionError(f"a command ran on the target: {args}")

    found = volume_contents(Refusing(), [volume(uservol)], {}, skip=True)
    assert found == {"uservol": "not compared: --skip-volume-hashing"}


# ---- an image the run pulled that a container of the run still holds ------------------------------------------

class HoldingEngine(RecordingEngine):
    """RecordingEngine whose engine refuses (409) to remove an image a container still uses."""

    def __init__(self, images, in_use):
        super().__init__(images)
        self.in_use = set(in_use)
        self.images = SimpleNamespace(remove=self._remove)

    def _remove(self, ref):
        if ref in self.in_use:
            raise docker.errors.APIError("409 Client Error: Conflict", response=SimpleNamespace(status_code=409),
                                         explanation=f"conflict: unable to remove repository reference \"{ref}\" "
                                                     "(must force) - container 4d5e is using its referenced image")
        self.images_present.remove(ref)


def test_an_image_held_by_a_container_is_removed_by_the_sweep_after_the_containers():
    engine = HoldingEngine({"nginx:latest", "user:1"}, in_use={"nginx:latest"})
    cleanup.record(engine, "run1", "nginx:latest", pulled=True)
    released = {}
    # The run's end, before its sweep: the image a (failed-to-start) container holds keeps its record.
    assert cleanup.release_images(engine, "run1", released, final=False) == []
    assert [l[cleanup.IMAGE_LABEL] for l in engine.records.values()] == ["nginx:latest"] and released == {}
    engine.in_use.clear()  # the sweep removed the run's labelled containers
    assert cleanup.release_images(engine, "run1", released) == []
    assert engine.images_present == {"user:1"} and engine.records == {} and released == {"nginx:latest": "removed"}


def test_a_final_release_reports_an_image_still_in_use():
    engine = HoldingEngine({"nginx:latest"}, in_use={"nginx:latest"})
    cleanup.record(engine, "run1", "nginx:latest", pulled=True)
    problems = cleanup.release_images(engine, "run1", {})
    assert len(problems) == 1 and "is using its referenced image" in problems[0] and engine.records == {}


def test_a_container_whose_start_fails_is_tracked_and_removed_before_its_image():
    removed = []

    class Container:
        id = "c0ffee"

        def start(self):
            raise docker.errors.APIError("500 Server Error", explanation="failed to disable IPv6 on container's "
                                                                        "interface eth0")

        def remove(self, force, v):
            removed.append(("container", self.id))

    class Pulled:
        def ensure(self, image):
            return None

    created = []
    client = SimpleNamespace(containers=SimpleNamespace(
        create=lambda image, command, **kw: created.append(kw["labels"]) or Container()))
    factory = cleanup.Factory(client, "run1", Pulled())
    with pytest.raises(docker.errors.APIError):
        factory.container("nginx:latest")
    assert created == [cleanup.labels("run1")]
    assert factory.cleanup() == [] and removed == [("container", "c0ffee")]


class UnitsTarget:
    """Just what Audit.finish_units reads: one run of conformance.units.COMMAND, answered from a recording."""

    def __init__(self, answer):
        self.answer = answer

    def run(self, command, *args, what):
        return SimpleNamespace(stdout=self.answer, rc=0, stderr="")


def units_answer(service_state: str) -> str:
    active, sub = service_state.split()
    return ("systemctl=yes\nsystemd-pid1=yes\nread-at=2026-11-29T08:08:20Z\n"
            f"== docker.service\nActiveState={active}\nSubState={sub}\nTriggeredBy=docker.socket\nis-enabled=enabled\n"
            "== docker.socket\nActiveState=active\nSubState=listening\nis-enabled=enabled\n")


def test_a_run_that_started_the_engine_fails_the_audit_also_when_it_never_opened_a_client():
    found = audit.Audit("ssh://h", "run1")
    found.start_units(units.parse(units_answer("inactive dead")))
    found.finish_units(UnitsTarget(units_answer("active running")))
    assert found.status == "failed"
    assert found.details == ["docker.service was inactive (dead) before the run and is active (running) after it: "
                             "the run started the engine"]
    quiet = audit.Audit("ssh://h", "run1")
    quiet.start_units(units.parse(units_answer("inactive dead")))
    quiet.finish_units(UnitsTarget(units_answer("inactive dead")))
    assert quiet.status == "passed" and "the run never reached the engine; unchanged: docker.service inactive" in quiet.message


def test_a_container_the_engine_created_but_could_not_start_is_removed_before_the_pulled_image():
    # Recorded on lab host hunt-a with "userns-remap": "default" (runc cannot mount proc there): POST /start failed
    # after the create; the container, unknown to the factory, kept nginx:latest (pulled by the run) in use, so its
    # removal failed ("must force"), the image stayed and the audit said it appeared during the run.
    import docker
    removed, made = [], []

    class Container:
        def __init__(self, name):
            self.name = name

        def start(self):
            raise docker.errors.APIError("failed to create shim task: OCI runtime create failed: ... mount proc:/proc")

        def remove(self, **kwargs):
            removed.append(self.name)

    class Containers:
        def create(self, image, command=None, **kwargs):
            assert kwargs["labels"]["conformance.run"] == "r1" and kwargs["detach"] is True
            made.append(Container(f"c{len(made)}"))
            return made[-1]

    pulled = SimpleNamespace(ensure=lambda image: None)
    factory = cleanup.Factory(SimpleNamespace(containers=Containers()), "r1", pulled)
    with pytest.raises(docker.errors.APIError, match="mount proc"):
        factory.container("nginx:latest")
    assert factory.cleanup() == [] and removed == ["c0"]


def test_every_command_on_a_target_runs_in_the_c_locale():
    # Recorded on lab host hunt-l with LANG=zh_CN.UTF-8 in /etc/default/locale (pam_env gives it to ssh commands):
    # stat answered "stat: 对 '...' 调用 statx 失败: 没有那个文件或目录", which the probes did not read as "no such
    # file", so image.rm-discards and image.commit-persists ended as errors on a conforming host.
    import testinfra.backend.base
    ran = []

    class Backend:
        quote = staticmethod(testinfra.backend.base.BaseBackend.quote)

        def run(self, command, *args, **kwargs):
            ran.append(self.quote(command, *args))
            return SimpleNamespace(rc=0, stdout="", stderr="")

    backend = Backend()
    engines.guard_backend(backend, "root@h", 5)
    backend.run("stat -c %%i -- %s", "/var/lib/docker/a b")
    backend.run("for t in curl wget; do command -v $t; done")
    assert ran == ["env LC_ALL=C sh -c 'stat -c %i -- '\"'\"'/var/lib/docker/a b'\"'\"''",
                   "env LC_ALL=C sh -c 'for t in curl wget; do command -v $t; done'"]
    answer = subprocess.run(["sh", "-c", ran[1].replace("command -v $t", "echo $LC_ALL $t")],
                            env={"LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN", "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True)
    assert answer.stdout == "C curl\nC wget\n"


@pytest.mark.parametrize("failure, says", [
    (RuntimeError(SimpleNamespace(rc=255, stderr="ssh: connect to host 172.17.0.9 port 22: No route to host\n")),
     "the ssh link failed: ssh: connect to host 172.17.0.9 port 22: No route to host"),
    (paramiko.SSHException("SSH session not active"), "the ssh link failed: SSH session not active"),
])
def test_a_command_whose_ssh_link_failed_is_a_target_error_not_a_finding(failure, says):
    # CI (tests/test_fleet_lab.py, a lab host stopped mid-run): registry.mirror-configured ended as failed with
    # "RuntimeError: CommandResult(..., exit_status=255, ...)", testinfra's word for ssh's own failure
    class Backend:
        quote = staticmethod(lambda command, *args: command)

        def run(self, command, *args, **kwargs):
            raise failure

    backend = Backend()
    engines.guard_backend(backend, "root@h", 5)
    with pytest.raises(TargetError, match=re.escape(says)):
        backend.run("busctl --json=short get-property ...")


def test_a_command_of_several_lines_reaches_the_login_on_one_line(tmp_path):
    # Recorded on lab host h2-a with root's login shell tcsh: `ssh root@h "env LC_ALL=C sh -c 'echo a<newline>echo b'"`
    # answered "Unmatched '''." and ran nothing, so dockerd's argv (read by a script of several lines) came back empty
    # and registry.mirror-configured failed where the mirror is a --registry-mirror flag.
    import testinfra.backend.base
    backend = SimpleNamespace(quote=testinfra.backend.base.BaseBackend.quote)
    script = "echo \"$LC_ALL\"\nprintf '%s\\n' 'it''s' \"$1\" | tr a-z A-Z\nexit 3"
    line = engines.for_any_login(backend, script)
    assert "\n" not in line and line.startswith("env LC_ALL=C sh -c 'script=$(printf %s ")
    answer = subprocess.run(["sh", "-c", line], capture_output=True, text=True)
    assert (answer.returncode, answer.stdout) == (3, "C\nITS\n\n")
    # a target without base64: the command fails as such, not as a script that printed nothing and exited 0
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("env", "sh"):
        (bare / tool).symlink_to(shutil.which(tool))
    missing = subprocess.run([str(bare / "sh"), "-c", line], capture_output=True, text=True, env={"PATH": str(bare)})
    assert missing.returncode == 127 and missing.stdout == ""
    assert engines.for_any_login(backend, "uname -r") == "env LC_ALL=C sh -c 'uname -r'"  # one line: as it is

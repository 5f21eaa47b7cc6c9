"""Rootless Docker on recorded answers: the daemon.json and the unit that apply are the user's, never the system's."""
import pytest

from conformance import probes, rootless
from conformance.evidence import Evidence
from conformance.outcomes import ObserverError
from tests.unit.test_probes import ReadingTarget, RecordedHost, Result

ROOTFUL_PID = "812"
ROOTLESS_PID = "4242"
VERSION = "--- version\nDocker version 20.10.24+dfsg1, build 5d6db84\n"
# DOCKERD's output for the dockerd that Debian 12's dockerd-rootless.sh (docker.io 20.10.24, rootlesskit 1.1.0)
# started as user rl (uid 1000) on lab host e2-probe, read as root; as rl the same, as nobody environ=unreadable.
ROOTLESS = (f"pid={ROOTLESS_PID}\n--- argv\ndockerd\n\n--- process\nuid=1000\nenviron=read\nHOME=/home/rl\n"
            "ROOTLESSKIT_STATE_DIR=/tmp/rootlesskit3467572786\n" + VERSION)
ROOTLESS_XDG = ROOTLESS.replace("HOME=/home/rl\n", "HOME=/home/rl\nXDG_CONFIG_HOME=/srv/rl-config/\n")
# The same dockerd read by another user than rl or root: its environment is not readable.
ROOTLESS_UNREADABLE = (f"pid={ROOTLESS_PID}\n--- argv\ndockerd\n\n--- process\nuid=1000\nenviron=unreadable\n"
                       + VERSION)
# docker.service's dockerd (root, systemd sets no HOME), read as root and as a docker-group login.
ROOTFUL = (f"pid={ROOTFUL_PID}\n--- argv\n/usr/sbin/dockerd\n-H\nfd://\n\n--- process\nuid=0\nenviron=read\n" + VERSION)
ROOTFUL_UNREADABLE = ROOTFUL.replace("environ=read", "environ=unreadable")
USER_JSON = b'{"registry-mirrors": ["http://mirror.example:5000"]}'


def config(dockerd_output, file=Result(0, "e30=")):
    host = RecordedHost(("pgrep", Result(0, dockerd_output)), ("base64", file))
    return probes.daemon_config(ReadingTarget(host), Evidence("ssh://h", 10), "/etc/docker/daemon.json"), host


@pytest.mark.parametrize("output, path", [
    (ROOTLESS, "/home/rl/.config/docker/daemon.json"),
    (ROOTLESS_XDG, "/srv/rl-config/docker/daemon.json"),
    (ROOTFUL, "/etc/docker/daemon.json"),
    (ROOTFUL_UNREADABLE, "/etc/docker/daemon.json"),
], ids=["rootless", "rootless-xdg", "rootful", "rootful-environ-unreadable"])
def test_the_daemon_json_read_is_the_one_that_dockerd_reads(output, path):
    found, host = config(output, Result(0, "eyJyZWdpc3RyeS1taXJyb3JzIjogWyJodHRwOi8vbWlycm9yLmV4YW1wbGU6NTAwMCJdfQ=="))
    assert found.path == path and found.raw == USER_JSON
    assert f"base64 -w 0 -- {path}" in host.ran[-1], host.ran[-1]


def test_a_rootless_dockerds_own_config_file_flag_still_wins():
    found, _ = config(ROOTLESS.replace("dockerd\n\n", "dockerd\n--config-file\n/etc/rl.json\n\n"))
    assert found.path == "/etc/rl.json"


def test_a_rootless_dockerd_whose_environment_cannot_be_read_is_an_error_naming_it():
    with pytest.raises(ObserverError) as error:
        config(ROOTLESS_UNREADABLE)
    text = str(error.value)
    assert text.startswith(f"ssh://h: dockerd pid {ROOTLESS_PID} runs as uid 1000, not root (rootless Docker)")
    assert f"/proc/{ROOTLESS_PID}/environ is not readable by this login" in text


def test_a_rootless_dockerd_without_home_or_xdg_is_an_error():
    with pytest.raises(ObserverError, match="neither XDG_CONFIG_HOME nor HOME"):
        config(ROOTLESS.replace("HOME=/home/rl\n", ""))


def test_the_process_tells_rootless_from_rootful():
    assert probes.parse_dockerd_process(ROOTLESS).rootless
    assert probes.parse_dockerd_process(ROOTLESS_UNREADABLE).rootless  # not root, whatever its environment says
    assert not probes.parse_dockerd_process(ROOTFUL).rootless
    assert not probes.parse_dockerd_process(ROOTFUL_UNREADABLE).rootless
    assert probes.parse_dockerd_process("pid=\n--- version\nsh: dockerd: not found\n") is None
    assert probes.parse_dockerd(ROOTLESS) == (ROOTLESS_PID, ("dockerd",), VERSION.split("\n")[1])


def test_the_unit_of_a_rootless_engine_is_named_as_the_users():
    reason = probes.parse_dockerd_process(ROOTLESS).unit_reason("docker.service")
    assert reason == (f"dockerd pid {ROOTLESS_PID} runs rootless as uid 1000 (rootlesskit: ROOTLESSKIT_STATE_DIR "
                      "set): its service is user 1000's docker.service (`systemctl --user`), not the system's "
                      "docker.service, which the suite reads; the suite does not judge a user unit")


def test_the_process_section_carries_no_other_variable():
    """Only the three variables that place the configuration are printed (the rest may hold credentials)."""
    assert "grep -E '^(ROOTLESSKIT_STATE_DIR|HOME|XDG_CONFIG_HOME)='" in rootless.PROCESS
    assert rootless.parse("1", "uid=0\nenviron=read\nHTTPS_PROXY=http://u:secret@p\n").env == {}

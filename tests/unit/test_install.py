"""Seed 1.2 installation checks fed recorded host and engine answers in which the behaviour is broken."""
import json

import pytest

from conformance.judges import install as judge
from conformance.profiles import profiles
from judged import message

SUPPORTED = profiles()["supported"]
DEBIAN_12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nID=debian\n'
CENTOS_7 = 'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n'
DOCKER_CE_REPO = ("[docker-ce-stable]\nname=Docker CE Stable - $basearch\n"
                  "baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable\nenabled=1\ngpgcheck=1\n")
CLI_VERSION = {"Client": {"Version": "28.2.2", "ApiVersion": "1.41", "DefaultAPIVersion": "1.50"},
               "Server": {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41", "MinAPIVersion": "1.12"}}
API_VERSION = {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41", "MinAPIVersion": "1.12"}
INFO = {"ServerVersion": "20.10.24+dfsg1", "Driver": "overlay2", "CgroupDriver": "cgroupfs",
        "RegistryConfig": {"Mirrors": ["http://127.0.0.1:5000/"]}}


@pytest.mark.parametrize("os_release,kernel", [(DEBIAN_12, "6.1.0-18-amd64"), (CENTOS_7, "3.10.0-1160.el7.x86_64"),
                                               ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n', "5.15.0")])
def test_supported_os_passes(os_release, kernel):
    assert judge.os_supported(os_release, None, kernel, SUPPORTED).ok


@pytest.mark.red("install.os-supported")
def test_centos6_without_os_release_fails():
    text = message(judge.os_supported(None, "CentOS release 6.10 (Final)\n", "2.6.32-754.el6.x86_64", SUPPORTED))
    assert "RHEL family >= 7" in text and "VERSION_ID=6.10" in text


# Debian sid's os-release as shipped by base-files 14 (forky/sid): no VERSION_ID, no VERSION.
DEBIAN_SID = ('PRETTY_NAME="Debian GNU/Linux forky/sid"\nNAME="Debian GNU/Linux"\nVERSION_CODENAME=forky\nID=debian\n'
              'HOME_URL="https://www.debian.org/"\n')


def test_debian_testing_or_unstable_without_version_id_passes():
    verdict = judge.os_supported(DEBIAN_SID, None, "6.12.0-1-amd64", SUPPORTED)
    assert verdict.ok and "VERSION_CODENAME=forky: no VERSION_ID" in verdict.found


@pytest.mark.red("install.os-supported")
def test_no_version_id_fails_where_the_family_has_no_rolling_release():
    assert "Ubuntu >= 20.04" in message(judge.os_supported("ID=ubuntu\nVERSION_CODENAME=oracular\n", None, "6.8", SUPPORTED))
    assert "RHEL family >= 7" in message(judge.os_supported('ID="centos"\nVERSION_CODENAME=x\n', None, "5.14", SUPPORTED))
    assert "Debian >= 10" in message(judge.os_supported("ID=debian\n", None, "6.1", SUPPORTED))  # nor a codename


def test_old_ubuntu_and_old_kernel_and_unknown_os_fail():
    assert "Ubuntu >= 20.04" in message(judge.os_supported('ID=ubuntu\nVERSION_ID="18.04"\n', None, "5.4", SUPPORTED))
    assert "kernel >= 3.10" in message(judge.os_supported(CENTOS_7, None, "3.9.0", SUPPORTED))
    assert "not a supported OS family" in message(judge.os_supported("ID=alpine\nVERSION_ID=3.19\n", None, "6.1", SUPPORTED))


@pytest.mark.red("install.prerequisites")
def test_missing_prerequisite_fails():
    text = message(judge.prerequisite(["lvm2"], {"lvm2": False}, "LVM tools"))
    assert "one of lvm2 installed" in text and "lvm2: no" in text
    assert judge.prerequisite(["runc", "containerd.io"], {"runc": False, "containerd.io": True}, "runtime").ok


@pytest.mark.red("install.repo")
def test_disabled_or_foreign_yum_repo_fails():
    path = "/etc/yum.repos.d/docker-ce.repo"
    assert judge.yum_repo(path, DOCKER_CE_REPO, "download.docker.com").ok
    assert "does not exist" in message(judge.yum_repo(path, None, "download.docker.com"))
    disabled = DOCKER_CE_REPO.replace("enabled=1", "enabled=0")
    assert "enabled=0" in message(judge.yum_repo(path, disabled, "download.docker.com"))
    other = DOCKER_CE_REPO.replace("download.docker.com", "mirror.example.org")
    assert "mirror.example.org" in message(judge.yum_repo(path, other, "download.docker.com"))


def test_yum_repo_read_as_yum_reads_it():
    path = "/etc/yum.repos.d/docker-ce.repo"
    # case-insensitive keys, a baseurl continued on an indented line, a key without a value, comments
    repo = ("# Docker CE\n[docker-ce-stable]\nname=Docker CE Stable\nBaseURL=https://mirror.example.org/centos\n"
            "  https://download.docker.com/linux/centos/7/x86_64/stable\nskip_if_unavailable\nEnabled = 1\n"
            "[docker-ce-test]\nbaseurl=https://download.docker.com/linux/centos/7/x86_64/test\nenabled=0\n")
    assert judge.yum_repo(path, repo, "download.docker.com").ok
    assert not judge.yum_repo(path, repo.replace("Enabled = 1", "enabled=false"), "download.docker.com").ok
    assert "no sections" in message(judge.yum_repo(path, "", "download.docker.com"))
    text = message(judge.yum_repo(path, "baseurl=https://download.docker.com/\n", "download.docker.com"))
    assert "not a valid .repo file" in text and "no section headers" in text


def test_apt_source_commented_or_disabled_fails():
    line = "deb [arch=amd64] https://download.docker.com/linux/debian bookworm stable\n"
    assert judge.apt_source({"/etc/apt/sources.list.d/docker.list": line}, "download.docker.com").ok
    assert "no active line" in message(judge.apt_source({"/etc/apt/sources.list.d/docker.list": "# " + line},
                                                         "download.docker.com"))
    deb822 = "Types: deb\nURIs: https://download.docker.com/linux/debian\nSuites: bookworm\nEnabled: no\n"
    assert not judge.apt_source({"/etc/apt/sources.list.d/docker.sources": deb822}, "download.docker.com").ok


@pytest.mark.red("install.package")
def test_no_engine_package_or_legacy_package_fails():
    assert "none of them installed" in message(judge.engine_package(["docker-ce"], {"docker-ce": False}))
    assert "docker is installed" in message(judge.legacy_absent("docker", True))


@pytest.mark.red("service.running")
def test_stopped_service_fails_unless_an_unmanaged_dockerd_runs_without_systemd():
    stopped = "ActiveState=inactive SubState=dead MainPID=0"
    assert f"docker.service not active ({stopped})" in message(
        judge.service_running("docker.service", False, stopped, True, None, None))
    assert judge.service_running("docker.service", False, "", False, "6305", "dockerd").ok
    text = message(judge.service_running("docker.service", False, "", False, "6305", None))
    assert "/var/run/docker.pid names 6305 (no such process)" in text


@pytest.mark.red("service.enabled")
def test_disabled_service_fails():
    assert "UnitFileState=disabled" in message(judge.service_enabled("docker.service", False, "disabled"))


@pytest.mark.red("engine.info")
def test_info_without_drivers_fails():
    assert judge.engine_info(INFO).ok
    assert "missing Driver, CgroupDriver" in message(judge.engine_info({**INFO, "Driver": "", "CgroupDriver": None}))


@pytest.mark.red("engine.version")
def test_client_and_server_api_mismatch_fails():
    assert judge.engine_version(0, json.dumps(CLI_VERSION), API_VERSION).ok
    too_new = {**CLI_VERSION, "Client": {**CLI_VERSION["Client"], "ApiVersion": "1.52"}}
    assert "client 28.2.2 API 1.52" in message(judge.engine_version(0, json.dumps(too_new), API_VERSION))
    no_server = {"Client": CLI_VERSION["Client"], "Server": None}
    assert "server missing" in message(judge.engine_version(1, json.dumps(no_server), API_VERSION))
    assert "not JSON" in message(judge.engine_version(1, "Cannot connect to the Docker daemon", API_VERSION))


@pytest.mark.red("engine.hello-world")
def test_hello_world_without_greeting_or_exit_fails():
    assert judge.hello_world(0, "\nHello from Docker!\nThis message shows ...").ok
    assert "exit code 1" in message(judge.hello_world(1, "exec /hello: exec format error"))
    assert "did not exit in time" in message(judge.hello_world(None, ""))

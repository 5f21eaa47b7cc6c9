"""Seed 1.2 installation checks fed recorded host and engine answers in which the behaviour is broken."""
import json

import pytest

from conformance import probes, units as unit_states
from conformance.evidence import Evidence
from conformance.judges import install as judge
from conformance.outcomes import ObserverError
from conformance.profiles import profile_of, profiles
from judged import message
from suites import test_install as install_suite
from tests.unit.test_probes import ReadingTarget, RecordedHost, Result

PROFILES = profiles()
SUPPORTED = PROFILES["supported"]
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


# Derivatives as their os-release says (matched on ID_LIKE, numbered their own way).
ALIBABA_CLOUD_LINUX_3 = ('NAME="Alibaba Cloud Linux"\nVERSION="3 (Soaring Falcon)"\nID="alinux"\n'
                         'ID_LIKE="rhel fedora centos anolis"\nVERSION_ID="3"\nPLATFORM_ID="platform:al8"\n')
TENCENTOS_3_1 = ('NAME="TencentOS Server"\nVERSION="3.1 (Final)"\nID="tencentos"\nID_LIKE="rhel fedora centos"\n'
                 'VERSION_ID="3.1"\nPLATFORM_ID="platform:el8"\n')
MINT_20_3 = 'NAME="Linux Mint"\nID=linuxmint\nID_LIKE=ubuntu\nVERSION_ID="20.3"\nVERSION_CODENAME=una\nUBUNTU_CODENAME=focal\n'
LMDE_6 = 'NAME="LMDE"\nID=linuxmint\nID_LIKE=debian\nVERSION_ID="6"\nVERSION_CODENAME=faye\nDEBIAN_CODENAME=bookworm\n'


@pytest.mark.parametrize("os_release,base", [(ALIBABA_CLOUD_LINUX_3, "RHEL family 8"), (TENCENTOS_3_1, "RHEL family 8"),
                                             (MINT_20_3, "Ubuntu 20.04"), (LMDE_6, "Debian 12")],
                         ids=["alinux3", "tencentos3.1", "mint20.3", "lmde6"])
def test_a_derivative_is_judged_on_the_family_release_it_is_built_on(os_release, base):
    verdict = judge.os_supported(os_release, None, "5.10.134", SUPPORTED)
    assert verdict.ok and base in verdict.found


# Devuan 5's os-release (base-files 12.4devuan3): no DEBIAN_CODENAME, its own codename in VERSION_CODENAME.
DEVUAN_5 = ('PRETTY_NAME="Devuan GNU/Linux 5 (daedalus)"\nNAME="Devuan GNU/Linux"\nVERSION_ID="5"\n'
            'VERSION="5 (daedalus)"\nVERSION_CODENAME=daedalus\nID=devuan\nID_LIKE=debian\n'
            'HOME_URL="https://www.devuan.org/"\n')


@pytest.mark.red("install.os-supported")
def test_devuan_is_judged_on_the_debian_release_its_codename_names():
    # Recorded on a lab host (debian with Devuan 5's os-release): install.os-supported failed before ("Debian >= 10",
    # VERSION_ID=5 read as a Debian release).
    verdict = judge.os_supported(DEVUAN_5, None, "6.1.0-18-amd64", SUPPORTED)
    assert verdict.ok and "VERSION_CODENAME=daedalus: Debian 12" in verdict.found
    beowulf = DEVUAN_5.replace('"5', '"3').replace("daedalus", "beowulf")
    assert "Debian 10" in judge.os_supported(beowulf, None, "4.19", SUPPORTED).found
    ascii_2 = DEVUAN_5.replace('"5', '"2.1').replace("daedalus", "ascii")
    assert "VERSION_CODENAME=ascii: Debian 9" in message(judge.os_supported(ascii_2, None, "4.9", SUPPORTED))
    # Devuan's codenames are read on ID devuan only: LMDE 6's VERSION_CODENAME faye is not one, DEBIAN_CODENAME decides
    assert "DEBIAN_CODENAME=bookworm" in judge.os_supported(LMDE_6, None, "6.1", SUPPORTED).found


@pytest.mark.red("install.os-supported")
def test_a_derivative_built_on_an_old_family_release_fails():
    mint_19_3 = MINT_20_3.replace('"20.3"', '"19.3"').replace("focal", "bionic")
    assert "Ubuntu 18.04" in message(judge.os_supported(mint_19_3, None, "5.4", SUPPORTED))
    lmde_3 = LMDE_6.replace('"6"', '"3"').replace("bookworm", "stretch")
    assert "Debian 9" in message(judge.os_supported(lmde_3, None, "4.9", SUPPORTED))
    # No base stated (or one the table cannot read): its own VERSION_ID, as before
    assert "VERSION_ID=3" in message(judge.os_supported(ALIBABA_CLOUD_LINUX_3.replace("PLATFORM_ID", "X"), None, "5.10",
                                                        SUPPORTED))
    assert not judge.os_supported(MINT_20_3.replace("focal", "nosuch"), None, "5.4", SUPPORTED).ok


# EL7 derivatives state no PLATFORM_ID (EL8 introduced it) and number their own releases; the EL release their
# packages are built for is the rpm macro %rhel (`rpm --eval '%{?rhel}'`: 7 on Amazon Linux 2, as puppetlabs-puppet_agent
# #476 records; empty where undefined).
# Alibaba Cloud Linux 2's os-release as Salt's grains tests record it: no ID_LIKE.
ALIBABA_CLOUD_LINUX_2 = ('NAME="Alibaba Cloud Linux (Aliyun Linux)"\nVERSION="2.1903 LTS (Hunting Beagle)"\n'
                         'VERSION_ID="2.1903"\nPRETTY_NAME="Alibaba Cloud Linux (Aliyun Linux) 2.1903 LTS (Hunting Beagle)"\n'
                         'ID="alinux"\nANSI_COLOR="0;31"\n')
AMAZON_LINUX_2 = 'NAME="Amazon Linux"\nVERSION="2"\nID="amzn"\nID_LIKE="centos rhel fedora"\nVERSION_ID="2"\n'
TENCENTOS_2_4 = 'NAME="TencentOS Server"\nVERSION="2.4"\nID="tencentos"\nID_LIKE="rhel fedora centos"\nVERSION_ID="2.4"\n'


@pytest.mark.red("install.os-supported")
@pytest.mark.parametrize("os_release,kernel", [(ALIBABA_CLOUD_LINUX_2, "4.19.91-26.al7.x86_64"),
                                               (AMAZON_LINUX_2, "5.10.236-227.928.amzn2.x86_64"),
                                               (TENCENTOS_2_4, "4.14.105-19-0024")],
                         ids=["alinux2", "amzn2", "tencentos2.4"])
def test_an_el7_derivative_is_judged_on_its_rhel_macro(os_release, kernel):
    # Recorded on a lab host (centos7-sim with Alibaba Cloud Linux 2's os-release and %rhel 7 in /etc/rpm/macros.dist):
    # install.os-supported failed before ("RHEL family >= 7", VERSION_ID=2.1903 read as an EL release).
    verdict = judge.os_supported(os_release, None, kernel, SUPPORTED, rpm_macros={"rhel": "7"})
    assert verdict.ok and "%rhel=7: RHEL family 7" in verdict.found


@pytest.mark.red("install.os-supported")
def test_an_el6_derivative_or_one_that_states_no_base_still_fails():
    el6 = message(judge.os_supported(ALIBABA_CLOUD_LINUX_2, None, "2.6.32", SUPPORTED, rpm_macros={"rhel": "6"}))
    assert "RHEL family >= 7" in el6 and "%rhel=6: RHEL family 6" in el6
    for undefined in ({"rhel": ""}, {}, None):  # no %rhel (or no rpm): no base, and its own VERSION_ID is not one
        text = message(judge.os_supported(ALIBABA_CLOUD_LINUX_2, None, "4.19", SUPPORTED, rpm_macros=undefined))
        assert "RHEL family >= 7" in text and "VERSION_ID=2.1903" in text and "states no RHEL family release" in text
    # PLATFORM_ID is read first; the family's own ids are judged on VERSION_ID whatever %rhel says
    assert "PLATFORM_ID=platform:al8" in judge.os_supported(ALIBABA_CLOUD_LINUX_3, None, "5.10", SUPPORTED,
                                                            rpm_macros={"rhel": "8"}).found
    assert "RHEL family >= 7" in message(judge.os_supported('ID="centos"\nVERSION_ID="6"\n', None, "2.6.32", SUPPORTED,
                                                            rpm_macros={"rhel": "7"}))


# Amazon Linux AMI 2018.03 (Amazon Linux 1) as Ansible's distribution fixtures record it: EL6-era, no systemd, numbered by
# year; no PLATFORM_ID and no %rhel (its system-release ships /etc/rpm/macros.disttag, not macros.dist: imeyer/runit-rpm
# #6). Docker CE never supported it.
AMAZON_LINUX_AMI = ('NAME="Amazon Linux AMI"\nVERSION="2018.03"\nID="amzn"\nID_LIKE="rhel fedora"\nVERSION_ID="2018.03"\n'
                    'PRETTY_NAME="Amazon Linux AMI 2018.03"\nANSI_COLOR="0;33"\nCPE_NAME="cpe:/o:amazon:linux:2018.03:ga"\n'
                    'HOME_URL="http://aws.amazon.com/amazon-linux-ami/"\n')


@pytest.mark.red("install.os-supported")
@pytest.mark.parametrize("rpm_macros", [{"rhel": ""}, {"rhel": "6"}], ids=["no-rhel-macro", "rhel-6"])
def test_amazon_linux_ami_is_not_judged_on_its_year(rpm_macros):
    # Recorded on a lab host (amzn1-sim: centos7-sim with this os-release, `rpm --eval '%{?rhel}'` empty):
    # install.os-supported passed before (VERSION_ID 2018.03 read as an EL release >= 7).
    text = message(judge.os_supported(AMAZON_LINUX_AMI, None, "4.14.94-73.73.amzn1.x86_64", SUPPORTED, rpm_macros))
    assert "RHEL family >= 7" in text and "VERSION_ID=2018.03" in text


# Anolis OS 7.9 as a real host printed it (modb.pro's Oracle install notes): an EL7 rebuild, no PLATFORM_ID, CentOS 7's
# support fields kept.
ANOLIS_7 = ('NAME="Anolis OS"\nVERSION="7.9"\nID="anolis"\nID_LIKE="rhel fedora centos"\nVERSION_ID="7.9"\n'
            'PRETTY_NAME="Anolis OS 7.9"\nANSI_COLOR="0;31"\nHOME_URL="https://openanolis.cn/"\n'
            'BUG_REPORT_URL="https://bugs.openanolis.cn/"\n\nCENTOS_MANTISBT_PROJECT="CentOS-7"\n'
            'CENTOS_MANTISBT_PROJECT_VERSION="7"\nREDHAT_SUPPORT_PRODUCT="centos"\nREDHAT_SUPPORT_PRODUCT_VERSION="7"\n')


@pytest.mark.red("install.os-supported")
def test_an_el7_rebuild_that_kept_centos_support_fields_is_judged_on_them():
    # Recorded on a lab host (anolis7-sim: centos7-sim with this os-release, no %rhel): install.os-supported failed
    # before ("states no RHEL family release it is built on").
    verdict = judge.os_supported(ANOLIS_7, None, "3.10.0-1160.an7.x86_64", SUPPORTED, {})
    assert verdict.ok and "REDHAT_SUPPORT_PRODUCT_VERSION=7: RHEL family 7" in verdict.found
    assert judge.rpm_macros_read(ANOLIS_7, None, SUPPORTED) == []  # stated in os-release: rpm is not asked


@pytest.mark.parametrize("os_release,redhat_release,wanted", [
    (DEBIAN_12, None, []), (CENTOS_7, None, []), (None, "CentOS release 6.10 (Final)\n", []),
    ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n', None, []), ("ID=alpine\nVERSION_ID=3.19\n", None, []),
    (ALIBABA_CLOUD_LINUX_3, None, []), (ALIBABA_CLOUD_LINUX_2, None, ["rhel"]), (AMAZON_LINUX_2, None, ["rhel"]),
    (AMAZON_LINUX_AMI, None, ["rhel"])],
    ids=["debian12", "centos7", "centos6", "ubuntu22.04", "alpine", "alinux3", "alinux2", "amzn2", "amzn1"])
def test_rpm_macros_are_asked_only_of_a_derivative_whose_os_release_states_no_base(os_release, redhat_release, wanted):
    assert judge.rpm_macros_read(os_release, redhat_release, SUPPORTED) == wanted


# Alibaba Cloud Linux 4 Deb Edition as a server-initialisation tool's tests record its os-release: the ID of the RPM-based
# Alibaba Cloud Linux 2 and 3, an apt/dpkg host.
ALIBABA_CLOUD_LINUX_4_DEB = ('NAME="Alibaba Cloud Linux"\nVERSION="4 (Deb Edition)"\nID="alinux"\nID_LIKE="ubuntu debian"\n'
                             'VARIANT="Deb Edition"\nVARIANT_ID="deb"\nVERSION_ID="4"\n')


@pytest.mark.red("install.os-supported")
def test_an_id_listed_as_a_derivative_is_judged_in_the_family_its_id_like_names():
    # Recorded on a lab host (alinux4-deb-sim): its profile was rhel, and install.prerequisites, install.repo and
    # install.package failed against yum-utils, /etc/yum.repos.d and docker-ce in an rpm database.
    assert profile_of({"alinux"}) == "rhel"
    text = message(judge.os_supported(ALIBABA_CLOUD_LINUX_4_DEB, None, "6.6", SUPPORTED))
    assert "Ubuntu >= 20.04" in text and "RHEL" not in text  # no UBUNTU_CODENAME: its own VERSION_ID 4
    assert judge.rpm_macros_read(ALIBABA_CLOUD_LINUX_4_DEB, None, SUPPORTED) == []
    with_base = ALIBABA_CLOUD_LINUX_4_DEB + "UBUNTU_CODENAME=noble\n"
    assert "UBUNTU_CODENAME=noble: Ubuntu 24.04" in judge.os_supported(with_base, None, "6.6", SUPPORTED).found


# Alibaba Cloud Linux 4 (Pro Edition) as a real host printed it: ID_LIKE anolis only, an Anolis 23 derivative; its
# PLATFORM_ID numbers its own release.
ALIBABA_CLOUD_LINUX_4 = ('NAME="Alibaba Cloud Linux"\nVERSION="4"\nID="alinux"\nID_LIKE="anolis"\nVERSION_ID="4"\n'
                         'VARIANT="Pro Edition"\nVARIANT_ID="pro"\nALINUX_MINOR_ID="0"\nALINUX_UPDATE_ID="1"\n'
                         'PLATFORM_ID="platform:alnx4"\nPRETTY_NAME="Alibaba Cloud Linux 4.0.1 (Pro Edition)"\n')


def test_a_platform_id_that_numbers_its_own_release_is_no_el_release():
    # Before: "PLATFORM_ID=platform:alnx4: RHEL family 4", failed as if it were EL4.
    text = message(judge.os_supported(ALIBABA_CLOUD_LINUX_4, None, "6.6.88", SUPPORTED, {"rhel": ""}))
    assert "states no RHEL family release" in text and "RHEL family 4" not in text
    assert judge.rpm_macros_read(ALIBABA_CLOUD_LINUX_4, None, SUPPORTED) == ["rhel"]
    assert "%rhel=9: RHEL family 9" in judge.os_supported(ALIBABA_CLOUD_LINUX_4, None, "6.6", SUPPORTED, {"rhel": "9"}).found


def test_a_derivative_without_id_like_is_in_its_family_by_id():
    """Alibaba Cloud Linux 2 says ID=alinux and no ID_LIKE: `derivatives` puts it in the RHEL family (and the rhel
    profile of --profile=auto), judged on %rhel like any derivative."""
    assert profile_of({"alinux"}) == "rhel"
    assert "not a supported OS family" in message(judge.os_supported('ID="nosuch"\nVERSION_ID="2"\n', None, "4.19",
                                                                     SUPPORTED, rpm_macros={"rhel": "7"}))


@pytest.mark.red("install.prerequisites")
def test_missing_prerequisite_fails():
    text = message(judge.prerequisite(["lvm2"], {"lvm2": False}, "LVM tools"))
    assert "one of lvm2 installed" in text and "lvm2: no" in text
    assert judge.prerequisite(["runc", "containerd.io"], {"runc": False, "containerd.io": True}, "runtime").ok


def test_microsofts_moby_packages_are_an_engine_and_its_runtime():
    # Recorded on a lab host (debian) whose dpkg database names the engine as Microsoft's build of it (Azure IoT Edge,
    # AKS node images, devcontainers docker-in-docker): moby-engine, moby-containerd, moby-runc. install.package and
    # install.prerequisites failed before ("none of them installed").
    installed = {"moby-engine": True, "moby-containerd": True, "moby-runc": True, "iptables": True}
    for profile in ("debian", "rhel"):
        engines = PROFILES[profile]["packages"]["engines"]
        verdict = judge.engine_package(engines, {n: installed.get(n, False) for n in engines})
        assert verdict.ok and verdict.found == "installed: moby-engine"
    for entry in PROFILES["debian"]["prerequisite"]:
        verdict = judge.prerequisite(entry["any_of"], {n: installed.get(n, False) for n in entry["any_of"]}, entry["why"])
        assert verdict.ok, message(verdict)
    assert all("moby-engine" not in PROFILES[p]["packages"]["legacy"] for p in ("debian", "rhel"))


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


@pytest.mark.red("install.repo")
def test_yum_repos_any_repo_file_name_counts_none_on_site_fails():
    # Recorded on lab host hunt-c (centos7-sim) with docker-ce.repo renamed docker-ce-stable.repo, as Ansible's
    # yum_repository names it: yum reads every *.repo file, so the source is configured; the judge read only
    # docker-ce.repo before and failed it ("docker-ce.repo does not exist").
    directory = "/etc/yum.repos.d"
    renamed = {f"{directory}/CentOS-Base.repo": "[base]\nbaseurl=http://mirror.centos.org/centos/7/os/x86_64/\n",
               f"{directory}/docker-ce-stable.repo": DOCKER_CE_REPO}
    verdict = judge.yum_repos(directory, renamed, "download.docker.com")
    assert verdict.ok and "docker-ce-stable.repo" in verdict.found and "CentOS-Base" not in verdict.found
    assert "no .repo file in /etc/yum.repos.d" in message(judge.yum_repos(directory, {}, "download.docker.com"))
    disabled = {f"{directory}/docker.repo": DOCKER_CE_REPO.replace("enabled=1", "enabled=0"),
                f"{directory}/CentOS-Base.repo": renamed[f"{directory}/CentOS-Base.repo"]}
    text = message(judge.yum_repos(directory, disabled, "download.docker.com"))
    assert "docker.repo: [docker-ce-stable] enabled=0" in text and "CentOS-Base.repo" in text
    # yum's boolean words, any case
    assert judge.yum_repos(directory, {"/r.repo": DOCKER_CE_REPO.replace("enabled=1", "enabled=True")},
                           "download.docker.com").ok


def test_apt_source_commented_or_disabled_fails():
    line = "deb [arch=amd64] https://download.docker.com/linux/debian bookworm stable\n"
    assert judge.apt_source({"/etc/apt/sources.list.d/docker.list": line}, "download.docker.com").ok
    assert "no deb source on" in message(judge.apt_source({"/etc/apt/sources.list.d/docker.list": "# " + line},
                                                         "download.docker.com"))
    deb822 = "Types: deb\nURIs: https://download.docker.com/linux/debian\nSuites: bookworm\nEnabled: no\n"
    assert not judge.apt_source({"/etc/apt/sources.list.d/docker.sources": deb822}, "download.docker.com").ok


@pytest.mark.red("install.package")
def test_no_engine_package_or_legacy_package_fails():
    assert "none of them installed" in message(judge.engine_package(["docker-ce"], {"docker-ce": False}))
    assert "docker is installed" in message(judge.legacy_absent("docker", True))


def units(service: str, socket: str, enabled: str = "enabled", socket_enabled: str = "enabled", pid1: bool = True,
          systemctl: bool = True, boot_init: str = "/usr/lib/systemd/systemd") -> str:
    """A recorded answer of conformance.units.COMMAND (systemd 252 on a Debian 12 lab host)."""
    head = (f"systemctl={'yes' if systemctl else 'no'}\nsystemd-pid1={'yes' if pid1 else 'no'}\n"
            f"read-at=2026-11-29T08:08:20Z\nboot-init={boot_init}\n")
    return (head + "== docker.service\n" + service + f"is-enabled={enabled}\n"
            + "== docker.socket\n" + socket + f"is-enabled={socket_enabled}\n")


SERVICE_ACTIVE = ("Id=docker.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n"
                  "MainPID=2338\nTriggeredBy=docker.socket\nTriggers=\nListen=\n"
                  "FragmentPath=/lib/systemd/system/docker.service\nSourcePath=\n")
SERVICE_STOPPED = SERVICE_ACTIVE.replace("ActiveState=active", "ActiveState=inactive").replace(
    "SubState=running", "SubState=dead").replace("MainPID=2338", "MainPID=0")
SOCKET_LISTENING = ("Id=docker.socket\nLoadState=loaded\nActiveState=active\nSubState=listening\nUnitFileState=enabled\n"
                    "MainPID=0\nTriggeredBy=\nTriggers=docker.service\nListen=/run/docker.sock (Stream)\n"
                    "FragmentPath=/lib/systemd/system/docker.socket\nSourcePath=\n")
SOCKET_STOPPED = SOCKET_LISTENING.replace("ActiveState=active", "ActiveState=inactive").replace(
    "SubState=listening", "SubState=dead")
NOT_FOUND = "Id=docker.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nMainPID=0\n"


def snapshot(*args, **kwargs):
    return unit_states.parse(units(*args, **kwargs))


def test_running_service_passes_and_says_when_the_socket_activates_it():
    verdict = judge.service_running(snapshot(SERVICE_ACTIVE, SOCKET_LISTENING))
    assert verdict.ok and "docker.service active" in verdict.found
    assert "runs with socket activation: docker.socket (Listen=/run/docker.sock (Stream))" in verdict.found
    plain = judge.service_running(snapshot(SERVICE_ACTIVE.replace("TriggeredBy=docker.socket", "TriggeredBy="), SOCKET_STOPPED))
    assert plain.ok and "socket activation" not in plain.found


# A docker-group login on a Debian 12 lab host whose dbus is stopped: its systemctl asks systemd over the system bus.
BUS_REFUSED = "show-failed=Failed to connect to bus: Connection refused\n"


def test_units_systemd_did_not_tell_the_login_are_unread_not_missing():
    unread = snapshot(BUS_REFUSED, BUS_REFUSED, enabled="", socket_enabled="")
    assert unread.unanswered == "docker.service: Failed to connect to bus: Connection refused"
    assert "systemd did not answer this login" in unread.note()
    assert not snapshot(SERVICE_ACTIVE, SOCKET_LISTENING).unanswered
    assert not snapshot(NOT_FOUND, "").unanswered  # systemd answered: there is no such unit
    assert not snapshot("show-failed=System has not been booted with systemd as init system (PID 1).\n", "",
                        pid1=False).unanswered  # not PID 1: the offline readings are judged as such
    assert "show-failed=$(systemctl show" in unit_states.COMMAND


# A root login in a PID namespace of its own (lab variant observer-other-pid-ns): systemd, not in its /proc, refuses it.
NO_BUS = "show-failed=Failed to connect to bus: No data available\n"


def test_a_login_whose_pid1_is_not_the_hosts_init_runs_in_a_pid_namespace_of_its_own():
    elsewhere = unit_states.parse("pid1=sh\n" + units(NO_BUS, NO_BUS, enabled="", socket_enabled=""))
    assert elsewhere.unanswered and elsewhere.pid1_elsewhere == "sh"
    for init in ("/sbin/init", "/usr/lib/systemd/systemd", ""):  # the host's init, or PID 1 not read
        assert not unit_states.parse(f"pid1={init}\n" + units(BUS_REFUSED, BUS_REFUSED)).pid1_elsewhere
    assert not unit_states.parse("pid1=sh\n" + units("", "", pid1=False)).pid1_elsewhere  # no systemd on this host


@pytest.mark.red("service.running")
def test_stopped_service_fails_also_where_the_socket_would_start_it():
    stopped = message(judge.service_running(snapshot(SERVICE_STOPPED, SOCKET_STOPPED)))
    assert "docker.service inactive (dead)" in stopped and "socket" not in stopped
    activatable = judge.service_running(snapshot(SERVICE_STOPPED, SOCKET_LISTENING))
    assert not activatable.ok
    assert ("docker.socket is listening (Listen=/run/docker.sock (Stream)): the first API connection would start it "
            "(socket activation)") in message(activatable)
    assert "no docker.service unit" in message(judge.service_running(snapshot(NOT_FOUND, "")))
    looping = SERVICE_STOPPED.replace("ActiveState=inactive", "ActiveState=activating").replace("dead", "auto-restart")
    assert "restart loop" in message(judge.service_running(snapshot(looping, SOCKET_LISTENING)))


# Recorded on lab host h3-b (Debian 12, systemd 252): docker.service generated from /etc/init.d/docker
# (systemd-sysv-generator: Type=forking, RemainAfterExit=yes, no PIDFile), after a start whose dockerd refused its
# configuration (also after a kill -9 of dockerd); with dockerd alive the same unit is active (running), MainPID 0.
SERVICE_GENERATED_EXITED = ("Id=docker.service\nLoadState=loaded\nActiveState=active\nSubState=exited\n"
                            "UnitFileState=generated\nMainPID=0\nTriggeredBy=\nTriggers=\nListen=\n"
                            "FragmentPath=/run/systemd/generator.late/docker.service\nSourcePath=/etc/init.d/docker\n")


@pytest.mark.red("service.running")
def test_a_generated_unit_active_exited_is_judged_by_the_pidfile():
    """Before: passed ('docker.service active') with no dockerd: RemainAfterExit keeps the unit active."""
    exited = snapshot(SERVICE_GENERATED_EXITED, NOT_FOUND.replace("docker.service", "docker.socket"), enabled="generated")
    text = message(judge.service_running(exited))
    assert "active (exited) with MainPID 0" in text and "/var/run/docker.pid names nothing (no such process)" in text
    assert not judge.service_running(exited, "4242", None).ok  # a stale pid file
    assert judge.service_running(exited, "4242", "dockerd").ok
    left = snapshot(SERVICE_GENERATED_EXITED.replace("SubState=exited", "SubState=running"), "", enabled="generated")
    assert not judge.service_running(left).ok  # something else left in its cgroup (a containerd dockerd started)
    assert judge.service_running(left, "1687", "dockerd").ok  # recorded: dockerd alive, the unit active (running)
    assert judge.service_running(snapshot(SERVICE_ACTIVE, SOCKET_LISTENING)).ok  # a native unit: MainPID dockerd


@pytest.mark.red("service.running")
def test_without_systemd_as_pid1_a_live_dockerd_named_by_its_pidfile_counts():
    offline = snapshot("", "", pid1=False)  # systemd installed but not running: systemctl show answers nothing
    running = judge.service_running(offline, "6305", "dockerd")
    assert running.ok and "so no docker.service runs the engine (an init script or another supervisor does)" in running.found
    assert "/var/run/docker.pid names 6305 (no such process)" in message(judge.service_running(offline, "6305", None))


# Recorded on lab host h34-b (sid, sysvinit, Docker 28.5) whose /etc/default/docker sets DOCKER_PIDFILE=/run/dockerd.pid
# (/etc/init.d/docker: "modify these in /etc/default/docker"), restarted: DOCKERD's output; /var/run/docker.pid absent.
SID_PIDFILE_ELSEWHERE = ("pid=924\nnext=sysv\n--- argv\n/usr/sbin/dockerd\n-p\n/run/dockerd.pid\n--- next\n"
                         "/usr/sbin/dockerd\n-p\n/run/dockerd.pid\n--- process\nuid=0\nenviron=read\nHOME=/root\n"
                         "--- version\nDocker version 28.5.2+dfsg4, build 3ef3c07c883be49a2e8097bcf6d2952fce1d70eb\n")


def test_the_pidfile_read_is_the_one_dockerd_was_started_with():
    """Before: /var/run/docker.pid was read whatever -p dockerd had: failed ('names nothing') with dockerd alive."""
    host = RecordedHost(("pid=$(systemctl", Result(0, SID_PIDFILE_ELSEWHERE)))
    assert probes.dockerd_pidfile(ReadingTarget(host), Evidence("ssh://h", 10), judge.PIDFILE) == "/run/dockerd.pid"
    unread = RecordedHost(("pid=$(systemctl", Result(0, "pid=\n--- version\nsh: dockerd: not found\n")))
    assert probes.dockerd_pidfile(ReadingTarget(unread), Evidence("ssh://h", 10), judge.PIDFILE) == judge.PIDFILE
    offline = snapshot("", "", pid1=False)
    assert "dockerd pid 924 (/run/dockerd.pid) is alive" in judge.service_running(offline, "924", "dockerd",
                                                                                 "/run/dockerd.pid").found
    assert "/run/dockerd.pid names nothing" in message(judge.service_running(offline, None, None, "/run/dockerd.pid"))


def test_dockerd_is_read_once_per_target_where_no_connection_can_start_another():
    """On a sysvinit host service.running (its pidfile), service.enabled and the registry checks read DOCKERD once; a
    read that found no dockerd, or one where a connection may start docker.service (socket activation), again."""
    def reads(target):
        first, later = Evidence("ssh://h", 10), Evidence("ssh://h", 10)
        probes.dockerd_pidfile(target, first, judge.PIDFILE)
        probes.daemon_config(target, later, "/etc/docker/daemon.json")
        return len([c for c in target.host.ran if "pid=$(systemctl" in c]), first.items[0], later.items
    sysvinit = ReadingTarget(RecordedHost(("pid=$(systemctl", Result(0, SID_PIDFILE_ELSEWHERE)),
                                          ("base64 -w 0", Result(0, "e30="))))
    count, first, later = reads(sysvinit)
    assert count == 1 and later[1] == first and "read once per target" in later[0]["text"]
    assert probes.dockerd(sysvinit, Evidence("ssh://h", 10)).pid == "924" and len(sysvinit.host.ran) == 2
    stopped = "pid=\n--- version\nDocker version 28.5.2+dfsg4, build 3ef3c07c\n"
    assert reads(ReadingTarget(RecordedHost(("pid=$(systemctl", Result(0, stopped)), ("busctl", Result(1)),
                                            ("base64 -w 0", Result(0, "e30=")))))[0] == 2
    running = SID_PIDFILE_ELSEWHERE.replace("next=sysv\n", "")
    for service, count in ((SERVICE_STOPPED, 2), (SERVICE_ACTIVE, 1)):  # a rootless or hand-run dockerd beside it
        target = ReadingTarget(RecordedHost(("pid=$(systemctl", Result(0, running)), ("busctl", Result(1)),
                                            ("base64 -w 0", Result(0, "e30="))), snapshot(service, SOCKET_LISTENING))
        assert reads(target)[0] == count


def test_dockerds_configuration_is_read_once_per_target_where_dockerd_is():
    """The four registry checks that judge daemon.json read it once where DOCKERD's read is kept, again where a
    connection may start another dockerd (socket activation): the later check's evidence shows the first read."""
    def base64_reads(target):
        first, later = Evidence("ssh://h", 10), Evidence("ssh://h", 10)
        found = [probes.daemon_config(target, evidence, "/etc/docker/daemon.json") for evidence in (first, later)]
        assert found[0] == found[1] and found[0].raw == b"{}"
        return len([c for c in target.host.ran if "base64 -w 0" in c]), first.items, later.items
    count, first, later = base64_reads(ReadingTarget(RecordedHost(("pid=$(systemctl", Result(0, SID_PIDFILE_ELSEWHERE)),
                                                                  ("base64 -w 0", Result(0, "e30=")))))
    assert count == 1 and "read once per target" in later[0]["text"] and later[1:] == first
    running = SID_PIDFILE_ELSEWHERE.replace("next=sysv\n", "")
    socket_activated = ReadingTarget(RecordedHost(("pid=$(systemctl", Result(0, running)), ("busctl", Result(1)),
                                                  ("base64 -w 0", Result(0, "e30="))), snapshot(SERVICE_STOPPED, SOCKET_LISTENING))
    assert base64_reads(socket_activated)[0] == 2


def test_units_read_before_any_connection_are_parsed():
    read = snapshot(SERVICE_STOPPED, SOCKET_LISTENING)
    assert read.systemd_pid1 and read.systemctl and read.socket_activated  # stopped, but the socket would start it
    assert read.active_states() == {"docker.service": "inactive (dead)", "docker.socket": "active (listening)"}
    assert "before the suite's first connection to the engine (no connection yet)" in read.note()
    assert not snapshot(SERVICE_ACTIVE.replace("TriggeredBy=docker.socket", "TriggeredBy="), SOCKET_LISTENING).socket_activated


ENABLED_WORDS = {  # printed word of `systemctl is-enabled docker.service` -> (passes, what the message says)
    "enabled": (True, "is-enabled=enabled: enabled"),
    "enabled-runtime": (False, "enabled only until the next reboot"),
    "masked": (False, "masked (linked to /dev/null): it cannot start"),
    "masked-runtime": (False, "masked until the next reboot"),
    "disabled": (False, "is-enabled=disabled: disabled"),
    "transient": (False, "transient"),
    "bad": (False, "its unit file is invalid"),
    "": (False, "is-enabled=(nothing): no docker.service unit"),
    "not-found": (False, "no docker.service unit"),
    "frobnicated": (False, "unknown state 'frobnicated'"),
}


@pytest.mark.red("service.enabled")
@pytest.mark.parametrize("word", ENABLED_WORDS, ids=[w or "nothing" for w in ENABLED_WORDS])
def test_every_is_enabled_word_maps_to_its_verdict(word):
    passes, says = ENABLED_WORDS[word]
    verdict = judge.service_enabled(snapshot(SERVICE_ACTIVE, SOCKET_LISTENING, enabled=word, socket_enabled="static"))
    assert verdict.ok is passes and says in (verdict.found if passes else message(verdict))


@pytest.mark.red("service.enabled")
@pytest.mark.parametrize("word", judge.BOOT_WORDS_CLOSURE)
def test_words_that_depend_on_the_boot_transaction_pass_only_with_a_persistent_link(word):
    read = snapshot(SERVICE_ACTIVE, SOCKET_LISTENING, enabled=word, socket_enabled="static")
    link = "/etc/systemd/system/multi-user.target.wants/docker.service"
    wanted = judge.service_enabled(read, True, link)
    assert wanted.ok and f"pulled in at boot by a persistent link ({link})" in wanted.found
    assert "nothing pulls it in at boot" in message(judge.service_enabled(read, False, ""))
    assert not judge.service_enabled(read, True, "").ok  # only a /run link: gone at reboot


@pytest.mark.red("service.enabled")
def test_disabled_service_with_an_enabled_socket_fails_and_says_the_socket_would_start_it():
    verdict = judge.service_enabled(snapshot(SERVICE_ACTIVE, SOCKET_LISTENING, enabled="disabled"))
    assert not verdict.ok
    assert "docker.socket is enabled: dockerd would start on the first API connection, not at boot" in message(verdict)
    masked = judge.service_enabled(snapshot(SERVICE_ACTIVE, SOCKET_LISTENING, enabled="masked"))
    assert "first API connection" not in message(masked)  # the socket cannot start a masked service either


# Recorded on lab host h10-socket (debian, systemd 252) after `systemctl mask docker.socket`: the engine keeps running,
# docker.service is still enabled, but `systemctl start docker` answers "Unit docker.socket is masked".
SERVICE_NEEDS_SOCKET = SERVICE_ACTIVE.replace("TriggeredBy=docker.socket", "TriggeredBy=") + (
    "Requires=system.slice docker.socket sysinit.target\nRequisite=\nBindsTo=\n")
SOCKET_MASKED = ("Id=docker.socket\nLoadState=masked\nActiveState=active\nSubState=running\nUnitFileState=masked\n"
                 "Requires=\nRequisite=\nBindsTo=\nFragmentPath=/etc/systemd/system/docker.socket\nSourcePath=\n")


@pytest.mark.red("service.enabled")
def test_an_enabled_service_whose_required_unit_is_masked_fails_and_names_it():
    read = snapshot(SERVICE_NEEDS_SOCKET, SOCKET_MASKED, socket_enabled="masked")
    verdict = judge.service_enabled(read)
    assert not verdict.ok
    assert ("is-enabled=enabled: enabled (a persistent link: starts at boot); but it has Requires=docker.socket, which "
            "is masked: docker.service cannot start, at boot or by hand") in message(verdict)
    assert read.service.hard_dependencies() == [("Requires", "system.slice"), ("Requires", "docker.socket"),
                                                ("Requires", "sysinit.target")]
    # any unit it Requires, BindsTo or is Requisite of, read apart from the snapshot; masked only until reboot too
    bound = snapshot(SERVICE_ACTIVE + "BindsTo=containerd.service\n", SOCKET_LISTENING)
    containerd = unit_states.UnitState("containerd.service", {"LoadState": "masked"}, "masked-runtime")
    assert "BindsTo=containerd.service, which is masked-runtime" in message(judge.service_enabled(bound, dependencies=[containerd]))
    # the units it needs are there: as before
    assert judge.service_enabled(snapshot(SERVICE_NEEDS_SOCKET, SOCKET_LISTENING), dependencies=[
        unit_states.UnitState("sysinit.target", {}, "static"), unit_states.UnitState("system.slice", {}, "")]).ok


def test_an_alias_is_judged_by_the_unit_it_names():
    alias = unit_states.UnitState("moby.service", {"UnitFileState": "enabled"}, "enabled")
    verdict = judge.service_enabled(snapshot(SERVICE_ACTIVE, SOCKET_LISTENING, enabled="alias"), alias_of=alias)
    assert verdict.ok and "docker.service is an alias of moby.service, judged instead" in verdict.found


@pytest.mark.red("service.enabled")
# Debian sid with sysvinit-core as its init and the systemd package installed (openssh-server pulls it in):
# systemctl answers is-enabled from the unit files offline, but sysvinit boots the host from its rc links.
def sysvinit_host(enabled="enabled"):
    return snapshot("", "", enabled=enabled, socket_enabled=enabled, pid1=False, boot_init="/usr/sbin/init")


def test_on_a_sysvinit_host_with_systemd_installed_the_rc_links_decide():
    verdict = judge.service_enabled(sysvinit_host(), sysv_links="/etc/rc2.d/S01docker /etc/rc3.d/S01docker")
    assert verdict.ok and "systemd does not boot this host (PID 1 is not systemd, /sbin/init is /usr/sbin/init)" in verdict.found


@pytest.mark.red("service.enabled")
def test_on_a_sysvinit_host_an_enabled_unit_file_without_rc_links_fails():
    assert "is-enabled=enabled is not what starts at boot; no S??docker start link" in message(
        judge.service_enabled(sysvinit_host(), sysv_links=""))
    assert not snapshot("", "", pid1=False).boots_without_systemd  # systemd not running, but it boots the host


# Recorded on lab host h12-sid-init (sid, sysvinit as PID 1) after `mv /usr/sbin/init /usr/sbin/init.sysv && ln -s
# /usr/lib/systemd/systemd /usr/sbin/init && update-rc.d -f docker remove`: /sbin/init is systemd, but the running
# system was not booted by it (as a container, or WSL2 without systemd: PID 1 is Microsoft's /init).
@pytest.mark.red("service.enabled")
@pytest.mark.parametrize("pid1", ["init [2]", "/init", ""])
def test_where_systemd_is_sbin_init_but_not_pid1_what_starts_at_boot_is_an_error(pid1):
    for boot_init in ("/usr/lib/systemd/systemd", "/lib/systemd/systemd"):
        read = unit_states.parse(units("", "", pid1=False, boot_init=boot_init).replace(
            "read-at=", f"pid1={pid1}\nread-at="))
        with pytest.raises(ObserverError) as raised:
            judge.service_enabled(read, sysv_links="/etc/rc2.d/S01docker")  # no rc links decide it either
        assert not read.boots_without_systemd and read.booted_otherwise
        said = str(raised.value)
        assert said.startswith("docker.service is-enabled=enabled, but systemd is not PID 1 (PID 1 is "
                               f"{pid1 or 'unreadable'}), yet /sbin/init is {boot_init}: this host was not booted by "
                               "/sbin/init")
        assert "tells what a systemd boot would start, not what starts at this host's boot" in said
    assert not snapshot(SERVICE_ACTIVE, SOCKET_LISTENING).booted_otherwise  # systemd is PID 1: is-enabled is judged
    assert not sysvinit_host().booted_otherwise  # another init boots it: the rc links are judged


def test_without_systemd_the_sysv_start_links_decide():
    sysv = snapshot("", "", enabled="", socket_enabled="", pid1=False, systemctl=False)
    assert judge.service_enabled(sysv, sysv_links="/etc/rc2.d/S01docker /etc/rc3.d/S01docker").ok
    assert "no S??docker start link" in message(judge.service_enabled(sysv, sysv_links=""))


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


# Recorded on lab host observer-tcp-engine (Debian 12, docker.io 20.10.24) as hunter, outside the docker group, while
# the runner reached the engine over --engine-url tcp://HOST:2375.
CLI_SOCKET_DENIED = Result(1, json.dumps({"Client": CLI_VERSION["Client"], "Server": None}) + "\n", (
    "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "
    '"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/version": dial unix /var/run/docker.sock: connect: permission denied\n'))
NOT_IN_DOCKER_GROUP = Result(0, "uid=1000(hunter) gid=1000(hunter) groups=1000(hunter)\n")


class VersionEngine:
    def version(self):
        return API_VERSION


def test_a_login_the_socket_refuses_cannot_ask_the_cli_an_error_never_server_missing():
    """engine.version on a host whose engine the runner reaches over tcp://, observed by a login outside the docker
    group: the CLI's server is there, the login may not ask it."""
    host = RecordedHost(("docker version", CLI_SOCKET_DENIED), ("id", NOT_IN_DOCKER_GROUP))
    with pytest.raises(ObserverError) as denied:
        install_suite.test_engine_version(host, VersionEngine(), Evidence("ssh://hunter@h", 10))
    assert str(denied.value) == ("ssh://hunter@h: cannot ask the host's docker CLI: permission denied on "
                                 f"/var/run/docker.sock as {NOT_IN_DOCKER_GROUP.stdout.strip()}; {probes.NEEDS_ROOT}")
    cli = Result(0, json.dumps(CLI_VERSION) + "\n")  # the same login in the docker group: judged as before
    install_suite.test_engine_version(RecordedHost(("docker version", cli)), VersionEngine(), Evidence("h", 10))


@pytest.mark.red("engine.hello-world")
def test_hello_world_without_greeting_or_exit_fails():
    assert judge.hello_world(0, "\nHello from Docker!\nThis message shows ...").ok
    assert judge.hello_world(0, "\nHello from Docker.\nThis message shows ...").ok  # a hello-world of 2014-2015
    assert "exit code 0" in message(judge.hello_world(0, "\nHello from Podman!\n"))
    assert "exit code 1" in message(judge.hello_world(1, "exec /hello: exec format error"))
    assert "did not exit in time" in message(judge.hello_world(None, ""))


def test_a_hello_world_of_the_hosts_own_is_not_judged():
    """engine.hello-world on hello-world-own-build: hello-world:latest, there before the run, is a tutorial's image
    built as hello-world (no RepoDigests); it printed 'Hello, World!', and Docker's hello-world never ran."""
    with pytest.raises(ObserverError, match=r"not Docker's hello-world \(RepoDigests none.*'Hello, World!'"):
        judge.hello_world(0, "Hello, World!\n", [])
    with pytest.raises(ObserverError):  # pushed under another name, then tagged hello-world
        judge.hello_world(0, "Hello, World!\n", ["registry.example.com/team/app@sha256:" + "0" * 64])
    # Docker's own, there before the run (a pull of the user's, through a registry of the company's): judged
    assert not judge.hello_world(1, "exec /hello: exec format error", ["hello-world@sha256:" + "0" * 64]).ok
    assert not judge.hello_world(0, "", ["harbor.example.com/hub/library/hello-world@sha256:" + "0" * 64]).ok
    assert judge.hello_world(0, "Hello from Docker!\n", []).ok  # Docker's, loaded from a tarball (no RepoDigests)


@pytest.mark.red("install.repo")
def test_a_mirror_of_dockers_tree_is_dockers_source_another_site_is_not():
    site, tree = "download.docker.com", "/docker-ce/linux/"
    path = "/etc/yum.repos.d/docker-ce.repo"
    aliyun = DOCKER_CE_REPO.replace("https://download.docker.com", "https://mirrors.aliyun.com/docker-ce")
    assert judge.yum_repo(path, aliyun, site, tree).ok
    assert not judge.yum_repo(path, aliyun, site).ok  # without the mirror rule, as before
    lookalike = DOCKER_CE_REPO.replace("download.docker.com", "download.docker.com.example.org")
    assert not judge.yum_repo(path, lookalike, site, tree).ok  # the site is a host name, not a substring
    line = "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://mirrors.aliyun.com/docker-ce/linux/debian bookworm stable\n"
    assert judge.apt_source({"/etc/apt/sources.list.d/docker.list": line}, site, tree).ok


@pytest.mark.red("install.repo")
def test_deb822_stanzas_are_enabled_each_on_its_own():
    site, tree, path = "download.docker.com", "/docker-ce/linux/", "/etc/apt/sources.list.d/docker.sources"
    stable = "Types: deb\nURIs: https://download.docker.com/linux/debian\nSuites: bookworm\nComponents: stable\n"
    other = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nEnabled: no\n"
    assert judge.apt_source({path: stable + "\n" + other}, site, tree).ok  # another stanza's Enabled: no
    assert judge.apt_source({path: "# Docker\n" + stable + "Signed-By: /etc/apt/keyrings/docker.asc\n"}, site, tree).ok
    for word in ("no", "false", "Off"):  # apt's false words
        verdict = judge.apt_source({path: stable + f"Enabled: {word}\n"}, site, tree)
        assert not verdict.ok and f"Enabled: {word}" in message(verdict)
    assert not judge.apt_source({path: stable.replace("Types: deb", "Types: deb-src")}, site, tree).ok
    assert not judge.apt_source({"/etc/apt/sources.list": "deb-src https://download.docker.com/linux/debian bookworm stable\n"},
                                site, tree).ok


# os-release of real hosts the tutorial's audience runs, as those hosts print them (Ansible's and cloud-init's
# distribution fixtures, users' published outputs): the verdict install.os-supported gives each.
REAL_HOSTS = [
    ('NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\nPLATFORM_ID="platform:el9"\n', True),
    ('NAME="AlmaLinux"\nID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\nPLATFORM_ID="platform:el9"\n', True),
    ('NAME="CentOS Stream"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="9"\nPLATFORM_ID="platform:el9"\n', True),
    ('NAME="Oracle Linux Server"\nID="ol"\nID_LIKE="fedora"\nVARIANT_ID="server"\nVERSION_ID="7.9"\n', True),
    ('NAME="Anolis OS"\nID="anolis"\nID_LIKE="rhel fedora centos"\nVERSION_ID="8.8"\nPLATFORM_ID="platform:an8"\n', True),
    ('NAME="OpenCloudOS"\nID="opencloudos"\nID_LIKE="rhel fedora"\nVERSION_ID="8.6"\nPLATFORM_ID="platform:oc8"\n', True),
    ('NAME="EuroLinux"\nID="eurolinux"\nID_LIKE="rhel scientific centos fedora"\nVERSION_ID="7.9"\n'
     'REDHAT_SUPPORT_PRODUCT="EuroLinux"\nREDHAT_SUPPORT_PRODUCT_VERSION="7.9"\n', True),
    ('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nUBUNTU_CODENAME=noble\n', True),
    ('PRETTY_NAME="Debian GNU/Linux forky/sid"\nNAME="Debian GNU/Linux"\nVERSION_CODENAME=forky\nID=debian\n', True),
    # not in the supported table: no ID_LIKE names a family (openEuler, Kylin, OpenCloudOS 9, Anolis 23), or Fedora's
    ('NAME="openEuler"\nVERSION="22.03 LTS"\nID="openEuler"\nVERSION_ID="22.03"\n', False),
    ('NAME="Kylin Linux Advanced Server"\nVERSION="V10 (Sword)"\nID="kylin"\nVERSION_ID="V10"\n', False),
    ('NAME="OpenCloudOS"\nID="opencloudos"\nID_LIKE="opencloudos"\nVERSION_ID="9.0"\nPLATFORM_ID="platform:oc9.0"\n', False),
    ('NAME="Anolis OS"\nVERSION="23"\nID="anolis"\nVERSION_ID="23"\nPLATFORM_ID="platform:an23"\n', False),
    ("NAME=Fedora\nID=fedora\nVERSION_ID=40\n", False),
]


@pytest.mark.parametrize("os_release,supported", REAL_HOSTS,
                         ids=["rocky9", "alma9", "stream9", "ol7.9", "anolis8.8", "opencloudos8.6", "eurolinux7.9",
                              "ubuntu24.04", "debian-testing", "openeuler22.03", "kylin-v10", "opencloudos9", "anolis23",
                              "fedora40"])
def test_real_hosts_get_the_verdict_their_os_release_supports(os_release, supported):
    assert judge.os_supported(os_release, None, "5.14.0", SUPPORTED, {}).ok is supported
    assert judge.rpm_macros_read(os_release, None, SUPPORTED) == []  # each states its release: rpm is not asked

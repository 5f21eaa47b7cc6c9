"""conformance/profiles.toml's reader and a host's profile from os-release (conformance/profiles.py)."""
import pytest

from conformance import profiles

CENTOS_7 = 'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n'


def test_os_release_fields_unquoted_quoted_and_escaped():
    fields = profiles.os_release('# a comment\nID=debian\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
                                 "VERSION='12 (bookworm)'\nNAME=\"Say \\\"hi\\\"\"\nEMPTY=\n\nno equals sign\n")
    assert fields == {"ID": "debian", "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "VERSION": "12 (bookworm)",
                      "NAME": 'Say "hi"', "EMPTY": ""}


def test_os_release_unbalanced_quote_and_nothing():
    assert profiles.os_release('ID="centos\n') == {"ID": "centos"}
    assert profiles.os_release(None) == profiles.os_release("") == {}


@pytest.mark.parametrize("text, profile", [
    (CENTOS_7, "rhel"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "rhel"),
    ('ID="ol"\nID_LIKE="fedora"\n', "rhel"),                       # Oracle Linux: its own ID is in the family
    ('ID="amzn"\nID_LIKE="centos rhel fedora"\nVERSION_ID="2"\n', "rhel"),  # Amazon Linux 2
    ('ID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n', "unknown"),        # Amazon Linux 2023: not the seed's
    ("ID=fedora\nVERSION_ID=40\n", "unknown"),
    ("ID=debian\nVERSION_ID=12\n", "debian"),
    ("ID=raspbian\nID_LIKE=debian\n", "debian"),
    ("ID=linuxmint\nID_LIKE=ubuntu\n", "debian"),
    ("ID=alpine\n", "unknown"),
    ('ID="alinux"\nVERSION_ID="2.1903"\n', "rhel"),                          # Alibaba Cloud Linux 2: no ID_LIKE
    ('ID="alinux"\nID_LIKE="ubuntu debian"\nVARIANT_ID="deb"\nVERSION_ID="4"\n', "debian"),  # its 4 Deb Edition
])
def test_profile_from_os_release(text, profile):
    assert profiles.profile_from_os_release(text)[0] == profile


def test_profile_says_how_it_was_decided():
    assert profiles.profile_from_os_release(CENTOS_7) == ("rhel", "os-release ID=centos ID_LIKE='rhel fedora'")
    assert profiles.profile_from_os_release("") == ("unknown", "os-release ID=?")


def test_every_profile_has_families_and_expectations():
    families = profiles.family_ids()
    assert list(families) == ["rhel", "debian"]
    assert {"centos", "rhel"} <= families["rhel"] and {"debian", "ubuntu"} <= families["debian"]
    assert all("packages" in profiles.profiles()[p] and "repo" in profiles.profiles()[p] for p in families)
    assert profiles.DAEMON_JSON == "/etc/docker/daemon.json"


def test_os_release_read_from_usr_lib_only_where_etc_has_none(tmp_path):
    # Recorded on lab host hunt-u (Debian 12) after `rm /etc/os-release` (the link to ../usr/lib/os-release): the
    # suite read nothing, failed install.os-supported ("not a supported OS family") and gave the host no profile.
    import subprocess
    etc, usr = tmp_path / "etc-os-release", tmp_path / "usr-lib-os-release"
    usr.write_text('ID=debian\nVERSION_ID="12"\n')
    script = profiles.READ_OS_RELEASE.replace(profiles.OS_RELEASE[0], str(etc)).replace(profiles.OS_RELEASE[1], str(usr))
    read = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
    assert read.returncode == 0 and profiles.profile_from_os_release(read.stdout)[0] == "debian"
    etc.write_text("ID=centos\nVERSION_ID=7\n")  # /etc wins where it exists
    assert subprocess.run(["sh", "-c", script], capture_output=True, text=True).stdout.startswith("ID=centos")

"""The expectation data of conformance/profiles.toml and a host's profile from its os-release: the one reader of each."""
from __future__ import annotations

import functools
import shlex
import tomllib
from pathlib import Path

PROFILES_FILE = Path(__file__).resolve().parent / "profiles.toml"  # shipped with the package


@functools.cache
def profiles() -> dict:
    """conformance/profiles.toml: per-profile expectation data."""
    with open(PROFILES_FILE, "rb") as f:
        return tomllib.load(f)


DAEMON_JSON = profiles()["engine"]["daemon_json"]  # the engine's configuration file on a target
# os-release(5): /etc/os-release, and only where it does not exist /usr/lib/os-release (the vendor's copy it usually
# links to); READ_OS_RELEASE prints the first that is there.
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
READ_OS_RELEASE = "if [ -e {0} ]; then cat {0}; else cat {1}; fi".format(*OS_RELEASE)


def family_ids() -> dict[str, set[str]]:
    """Profile -> the os-release ids of its OS families (supported.os), in the file's order: rhel, then debian."""
    ids: dict[str, set[str]] = {}
    for family in profiles()["supported"]["os"]:
        ids.setdefault(family["profile"], set()).update(family["ids"], family.get("derivatives", ()))
    return ids


def os_release(text: str | None) -> dict[str, str]:
    """The fields of an os-release text: KEY=value lines with shell-style quoting (os-release(5))."""
    fields = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if not sep or key.lstrip().startswith("#"):
            continue
        try:
            value = " ".join(shlex.split(value))
        except ValueError:  # an unbalanced quote: take the text between the quotes that are there
            value = value.strip().strip("\"'")
        fields[key.strip()] = value
    return fields


NAMES = tuple(family_ids())  # the profiles ("rhel", "debian"): the one list, from the OS families above


def profile_of(os_ids: set[str]) -> str:
    """The profile whose OS families hold one of these os-release ids, else 'unknown'."""
    return next((profile for profile, family in family_ids().items() if os_ids & family), "unknown")


def os_family(os_id: str, id_like: list[str], families: list[dict]) -> dict | None:
    """The supported OS family (supported.os) of these os-release ids: the one whose ids hold ID, else whose ids hold
    an ID_LIKE entry, else whose derivatives hold ID (listed by ID for hosts that say no ID_LIKE: Alibaba Cloud Linux
    2; its Deb Edition 4, same ID, says ID_LIKE "ubuntu debian"); None if none does."""
    return next((f for f in families if os_id in f["ids"]), None) or \
        next((f for f in families if set(id_like) & set(f["ids"])), None) or \
        next((f for f in families if os_id in f.get("derivatives", ())), None)


def profile_from_os_release(text: str) -> tuple[str, str]:
    """('rhel'|'debian'|'unknown', how it was decided) from /etc/os-release content: the profile of its OS family
    (os_family)."""
    fields = os_release(text)
    family = os_family(fields.get("ID", "").lower(), fields.get("ID_LIKE", "").lower().split(),
                       profiles()["supported"]["os"])
    how = f"os-release ID={fields.get('ID', '?')}" + (f" ID_LIKE={fields['ID_LIKE']!r}" if fields.get("ID_LIKE") else "")
    return (family["profile"] if family else "unknown"), how

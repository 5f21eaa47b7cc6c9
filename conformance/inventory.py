"""Fleet inventories (issue 6): a YAML file of targets with per-host settings, and host groups to select from."""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from conformance import config as configs
from conformance.outcomes import one_line

BACKENDS = ("ssh", "paramiko", "safe-ssh")
# Host keys that become per-target settings (inventory key -> config option name).
SETTINGS = {"profile": "profile", "mirrors": "mirror", "min_engine_version": "min-engine-version",
            "edition": "edition", "start_budget_ms": "start-budget-ms", "call_timeout": "call-timeout",
            "check_timeout": "check-timeout", "engine_url": "engine-url", "skip_host_key_check": "skip-host-key-check",
            "skip_volume_hashing": "skip-volume-hashing", "ssh_work_ahead": "ssh-work-ahead"}
CONNECTION = ("spec", "address", "backend", "user", "port", "key", "ssh_config", "sudo")
HOST_KEYS = (*CONNECTION, *SETTINGS, "groups", "labels")
EXAMPLE = "see README, 'Fleets: many hosts in one run'"
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
USER_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@$-]*")
AS_OPTION = "would reach ssh as an option"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One inventory host: its name, the testinfra spec built for it, groups, labels and per-target settings."""
    name: str
    spec: str
    groups: tuple[str, ...]
    labels: dict[str, str]
    settings: dict[str, Any]  # config option name -> parsed value (mirror: a tuple of URLs)
    line: int

    def facts(self) -> dict[str, str]:
        facts = {"inventory name": self.name, "groups": ", ".join(self.groups) or "none"}
        if self.labels:
            facts["labels"] = ", ".join(f"{k}={v}" for k, v in self.labels.items())
        return facts


@dataclasses.dataclass(frozen=True)
class Inventory:
    path: str
    entries: tuple[Entry, ...]

    @property
    def groups(self) -> list[str]:
        return sorted({g for e in self.entries for g in e.groups})

    def select(self, groups: list[str]) -> list[Entry]:
        """Entries in any of the groups (all entries without groups); an unknown group is a usage error."""
        if not groups:
            return list(self.entries)
        unknown = [g for g in groups if g != "all" and g not in self.groups]
        if unknown:
            raise pytest.UsageError(f"--group {', '.join(unknown)}: no such group in {self.path} "
                                    f"(groups: {', '.join(self.groups) or 'none'}; 'all' selects every host)")
        return [e for e in self.entries if "all" in groups or set(groups) & set(e.groups)]

    def rules(self) -> dict[str, tuple[configs.Rule, ...]]:
        """Per-target setting rules, keyed by option name; each rule's pattern matches exactly one spec."""
        rules: dict[str, list[configs.Rule]] = {}
        for entry in self.entries:
            for name, value in entry.settings.items():
                values = value if name == "mirror" else (value,)
                rules.setdefault(name, []).extend((literal(entry.spec), v) for v in values)
        return {name: tuple(r) for name, r in rules.items()}

    def by_spec(self) -> dict[str, Entry]:
        return {e.spec: e for e in self.entries}


def literal(spec: str) -> str:
    """An fnmatch pattern matching exactly spec (specs contain '?' and IPv6 '[...]')."""
    return re.sub(r"([*?\[])", r"[\1]", spec)


class _Loader:
    """yaml.SafeLoader whose mappings remember the line of every key (for file:line messages)."""

    def __new__(cls, text: str):
        import yaml  # PyYAML: only needed when an inventory is given

        class Loader(yaml.SafeLoader):
            pass

        def mapping(loader, node, deep=False):
            value = LineDict(loader.construct_mapping(node, deep=True))
            value.line = node.start_mark.line + 1
            value.key_lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if hasattr(k, "value")}
            return value
        Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
        return Loader(text)


class LineDict(dict):
    line = 0
    key_lines: dict = {}


def _error(path: str, line: int, message: str) -> pytest.UsageError:
    return pytest.UsageError(f"inventory {path}:{line}: {message} ({EXAMPLE})")


def load(path: str) -> Inventory:
    """Read and validate an inventory; any problem is a usage error naming file and line."""
    import yaml
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise pytest.UsageError(f"inventory {path}: cannot read it: {e.strerror or e}") from None
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise _error(path, mark.line + 1 if mark else 1, f"not valid YAML: {e.problem or e.context}") from None
    finally:
        loader.dispose()
    if not isinstance(data, LineDict) or not isinstance(data.get("hosts"), LineDict):
        raise _error(path, getattr(data, "line", 1), "expected a mapping with a 'hosts' mapping (name: settings)")
    unknown = set(data) - {"hosts", "defaults", "groups"}
    if unknown:
        key = sorted(unknown)[0]
        raise _error(path, data.key_lines.get(key, 1), f"unknown top-level key {key!r} (known: hosts, defaults, groups)")
    defaults = data.get("defaults") or LineDict()
    if not isinstance(defaults, LineDict):
        raise _error(path, data.key_lines.get("defaults", 1), "'defaults' must be a mapping of host settings")
    _check_keys(path, defaults, "defaults", exclude=("spec", "address", "groups", "labels"))
    members = _group_members(path, data)
    entries, seen = [], {}
    for name, host in data["hosts"].items():
        line = data["hosts"].key_lines.get(name, data["hosts"].line)
        if host is None:
            host = LineDict()
            host.line = line
        if not isinstance(host, LineDict):
            raise _error(path, line, f"host {name!r}: expected a mapping of settings (address: ..., ...)")
        _check_keys(path, host, f"host {name!r}")
        entry = _entry(path, str(name), line, {**defaults, **host}, host, members.get(str(name), ()))
        if entry.spec in seen:
            raise _error(path, line, f"host {name!r}: same target as {seen[entry.spec]!r} ({entry.spec})")
        seen[entry.spec] = entry.name
        entries.append(entry)
    missing = sorted(set(members) - set(seen.values()))
    if missing:
        raise _error(path, data.key_lines.get("groups", 1), f"groups name unknown host(s): {', '.join(missing)}")
    if not entries:
        raise _error(path, data.key_lines.get("hosts", 1), "no hosts")
    return Inventory(path, tuple(entries))


def _check_keys(path: str, table: LineDict, where: str, exclude: tuple[str, ...] = ()) -> None:
    for key in table:
        if key not in HOST_KEYS or key in exclude:
            allowed = ", ".join(k for k in HOST_KEYS if k not in exclude)
            raise _error(path, table.key_lines.get(key, table.line), f"{where}: unknown key {key!r} (known: {allowed})")


def _group_members(path: str, data: LineDict) -> dict[str, tuple[str, ...]]:
    """The optional top-level `groups: {group: [host, ...]}`, inverted to host -> groups."""
    groups = data.get("groups") or {}
    if not isinstance(groups, dict):
        raise _error(path, data.key_lines.get("groups", 1), "'groups' must map a group name to a list of hosts")
    members: dict[str, tuple[str, ...]] = {}
    for group, hosts in groups.items():
        if not isinstance(hosts, list):
            raise _error(path, groups.key_lines.get(group, 1), f"group {group!r}: expected a list of host names")
        for host in hosts:
            members[str(host)] = (*members.get(str(host), ()), str(group))
    return members


def _entry(path: str, name: str, line: int, values: dict, own: LineDict, extra_groups: tuple[str, ...]) -> Entry:
    def where(key: str) -> int:
        return own.key_lines.get(key, line)

    def fail(key: str, message: str) -> pytest.UsageError:
        return _error(path, where(key), f"host {name!r}: {key}: {message}")

    if not re.fullmatch(r"[\w.-]+", name):
        raise _error(path, line, f"host name {name!r}: use letters, digits, '.', '_' and '-'")
    if "spec" in values and any(k in own for k in ("address", "backend", "user", "port", "key", "ssh_config")):
        raise fail("spec", "give either spec or address/backend/user/port/key/ssh_config, not both")
    if "spec" in values and spec_problem(str(values["spec"])):
        raise fail("spec", spec_problem(str(values["spec"])))
    spec = str(values["spec"]) if "spec" in values else _spec(values, fail)
    groups = values.get("groups") or []
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list) or not all(re.fullmatch(r"[\w.-]+", str(g)) for g in groups):
        raise fail("groups", "expected a list of group names (letters, digits, '.', '_', '-')")
    labels = values.get("labels") or {}
    if not isinstance(labels, dict):
        raise fail("labels", "expected a mapping (key: value)")
    settings: dict[str, Any] = {}
    for key, option_name in SETTINGS.items():
        if values.get(key) is None:
            continue
        option = configs.BY_NAME[option_name]
        raw = values[key]
        try:
            if key == "mirrors":
                settings[option_name] = tuple(option.parse(v) for v in (raw if isinstance(raw, list) else [raw]))
            else:
                settings[option_name] = option.parse(raw)
        except ValueError as e:
            raise fail(key, str(e)) from None
    return Entry(name, spec, tuple(dict.fromkeys([*map(str, groups), *extra_groups])),
                 {str(k): str(v) for k, v in labels.items()}, settings, line)


def _spec(values: dict, fail) -> str:
    """testinfra spec from address/backend/user/port/key/ssh_config/sudo."""
    address = values.get("address")
    if not address:
        raise fail("address", "every host needs an address (or a full testinfra spec)")
    backend = values.get("backend", "ssh")
    if backend not in BACKENDS:
        raise fail("backend", f"expected one of {', '.join(BACKENDS)}, got {backend!r}")
    host = _address(str(address), fail)
    user = values.get("user")
    if user is not None and not USER_NAME.fullmatch(str(user)):
        raise fail("user", f"{user!r} {AS_OPTION}" if str(user).startswith("-") else
                   f"{user!r} is not a user name (letters, digits, '.', '_', '-', '@', '$'; no '-' first)")
    port = values.get("port")
    if port is not None and (not str(port).isdigit() or not 0 < int(port) < 65536):
        raise fail("port", f"expected a port number, got {port!r}")
    query = {}
    for key, name in (("key", "ssh_identity_file"), ("ssh_config", "ssh_config")):
        if values.get(key):
            query[name] = _path(key, values[key], fail)
    try:
        if configs._bool(values.get("sudo", False)):
            query["sudo"] = "true"
    except ValueError as e:
        raise fail("sudo", str(e)) from None
    return (f"{backend}://" + (f"{urllib.parse.quote(str(user), safe='')}@" if user else "") + host
            + (f":{port}" if port is not None else "")
            + ("?" + urllib.parse.urlencode(query, safe="/", quote_via=urllib.parse.quote) if query else ""))


def _address(address: str, fail) -> str:
    """The host part of the spec: a host name, an IPv4 address or an IPv6 one (in brackets)."""
    try:
        ip = ipaddress.ip_address(address.removeprefix("[").removesuffix("]"))
        return f"[{ip}]" if ip.version == 6 else str(ip)
    except ValueError:
        pass
    if address.startswith("-"):
        raise fail("address", f"{address!r} {AS_OPTION}")
    if not HOST_NAME.fullmatch(address):
        raise fail("address", f"{address!r} is not a host name or IP address")
    return address


def _path(key: str, value: Any, fail) -> str:
    """A key or ssh config path for the spec's query (urlencoded there, so '&', '#', ' ' stay in the path)."""
    path = os.path.expanduser(str(value))
    if path.startswith("-"):
        raise fail(key, f"{path!r} {AS_OPTION}")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise fail(key, f"{path!r} holds a control character")
    return path


def spec_problem(spec: str) -> str | None:
    """Why a target spec's host or user would reach ssh (or docker, kubectl, ...) as an option; None if it would not.

    testinfra puts them on the command line as words of their own (`ssh ... HOST command`), where a leading '-'
    makes an option of them (-oProxyCommand=... runs a command on this machine).
    """
    try:
        netloc = urllib.parse.urlsplit(spec).netloc
    except ValueError:
        return None  # malformed: testinfra's own message says why (plugin/collection.py _check_specs)
    user, at, host = netloc.partition("@")  # as testinfra splits it (the first '@')
    user, host = (urllib.parse.unquote(user.split(":")[0]), host) if at else ("", user)
    name = urllib.parse.unquote(host[1:].split("]")[0] if host.startswith("[") else host.split(":")[0])
    for what, value in (("host", name), ("user", user)):
        if value.startswith("-"):
            return f"{what} {value!r} {AS_OPTION}"
    return None


def path_of(config: pytest.Config, environ: dict[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    return config.getoption("inventory", None) or environ.get(configs.ENV_PREFIX + "INVENTORY") or None


def groups_of(config: pytest.Config, environ: dict[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    given = config.getoption("group", None) or []
    if not given and environ.get(configs.ENV_PREFIX + "GROUP"):
        given = [g for g in re.split(r"[\s,]+", environ[configs.ENV_PREFIX + "GROUP"]) if g]
    return [g for item in given for g in item.split(",") if g]


def from_config(config: pytest.Config) -> Inventory | None:
    """The inventory narrowed to the selected groups, or None without --inventory."""
    path = path_of(config)
    groups = groups_of(config)
    if path is None:
        if groups and not config.option.ansible_inventory:
            raise pytest.UsageError("--group needs --inventory FILE (or --ansible-inventory FILE)")
        return None
    inventory = load(path)
    return dataclasses.replace(inventory, entries=tuple(inventory.select(groups)))


def host_specs(config: pytest.Config, inventory: Inventory | None) -> list[str] | None:
    """Specs to run on: --hosts first, then the inventory's; ansible://GROUP for --group with --ansible-inventory."""
    given = [s for s in (config.option.hosts or "").split(",") if s]
    if inventory is not None:
        return list(dict.fromkeys([*given, *(e.spec for e in inventory.entries)]))
    if config.option.ansible_inventory and not given:
        return [f"ansible://{h}" for h in ansible_hosts(config.option.ansible_inventory, groups_of(config) or ["all"])]
    return given or None


def ansible_hosts(path: str, groups: list[str]) -> list[str]:
    """The hosts of the groups in an Ansible inventory (read with ansible-inventory), each a target of its own."""
    from testinfra.utils.ansible_runner import AnsibleRunner  # runs ansible-inventory: only when asked for
    try:
        runner = AnsibleRunner.get_runner(path)
        found = {group: runner.get_hosts(group) for group in groups}
    except FileNotFoundError:
        raise pytest.UsageError("--ansible-inventory needs ansible-core (ansible-inventory not found): "
                                "pip install 'docker-host-conformance[ansible]'") from None
    except Exception as e:  # noqa: BLE001 - ansible-inventory's own message is the useful part
        raise pytest.UsageError(f"--ansible-inventory={path}: {one_line(str(e) or type(e).__name__)}") from None
    empty = [group for group, hosts in found.items() if not hosts]
    if empty:
        raise pytest.UsageError(f"--ansible-inventory={path}: no host in group(s) {', '.join(empty)}")
    return list(dict.fromkeys(h for hosts in found.values() for h in hosts))


FILE_OPTIONS = ("--inventory", "--ansible-inventory", "--ssh-config", "--conformance-config")


def check_file_options(args) -> None:
    """`--inventory FILE` (a space, not '=') makes pytest take FILE for a test path when it picks its rootdir
    (plugin options are not known yet then), and so run the wrong project's tests: refuse it early."""
    for option, value in zip(args, [*args[1:], None]):
        if option in FILE_OPTIONS and value is not None and os.path.exists(value):
            raise pytest.UsageError(f"write {option}={value} (with '='): given as two words, pytest reads {value} as "
                                    "a test path when it chooses its rootdir")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance")
    group.addoption("--inventory", metavar="FILE", default=None,
                    help="YAML inventory of targets with per-host settings (also CONFORMANCE_INVENTORY)")
    group.addoption("--group", action="append", default=None, metavar="NAME",
                    help="Run only the inventory hosts in group NAME; repeatable (also CONFORMANCE_GROUP)")


def auto_workers(config: pytest.Config) -> int:
    """-n auto: one xdist worker per target (checks wait on hosts, not on local CPU), at least 1, at most 32."""
    try:
        inventory = from_config(config)
        specs = host_specs(config, inventory) or ["local://"]
    except Exception:  # noqa: BLE001 - the usage error is raised again, properly, in pytest_configure
        return max(1, os.cpu_count() or 1)
    return max(1, min(len(specs), 32))

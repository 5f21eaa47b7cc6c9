"""Fleet inventories without a lab: parsing, specs, per-host settings, groups, usage errors, xdist distribution."""
import textwrap

import pytest

from conformance import config as configs, inventory
from conformance.selftest import make_project, requirement

INVENTORY = """\
defaults:
  user: root
  key: /keys/id
  mirrors: http://mirror.example:5000
hosts:
  edge-1:
    address: 10.0.0.1
    groups: [edge]
    labels: {site: fra}
  edge-2:
    address: 10.0.0.2
    port: 2222
    profile: rhel
    call_timeout: 7
    check_timeout: 90
  core-1:
    spec: local://
    engine_url: tcp://127.0.0.1:2375
groups:
  edge: [edge-2]
  core: [core-1]
"""
EDGE_1 = "ssh://root@10.0.0.1?ssh_identity_file=/keys/id"
EDGE_2 = "ssh://root@10.0.0.2:2222?ssh_identity_file=/keys/id"


class NoOptions:
    """A pytest config stand-in with no option given."""

    def getoption(self, name, default=None):
        return None


def write(tmp_path, text, name="fleet.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_entries_specs_groups_labels(tmp_path):
    inv = inventory.load(write(tmp_path, INVENTORY))
    assert [(e.name, e.spec, e.groups) for e in inv.entries] == [
        ("edge-1", EDGE_1, ("edge",)), ("edge-2", EDGE_2, ("edge",)), ("core-1", "local://", ("core",))]
    assert inv.entries[0].facts() == {"inventory name": "edge-1", "groups": "edge", "labels": "site=fra"}
    assert [e.name for e in inv.select(["core"])] == ["core-1"]
    assert [e.name for e in inv.select(["all"])] == ["edge-1", "edge-2", "core-1"]
    with pytest.raises(pytest.UsageError, match="--group nope: no such group .*groups: core, edge"):
        inv.select(["nope"])


def test_per_host_settings_become_rules_for_exactly_that_host(tmp_path):
    inv = inventory.load(write(tmp_path, INVENTORY))
    settings = configs.load(NoOptions(), environ={}, inventory=inv)
    edge_2 = settings.for_target(EDGE_2, "ssh://10.0.0.2")
    assert (edge_2.profile, edge_2.call_timeout, edge_2.mirrors) == ("rhel", 7.0, ("http://mirror.example:5000",))
    assert edge_2.check_timeout == 90
    edge_1 = settings.for_target(EDGE_1, "ssh://10.0.0.1")
    assert (edge_1.profile, edge_1.call_timeout) == ("auto", 30.0)  # '?' in a spec is no wildcard
    assert settings.for_target("local://", "local").engine_url == "tcp://127.0.0.1:2375"


@pytest.mark.parametrize("text, line, words", [
    ("hosts:\n  a:\n    address: 10.0.0.1\n   port: 22\n", 4, "not valid YAML"),
    ("hosts:\n  a:\n    adress: 10.0.0.1\n", 3, "host 'a': unknown key 'adress'"),
    ("hosts:\n  a:\n    address: 10.0.0.1\n    port: x\n", 4, "port: expected a port number"),
    ("hosts:\n  a:\n    address: 10.0.0.1\n    profile: suse\n", 4, "profile: expected one of auto, rhel, debian"),
    ("hosts:\n  a:\n    address: 10.0.0.1\n  b:\n    address: 10.0.0.1\n", 4, "same target as 'a'"),
    ("hosts:\n  a: {}\n", 2, "needs an address"),
    ("targets: {}\n", 1, "expected a mapping with a 'hosts' mapping"),
    ("hosts:\n  a:\n    address: h\ngroups:\n  g: [b]\n", 4, "unknown host(s): b"),
])
def test_malformed_inventory_names_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(pytest.UsageError) as raised:
        inventory.load(path)
    assert f"inventory {path}:{line}: " in str(raised.value)
    assert words in str(raised.value)


CHECKS = """
    import pytest

    @pytest.mark.req("engine.info")
    def test_info(host, evidence):
        evidence.cmd(host, "true")
"""


@pytest.mark.parametrize("text, says", [
    ("hosts:\n  a:\n    address: 10.0.0.1\n    colour: blue\n", "4: host 'a': unknown key 'colour'"),
    ("hosts:\n  web:\n    address: -oProxyCommand=x\n", "3: host 'web': address: *would reach ssh as an option"),
], ids=["unknown-key", "address-as-option"])
def test_bad_inventory_is_exit_4(pytester, text, says):
    make_project(pytester, [requirement("engine.info")], CHECKS)
    path = pytester.path / "fleet.yml"
    path.write_text(text)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--inventory={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*inventory {path}:{says}*"])


def test_inventory_given_as_two_words_is_refused(pytester):
    make_project(pytester, [requirement("engine.info")], CHECKS)
    path = pytester.path / "fleet.yml"
    path.write_text("hosts:\n  a:\n    spec: local://\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--inventory", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*write --inventory={path} (with '=')*"])


def test_group_selects_hosts_and_loadgroup_puts_each_on_one_worker(pytester):
    make_project(pytester, [requirement("engine.info")], CHECKS + """
    @pytest.mark.req("engine.info")
    @pytest.mark.parametrize("n", range(4))
    def test_where(host, evidence, n, worker_id):
        evidence.note(worker_id)
    """)
    path = pytester.path / "fleet.yml"
    path.write_text("hosts:\n  here:\n    spec: local://\n    groups: [edge]\n"
                    "  away:\n    spec: ssh://root@127.0.0.1:1\n    groups: [core]\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--inventory={path}", "--group=edge",
                                           "-n", "2", "-v")
    assert result.ret == 0
    lines = [l for l in result.outlines if "PASSED" in l and "test_" in l]
    assert len(lines) == 5 and all("local" in l for l in lines)
    assert len({l.split("]")[0] for l in lines}) == 1, "every check of a target runs on one worker (loadgroup)"


def test_auto_workers_one_per_target(tmp_path, pytestconfig, monkeypatch):
    path = write(tmp_path, INVENTORY)
    monkeypatch.setattr(pytestconfig.option, "inventory", path, raising=False)
    monkeypatch.setattr(pytestconfig.option, "group", ["edge"], raising=False)
    monkeypatch.setattr(pytestconfig.option, "hosts", None)
    assert inventory.auto_workers(pytestconfig) == 2


def test_ansible_groups_become_one_target_per_host(tmp_path):
    pytest.importorskip("ansible", reason="ansible-core is not installed (the `ansible` extra)")
    hosts_ini = tmp_path / "hosts.ini"
    hosts_ini.write_text("[edge]\nh1 ansible_host=192.0.2.1\nh3\n[core]\nh2\n")
    assert inventory.ansible_hosts(str(hosts_ini), ["edge"]) == ["h1", "h3"]
    assert inventory.ansible_hosts(str(hosts_ini), ["core", "edge"]) == ["h2", "h1", "h3"]
    assert inventory.ansible_hosts(str(hosts_ini), ["all"]) == ["h1", "h2", "h3"]
    with pytest.raises(pytest.UsageError, match=r"no host in group\(s\) nope"):
        inventory.ansible_hosts(str(hosts_ini), ["nope"])


# Values that would reach ssh (or the spec's query) as something else than the value they are.
UNSAFE = [
    ("address: -oProxyCommand=touch${IFS}/tmp/pwned", "address", "would reach ssh as an option"),
    ("address: '10.0.0.1?ssh_config=/tmp/evil'", "address", "not a host name or IP address"),
    ("address: 'evil host'", "address", "not a host name or IP address"),
    ("user: -oProxyCommand=x", "user", "would reach ssh as an option"),
    ("user: 'root\\nHost *'", "user", "not a user name"),
    ("key: -oProxyCommand=x", "key", "would reach ssh as an option"),
    ("ssh_config: \"/etc/ssh/cfg\\nProxyCommand x\"", "ssh_config", "control character"),
    ("spec: ssh://-oProxyCommand=x", "spec", "would reach ssh as an option"),
    ("sudo: 'no please'", "sudo", "expected true or false"),
]


@pytest.mark.parametrize("value, key, words", UNSAFE, ids=[u[1] + "-" + u[2].split()[-1] for u in UNSAFE])
def test_unsafe_values_are_usage_errors_naming_file_line_and_host(tmp_path, value, key, words):
    text = "hosts:\n  web:\n" + ("    address: 10.0.0.1\n" if not value.startswith(("address", "spec")) else "") \
        + f"    {value}\n"
    path = write(tmp_path, text)
    with pytest.raises(pytest.UsageError) as raised:
        inventory.load(path)
    line = text.splitlines().index(f"    {value}") + 1
    assert f"inventory {path}:{line}: host 'web': {key}: " in str(raised.value), str(raised.value)
    assert words in str(raised.value), str(raised.value)


@pytest.mark.parametrize("path", ["/keys/a&sudo=true", "/keys/with space#1", "/keys/a+b%41?x=1"])
def test_key_and_ssh_config_paths_reach_testinfra_unchanged(tmp_path, path):
    import testinfra.backend
    inv = inventory.load(write(tmp_path, f"hosts:\n  web:\n    address: 10.0.0.1\n    key: '{path}'\n"
                                         f"    ssh_config: '{path}.cfg'\n"))
    host, options = testinfra.backend.parse_hostspec(inv.entries[0].spec)
    assert host == "10.0.0.1"
    assert options == {"connection": "ssh", "ssh_identity_file": path, "ssh_config": path + ".cfg"}


def test_a_host_spec_starting_with_a_dash_is_refused_on_the_command_line(pytester):
    make_project(pytester, [requirement("engine.info")], CHECKS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--hosts=ssh://-oProxyCommand=x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--hosts ssh://-oProxyCommand=x: host '-oProxyCommand=x' would reach ssh as an option*"])

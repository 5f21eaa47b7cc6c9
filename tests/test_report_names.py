"""Display names: one short, stable name per target in the terminal, report.html, evidence/ and JUnit (issue #15)."""
import json
import re

import jsonschema
import junitparser
import pytest

from conformance.report import SCHEMA_PATH, WIDTH
from conformance.targets import display_name, display_names, path_safe
from report_project import bundle, html_tests, readable, run_in

# spec -> display name (no inventory)
NAMES = [
    ("local://", "local"),
    ("ssh://root@172.17.0.2?ssh_identity_file=/var/lib/conformance-lab/keys/id_ed25519", "root@172.17.0.2"),
    ("ssh://root@10.0.0.2:2222?ssh_identity_file=/keys/id", "root@10.0.0.2:2222"),
    ("ssh://root@10.0.0.2:22", "root@10.0.0.2"),  # the default port is not shown
    ("paramiko://bob:hunter2@host", "bob@host"),  # never the password
    ("paramiko://bob:hun@ter2@host:2200", "bob@host:2200"),  # not even a raw '@' in it
    ("bob:hunter2@host", "bob@host"),  # no scheme: testinfra's paramiko
    ("ssh://b%40x@host", "b@x@host"),
    ("safe-ssh://[fe80::1]:2222", "[fe80::1]:2222"),
    ("ssh://web1", "web1"),
    ("ansible://web1", "web1"),
    ("docker://user@ct", "user@ct"),
]
LONG_NAME = "edge-site-frankfurt-rack-12-docker-host-number-0001.example"  # wider than the table's column
LONGER_NAME = "x" * 110  # wider than the terminal
HOSTS = ["local://", "ssh://root@nohost.invalid?ssh_identity_file=/var/lib/conformance-lab/keys/id_ed25519",
         "paramiko://root@nohost.invalid:22", "paramiko://bob:hunter2@nohost2.invalid:2222"]
INVENTORY = f"""\
hosts:
  {LONG_NAME}:
    address: nohost3.invalid
    user: root
  {LONGER_NAME}:
    address: nohost4.invalid
"""
EXPECTED = {  # results.json's hosts: spec -> name
    "local://": "local", HOSTS[1]: "root@nohost.invalid", HOSTS[2]: "root@nohost.invalid#2",
    "paramiko://bob:***@nohost2.invalid:2222": "bob@nohost2.invalid:2222",
    "ssh://root@nohost3.invalid": LONG_NAME, "ssh://nohost4.invalid": LONGER_NAME,
}


@pytest.mark.parametrize("spec, name", NAMES, ids=[s for s, _ in NAMES])
def test_display_name_is_user_at_host_and_port(spec, name):
    assert display_name(spec) == name


def test_display_names_prefer_the_inventory_and_are_unique_in_order():
    targets = [("ssh://root@h?sudo=true", None), ("ssh://root@h", None), ("paramiko://root@h:22", None),
               ("ssh://root@10.0.0.1", "edge-1"), ("ssh://x@h_2", None), ("local://", "root@h")]
    names = display_names(targets)
    assert names == {"ssh://root@h?sudo=true": "root@h", "ssh://root@h": "root@h#2", "paramiko://root@h:22": "root@h#3",
                     "ssh://root@10.0.0.1": "edge-1", "ssh://x@h_2": "x@h_2", "local://": "root@h#4"}
    assert display_names(targets) == names  # stable: the same run, the same names (also in every xdist worker)
    assert len({path_safe(n) for n in names.values()}) == len(names)  # unique as folder names too
    assert path_safe("root@[fe80::1]:2222") == "root@_fe80_1_2222" and path_safe("..") == "_."


def summary_section(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(n for n, line in enumerate(lines) if "conformance summary" in line)
    end = next(n for n, line in enumerate(lines) if n > start and line.startswith("exit status"))
    while end + 1 < len(lines) and lines[end + 1].startswith("  "):
        end += 1
    return lines[start:end + 1]


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["alone", "xdist"])
def test_every_report_names_targets_by_display_name(tmp_path, xdist):
    (tmp_path / "fleet.yml").write_text(INVENTORY)
    proc = run_in(tmp_path, f"--hosts={','.join(HOSTS)}", f"--inventory={tmp_path / 'fleet.yml'}", *xdist)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    run_dir = bundle(tmp_path)
    data = json.loads((run_dir / "results.json").read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(data)
    assert {spec: host["name"] for spec, host in data["hosts"].items()} == EXPECTED
    names = list(EXPECTED.values())

    # The terminal: the summary fits WIDTH columns (a line naming the run folder is as long as its path).
    summary = summary_section(proc.stdout)
    wide = [line for line in summary if len(line) > WIDTH and str(run_dir) not in line]
    assert not wide, "\n".join(wide)
    assert [line.split()[0] for line in summary if re.search(r"\s1\.1\s", line) and not line.startswith(" ")] == names[:4]
    assert f"{LONG_NAME}\n{' ' * 20}" in proc.stdout  # too wide for the column: a line of its own
    assert LONGER_NAME[:WIDTH - 1] + "…" in summary
    assert "SHOULD engine.start-latency on root@nohost.invalid#2: run a command:" in " ".join(proc.stdout.split())
    for name in names:
        assert f"conformance: run.leak-audit on {name}: " in proc.stdout  # also the controller's names under xdist
    assert "hunter2" not in out

    # Evidence files by name, file-system safe; JUnit's host property; report.html's tables.
    assert {p.name for p in (run_dir / "evidence").iterdir()} == {path_safe(n) for n in names}
    assert (run_dir / "evidence" / "bob@nohost2.invalid_2222" / "service.running.txt").read_text().count(
        "host:        bob@nohost2.invalid:2222 (paramiko://bob:***@nohost2.invalid:2222)") == 1
    xml = junitparser.JUnitXml.fromfile(str(run_dir / "junit.xml"))
    hosts = {p.value for suite in xml for case in suite for props in case.iterchildren(junitparser.Properties)
             for p in props if p.name == "host"}
    assert hosts == set(names)
    page = (run_dir / "report.html").read_text()
    assert re.findall(r'<th class="host">(.*?)</th>', page) == names
    assert re.findall(r'<tr><td class="host">(.*?)</td>', page) == names
    assert {row["host"] for row in html_tests(run_dir)} == set(names)
    for path in run_dir.rglob("*"):
        assert "hunter2" not in path.name and (path.is_dir() or "hunter2" not in readable(path)), path


def test_a_long_name_is_cut_only_where_it_would_pass_the_terminal_width():
    """The summary table alone, on a fake terminal: columns stay put whatever the names' lengths."""
    from conformance.report import Results, summary, utc_now

    class Terminal:
        def __init__(self):
            self.lines = []

        def section(self, title):
            self.lines.append(f"== {title} ==")

        def write_line(self, line, **markup):
            self.lines.append(line)

    results = Results("r1", utc_now())
    entry = {"status": "passed", "level": "MUST", "section": "1.2", "message": ""}
    for spec, name in [("a://1", "a" * 32), ("a://2", "b" * 33), ("a://3", "c" * 140)]:
        results.host(spec, name)["requirements"]["x.y"] = dict(entry)
    terminal = Terminal()
    summary(terminal, results, None, False, 0)
    assert max(map(len, terminal.lines)) <= WIDTH, "\n".join(terminal.lines)
    table = terminal.lines[1:]
    assert table[1].startswith("a" * 32 + "  1.2")  # fits the column
    assert table[3] == "b" * 33 and table[4].startswith(" " * 32 + "  1.2")  # a line of its own
    assert table[6] == "c" * (WIDTH - 1) + "…"

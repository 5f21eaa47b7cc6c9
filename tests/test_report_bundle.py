"""The audit bundle of one run on two hosts: files, manifest, results.json schema, JUnit properties, evidence everywhere."""
import html
import json
import re
import subprocess

import jsonschema
import junitparser
import pytest

from conformance import bundle
from conformance.report import SCHEMA_PATH
from report_project import IDS, UNREACHABLE, bundle as bundle_of, html_tests, run_in

HOSTS = ["local://", UNREACHABLE]
NAMES = {"local://": "local", UNREACHABLE: "root@nohost.invalid"}  # display names
EXPECTED = {  # FAIL=service on local://; the unreachable host errors everywhere
    "local://": {"engine.start-latency": "passed", "service.running": "failed", "engine.info": "blocked",
                 "install.repo": "not-applicable", "image.rootfs": "passed"},
    UNREACHABLE: dict.fromkeys(IDS, "error"),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle")
    proc = run_in(root, f"--hosts={','.join(HOSTS)}", fail="service")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return bundle_of(root), proc


def verify(folder) -> subprocess.CompletedProcess:
    return subprocess.run(["conformance-lab", "verify-report", str(folder)], capture_output=True, text=True, timeout=60)


def test_bundle_holds_reports_evidence_and_manifest(run):
    run_dir, _ = run
    names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    evidence = {bundle.evidence_path(NAMES[h], i) for h in HOSTS for i in IDS}
    assert names == {"report.html", "results.json", "junit.xml", bundle.MANIFEST} | evidence
    # sha256sum format: the coreutils tool itself accepts it
    check = subprocess.run(["sha256sum", "--check", "--strict", bundle.MANIFEST], cwd=run_dir, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert len((run_dir / bundle.MANIFEST).read_text().splitlines()) == len(names) - 1
    text = (run_dir / bundle.evidence_path("local", "engine.info")).read_text()
    assert "status:      blocked" in text and "blocked by service.running" in text
    assert "host:        local (local://)" in text


def test_verify_report_detects_changed_missing_and_extra_files(run, tmp_path):
    run_dir, _ = run
    ok = verify(run_dir)
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stdout + ok.stderr
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(run_dir), str(copy)], check=True)
    results = copy / "results.json"
    results.write_text(results.read_text().replace('"failed"', '"passed"'))  # an edited verdict
    (copy / bundle.evidence_path("local", "service.running")).unlink()
    (copy / "notes.txt").write_text("added later\n")
    bad = verify(copy)
    assert bad.returncode == 1
    assert set(bad.stdout.splitlines()) == {
        f"verify-report: {copy}: changed: results.json",
        f"verify-report: {copy}: missing: {bundle.evidence_path('local', 'service.running')}",
        f"verify-report: {copy}: extra: notes.txt"}


def test_results_json_follows_the_schema_with_evidence_everywhere(run):
    run_dir, proc = run
    data = json.loads((run_dir / "results.json").read_text())
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(data)
    assert data["schema"] == 1 and data["exit_status"]["code"] == proc.returncode == 1
    assert data["started"] <= data["finished"] and data["tools"]["pytest"] == pytest.__version__
    assert {h: {i: e["status"] for i, e in v["requirements"].items()} for h, v in data["hosts"].items()} == EXPECTED
    assert {h: v["name"] for h, v in data["hosts"].items()} == NAMES
    local = data["hosts"]["local://"]
    assert local["verdict"] == "does not conform" and data["hosts"][UNREACHABLE]["verdict"] == "could not be checked"
    rootfs = local["requirements"]["image.rootfs"]
    assert (rootfs["section"], rootfs["claim"], rootfs["description"]) == (
        "1.3", "claim of image.rootfs", "description of image.rootfs")  # the catalogue's, not the docstring
    assert len(rootfs["checks"]) == 2
    for host in data["hosts"].values():
        for req_id, entry in host["requirements"].items():
            assert entry["evidence"] and all(any(v for k, v in e.items() if k != "kind") for e in entry["evidence"]), req_id
    assert "blocked by service.running" in local["requirements"]["engine.info"]["evidence"][-1]["text"]


def test_junit_carries_requirement_level_section_and_host(run):
    run_dir, _ = run
    xml = junitparser.JUnitXml.fromfile(str(run_dir / "junit.xml"))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == 2 * 6  # five ids, image.rootfs twice, on two hosts
    seen = set()
    for case in cases:
        props = {p.name: p.value for props in case.iterchildren(junitparser.Properties) for p in props}
        assert {"requirement", "level", "section", "host"} <= props.keys(), case.name
        seen.add((props["host"], props["requirement"], props["level"], props["section"]))
    assert ("local", "engine.start-latency", "SHOULD", "1.1") in seen
    assert ("root@nohost.invalid", "image.rootfs", "MUST", "1.3") in seen
    assert {(h, i) for h, i, _, _ in seen} == {(NAMES[h], i) for h in HOSTS for i in IDS}


def test_every_html_row_shows_its_evidence(run):
    run_dir, _ = run
    rows = html_tests(run_dir)
    assert len(rows) == 12
    for row in rows:
        blocks = [e["content"] for e in row["extras"] if e["format_type"] == "html"]
        assert any('class="conformance-evidence"' in b and "<pre></pre>" not in b for b in blocks), row["testId"]
        assert row["status"] and row["requirement"] and row["section"] and row["claim"] and row["host"]
    blocked = next(r for r in rows if r["requirement"] == "engine.info" and r["host"] == "local")
    assert blocked["testId"].endswith("::setup") and blocked["status"] == "blocked"


def test_blocked_not_applicable_and_error_rows_show_their_reason_once_as_plain_text(run):
    """The row's Reason block holds the reason, escaped; its log repeats nothing of it (no pytest skip tuple
    ('/.../plugin/checks.py', 41, 'Skipped: ...'), no chained copy of an error)."""
    run_dir, _ = run
    data = json.loads((run_dir / "results.json").read_text())
    rows = [r for r in html_tests(run_dir) if r["status"] in ("blocked", "not-applicable", "error")]
    assert {r["status"] for r in rows} == {"blocked", "not-applicable", "error"}
    for row in rows:
        spec = next(h for h, name in NAMES.items() if name == row["host"])
        reason = data["hosts"][spec]["requirements"][row["requirement"]]["message"]
        blocks = [e["content"] for e in row["extras"] if e["format_type"] == "html"]
        assert f"<pre>{html.escape(reason)}</pre>" in blocks[-1], (row["testId"], blocks)
        shown = html.unescape(row["log"] + "".join(blocks))
        assert shown.count(reason) == 1, (row["testId"], shown)
        assert "Skipped:" not in shown and "conformance/plugin/" not in shown and "During handling" not in shown, shown


def test_html_summary_and_fleet_grid(run):
    run_dir, _ = run
    page = (run_dir / "report.html").read_text()
    assert 'id="conformance-verdict"' in page and "exit status 1" in page
    assert page.count('<td class="cell ') == len(HOSTS) * len(IDS)
    assert "Target root@nohost.invalid" in page and "Target local" in page  # host facts in the environment
    heads = re.findall(r'<th class="host">(.*?)</th>', page)
    assert heads == [NAMES[h] for h in HOSTS], heads  # the grid's columns, by display name
    assert re.findall(r'<tr><td class="host">(.*?)</td>', page) == heads  # the verdict table's rows


def test_terminal_summary_per_host_and_section(run):
    _, proc = run
    lines = proc.stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if "conformance summary" in line)
    table = lines[start + 1:start + 10]
    assert table[0].split() == ["target", "section", "passed", "failed", "blocked", "n/a", "error", "verdict"]
    assert table[1].split() == ["local", "1.1", "1", "0", "0", "0", "0"]
    assert table[2].split() == ["1.2", "0", "1", "1", "1", "0"]
    assert table[4].split() == ["all", "2", "1", "1", "1", "0", "does", "not", "conform"]
    assert table[5].split()[:2] == ["root@nohost.invalid", "1.1"] and table[8].endswith("could not be checked")
    assert any(line.startswith("reports: ") for line in lines)
    assert any(line.startswith("  report.html") and "MANIFEST.sha256" in line and line.endswith("exit status 1")
               for line in lines)

"""Outcomes (passed, failed, blocked, not-applicable, error), exit codes and the reports."""
import html
import os
import re
from xml.etree import ElementTree

import jsonschema
import junitparser
import pytest

from conformance.selftest import make_project, requirement, results, statuses
from report_project import html_tests

CATALOGUE = [
    requirement("service.running"),
    requirement("engine.info", depends=["service.running"]),
    requirement("engine.version", depends=["engine.info"]),
    requirement("install.repo", profile="rhel"),
    requirement("install.prerequisites", profile="debian"),
    requirement("engine.start-latency", level="SHOULD"),
]
CHECKS = """
    import os
    import pytest
    from conformance.outcomes import expect, not_applicable

    FAIL = set(os.environ.get("FAIL", "").split(","))

    @pytest.mark.req("service.running")
    def test_service(evidence):
        '''The service is active.'''
        evidence.note("systemctl is-active docker: active")
        expect("service" not in FAIL, "active", "inactive")

    @pytest.mark.req("engine.info")
    def test_info(evidence):
        evidence.api("GET /info", Driver="overlay2")

    @pytest.mark.req("engine.version")
    def test_version(evidence):
        evidence.api("GET /version", ApiVersion="1.41")

    @pytest.mark.req("install.repo")
    def test_repo(evidence):
        evidence.note("repo file present")

    @pytest.mark.req("install.prerequisites")
    def test_prerequisites(evidence):
        if "self-na" in FAIL:
            not_applicable("the profile installs docker.io (set --profile rhel to check)")
        evidence.note("lvm2 installed")

    @pytest.mark.req("engine.start-latency")
    def test_latency(evidence):
        evidence.note("started in 900 ms")
        assert "latency" not in FAIL, "900 ms is above the budget"
"""
SCHEMA = {
    "type": "object", "required": ["schema", "run_id", "started", "hosts"],
    "properties": {
        "schema": {"const": 1}, "run_id": {"type": "string", "pattern": "^[0-9a-f]{8}$"},
        "started": {"type": "string"},
        "hosts": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["facts", "requirements"],
            "properties": {
                "facts": {"type": "object"},
                "requirements": {"type": "object", "additionalProperties": {
                    "type": "object", "required": ["status", "level", "section", "message", "evidence"],
                    "properties": {"status": {"enum": ["passed", "failed", "blocked", "not-applicable", "error"]},
                                   "level": {"enum": ["MUST", "SHOULD"]}, "evidence": {"type": "array"}}}}}}},
    },
}


def run(pytester, *args, fail=""):
    pytester._monkeypatch.setenv("FAIL", fail)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--profile=debian", *args)


def test_all_pass_exits_0_with_reports(pytester):
    root = make_project(pytester, CATALOGUE, CHECKS)
    result = run(pytester)
    assert result.ret == 0
    assert statuses(root) == {"service.running": "passed", "engine.info": "passed", "engine.version": "passed",
                              "install.repo": "not-applicable", "install.prerequisites": "passed",
                              "engine.start-latency": "passed"}
    data = results(root)
    jsonschema.validate(data, SCHEMA)
    entry = data["hosts"]["local://"]["requirements"]["install.repo"]
    assert entry["message"] == "not applicable: profile rhel (local is debian: set by --profile)"
    assert data["hosts"]["local://"]["facts"]["OS"]
    latest = root / "reports" / "latest"
    assert latest.is_symlink() and {"report.html", "junit.xml", "results.json"} <= {p.name for p in latest.iterdir()}
    result.stdout.fnmatch_lines(["*conformance summary*", "local  *5 *0 *0 *1 *0", "reports: *",
                                 "  report.html*exit status 0"])


def test_failed_dependency_blocks_without_cascade(pytester):
    root = make_project(pytester, CATALOGUE, CHECKS)
    result = run(pytester, fail="service")
    assert result.ret == 1
    assert statuses(root)["engine.info"] == "blocked" and statuses(root)["engine.version"] == "blocked"
    info = results(root)["hosts"]["local://"]["requirements"]["engine.info"]
    assert info["message"] == "blocked by service.running: requirement service.running: expected active; found inactive"
    result.assert_outcomes(passed=2, failed=1, skipped=3)


def test_should_failure_warns_unless_strict(pytester):
    root = make_project(pytester, CATALOGUE, CHECKS)
    result = run(pytester, fail="latency")
    assert result.ret == 0
    assert statuses(root)["engine.start-latency"] == "failed"
    result.stdout.fnmatch_lines(["SHOULD engine.start-latency on local: 900 ms is above the budget*[[]warning[]]"])
    assert run(pytester, "--strict-should", fail="latency").ret == 1


def test_check_may_declare_itself_not_applicable(pytester):
    root = make_project(pytester, CATALOGUE, CHECKS)
    assert run(pytester, fail="self-na").ret == 0
    assert results(root)["hosts"]["local://"]["requirements"]["install.prerequisites"]["message"].startswith(
        "not applicable: the profile installs docker.io")


def test_check_without_evidence_is_a_plugin_error(pytester):
    root = make_project(pytester, CATALOGUE, CHECKS.replace('evidence.api("GET /version", ApiVersion="1.41")',
                                                            "pass"))
    result = run(pytester)
    assert result.ret == 1
    assert statuses(root)["engine.version"] == "error"
    result.stdout.fnmatch_lines(["*plugin error: requirement engine.version on local recorded no evidence*"])


def test_fixture_error_is_error_not_failure(pytester):
    checks = CHECKS + """
    @pytest.fixture
    def broken():
        raise RuntimeError("probe could not start")
    """
    root = make_project(pytester, CATALOGUE, checks.replace("def test_info(evidence)", "def test_info(evidence, broken)"))
    result = run(pytester)
    assert result.ret == 1
    assert statuses(root)["engine.info"] == "error" and statuses(root)["engine.version"] == "blocked"


@pytest.mark.parametrize("raised", ["conformance.outcomes.TargetError", "conformance.engine.StreamBroken"])
def test_a_target_error_ends_the_check_as_an_error_showing_its_message_alone(pytester, raised):
    module, _, name = raised.rpartition(".")
    checks = CHECKS.replace('evidence.api("GET /version", ApiVersion="1.41")',
                            f'import {module}; raise {raised}("local: pull nginx:latest: connection broke")')
    root = make_project(pytester, CATALOGUE, checks)
    assert run(pytester).ret == 1
    entry = results(root)["hosts"]["local://"]["requirements"]["engine.version"]
    assert (entry["status"], entry["message"]) == ("error", "local: pull nginx:latest: connection broke"), entry


def test_nothing_selected_exits_4(pytester):
    make_project(pytester, CATALOGUE, CHECKS)
    assert run(pytester, "-k", "nothing_matches_this").ret == pytest.ExitCode.USAGE_ERROR


def test_junit_properties(pytester):
    root = make_project(pytester, CATALOGUE, CHECKS)
    run(pytester)
    xml = junitparser.JUnitXml.fromfile(str(root / "reports" / "latest" / "junit.xml"))
    cases = {case.name: {p.name: p.value for props in case.iterchildren(junitparser.Properties) for p in props}
             for suite in xml for case in suite}
    props = cases["test_service[local]"]
    assert {k: props[k] for k in ("requirement", "level", "section", "host")} == {
        "requirement": "service.running", "level": "MUST", "section": "1.2", "host": "local"}
    assert "systemctl is-active docker: active" in props["evidence"]


def test_junit_is_xunit1_without_an_ini_that_says_so(pytester):
    """The scratch project's pyproject sets no junit_family (as an installed package run from any folder)."""
    root = make_project(pytester, CATALOGUE, CHECKS)
    assert "junit_family" not in (root / "pyproject.toml").read_text()
    run(pytester)
    tree = ElementTree.parse(root / "reports" / "latest" / "junit.xml")
    case = next(case for case in tree.iter("testcase") if case.get("name") == "test_service[local]")
    assert (case.get("file"), case.get("line") is not None) == ("suites/test_checks.py", True)


def test_html_report_has_columns_and_evidence(pytester):
    root = make_project(pytester, CATALOGUE, CHECKS)
    run(pytester)
    page = (root / "reports" / "latest" / "report.html").read_text()
    for column in ("Requirement", "Level", "Section", "Description"):
        assert f">{column}</th>" in page
    assert "col-requirement" in page and "description of service.running" in page  # the catalogue's
    assert "evidence" in page and "Target local" in page


def test_html_rows_are_the_calls_and_the_phases_that_did_not_pass_with_teardown_logs_on_the_call(pytester):
    """pytest-html drops a passed setup's and teardown's row (html_report.dropped empties them before it builds them)
    but adds a teardown's captured log to its call's row: that log stays."""
    checks = CHECKS.replace('@pytest.mark.req("engine.info")\n    def test_info(evidence):', """@pytest.fixture
    def noisy():
        yield
        import logging
        logging.getLogger("probe").warning("said at teardown")

    @pytest.fixture
    def broken():
        raise RuntimeError("fixture broke")

    @pytest.mark.req("engine.info")
    def test_info(evidence, noisy):""").replace("def test_version(evidence):", "def test_version(evidence, broken):")
    root = make_project(pytester, CATALOGUE, checks)
    run(pytester)
    rows = html_tests(next((root / "reports").glob("2*")))
    ids = sorted(html.unescape(re.search(r'col-testId">(.*?)</td>', "".join(row["resultsTableRow"])).group(1))
                 for row in rows)
    assert ids == ["suites/test_checks.py::test_info[local]", "suites/test_checks.py::test_latency[local]",
                   "suites/test_checks.py::test_prerequisites[local]", "suites/test_checks.py::test_repo[local]::setup",
                   "suites/test_checks.py::test_service[local]", "suites/test_checks.py::test_version[local]::setup"]
    info = next(row for row in rows if "test_info[local]</td>" in "".join(row["resultsTableRow"]))
    assert "said at teardown" in info["log"]


def test_checks_run_in_catalogue_order(pytester):
    make_project(pytester, CATALOGUE, CHECKS)
    result = run(pytester, "-v")
    order = [line.split("::")[1].split("[")[0] for line in result.outlines if "PASSED" in line or "SKIPPED" in line]
    assert order == ["test_service", "test_info", "test_version", "test_repo", "test_prerequisites", "test_latency"]


def test_xdist_workers_share_run_id_and_reports_aggregate(pytester):
    root = make_project(pytester, CATALOGUE, CHECKS)
    result = run(pytester, "-n", "2", "--dist", "loadgroup", fail="service")
    assert result.ret == 1
    assert statuses(root)["engine.info"] == "blocked"
    assert results(root)["hosts"]["local://"]["facts"]["kernel"]
    assert results(root)["hosts"]["local://"]["facts"]["observer"].startswith(f"uid={os.getuid()}(")

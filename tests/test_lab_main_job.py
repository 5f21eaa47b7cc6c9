"""The main job's exit status (conformance.lab.main_job.judged): the lab hosts' verdicts decide; on local://, this
machine, what the suite cannot tell (error) is reported but does not fail the first command, a failed MUST does."""
import pytest

from conformance import report
from conformance.lab import main_job

LAB = "ssh://root@172.17.0.3"
SAYS = "local://: docker.service is-enabled=enabled, but systemd is not PID 1 (PID 1 is /process_api)"


def entry(status: str, message: str = "") -> dict:
    return {"status": status, "level": "MUST", "message": message}


def results(local: dict, lab: str = "passed", leak: str = "passed") -> dict:
    """results.json as the plugin writes it (verdict from report.host_verdict) for local:// and one lab host."""
    hosts = {}
    lab_host = {"service.running": entry(lab)}
    for spec, name, entries in ((main_job.LOCAL, "local", local), (LAB, "root@172.17.0.3", lab_host)):
        hosts[spec] = {"name": name, "requirements": entries, "verdict": report.host_verdict(entries, False),
                       "run_checks": {"run.leak-audit": {"status": leak, "message": ""}}}
    return {"strict_should": False, "hosts": hosts}


ERRED = {"service.running": entry("passed"), "service.enabled": entry("error", SAYS)}


def test_an_error_on_local_is_reported_and_does_not_fail_the_main_job():
    code, line = main_job.judged(1, results(ERRED))
    assert code == 0, line
    assert line.startswith("main job: exit 0 (the suite: 1): the lab hosts conform; local:// (this machine) does not "
                           "conform; ")
    assert f"the suite cannot tell there service.enabled (error: {SAYS})" in line
    assert "a failed MUST there would" in line


def test_a_check_blocked_by_that_error_is_set_aside_too():
    local = {**ERRED, "engine.info": entry("blocked", "blocked by service.enabled: error")}
    code, line = main_job.judged(1, results(local))
    assert code == 0 and "engine.info (blocked: blocked by service.enabled: error)" in line, line


@pytest.mark.parametrize("why, run", [
    ("a failed MUST on local://", results({**ERRED, "install.package": entry("failed")})),
    ("a MUST blocked on local:// by a failure", results({
        **ERRED, "service.running": entry("failed"),
        "engine.info": entry("blocked", "blocked by service.running: x")})),
    ("a lab host that does not conform", results(ERRED, lab="failed")),
    ("a lab host the suite could not check", results(ERRED, lab="error")),
    ("local:// checked not at all", results({"service.running": entry("error"), "service.enabled": entry("error")})),
    ("a leak", results(ERRED, leak="failed")),
])
def test_what_still_fails_the_main_job(why, run):
    code, line = main_job.judged(1, run)
    assert code == 1 and line.startswith("main job: exit 1: "), (why, line)


def test_a_failed_must_on_local_is_named():
    assert "local:// (this machine) does not conform: install.package failed" in main_job.judged(
        1, results({**ERRED, "install.package": entry("failed")}))[1]


@pytest.mark.parametrize("code", [0, 2, 3, 4])
def test_other_exit_statuses_are_the_suites(code):
    assert main_job.judged(code, results(ERRED))[0] == code
    assert main_job.judged(code, None) == (code, f"main job: exit {code}, the suite's: {report.EXIT_MEANINGS[code]}")


def test_without_results_of_this_run_the_suites_status_stands():
    assert main_job.judged(1, None)[0] == 1

"""Per check: blocked and not-applicable before any fixture runs, the watchdog, each phase's report (evidence,
the outcome's type, the target's facts) and the outcomes recorded as the reports arrive."""
from __future__ import annotations

import html

import pytest

from conformance import bundle, html_report, outcomes, report as reports, watchdog
from conformance.evidence import redact
from conformance.outcomes import TargetError
from conformance.plugin.state import (AUDITS, CALL_REPORT, CHECK, EVIDENCE, LINT, RUN, Check, Run, from_worker,
                                      target_of)


@pytest.hookimpl(optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings) -> bool | None:
    """A check's watchdog ends it as an error that names it (conformance/watchdog.py); others are pytest-timeout's."""
    check = item.stash.get(CHECK, None) if isinstance(item, pytest.Item) else None
    return None if check is None else watchdog.set_timer(item, settings, check.name)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Blocked and not-applicable checks end here, before any fixture runs."""
    check = item.stash.get(CHECK, None)
    outcomes.set_current_requirement(check.requirement.id if check else None)
    if check is None:
        return
    run = item.config.stash[RUN]
    target = target_of(item)
    or_error(target.reachable)  # cached: an unreachable target makes every check an error, never blocked
    or_error(target.units)  # the service state, read once before anything connects to the engine (it may start it)
    for dependency in check.requirement.depends:
        recorded = run.outcomes.get(check.target, dependency)
        if recorded and recorded[0] in outcomes.BLOCKING:
            outcomes.blocked(dependency, recorded[1])
    if check.requirement.profile != "any":
        profile, how = or_error(lambda: (target.profile, target.profile_reason))
        if profile != check.requirement.profile:
            outcomes.not_applicable(f"profile {check.requirement.profile} ({target.name} is {profile}: {how})")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    check = item.stash.get(CHECK, None)
    if check is None:
        return report
    if report.skipped:
        report.conformance_outcome = outcomes.ended(call.excinfo)  # blocked or not applicable, by its type
    requirement = check.requirement
    data = {"target": check.target, "name": check.name, "requirement": requirement.id, "level": requirement.level,
            "section": requirement.section, "claim": requirement.claim, "description": requirement.description}
    if requirement.by_construction:
        data["by_construction"] = requirement.by_construction
    evidence = item.stash.get(EVIDENCE, None)
    if report.when == "call":
        item.stash[CALL_REPORT] = report
        if call.excinfo is not None and (call.excinfo.errisinstance(TargetError) or watchdog.TIMED_OUT in item.stash):
            report.conformance_outcome = outcomes.ENDED_BY_ERROR  # the suite could not complete the check
        if evidence:
            data["evidence"] = evidence.items
            text = evidence.text()
            if requirement.by_construction:
                text = f"by construction: {requirement.by_construction}\n\n{text}"
            report.extras = [*getattr(report, "extras", []), *_html_evidence("Evidence", text, check)]
            item.user_properties.append(("evidence", text))  # JUnit: the teardown report carries it
    if report.when == "teardown":
        call_report = item.stash.get(CALL_REPORT, None)
        # A check that could not reach its target (TargetError) has nothing to show: that is not a plugin error.
        if (call_report is not None and call_report.outcome in ("passed", "failed") and not evidence and report.passed
                and getattr(call_report, "conformance_outcome", None) != outcomes.ENDED_BY_ERROR):
            report.outcome = "failed"
            report.longrepr = (f"plugin error: requirement {requirement.id} on {check.name} recorded no evidence; "
                               "record what the check ran or read (evidence.cmd/api/http/note)")
        data["facts"] = _facts(item)
    if report.skipped or (report.failed and report.when != "call"):
        title = f"Reason ({outcomes.classify([report])[0]}, {report.when})"
        link = check if report.when == "setup" else None  # no call row: this row links the evidence file
        report.extras = [*getattr(report, "extras", []), *_html_evidence(title, redact(outcomes.reason(report)), link)]
    reports.mask_report(report)
    report.conformance = data
    return report


def or_error(call):
    """call(); a TargetError ends the check as an error showing its message once (raised outside the except
    block, so pytest adds no 'During handling of the above exception' copy)."""
    try:
        return call()
    except TargetError as e:
        message = str(e)
    pytest.fail(message, pytrace=False)


def _facts(item: pytest.Item) -> dict:
    try:
        return target_of(item).facts()
    except TargetError as e:
        return {"error": str(e)}


def _html_evidence(title: str, text: str, check: Check | None) -> list:
    """The evidence readable in the row, and a link to its file in the run folder's evidence/."""
    try:
        from pytest_html import extras
    except ImportError:
        return []
    found = [extras.html(html_report.evidence_extra(title, text))]
    if check is not None:  # pytest-html writes a link's href as given, unescaped
        found.append(extras.url(html.escape(bundle.evidence_path(check.name, check.requirement.id)),
                                name="evidence file"))
    return found


class Recorder:
    """Registered per config: the report hook needs the run, and pytest passes it no config."""

    def __init__(self, run: Run):
        self.run = run

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodeready(self, node) -> None:
        """xdist controller: a worker to pass a SIGTERM on to (see interrupts.Ending)."""
        self.run.ending.workers[node.gateway.id] = node

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """xdist controller: take a worker's collection-lint failure (see pytest_collection_modifyitems)."""
        lint = from_worker(node, LINT)
        if lint:
            self.run.lint_error = lint
        self.run.audits.update(from_worker(node, AUDITS) or {})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record outcomes (for blocked decisions in this process) and aggregate results."""
        finished = self.run.results.add(report)
        if finished:
            target, req_id, status, message = finished
            self.run.outcomes.record(target, req_id, status, message)

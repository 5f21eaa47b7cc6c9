"""End of run: targets closed and audited, worker findings taken, results.json, evidence/ and the manifest written,
the terminal summary, and the exit status (exit_status: the one place that decides it)."""
from __future__ import annotations

import sys

import pytest

from conformance import audit as audits, bundle, interrupts, outcomes, report as reports
from conformance.plugin import report_html
from conformance.plugin.state import AUDITS, RUN, Run, from_worker, is_worker, to_controller


@pytest.hookimpl(tryfirst=True)  # targets cleaned up and facts in the environment table before reports are written
def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN, None)
    if run is None:
        return
    outcomes.set_current_requirement(None)
    with interrupts.Shielded():
        closed = run.targets.close()
        if not is_worker(session.config) and interrupts.await_workers(run, session):
            for node in run.ending.workers.values():
                run.audits.update(from_worker(node, AUDITS) or {})
    names = {spec: run.targets.name_of(spec) for spec in closed}
    run.cleanup_problems += [f"{names[spec]}: {p.removeprefix(names[spec] + ': ')}"
                             for spec, problems in closed.items() for p in problems]
    run.audits.update({t.id: t.audit.as_json() for t in run.targets.all()})
    if is_worker(session.config):
        to_controller(session.config, AUDITS, run.audits)
        return
    for spec, audit in run.audits.items():
        # A run-level check, not a catalogue requirement: kept out of "requirements" (counts, lint, matrix).
        run.results.host(spec, run.targets.name_of(spec)).setdefault("run_checks", {})[audits.CHECK_ID] = audit
    # Targets in run order in every table, whichever xdist worker reported first.
    run.results.hosts = dict(sorted(run.results.hosts.items(), key=lambda item: run.targets.order(item[0])))
    if run.run_dir is None:
        return
    report_html.environment(session.config, {
        "Run id": run.run_id, "Targets": ", ".join(run.targets.specs),
        **{f"Target {h['name']}": {"spec": t, **h["facts"]} for t, h in run.results.hosts.items()}})


def exit_status(run: Run, session: pytest.Session) -> int:
    """The run's exit status, decided here and nowhere else, and given to the session (pytest exits with it).

    From the outcomes (report.exit_status, over pytest's own status); a collection-lint failure is a usage error;
    a pass becomes 1 when a target was not left as it was found (leak audit) or a report could not be written
    (a gate must not pass on a missing report). Called again when such a problem comes later (a report writer,
    the manifest); pytest's own status is the one of the first call.
    """
    if run.pytest_status is None:
        run.pytest_status = session.exitstatus
    status = reports.exit_status(run.results, run.settings.strict, run.pytest_status)
    if run.lint_error:
        status = pytest.ExitCode.USAGE_ERROR
    elif status == pytest.ExitCode.OK and (run.report_problems or any(
            a["status"] in ("failed", "error") for a in run.audits.values())):
        status = pytest.ExitCode.TESTS_FAILED
    run.exit_status = session.exitstatus = status
    return status


@pytest.hookimpl(wrapper=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_report_errors(session: pytest.Session):
    """A report writer (junitxml, pytest-html) failing on a full or read-only disk ends as one message, not a traceback."""
    try:
        return (yield)
    except OSError as e:
        run = session.config.stash.get(RUN, None)
        if run is None or is_worker(session.config):
            raise
        _report_problem(run, f"a report in {run.run_dir}", e)
        if run.exit_status is None:  # the writer's error skipped the hook below (results.json not written yet)
            pytest_sessionfinish_exit_status(session)
        else:  # pytest-html writes after that hook
            exit_status(run, session)
        return None


@pytest.hookimpl(trylast=True, specname="pytest_sessionfinish")  # after pytest-html and junitxml have written
def pytest_sessionfinish_exit_status(session: pytest.Session) -> None:
    """Replace pytest's exit status by the run's (exit_status), and write results.json and evidence/ with it."""
    run = session.config.stash.get(RUN, None)
    if run is None or is_worker(session.config):
        return
    exit_status(run, session)
    run.session = session
    if run.run_dir is not None:
        _write_results(run)
    if run.report_problems:  # results.json or evidence/ could not be written
        exit_status(run, session)
    if run.run_dir is not None and run.run_dir.exists():
        try:
            reports.update_latest(run.run_dir)
        except OSError as e:
            _report_problem(run, "the latest link", e)


def _report_problem(run: Run, what: str, error: OSError) -> None:
    run.report_problems.append(f"could not write {what}: {error.strerror or error}"
                               + (f" ({error.filename})" if error.filename else ""))


def _write_results(run: Run) -> None:
    """results.json and evidence/ (pytest-html and junitxml write their own files after this)."""
    run.results.finished = reports.utc_now()
    run.results.exit_status = run.exit_status
    run.results.strict = run.settings.strict
    try:
        run.results.write(run.run_dir / "results.json")
        bundle.write_evidence(run.run_dir, run.results)
    except OSError as e:  # a full disk must not hide the verdicts: they are in the terminal summary
        _report_problem(run, "results.json or evidence/", e)


@pytest.hookimpl(trylast=True)  # junitxml and pytest-html wrote their files in pytest_sessionfinish
def pytest_unconfigure(config: pytest.Config) -> None:
    """Seal the run folder: MANIFEST.sha256 over every file in it (conformance-lab verify-report checks it)."""
    run = config.stash.get(RUN, None)
    if run is None or run.run_dir is None or is_worker(config) or not run.run_dir.is_dir():
        return
    session = run.session
    final = session.exitstatus if session is not None else run.exit_status
    try:
        if run.results.exit_status is not None and final != run.results.exit_status:
            run.results.exit_status = final  # a report writer failed after results.json was written
            run.results.write(run.run_dir / "results.json")
        bundle.write_manifest(run.run_dir)
        if run.settings.sign_key:
            bundle.sign(run.run_dir, run.settings.sign_key)
    except (OSError, bundle.SigningError) as e:
        what = bundle.SIGNATURE if isinstance(e, bundle.SigningError) else bundle.MANIFEST
        print(f"conformance: could not write {what} in {run.run_dir}: {getattr(e, 'strerror', None) or e}",
              file=sys.stderr)
        if session is not None:  # the terminal summary is out already: the problem only changes the exit status
            run.report_problems.append(f"could not write {what}")
            exit_status(run, session)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is None or is_worker(config):
        return
    say = reports.say(terminalreporter)
    if run.lint_error:
        say(f"ERROR: {run.lint_error}", red=True)
    for problem in run.cleanup_problems:
        say(f"conformance: cleanup problem on {problem}", red=True)
    for problem in run.report_problems:
        say(f"conformance: {problem}; the verdicts in this summary stand", red=True)
    for spec, audit in sorted(run.audits.items(), key=lambda item: run.targets.order(item[0])):
        bad = audit["status"] in ("failed", "error")
        say(f"conformance: {audits.CHECK_ID} on {run.targets.name_of(spec)}: {audit['status']}: {audit['message']}",
            red=bad, green=audit["status"] == "passed")
    if run.results.hosts:
        status = run.exit_status if run.exit_status is not None else exitstatus
        reports.summary(terminalreporter, run.results, run.run_dir, run.settings.strict, status,
                        signed=bool(run.settings.sign_key))

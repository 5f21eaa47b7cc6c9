"""pytest plugin of the suite (pytest11 entry point): catalogue lint, targets, outcomes, evidence, cleanup, reports."""
from __future__ import annotations

import dataclasses
import datetime
import html
import importlib.util
import os
import re
import secrets
import shutil
import sys
from pathlib import Path

import pytest

from conformance import audit as audits, catalogue as catalogues, cleanup, config as configs, hostkeys
from conformance import inventory as inventories
from conformance import interrupts, outcomes, report as reports, shard as shards, watchdog
from conformance import bundle, html_report
from conformance.catalogue import Catalogue, Requirement
from conformance.evidence import Evidence, redact
from conformance.outcomes import TargetError, one_line
from conformance.targets import Target, Targets

HOST_PARAM = "_testinfra_host"  # testinfra's indirect, module-scoped parameter behind `host`


@dataclasses.dataclass
class Run:
    """The session's conformance state (one per process; the controller also aggregates results)."""
    settings: configs.Settings
    catalogue: Catalogue | None
    run_id: str
    started: datetime.datetime
    suites_dir: Path
    targets: Targets
    outcomes: outcomes.Outcomes
    results: reports.Results
    run_dir: Path | None = None
    exit_status: int | None = None
    cleanup_problems: list[str] = dataclasses.field(default_factory=list)
    lint_error: str | None = None
    report_problems: list[str] = dataclasses.field(default_factory=list)  # reports that could not be written
    audits: dict[str, dict] = dataclasses.field(default_factory=dict)  # target -> leak audit (audit.Audit.as_json)
    session: pytest.Session | None = None  # the exit status can still change at unconfigure (MANIFEST)
    ending: interrupts.Ending = dataclasses.field(default_factory=lambda: interrupts.Ending())


@dataclasses.dataclass(frozen=True)
class Check:
    """What the plugin knows about one collected check."""
    requirement: Requirement
    target: str  # the spec (the key of results.json's hosts)
    name: str  # the target's display name (Targets.name_of), in every report and message


RUN = pytest.StashKey[Run]()
CHECK = pytest.StashKey[Check]()
EVIDENCE = pytest.StashKey[Evidence]()
CALL_REPORT = pytest.StashKey[pytest.TestReport]()


def pytest_addoption(parser: pytest.Parser) -> None:
    configs.add_options(parser)
    inventories.add_options(parser)
    shards.add_options(parser)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """-n auto on suites/: one worker per target; checks wait on hosts, so more workers than cores pays."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or not _collects_suites(config, _suites_dir(config)):
        return None  # xdist's own answer
    return inventories.auto_workers(config)


def _run_id(config: pytest.Config) -> str:
    """Short hex id shared by xdist workers: derived from xdist's testrun uid, which the controller seeds."""
    workerinput = getattr(config, "workerinput", None)
    uid = workerinput["testrunuid"] if workerinput else getattr(config.option, "testrunuid", None)
    if not uid:
        uid = secrets.token_hex(16)
        if hasattr(config.option, "testrunuid"):
            config.option.testrunuid = uid  # xdist's NodeManager hands it to every worker
    return (re.sub(r"[^0-9a-zA-Z]", "", uid) or secrets.token_hex(4))[:8].lower()


def _arg_paths(config: pytest.Config) -> list[tuple[Path, bool]]:
    """(path, whole) for each collection argument; whole is False for node ids like file.py::test."""
    base = config.invocation_params.dir
    return [(_arg_path(base, arg.split("::")[0], config.option.pyargs), "::" not in arg) for arg in config.args]


def _arg_path(base: Path, arg: str, pyargs: bool) -> Path:
    """An argument's file or folder; under --pyargs a module name stands for its file or package folder, as in
    pytest's own collection (pytest --pyargs conformance.suites)."""
    if pyargs and all(part.isidentifier() for part in arg.split(".")):
        try:
            spec = importlib.util.find_spec(arg)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin not in (None, "namespace"):
            origin = Path(spec.origin).resolve()
            return origin.parent if spec.submodule_search_locations is not None else origin
    return (base / arg).resolve()


def _suites_dir(config: pytest.Config) -> Path:
    """The folder of the checks: the project's own suites/ (a checkout, a self-test's scratch project), unless the
    run collects the installed conformance.suites and not that folder (docker-host-conformance, pytest --pyargs)."""
    own = (config.rootpath / "suites").resolve()
    installed = catalogues.installed_suites()
    if own.is_dir() and (_collects_suites(config, own) or not _collects_suites(config, installed)):
        return own
    return installed


def _collects_suites(config: pytest.Config, suites_dir: Path) -> bool:
    return any(p == suites_dir or suites_dir in p.parents or p in suites_dir.parents for p, _ in _arg_paths(config))


def _collects_whole_suites(config: pytest.Config, suites_dir: Path) -> bool:
    """True when nothing narrows the collection of suites/ (no sub-path, -k, -m, --req or --deselect)."""
    narrowed = (config.getoption("keyword") or config.getoption("markexpr") or config.getoption("req")
                or config.getoption("deselect") or config.getoption("ignore") or config.getoption("ignore_glob"))
    return not narrowed and any(whole and (p == suites_dir or p in suites_dir.parents) for p, whole in _arg_paths(config))


def _host_options(config: pytest.Config) -> dict:
    o = config.option
    return dict(connection=o.connection, ssh_config=o.ssh_config, ssh_identity_file=o.ssh_identity_file,
                sudo=o.sudo, sudo_user=o.sudo_user, ansible_inventory=o.ansible_inventory,
                force_ansible=o.force_ansible)


@pytest.hookimpl(tryfirst=True)  # before pytest-html and junitxml read their output paths
def pytest_configure(config: pytest.Config) -> None:
    try:
        _configure(config)
    except pytest.UsageError as e:  # a malformed --hosts, --mirror or inventory value must not echo its password
        raise pytest.UsageError(redact(str(e))) from None


def _configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "req(id): the requirement id (from suites/requirements.toml) this check proves")
    hostkeys.install()  # paramiko:// targets check host keys (before testinfra builds any backend)
    inventories.check_file_options(config.invocation_params.args)
    inventory = inventories.from_config(config)
    settings = configs.load(config, inventory=inventory)
    suites_dir = _suites_dir(config)
    catalogue_path = suites_dir / catalogues.CATALOGUE_NAME
    catalogue = catalogues.load(catalogue_path) if catalogue_path.is_file() else None
    for prefix in config.getoption("req"):
        if catalogue is None or not catalogue.matching(prefix):
            raise pytest.UsageError(f"--req {prefix}: no requirement id starts with it"
                                    + (f" (see {catalogue_path})" if catalogue else f" ({catalogue_path} not found)"))
    active = _collects_suites(config, suites_dir)
    specs = inventories.host_specs(config, inventory)
    if specs:
        config.option.hosts = ",".join(specs)
    if active:
        _fleet_dist(config)
    if active and config.option.hosts is None:
        config.option.hosts = "local://"
    specs = config.option.hosts.split(",") if config.option.hosts else ["local://"]
    if active:
        _check_specs(specs, _host_options(config))
    names = None
    if active:  # xdist workers pick the same share: it depends on the names alone
        specs, names = shards.apply(config, specs, inventory)
        config.option.hosts = ",".join(specs)
    if settings.sign_key and not shutil.which("ssh-keygen"):
        raise pytest.UsageError("--sign-key needs ssh-keygen (install openssh-client)")
    run_id = _run_id(config)
    if settings.keep_pulled_images:
        cleanup.keep_pulled_images(run_id)
    started = reports.utc_now()
    run = Run(settings, catalogue, run_id, started, suites_dir,
              Targets(specs, settings, run_id, _host_options(config), inventory, names), outcomes.Outcomes(),
              reports.Results(run_id, started))
    config.stash[RUN] = run
    config.pluginmanager.register(Recorder(run), "conformance-recorder")
    interrupts.handle_signals(config, run.ending)
    if active and not hasattr(config, "workerinput") and not config.getoption("collectonly"):
        run.run_dir = reports.run_folder(config.invocation_params.dir / settings.report_dir, run_id, started)
        _writable(run.run_dir)
        if not config.getoption("htmlpath", None) and config.pluginmanager.hasplugin("html"):
            config.option.htmlpath = str(run.run_dir / "report.html")
            config.option.self_contained_html = True
        if config.pluginmanager.hasplugin("html"):
            config.option.css = [*config.option.css, str(html_report.CSS)]
        if not config.option.xmlpath:
            config.option.xmlpath = str(run.run_dir / "junit.xml")


@pytest.hookimpl(trylast=True, specname="pytest_configure")  # after junitxml has made its writer
def pytest_configure_junit_family(config: pytest.Config) -> None:
    """The run's junit.xml is xunit1 (each testcase's file and line) also where no ini file sets junit_family, as
    for the installed package run from any folder; pytest has no public way to set another plugin's ini value."""
    run = config.stash.get(RUN, None)
    if run is None or run.run_dir is None:
        return
    from _pytest.junitxml import xml_key
    writer = config.stash.get(xml_key, None)
    if writer is not None:
        writer.family = "xunit1"


def _check_specs(specs: list[str], host_options: dict) -> None:
    """Bad --hosts input is a usage error (exit 4), not a collection traceback in testinfra."""
    import testinfra.backend  # late: see Targets.spec_of
    for spec in specs:
        problem = inventories.spec_problem(spec)
        if problem:
            raise pytest.UsageError(f"--hosts {spec}: {problem}")
        try:
            testinfra.backend.get_backends([spec], **host_options)
        except Exception as e:  # noqa: BLE001 - testinfra raises RuntimeError/ValueError/ImportError for bad specs
            raise pytest.UsageError(f"--hosts {spec}: {one_line(str(e) or type(e).__name__)} (a target is "
                                    "local://, ssh://[user@]host[:port], paramiko://..., docker://container, ...; "
                                    "see testinfra's backends)") from None


def _fleet_dist(config: pytest.Config) -> None:
    """With -n and no --dist, distribute by xdist group: each target's checks on one worker, targets spread.

    loadgroup needs pytest<9.2 (pinned in pyproject.toml): 9.2's structured node ids make xdist ignore the
    groups silently (https://github.com/pytest-dev/pytest-xdist/issues/1386).
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        # xdist workers decide loadgroup from their own arguments (no --dist there): take the controller's choice.
        if workerinput.get("conformance_loadgroup"):
            config.option.loadgroup = True
        return
    given = any(a == "-d" or a.startswith(("--dist", "--distload")) for a in config.invocation_params.args)
    if getattr(config.option, "dist", "no") == "load" and getattr(config.option, "numprocesses", None) and not given:
        config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist controller: tell each worker when the run distributes by group (see _fleet_dist)."""
    node.workerinput["conformance_loadgroup"] = node.config.getoption("dist", "no") == "loadgroup"


def _writable(folder: Path) -> None:
    """Create the run folder and prove it takes a file, before any check runs on a target."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".writable"
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as e:
        raise pytest.UsageError(f"conformance: report folder {folder} is not writable: {e.strerror or e} "
                                "(set --report-dir or CONFORMANCE_REPORT_DIR to a writable folder)") from None


def _report_problem(run: Run, what: str, error: OSError) -> None:
    run.report_problems.append(f"could not write {what}: {error.strerror or error}"
                               + (f" ({error.filename})" if error.filename else ""))


def _metadata(config: pytest.Config) -> dict | None:
    """pytest-metadata's dict: the environment table of report.html (pytest-html reads it when it writes)."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return None
    return config.stash.get(metadata_key, None)


def _redact_metadata(config: pytest.Config, escape: bool = False) -> None:
    """Every metadata key and value redacted (pytest-metadata copies CI variables and --metadata values, which may
    hold URLs; it prints them under -v); with escape, also HTML-escaped, once, just before pytest-html writes:
    its JavaScript renders each value (and each key of a nested table) as HTML, only a top-level key as text."""
    metadata = _metadata(config)
    if metadata is None:
        return

    def escaped(value):
        if isinstance(value, dict):
            return {html.escape(str(k)): escaped(v) for k, v in value.items()}
        if isinstance(value, list):
            return [escaped(v) for v in value]
        return html.escape(value) if isinstance(value, str) else value
    for key, value in list(metadata.items()):
        del metadata[key]
        value = redact(value)
        metadata[redact(key) if isinstance(key, str) else key] = escaped(value) if escape else value


@pytest.hookimpl(tryfirst=True)  # before the terminal prints pytest-metadata's report header
def pytest_sessionstart(session: pytest.Session) -> None:
    _redact_metadata(session.config)


def _requirement_id(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("req")
    if marker is None:
        return None
    return marker.args[0] if marker.args else marker.kwargs.get("id")


def _lint(run: Run, config: pytest.Config, checks: list[pytest.Item]) -> None:
    """Collection lint of suites/: markers, known ids, a target per check, and (whole runs) coverage."""
    path = run.suites_dir / catalogues.CATALOGUE_NAME
    if run.catalogue is None:
        raise pytest.UsageError(f"{path} not found: every check in suites/ names a requirement from it")
    problems: dict[str, str] = {}
    for item in checks:
        name = item.nodeid.split("[")[0]
        req_id = _requirement_id(item)
        if req_id is None:
            problems.setdefault(name, f"{name}: no @pytest.mark.req(<id>) marker")
        elif req_id not in run.catalogue:
            problems.setdefault(name, f"{name}: unknown requirement id {req_id!r} (not in {path})")
        elif HOST_PARAM not in getattr(getattr(item, "callspec", None), "params", {}):
            problems.setdefault(name, f"{name}: uses no target; request the `evidence` (or `target`) fixture")
    if problems:
        raise pytest.UsageError("conformance lint:\n  " + "\n  ".join(problems.values()))
    if _collects_whole_suites(config, run.suites_dir):
        covered = {_requirement_id(item) for item in checks}
        missing = [i for i in run.catalogue.ids() if i not in covered]
        if missing:
            raise pytest.UsageError(f"conformance lint: requirement(s) in {path} without a check in suites/: "
                                    + ", ".join(missing))


@pytest.hookimpl(tryfirst=True)  # see the list before -k/-m deselection; mark xdist groups before xdist reads them
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = config.stash[RUN]
    checks = [item for item in items if run.suites_dir in item.path.parents]
    if not checks:
        return
    try:
        _lint(run, config, checks)
    except pytest.UsageError as e:
        if not hasattr(config, "workerinput"):
            raise
        # A UsageError in an xdist worker is an INTERNALERROR; hand the message to the controller instead.
        config.workeroutput["conformance_lint"] = str(e)
        items[:] = []
        return
    for item in checks:
        requirement = run.catalogue.get(_requirement_id(item))
        spec = run.targets.spec_of(item.callspec.params[HOST_PARAM])
        item.stash[CHECK] = check = Check(requirement, spec, run.targets.name_of(spec))
        item.user_properties += [("requirement", requirement.id), ("level", requirement.level),
                                 ("section", requirement.section), ("host", check.name)]
        # One worker per target (loadgroup); the group shows in node ids under xdist: the name, never a password.
        item.add_marker(pytest.mark.xdist_group(re.sub(r"[^\w.:/-]", "_", check.name)))
        watchdog.watch(item, run.settings.for_target(spec, item.callspec.params[HOST_PARAM].backend.get_pytest_id()))
    prefixes = config.getoption("req")
    if prefixes:
        # A selected check's dependencies run too, so that a broken prerequisite still blocks it.
        wanted = run.catalogue.with_dependencies(i for i in run.catalogue.ids() if i.startswith(tuple(prefixes)))
        keep = [i for i in items if CHECK in i.stash and i.stash[CHECK].requirement.id in wanted]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep

    def order(item: pytest.Item) -> tuple[int, int, int]:
        check = item.stash.get(CHECK, None)
        if check is None:
            return (-1, 0, 0)
        return (0, run.targets.order(check.target), run.catalogue.index(check.requirement.id))
    items.sort(key=order)  # stable: within a requirement, collection order stays


@pytest.hookimpl(optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings) -> bool | None:
    """A check's watchdog ends it as an error that names it (conformance/watchdog.py); others are pytest-timeout's."""
    check = item.stash.get(CHECK, None) if isinstance(item, pytest.Item) else None
    return None if check is None else watchdog.set_timer(item, settings, check.name)


def _target(item: pytest.Item) -> Target:
    return item.config.stash[RUN].targets.get(item.callspec.params[HOST_PARAM])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Blocked and not-applicable checks end here, before any fixture runs."""
    check = item.stash.get(CHECK, None)
    outcomes.set_current_requirement(check.requirement.id if check else None)
    if check is None:
        return
    run = item.config.stash[RUN]
    target = _target(item)
    _or_error(target.reachable)  # cached: an unreachable target makes every check an error, never blocked
    _or_error(target.units)  # the service state, read once before anything connects to the engine (it may start it)
    for dependency in check.requirement.depends:
        recorded = run.outcomes.get(check.target, dependency)
        if recorded and recorded[0] in outcomes.BLOCKING:
            outcomes.blocked(dependency, recorded[1])
    if check.requirement.profile != "any":
        profile, how = _or_error(lambda: (target.profile, target.profile_reason))
        if profile != check.requirement.profile:
            outcomes.not_applicable(f"profile {check.requirement.profile} ({target.name} is {profile}: {how})")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    check = item.stash.get(CHECK, None)
    if check is None:
        return report
    requirement = check.requirement
    data = {"target": check.target, "name": check.name, "requirement": requirement.id, "level": requirement.level,
            "section": requirement.section, "claim": requirement.claim, "description": requirement.description}
    if requirement.by_construction:
        data["by_construction"] = requirement.by_construction
    evidence = item.stash.get(EVIDENCE, None)
    if report.when == "call":
        item.stash[CALL_REPORT] = report
        if call.excinfo is not None and (call.excinfo.errisinstance(TargetError) or watchdog.TIMED_OUT in item.stash):
            report.conformance_error = True  # the suite could not complete the check: error, not failed
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
                and not getattr(call_report, "conformance_error", False)):
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


def _or_error(call):
    """call(); a TargetError ends the check as an error showing its message once (raised outside the except
    block, so pytest adds no 'During handling of the above exception' copy)."""
    try:
        return call()
    except TargetError as e:
        message = str(e)
    pytest.fail(message, pytrace=False)


def _facts(item: pytest.Item) -> dict:
    try:
        return _target(item).facts()
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
        lint = getattr(node, "workeroutput", {}).get("conformance_lint")
        if lint:
            self.run.lint_error = lint
        self.run.audits.update(getattr(node, "workeroutput", {}).get("conformance_audits") or {})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Record outcomes (for blocked decisions in this process) and aggregate results."""
        finished = self.run.results.add(report)
        if finished:
            target, req_id, status, message = finished
            self.run.outcomes.record(target, req_id, status, message)


@pytest.hookimpl(tryfirst=True)  # targets cleaned up and facts in the environment table before reports are written
def pytest_sessionfinish(session: pytest.Session) -> None:
    run = session.config.stash.get(RUN, None)
    if run is None:
        return
    outcomes.set_current_requirement(None)
    with interrupts.Shielded():
        closed = run.targets.close()
        if not hasattr(session.config, "workerinput"):
            interrupts.await_workers(run, session)
    names = {spec: run.targets.name_of(spec) for spec in closed}
    run.cleanup_problems += [f"{names[spec]}: {p.removeprefix(names[spec] + ': ')}"
                             for spec, problems in closed.items() for p in problems]
    run.audits.update({t.id: t.audit.as_json() for t in run.targets.all()})
    if hasattr(session.config, "workerinput"):
        session.config.workeroutput["conformance_audits"] = run.audits
        return
    for spec, audit in run.audits.items():
        # A run-level check, not a catalogue requirement: kept out of "requirements" (counts, lint, matrix).
        run.results.host(spec, run.targets.name_of(spec)).setdefault("run_checks", {})[audits.CHECK_ID] = audit
    # Targets in run order in every table, whichever xdist worker reported first.
    run.results.hosts = dict(sorted(run.results.hosts.items(), key=lambda item: run.targets.order(item[0])))
    if run.run_dir is None:
        return
    metadata = _metadata(session.config)  # pytest-metadata makes it after this plugin's pytest_configure
    if metadata is not None:
        metadata.update({"Run id": run.run_id, "Targets": ", ".join(run.targets.specs),
                         **{f"Target {h['name']}": {"spec": t, **h["facts"]} for t, h in run.results.hosts.items()}})
        _redact_metadata(session.config, escape=True)


@pytest.hookimpl(wrapper=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_report_errors(session: pytest.Session):
    """A report writer (junitxml, pytest-html) failing on a full or read-only disk ends as one message, not a traceback."""
    try:
        return (yield)
    except OSError as e:
        run = session.config.stash.get(RUN, None)
        if run is None or hasattr(session.config, "workerinput"):
            raise
        _report_problem(run, f"a report in {run.run_dir}", e)
        if run.exit_status is None:  # the writer's error skipped the exit-status hook
            pytest_sessionfinish_exit_status(session)
        elif run.exit_status == pytest.ExitCode.OK:  # pytest-html writes after that hook
            run.exit_status = session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return None


@pytest.hookimpl(trylast=True, specname="pytest_sessionfinish")  # after pytest-html and junitxml have written
def pytest_sessionfinish_exit_status(session: pytest.Session) -> None:
    """Replace pytest's exit status by the one computed from the outcomes (see report.exit_status)."""
    run = session.config.stash.get(RUN, None)
    if run is None or hasattr(session.config, "workerinput"):
        return
    run.exit_status = reports.exit_status(run.results, run.settings.strict, session.exitstatus)
    if run.lint_error:
        run.exit_status = pytest.ExitCode.USAGE_ERROR
    if run.exit_status == pytest.ExitCode.OK and any(a["status"] in ("failed", "error") for a in run.audits.values()):
        run.exit_status = pytest.ExitCode.TESTS_FAILED  # the target was not left as it was found
    run.session = session
    if run.run_dir is not None:
        _write_results(run)
    if run.report_problems and run.exit_status == pytest.ExitCode.OK:
        run.exit_status = pytest.ExitCode.TESTS_FAILED  # a gate must not pass on a missing report
    session.exitstatus = run.exit_status
    if run.run_dir is not None and run.run_dir.exists():
        try:
            reports.update_latest(run.run_dir)
        except OSError as e:
            _report_problem(run, "the latest link", e)


def _write_results(run: Run) -> None:
    """results.json and evidence/ (pytest-html and junitxml write their own files after this)."""
    run.results.finished = reports.utc_now()
    run.results.exit_status = run.exit_status
    run.results.strict = run.settings.strict
    run.results.catalogue = catalogues.fingerprint(run.catalogue) if run.catalogue is not None else None
    try:
        run.results.write(run.run_dir / "results.json")
        bundle.write_evidence(run.run_dir, run.results)
    except OSError as e:  # a full disk must not hide the verdicts: they are in the terminal summary
        _report_problem(run, "results.json or evidence/", e)


@pytest.hookimpl(trylast=True)  # junitxml and pytest-html wrote their files in pytest_sessionfinish
def pytest_unconfigure(config: pytest.Config) -> None:
    """Seal the run folder: MANIFEST.sha256 over every file in it (conformance-lab verify-report checks it)."""
    run = config.stash.get(RUN, None)
    if run is None or run.run_dir is None or hasattr(config, "workerinput") or not run.run_dir.is_dir():
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
        if session is not None and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is None or hasattr(config, "workerinput"):
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


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report) -> None:
    report.title = "Docker host conformance"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    html_report.header(cells)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report, cells: list[str]) -> None:
    html_report.row(report, cells)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report, data: list[str]) -> None:
    html_report.log(report, data)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str], session) -> None:
    """The verdict and per-host counts at the top, the fleet grid above the results table."""
    run = session.config.stash.get(RUN, None)
    if run is None or not run.results.hosts:
        return
    order = run.catalogue.ids() if run.catalogue else []
    html_report.summary(prefix, postfix, run.results, order, run.exit_status, run.settings.strict)


# Fixtures -----------------------------------------------------------------

@pytest.fixture(scope="session")
def run_id(pytestconfig: pytest.Config) -> str:
    """The run id: label value conformance.run and part of the report folder name."""
    return pytestconfig.stash[RUN].run_id


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest, host) -> Target:
    """The target of this check: .id, .host, .engine, .profile, .settings, .shared, .make (session-wide cache)."""
    found = request.config.stash[RUN].targets.get(host)
    _or_error(found.reachable)
    return found


@pytest.fixture(scope="module")
def engine(target: Target):
    """The target's docker-py client; an unreachable engine makes the check an error."""
    return _or_error(lambda: target.engine)


@pytest.fixture
def evidence(request: pytest.FixtureRequest, target: Target) -> Evidence:
    """Where the check records what it ran or read and what it saw."""
    recorded = Evidence(target.name, target.settings.call_timeout)
    request.node.stash[EVIDENCE] = recorded
    return recorded


@pytest.fixture
def requirement(request: pytest.FixtureRequest) -> Requirement | None:
    """The catalogue entry of the running check."""
    check = request.node.stash.get(CHECK, None)
    return check.requirement if check else None


@pytest.fixture
def make(target: Target, engine, run_id: str):
    """Factory of labelled containers/images/networks/volumes, removed when the check ends (pass or fail)."""
    factory = cleanup.Factory(engine, run_id, target.pulled_images)
    yield factory
    problems = factory.cleanup()
    if problems:
        pytest.fail(f"cleanup on {target.name}: " + "; ".join(problems), pytrace=False)

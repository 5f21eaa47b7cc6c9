"""Collection: the options, the configuration of a run (targets, report folder, xdist distribution), the catalogue's
selection (--req) and the lint of suites/ (a requirement id per check, a check per id)."""
from __future__ import annotations

import gc
import importlib.util
import os
import re
import secrets
import shutil
from pathlib import Path

import pytest

from conformance import catalogue as catalogues, cleanup, config as configs, hostkeys
from conformance import inventory as inventories
from conformance import interrupts, outcomes, report as reports, shard as shards, watchdog
from conformance import html_report
from conformance.evidence import redact
from conformance.outcomes import one_line
from conformance.plugin.checks import Recorder
from conformance.plugin.state import (CHECK, HOST_PARAM, LINT, LOADGROUP, RUN, Check, Run, from_controller, is_worker,
                                      to_controller, to_worker)
from conformance.targets import Targets

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
    workerinput = from_controller(config)
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
    interrupts.handle_signals(config, run.ending,
                              under_xdist=is_worker(config) or bool(getattr(config.option, "numprocesses", None)))
    if active and not is_worker(config) and not config.getoption("collectonly"):
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
    workerinput = from_controller(config)
    if workerinput is not None:
        # xdist workers decide loadgroup from their own arguments (no --dist there): take the controller's choice.
        if workerinput.get(LOADGROUP):
            config.option.loadgroup = True
        return
    given = any(a == "-d" or a.startswith(("--dist", "--distload")) for a in config.invocation_params.args)
    if getattr(config.option, "dist", "no") == "load" and getattr(config.option, "numprocesses", None) and not given:
        config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist controller: tell each worker when the run distributes by group (see _fleet_dist)."""
    to_worker(node, LOADGROUP, node.config.getoption("dist", "no") == "loadgroup")


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


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    """Before every other plugin: the checks as selected (seen before -k/-m deselection; xdist groups marked before
    xdist reads them). After them all: the order, requirement by requirement, each across the targets (pytest's
    own reordering groups a module's checks by target). In one process every target then passes its gate early and
    its engine work runs ahead beside the others' (suites/conftest.py), not after them; under xdist nothing changes:
    loadgroup hands a worker each target's checks whole, in this order."""
    _prepare_checks(config, items)
    yield
    run = config.stash[RUN]

    def order(item: pytest.Item) -> tuple[int, int, int]:
        check = item.stash.get(CHECK, None)
        if check is None:
            return (-1, 0, 0)
        return (0, run.catalogue.index(check.requirement.id), run.targets.order(check.target))
    items.sort(key=order)  # stable: within a requirement and target, collection order stays


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection built (modules, items, fixture definitions, the catalogue) lives as long as the run: frozen
    out of the garbage collector's sight, its collections no longer walk it again and again, nor does its last one
    when the interpreter exits (about 0.2 CPU-s of an 8-host run in one process). It stays frozen when the run ends,
    as the process does; a later run in the same process (pytest.main again) hands the earlier one's back first."""
    gc.unfreeze()
    gc.freeze()


def _prepare_checks(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = config.stash[RUN]
    checks = [item for item in items if run.suites_dir in item.path.parents]
    if not checks:
        return
    try:
        _lint(run, config, checks)
    except pytest.UsageError as e:
        if not is_worker(config):
            raise
        # A UsageError in an xdist worker is an INTERNALERROR; hand the message to the controller instead.
        to_controller(config, LINT, str(e))
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



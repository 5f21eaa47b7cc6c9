"""The proof matrix: every lab variant and local:// checked by the suite, verdicts exactly as fixtures/verdicts.toml says."""
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

import lab_shell
from conformance.lab import engine, hosts, images, proof, rpms, variants
from conformance.lab.progress import LabError

pytestmark = pytest.mark.lab

PROFILE_TABLE, CASES = proof.load()
# CONFORMANCE_PROOF_MATRIX=engines (tox -e engines) runs the slow engine x store matrix instead (verdicts.toml [engines.*]).
CASES = [c for c in CASES if c.matrix == os.environ.get("CONFORMANCE_PROOF_MATRIX", "proof")]
# CONFORMANCE_PROOF_CASES=debian,no-curl runs only those cases (a targeted proof of the variants a change touches).
ONLY = [n for n in os.environ.get("CONFORMANCE_PROOF_CASES", "").split(",") if n]
CASES = [c for c in CASES if c.name in ONLY] if ONLY else CASES
# 2 cores: each case is one lab host (systemd + its own dockerd) plus one pytest process; 4 at a time measured
# fastest here (see README, "The proof matrix"). CONFORMANCE_PROOF_WORKERS overrides it.
WORKERS = int(os.environ.get("CONFORMANCE_PROOF_WORKERS", "4"))
SUITE_TIMEOUT = 600
MATRIX_START_BUDGET_MS = 20000
HOST_PREFIX = f"{lab_shell.HOST_PREFIX}pm{os.getpid()}-"  # unique per run: a parallel run never replaces our hosts
REPORTS = proof.REPO / "reports"


def host_name(case):
    return (HOST_PREFIX + case.name)[:41]


def state_of(case):
    """A fixed target (local://) as it is now: an id of verdicts.toml [state] whose image is already on this
    machine (another run's, a user's pull) cannot observe a pull, so it is expected blocked by state, not passed;
    on local:// an id the suite cannot tell on this machine (proof.untold_here) is expected error, its dependents
    blocked. Lab variants start empty: theirs are data in verdicts.toml."""
    with engine.client(timeout=120) as client:
        present = [i for i, image in proof.state_images().items() if client.images.list(name=image)]
    untold = proof.untold_here() if case.spec == "local://" else ()
    blocked = proof.dependents(proof.catalogue(), untold)
    return dataclasses.replace(case, blocked_by_state=tuple(dict.fromkeys((*case.blocked_by_state, *present))),
                               error=tuple(dict.fromkeys((*case.error, *untold))),
                               blocked=tuple(dict.fromkeys((*case.blocked, *blocked))))


def run_suite(case, spec, values, folder):
    """`python -m pytest --hosts=SPEC ...` from the repo root; returns the outcome read from results.json."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_") and k != "PYTEST_ADDOPTS"}
    options = proof.suite_options(case, {**values, "{host}": urllib.parse.urlsplit(spec).hostname or ""})
    if not any(o.startswith("--start-budget-ms") for o in options):
        # Several lab hosts and suites share 2 cores here, so a 5 s start says more about the machine than the
        # host; engine.start-latency is proved red by tight-start-budget with its own budget.
        options.append(f"--start-budget-ms={MATRIX_START_BUDGET_MS}")
    command = [sys.executable, "-m", "pytest", f"--hosts={spec}", *options,
               f"--report-dir={folder}", "-p", "no:cacheprovider", "-q", "-o", "console_output_style=classic"]
    proc = subprocess.run(command, cwd=proof.REPO, env=env, capture_output=True, text=True, timeout=SUITE_TIMEOUT)
    (folder / "pytest-output.txt").write_text(" ".join(command) + "\n\n" + proc.stdout + proc.stderr)
    results = folder / "latest" / "results.json"
    outcome = proof.Outcome(case, spec, run_dir=str(folder / "latest"))
    # exit 4 (no target could be checked) is the answer when the case expects errors and no id passed or failed
    # (every other id blocked by them or not applicable)
    statuses = set(proof.expected(case, PROFILE_TABLE).values())
    codes = (0, 1, 4) if case.error and not {proof.PASSED, proof.FAILED} & statuses else (0, 1)
    if proc.returncode not in codes or not results.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        outcome.problem = f"the suite could not be run: pytest exit {proc.returncode}, no usable results.json:\n    " + \
            "\n    ".join(tail)
        return outcome
    host = json.loads(results.read_text())["hosts"].get(spec)
    if host is None:
        outcome.problem = f"results.json has no entry for {spec}"
        return outcome
    outcome.got = {i: proof.observed(e["status"], e["message"]) for i, e in host["requirements"].items()}
    outcome.messages = {i: e["message"] for i, e in host["requirements"].items()}
    audit = host.get("run_checks", {}).get("run.leak-audit", {})
    if audit.get("status") == "failed":  # every verdict as expected, but the run left something behind on the host
        outcome.problem = f"the run left something behind: run.leak-audit failed: {audit.get('message')}"
    return outcome


def units_after(case, name):
    """'' when every unit of the case's `after` is as expected in the lab host once the suite has run, else why not."""
    wrong = []
    with engine.client(timeout=120) as client:
        for unit, want in case.after.items():
            got = hosts.run(client, name, f"systemctl is-active {unit}")[1]
            if got != want:
                wrong.append(f"{unit} is {got!r} after the suite ran, expected {want!r}")
    return "; ".join(wrong)


def selected_cases(session):
    """The cases whose test is selected (-k VARIANT runs that variant alone); every case when none is."""
    names = {item.callspec.params["case"].name for item in session.items
             if "case" in getattr(getattr(item, "callspec", None), "params", {})}
    return [c for c in CASES if c.name in names] or CASES


@pytest.fixture(scope="module")
def matrix(request, tmp_path_factory):
    """Run every selected case, WORKERS at a time; stop every lab host afterwards, also on failure or interrupt."""
    began = time.monotonic()
    cases = selected_cases(request.session)
    with engine.client(timeout=120) as client:
        for release in sorted({variants.get(c.name).release for c in cases if c.is_variant}):
            images.ensure_built(client, images.host_recipe(release))  # built once here, never by two threads at once
        values = hosts.substitutions(client)
    rpms.ensure_built(list(rpms.table()))
    started, lock, stop = [], threading.Lock(), threading.Event()
    base = tmp_path_factory.mktemp("proof")  # here, not in the threads: tmp_path_factory is not thread-safe

    def one(case):
        t0 = time.monotonic()
        folder = base / case.name.replace("://", "-").replace("/", "")
        folder.mkdir()
        outcome = proof.Outcome(case)
        try:
            if stop.is_set():
                raise LabError("not started: the matrix was interrupted")
            if case.is_variant:
                name = host_name(case)
                with lock:
                    started.append(name)
                with engine.client(timeout=120) as client:
                    spec = hosts.start(client, name, case.name)
                try:
                    outcome = run_suite(case, spec, values, folder)
                    outcome.problem = outcome.problem or units_after(case, name)
                finally:
                    with engine.client(timeout=120) as client:
                        hosts.stop(client, name)
            else:
                outcome = run_suite(state_of(case), case.spec, values, folder)
        except (LabError, subprocess.TimeoutExpired, OSError, Exception) as e:  # noqa: BLE001 - reported per case
            outcome.problem = f"the suite could not be run: {type(e).__name__}: {e}"
        outcome.seconds = time.monotonic() - t0
        return outcome

    outcomes = []
    try:
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="proof") as pool:
            futures = [pool.submit(one, case) for case in cases]
            try:
                outcomes = [f.result() for f in futures]
            except BaseException:
                stop.set()
                raise
    finally:
        with engine.client(timeout=120) as client:
            for name in started:
                hosts.stop(client, name)
    wall = time.monotonic() - began
    wants = {o.case.name: proof.expected(o.case, PROFILE_TABLE) for o in outcomes}
    json_path, html_path = proof.write_matrix(outcomes, wants, REPORTS, wall, WORKERS)
    print(f"\nproof matrix: {len(cases)} cases in {wall:.0f} s with {WORKERS} at a time -> {html_path}, {json_path}")
    return {o.case.name: o for o in outcomes}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verdicts_exactly_as_expected(matrix, case):
    """The suite reports exactly the expected status for every catalogue id: no missing fail, no extra one."""
    outcome = matrix[case.name]
    want = proof.expected(outcome.case, PROFILE_TABLE)  # a fixed target's case as its state was before its run
    if outcome.problem or proof.differences(outcome, want):
        pytest.fail(proof.explain(outcome, want), pytrace=False)  # one block: variant, requirement, expected, got


def test_no_lab_host_left_behind(matrix):
    """Every host the matrix started is gone."""
    with engine.client() as client:
        left = [row.name for row in hosts.list_hosts(client) if row.name.startswith(HOST_PREFIX)]
    assert not left, f"lab hosts left running after the proof matrix: {', '.join(left)}"

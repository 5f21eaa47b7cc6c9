"""The package: a wheel built from the checkout carries the checks and their data, and runs from any folder."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conformance import catalogue as catalogues
from conformance.lab import proof
from conformance.selftest import make_project, requirement

REPO = Path(__file__).resolve().parents[1]
# Run-time data the installed suite reads (test-only data, fixtures/, stays in the checkout).
DATA = ("conformance/suites/requirements.toml", "conformance/profiles.toml",
        "conformance/schema/results.schema.json", "conformance/report.css")
NOT_SHIPPED = (".git", ".tox", ".venv", "build", "reports", "*.egg-info", "__pycache__", ".pytest_cache")
JUDGED = {"passed", "failed", "blocked", "not-applicable"}  # every status but error (the suite could not run)
OWN_CHECKS = """
import pytest

@pytest.mark.req("engine.info")
def test_info(evidence):
    evidence.note("a project's own check")
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel --no-deps` of a copy of the checkout (an in-tree build would leave build/ behind, and reuse it)."""
    source = tmp_path_factory.mktemp("source") / "docker-host-conformance"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    out = source.parent / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                   check=True, timeout=300)
    return next(out.glob("docker_host_conformance-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The bin folder of a fresh venv with the wheel (not editable) and its dependencies from the package index.

    This pip installs into it (pip --python): seeding the venv with its own pip (ensurepip) took 20 s here.
    """
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-compile", "--disable-pip-version-check", str(wheel)], check=True, timeout=600, env=clean_env())
    return venv / "bin"


def clean_env(bin_dir: Path | None = None) -> dict:
    """This environment without what points at the checkout or steers pytest and the suite."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith(("PYTEST_", "CONFORMANCE_"))}
    if bin_dir is not None:
        env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    return env


def run(bin_dir: Path, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=clean_env(bin_dir),
                          capture_output=True, text=True, timeout=timeout)


def test_wheel_carries_the_checks_and_their_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    checks = {f"conformance/suites/{p.name}" for p in (REPO / "suites").glob("*.py")}
    assert {"conformance/suites/__init__.py", "conformance/suites/conftest.py"} <= checks
    modules = {str(p.relative_to(REPO)) for p in (REPO / "conformance").rglob("*.py")}  # a package left out of the list
    assert sorted((set(DATA) | checks | modules) - names) == []
    assert [n for n in names if n.startswith(("fixtures/", "suites/", "tests/"))] == []
    metadata = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "docker-host-conformance = conformance.console:main" in zipfile.ZipFile(wheel).read(metadata).decode()


def test_pyargs_runs_the_package_checks_also_where_a_project_has_its_own_suites(pytester):
    """docker-host-conformance in a folder with a suites/ of its own: the run lints and selects the package's checks."""
    make_project(pytester, [requirement("engine.info")], OWN_CHECKS)
    own = pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    assert own.ret == 0 and "suites/test_checks.py::test_info[local]" in own.stdout.str()
    package = pytester.runpytest_subprocess("--pyargs", "conformance.suites", "--req", "registry.", "--collect-only",
                                            "-q", "-p", "no:cacheprovider")
    assert package.ret == 0, package.stdout.str() + package.stderr.str()
    collected = {line.split("::")[0] for line in package.stdout.lines if "::" in line}
    assert "test_registry.py" in collected and "test_checks.py" not in collected
    assert "deselected" in package.stdout.str()  # --req read the package's catalogue


def test_installed_package_collects_the_suite_with_pytest_pyargs(installed, tmp_path):
    found = run(installed, "python", "-c", "import conformance.suites; print(conformance.suites.__file__)",
                cwd=tmp_path)
    assert found.stdout.startswith(str(installed.parent)), found.stdout + found.stderr  # the wheel, not the checkout
    collected = run(installed, "pytest", "--pyargs", "conformance.suites", "--collect-only", "-q", cwd=tmp_path)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    ids = {line.split("::")[0] for line in collected.stdout.splitlines() if "::" in line}
    assert ids == {p.name for p in (REPO / "suites").glob("test_*.py")}


def test_installed_lab_says_it_needs_a_checkout(installed, tmp_path):
    result = run(installed, "conformance-lab", "variants", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("conformance-lab: the lab's recipes are not here ("), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.lab
def test_installed_console_script_runs_the_suite_from_any_folder(installed, tmp_path):
    result = run(installed, "docker-host-conformance", "--hosts=local://", "--mirror=local://=http://127.0.0.1:5000",
                 cwd=tmp_path, timeout=600)
    output = result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = tmp_path / "reports" / "latest"
    results = json.loads((run_dir / "results.json").read_text())
    judged = results["hosts"]["local://"]["requirements"]
    assert list(judged) == catalogues.load(catalogues.installed_path()).ids(), output
    untold = dict.fromkeys(proof.untold_here(), "error")  # what the suite cannot tell on this machine, if anything
    assert {i: e["status"] for i, e in judged.items() if e["status"] not in JUDGED} == untold, output
    assert all(check.startswith("test_") for e in judged.values() for check in e["checks"])  # not suites/...
    assert results["exit_status"]["code"] == result.returncode
    assert "PytestAssertRewriteWarning" not in result.stdout  # the script imports conformance before pytest starts
    assert {"report.html", "junit.xml", "MANIFEST.sha256"} <= {p.name for p in run_dir.iterdir()}
    verified = run(installed, "conformance-lab", "verify-report", str(run_dir), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr

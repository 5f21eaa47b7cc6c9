"""Collection lint of suites/ and selection by requirement id prefix."""
import pytest

from conformance.selftest import make_project, requirement

CATALOGUE = [requirement("image.read-only"), requirement("image.rootfs"), requirement("nginx.run")]
CHECKS = """
    import pytest

    @pytest.mark.req("image.read-only")
    def test_read_only(evidence):
        evidence.note("ok")

    @pytest.mark.req("image.rootfs")
    def test_rootfs(evidence):
        evidence.note("ok")

    @pytest.mark.req("nginx.run")
    def test_nginx(evidence):
        evidence.note("ok")
"""


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_clean_project_passes(pytester):
    make_project(pytester, CATALOGUE, CHECKS)
    result = run(pytester)
    result.assert_outcomes(passed=3)
    assert result.ret == 0


def test_missing_marker(pytester):
    make_project(pytester, CATALOGUE, CHECKS + "\n    def test_unmarked(evidence):\n        pass\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*suites/test_checks.py::test_unmarked: no @pytest.mark.req(<id>) marker*"])


def test_unknown_id(pytester):
    make_project(pytester, CATALOGUE, CHECKS.replace('req("nginx.run")', 'req("nginx.runs")'))
    result = run(pytester, "suites/test_checks.py::test_nginx")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_nginx: unknown requirement id 'nginx.runs'*"])


def test_check_without_target(pytester):
    make_project(pytester, CATALOGUE, CHECKS.replace("def test_nginx(evidence)", "def test_nginx()"))
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_nginx: uses no target*"])


def test_uncovered_catalogue_id(pytester):
    make_project(pytester, CATALOGUE + [requirement("registry.default-hub")], CHECKS)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*without a check in suites/: registry.default-hub*"])


@pytest.mark.parametrize("narrowing", [["-k", "rootfs"], ["-m", "req"], ["--req", "image."],
                                       ["suites/test_checks.py::test_rootfs"]])
def test_coverage_is_not_linted_when_narrowed(pytester, narrowing):
    make_project(pytester, CATALOGUE + [requirement("registry.default-hub")], CHECKS)
    assert run(pytester, *narrowing).ret != pytest.ExitCode.USAGE_ERROR


def test_req_selects_by_prefix(pytester):
    make_project(pytester, CATALOGUE, CHECKS)
    result = run(pytester, "--req", "image.")
    result.assert_outcomes(passed=2, deselected=1)
    result = run(pytester, "--req", "nginx.run", "--req", "image.rootfs")
    result.assert_outcomes(passed=2, deselected=1)


def test_req_also_runs_the_dependencies_so_they_can_block(pytester):
    catalogue = [requirement("nginx.run"), requirement("nginx.exec", depends=["nginx.run"]),
                 requirement("image.rootfs")]
    make_project(pytester, catalogue, CHECKS.replace('req("image.read-only")', 'req("nginx.exec")'))
    result = run(pytester, "--req", "nginx.exec")
    result.assert_outcomes(passed=2, deselected=1)


def test_req_unknown_prefix(pytester):
    make_project(pytester, CATALOGUE, CHECKS)
    result = run(pytester, "--req", "volume.")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--req volume.: no requirement id starts with it*"])


def test_bad_catalogue_is_a_usage_error(pytester):
    make_project(pytester, CATALOGUE + [requirement("nginx.http", level="MAY")], CHECKS)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*requirements.toml: requirement 'nginx.http': level 'MAY'*"])


def test_tests_outside_suites_are_left_alone(pytester):
    make_project(pytester, CATALOGUE, CHECKS)
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_unit.py").write_text("def test_plain():\n    assert True\n")
    result = run(pytester, "tests")
    result.assert_outcomes(passed=1)
    assert result.ret == 0 and not (pytester.path / "reports").exists()


def test_collect_only_lists_checks(pytester):  # its speed is a figure of tox -e bench, not a test
    make_project(pytester, CATALOGUE, CHECKS)
    result = run(pytester, "--collect-only", "-q")
    result.stdout.fnmatch_lines(["suites/test_checks.py::test_read_only[[]local[]]"])
    assert result.ret == 0


def test_one_process_orders_the_checks_requirement_by_requirement_across_the_targets(pytester):
    """Each target's gate then comes early, and its engine work runs ahead beside the others' (suites/conftest.py)."""
    make_project(pytester, CATALOGUE, CHECKS)
    result = run(pytester, "--collect-only", "-q", "--hosts=local://,ssh://root@127.0.0.1:1")
    listed = [line for line in result.stdout.lines if line.startswith("suites/")]
    tests, targets = ("test_read_only", "test_rootfs", "test_nginx"), ("local", "ssh://127.0.0.1")
    assert listed == [f"suites/test_checks.py::{test}[{target}]" for test in tests for target in targets]


def test_lint_under_xdist_exits_4_with_the_message(pytester):
    make_project(pytester, CATALOGUE, CHECKS.replace('req("nginx.run")', 'req("nginx.runs")'))
    result = run(pytester, "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*test_nginx: unknown requirement id 'nginx.runs'*"])

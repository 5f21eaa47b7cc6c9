"""The per-check watchdog (--check-timeout): a hung check ends as an error naming it, cleanup runs, the run goes on."""
import time

import pytest

from conformance.selftest import make_project, requirement, results

CATALOGUE = [requirement("engine.info"), requirement("engine.version")]
CHECKS = """
    import os
    import time
    from pathlib import Path

    import pytest

    HANG = os.environ["HANG"]

    @pytest.fixture
    def made(evidence):
        evidence.note("made a labelled thing")
        yield
        Path("cleanup-ran").write_text("yes")  # the cwd: the pytester folder

    @pytest.fixture
    def stuck(made):
        if HANG == "fixture":
            time.sleep(60)

    @pytest.mark.req("engine.info")
    def test_hangs(made, stuck, host, evidence):
        '''Hangs where HANG says.'''
        if HANG == "call":
            time.sleep(60)
        if HANG == "command":  # testinfra's local backend: a command that does not return in time
            host.run("sleep 12")

    @pytest.mark.req("engine.version")
    def test_next(evidence):
        '''Runs after the hung one.'''
        evidence.note("ran")
"""
LIMIT_S = 2


def run(pytester, hang, *args):
    root = make_project(pytester, CATALOGUE, CHECKS)
    pytester._monkeypatch.setenv("HANG", hang)
    began = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--check-timeout={LIMIT_S}", *args,
                                           timeout=60)
    return root, result, time.monotonic() - began


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["alone", "xdist"])
@pytest.mark.parametrize("hang, where", [("call", "test_hangs (suites/test_checks.py:"),
                                         ("fixture", "stuck (suites/test_checks.py:"),
                                         ("command", "test_hangs (suites/test_checks.py:")])
def test_a_hung_check_is_an_error_naming_it_and_the_run_goes_on(pytester, hang, where, xdist):
    root, result, _ = run(pytester, hang, *xdist)
    host = results(root)["hosts"]["local://"]["requirements"]
    message = host["engine.info"]["message"]
    assert host["engine.info"]["status"] == "error", host
    assert message.startswith(f"local: test_hangs[local] did not end within {LIMIT_S} s (--check-timeout), "
                              f"stopped in {where}"), message
    assert (root / "cleanup-ran").read_text() == "yes"  # the fixture before the hang was torn down
    assert host["engine.version"]["status"] == "passed"  # the next check ran
    # No wall-time bound here (a loaded machine is slow): the hang sleeps 60 s and the run itself is bounded by 60 s,
    # so a watchdog that did not fire cannot pass; the message above says it fired.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "Traceback" not in out and "Stack of" not in out and "INTERNALERROR" not in out, out


def test_the_limit_is_a_setting_and_a_check_within_it_passes(pytester):
    root, result, _ = run(pytester, "none")
    assert result.ret == 0, result.stdout.str()
    statuses = {i: e["status"] for i, e in results(root)["hosts"]["local://"]["requirements"].items()}
    assert statuses == {"engine.info": "passed", "engine.version": "passed"}
    root, result, _ = run(pytester, "call", "--check-timeout=1", "--check-timeout=local://=3")
    message = results(root)["hosts"]["local://"]["requirements"]["engine.info"]["message"]
    assert "did not end within 3 s (--check-timeout)" in message  # the per-target rule wins

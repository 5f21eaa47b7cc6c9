"""Exit codes a CI gate relies on (README: Exit status), each from a real run of a scratch project."""
import json

import pytest

from conformance.report import EXIT_MEANINGS
from report_project import UNREACHABLE, bundle, run_in

SUITE_BUG = """
def pytest_collection_finish(session):
    raise RuntimeError("a bug in the suite's own code")
"""


@pytest.mark.parametrize("args, fail, code", [
    ([], "", 0),                                                    # every MUST passed (one not applicable)
    ([], "service", 1),                                             # a MUST failed (and blocked its dependant)
    ([], "latency", 0),                                             # a SHOULD failed: warning only
    (["--strict-should"], "latency", 1),                            # ... unless --strict-should
    (["-k", "nothing_matches"], "", 4),                             # nothing selected
    (["--profile", "nope"], "", 4),                                 # bad input
    ([f"--hosts={UNREACHABLE}"], "", 4),                            # no target reachable
    ([f"--hosts=local://,{UNREACHABLE}"], "", 1),                   # one target reachable: its errors fail the run
    (["-p", "suite_bug"], "", 3),                                   # the suite itself crashed (INTERNALERROR)
], ids=["pass", "must-fails", "should-warns", "should-strict", "nothing-selected", "bad-input", "no-target",
        "one-target-down", "suite-error"])
def test_exit_code(tmp_path, args, fail, code):
    (tmp_path / "suite_bug.py").write_text(SUITE_BUG)
    proc = run_in(tmp_path, *args, fail=fail, env={"PYTHONPATH": str(tmp_path)})
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out[-3000:]
    if code == 0 and fail == "latency":
        assert "SHOULD engine.start-latency on local: 900 ms is above the budget [warning]" in out
    if (tmp_path / "reports" / "latest" / "results.json").exists():
        data = json.loads((bundle(tmp_path) / "results.json").read_text())
        assert data["exit_status"] == {"code": code, "meaning": EXIT_MEANINGS[code]}
    if code in (0, 1):  # runs that reached a target end with the verdict line (wrapped at 100 columns)
        assert f"exit status {code}: {EXIT_MEANINGS[code]}" in " ".join(out.split())

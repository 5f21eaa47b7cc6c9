"""Under xdist the controller alone writes the bundle, and it holds every worker's results."""
import json

import junitparser

from conformance import bundle
from report_project import IDS, UNREACHABLE, bundle as bundle_of, html_tests, run_in


def test_reports_written_once_with_every_workers_results(tmp_path):
    proc = run_in(tmp_path, f"--hosts=local://,{UNREACHABLE}", "-n", "2", "--dist", "loadgroup")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "created: 2/2 workers" in proc.stdout
    folders = [p for p in (tmp_path / "reports").iterdir() if p.name != "latest"]
    assert len(folders) == 1, folders  # workers write no run folder of their own
    run_dir = bundle_of(tmp_path)
    data = json.loads((run_dir / "results.json").read_text())
    assert {h: sorted(v["requirements"]) for h, v in data["hosts"].items()} == {
        "local://": sorted(IDS), UNREACHABLE: sorted(IDS)}
    assert data["hosts"]["local://"]["verdict"] == "conforms"
    # a worker's typed outcome (not a skip text) reaches the controller: not applicable, with its reason
    repo = data["hosts"]["local://"]["requirements"]["install.repo"]
    assert (repo["status"], repo["message"].split(" (")[0]) == ("not-applicable", "not applicable: profile rhel")
    assert len(html_tests(run_dir)) == 12
    xml = junitparser.JUnitXml.fromfile(str(run_dir / "junit.xml"))
    assert len([case for suite in xml for case in suite]) == 12
    assert bundle.verify(run_dir) == []
    assert len(list((run_dir / "evidence").rglob("*.txt"))) == 2 * len(IDS)

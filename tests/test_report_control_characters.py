"""What a target prints reaches the terminal, evidence files, JUnit and the reports with its control characters
made visible: a target cannot retitle the terminal, clear a line or print a fake verdict."""
import html
import json
import re
from xml.etree import ElementTree

from conformance import cleanup, cleanup_cli, engine as engines
from report_project import CHECKS as PROJECT_CHECKS, bundle, html_tests, run_in

FAKE = "\x1b]0;all hosts conform\x07\x1b[2K\r\x1b[32mPASSED\x1b[0m conforms \u202esevlohcs"
SHOWN = "\\x1b]0;all hosts conform\\x07"  # how FAKE starts once made visible
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
CHECKS = (PROJECT_CHECKS  # every way a target's words reach the terminal: failure, error, skip and SHOULD lines
          .replace("from conformance.outcomes import expect", """from conformance.outcomes import TargetError, expect

    FAKE = os.environ["FAKE"]

    @pytest.fixture
    def broken():
        raise TargetError(FAKE)""")
          .replace('evidence.note("started in 900 ms")', "evidence.note(FAKE)")
          .replace('assert "latency" not in FAIL, "900 ms is above the budget"', "assert False, FAKE")
          .replace('evidence.cmd(host, "echo active")', """evidence.cmd(host, 'printf "%s" "$FAKE"')
        print(FAKE)""")
          .replace('expect("service" not in FAIL, "active", "inactive")', 'expect(False, "active", FAKE)')
          .replace("def test_rootfs(evidence, path):", "def test_rootfs(evidence, path, broken):"))


def strings(value):
    """Every string in a JSON value, keys included."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


def test_control_characters_from_the_target_are_visible_everywhere(tmp_path):
    proc = run_in(tmp_path, "-rA", checks=CHECKS, env={"FAKE": FAKE, "COLUMNS": "400"})  # short lines uncut
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    terminal = proc.stdout + proc.stderr
    assert not RAW.search(terminal), repr(terminal[RAW.search(terminal).start() - 300:][:400])
    lines = terminal.splitlines()
    for start in ("FAILED suites/test_checks.py::test_latency", "FAILED suites/test_checks.py::test_service",
                  "SKIPPED [1] ", "ERROR suites/test_checks.py::test_rootfs",
                  "SHOULD engine.start-latency on local:"):
        assert any(line.startswith(start) and SHOWN in line for line in lines), (start, terminal[-4000:])

    run_dir = bundle(tmp_path)
    evidence = sorted((run_dir / "evidence").rglob("*.txt"))
    assert len(evidence) == 5
    for path in evidence:
        assert not RAW.search(path.read_text()), path
    assert SHOWN in (run_dir / "evidence" / "local" / "service.running.txt").read_text()
    results = json.loads((run_dir / "results.json").read_text())
    assert not [s for s in strings(results) if RAW.search(s)]
    assert SHOWN in results["hosts"]["local://"]["requirements"]["service.running"]["message"]
    rows = html_tests(run_dir)  # pytest-html's data, which its JavaScript renders
    assert not [s for s in strings(rows) if RAW.search(s)]
    assert not RAW.search(html.unescape((run_dir / "report.html").read_text()))
    junit = ElementTree.parse(run_dir / "junit.xml").getroot()
    texts = [t for e in junit.iter() for t in (e.text, e.tail, *e.attrib.values()) if t]
    # junitxml writes an illegal XML character as the text "#x1B"; a target's must not get that far either
    assert not [t for t in texts if RAW.search(t) or "#x1B" in t]
    assert any(SHOWN in t for t in texts)


def test_conformance_cleanup_shows_target_labels_and_specs_visibly(monkeypatch, capsys):
    """Run ids come from the target's labels: a crafted one is printed with its escapes visible."""

    class Client:
        def close(self):
            pass
    monkeypatch.setattr(engines, "url_for", lambda spec, backend, url: "unix:///nowhere")
    monkeypatch.setattr(engines, "connect", lambda spec, url, timeout, *policy: Client())
    monkeypatch.setattr(engines, "guard_client", lambda client, spec, timeout: None)
    monkeypatch.setattr(cleanup, "leftover_runs", lambda client: {f"1a2b{FAKE}"})
    assert cleanup_cli.main(["--hosts", "local://"]) == 0
    out = capsys.readouterr().out
    assert not RAW.search(out) and f"local://: leftovers of run(s): 1a2b{SHOWN}" in out, repr(out)

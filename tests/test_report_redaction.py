"""Planted credentials never reach a report file (HTML, JSON, JUnit, evidence/) or the terminal."""
import json

from report_project import CHECKS, bundle, readable, run_in

SECRETS = ["hunter2-url", "hunter2-env", "c2VjcmV0LWF1dGg=", "tok-12345-secret", "hunter2-facts", "hunter2-flag"]
PLANTED = CHECKS.replace('''        evidence.cmd(host, "echo active")''', '''        evidence.cmd(host, "echo active; echo DOCKER_PASSWORD=hunter2-env; env | grep REGISTRY_TOKEN")
        evidence.cmd(host, "cat %s", os.environ["DOCKER_CONFIG_FILE"])
        evidence.cmd(host, "echo docker login --password hunter2-flag -u bob")
        evidence.note("pulled through https://bob:hunter2-url@mirror.example/v2/")
        evidence.api("GET /info", RegistryConfig={"Mirrors": ["https://bob:hunter2-url@mirror.example/"]},
                     auths={"mirror.example": {"auth": "c2VjcmV0LWF1dGg="}})
        print("login with token=tok-12345-secret")
        mirror = "https://bob:hunter2-url@mirror.example"
        assert mirror == "https://mirror.example", "expected the mirror without credentials"''')
FACTS = '''
import conformance.targets

def fake_facts(target):
    return {"OS": "Debian", "mirrors": "https://bob:hunter2-facts@mirror.example/"}

conformance.targets.gather_host_facts = fake_facts
'''


def test_planted_secrets_are_masked_everywhere(tmp_path):
    (tmp_path / "conftest.py").write_text(FACTS)
    config = tmp_path / "config.json"
    config.write_text('{"auths": {"mirror.example": {"auth": "c2VjcmV0LWF1dGg="}}}\n')
    proc = run_in(tmp_path, "-rA", "--req", "service.running", checks=PLANTED,
                  env={"REGISTRY_TOKEN": "hunter2-env", "DOCKER_CONFIG_FILE": str(config)})
    assert proc.returncode == 1, proc.stdout[-3000:]
    run_dir = bundle(tmp_path)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {"report.html", "results.json", "junit.xml"} <= {p.name for p in files}
    assert any(p.parent.name == "evidence" or p.parent.parent.name == "evidence" for p in files)
    for where, text in [("terminal", proc.stdout + proc.stderr), *((str(p), readable(p)) for p in files)]:
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"{where} shows {leaked}"
    results = (run_dir / "results.json").read_text()
    assert "https://bob:***@mirror.example/" in results  # masked, not dropped: the auditor sees a credential was there
    assert '\\"auth\\": \\"***\\"' in results and "DOCKER_PASSWORD=***" in results and "REGISTRY_TOKEN=***" in results
    assert json.loads(results)["hosts"]["local://"]["facts"]["mirrors"] == "https://bob:***@mirror.example/"
    assert "--password *** -u bob" in results and "token=***" in readable(run_dir / "report.html")
    assert "https://bob:***@mirror.example" in proc.stdout  # the failure itself is still shown

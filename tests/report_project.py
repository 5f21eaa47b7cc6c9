"""The scratch project of the report tests: three seed sections, MUST and SHOULD, a dependency, a profile, params."""
import json
from pathlib import Path

from conformance.selftest import make_project, requirement

UNREACHABLE = "ssh://root@nohost.invalid"  # resolves nowhere: every check on it ends as an error at once
CATALOGUE = [
    requirement("engine.start-latency", level="SHOULD", section="1.1"),
    requirement("service.running"),
    requirement("engine.info", depends=["service.running"]),
    requirement("install.repo", profile="rhel"),
    requirement("image.rootfs", section="1.3"),
]
CHECKS = """
    import os
    import pytest
    from conformance.outcomes import expect

    FAIL = set(os.environ.get("FAIL", "").split(","))

    @pytest.mark.req("engine.start-latency")
    def test_latency(evidence):
        '''The container starts within the budget.'''
        evidence.note("started in 900 ms")
        assert "latency" not in FAIL, "900 ms is above the budget"

    @pytest.mark.req("service.running")
    def test_service(host, evidence):
        '''The service is active.'''
        evidence.cmd(host, "echo active")
        expect("service" not in FAIL, "active", "inactive")

    @pytest.mark.req("engine.info")
    def test_info(evidence):
        '''The engine answers info.'''
        evidence.api("GET /info", Driver="overlay2")

    @pytest.mark.req("install.repo")
    def test_repo(evidence):
        '''The package source is configured.'''
        evidence.note("repo file present")

    @pytest.mark.req("image.rootfs")
    @pytest.mark.parametrize("path", ["/bin", "/etc"])
    def test_rootfs(evidence, path):
        '''The rootfs holds the directory.'''
        evidence.http("http://127.0.0.1/", 200, "Welcome")
        evidence.note(f"{path} present")
"""
IDS = [r["id"] for r in CATALOGUE]


def project(pytester, checks: str = CHECKS) -> Path:
    return make_project(pytester, CATALOGUE, checks)


def run(pytester, *args: str, fail: str = ""):
    pytester._monkeypatch.setenv("FAIL", fail)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--profile=debian", "--call-timeout=5", *args)


def bundle(root: Path) -> Path:
    return (root / "reports" / "latest").resolve()


def readable(path: Path) -> str:
    """The file's text with HTML entities and base64 data: URIs decoded, as a reader would see them."""
    import base64
    import html
    import re
    text = path.read_text(errors="replace")
    if path.suffix == ".html":
        text = html.unescape(html.unescape(text))
        text += "".join(base64.b64decode(m).decode(errors="replace") for m in re.findall(r"base64,([A-Za-z0-9+/=]+)", text))
    return text


def html_tests(run_dir: Path) -> list[dict]:
    """The rows pytest-html 4 renders, from its data-jsonblob (the table itself is drawn by JS)."""
    import html
    import re
    page = (run_dir / "report.html").read_text()
    blob = re.search(r'data-jsonblob="(.*?)"></div>', page, re.S).group(1)
    return [row for rows in json.loads(html.unescape(blob))["tests"].values() for row in rows]


class _Dir:
    """Enough of pytester for make_project: a path."""

    def __init__(self, path: Path):
        self.path = path


def run_in(root: Path, *args: str, fail: str = "", env: dict | None = None, checks: str = CHECKS):
    """Write the project into root and run it in a subprocess from there; returns the CompletedProcess."""
    import os
    import subprocess
    import sys
    make_project(_Dir(root), CATALOGUE, checks)
    environ = {**os.environ, "FAIL": fail, **(env or {})}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--profile=debian",
                           "--call-timeout=5", *args], cwd=root, env=environ, capture_output=True, text=True,
                          timeout=300)

"""The HTML report as a browser renders it: headless Chromium, no console errors, a full fleet grid whose links land."""
import html.parser
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from conformance import bundle
from report_project import IDS, UNREACHABLE, bundle as bundle_of, run_in

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTS = ["local://", UNREACHABLE]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} missing: `apt-get install chromium` (.ci/run installs it)")


class Page(html.parser.HTMLParser):
    """Element ids, the fleet grid's cells and links, and the rendered result rows of a dumped DOM."""

    def __init__(self):
        super().__init__()
        self.ids, self.cells, self.links, self.rows = set(), [], [], []
        self._in_grid = 0
        self._in_template = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        self._in_template += tag == "template"
        if tag == "table" and attrs.get("id") == "fleet-grid":
            self._in_grid = 1
        if self._in_grid and tag == "td" and "cell" in (attrs.get("class") or "").split():
            self.cells.append(attrs)
        if self._in_grid and tag == "a":
            self.links.append(attrs["href"])
        if tag == "tbody" and "results-table-row" in (attrs.get("class") or "") and not self._in_template:
            self.rows.append(attrs.get("id"))

    def handle_endtag(self, tag):
        self._in_template -= tag == "template"
        if tag == "table":
            self._in_grid = 0


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def test_report_renders_without_errors_and_the_grid_links_to_rows(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    proc = run_in(project, f"--hosts={','.join(HOSTS)}", fail="service")
    assert proc.returncode == 1, proc.stdout[-3000:]
    run_dir = bundle_of(project)
    url = (run_dir / "report.html").as_uri()

    dumped = chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    console = [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, "console messages:\n" + "\n".join(console)  # pytest-html's app logs nothing when all is well

    page = Page()
    page.feed(dumped.stdout)
    assert len(page.cells) == len(HOSTS) * len(IDS)
    assert sorted(c["class"].split()[1] for c in page.cells) == sorted(
        ["passed", "failed", "blocked", "not-applicable", "passed"] + ["error"] * len(IDS))
    assert len(page.rows) == 2 * 6 and len(page.links) == len(page.cells)
    for href in page.links:  # pytest-html gives each row's <tbody> its test id; a fragment link lands on it
        assert urllib.parse.unquote(href.removeprefix("#")) in page.rows, href
    assert "Overall: does not conform" in dumped.stdout and "Fleet grid" in dumped.stdout

    shot = run_dir / "report.png"
    taken = chromium(tmp_path, "--hide-scrollbars", "--window-size=1400,2400", f"--screenshot={shot}", url)
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]
    # The screenshot was added after the run: the manifest tells it apart from the run's own files.
    assert bundle.verify(run_dir) == ["extra: report.png"]

"""No markup from a target's name, the inventory or the metadata runs in report.html: everything is escaped,
both in the page and in the data pytest-html embeds, which its JavaScript renders as HTML."""
import html
import html.parser
import json
import re
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from report_project import CHECKS as PROJECT_CHECKS, bundle, run_in
from test_report_html import CHROMIUM, chromium

ADDRESS = "h<img src=x onerror=alert(1)>"  # a --hosts host name; ssh refuses it, so its checks end as errors
INVENTORY = """
hosts:
  web1:
    address: nohost.invalid
    labels: {"<svg onload=alert(2)>": "<img src=x onerror=alert(3)>"}
"""
METADATA = ("note", "<script>alert(4)</script><img src=x onerror=alert(5)>")
OUTPUT = "<img src=x onerror=alert(6)>"  # printed by the target itself
CHECKS = PROJECT_CHECKS.replace('"started in 900 ms"', repr(OUTPUT)).replace('"900 ms is above the budget"', repr(OUTPUT))


class Markup(html.parser.HTMLParser):
    """The elements and attributes a browser would create from a piece of HTML, its text and its scripts."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.scripts = [], [], []
        self._in_script = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def injected(fragment: str) -> list:
    """What of the crafted markup (each payload calls alert) became elements, attributes or script."""
    markup = Markup(fragment)
    found = [(tag, attrs) for tag, attrs in markup.tags
             if tag in ("img", "svg", "script") and "alert(" in str(attrs)  # an element the payload created
             or any(k.startswith("on") and "alert(" in (v or "") for k, v in attrs.items())]  # its handler
    return found + [s for s in markup.scripts if "alert(" in s]


def rendered(data: dict) -> list[str]:
    """The strings of pytest-html's data that its JavaScript (app.js) inserts as HTML: every cell of a row, html
    extras and the log; each environment value (a table's items as `key: value`)."""
    pieces = []
    for row in (r for rows in data["tests"].values() for r in rows):
        pieces += row["resultsTableRow"] + [row.get("log") or ""]
        pieces += [e["content"] for e in row["extras"] if e["format_type"] == "html"]
    for value in data["environment"].values():
        if isinstance(value, dict):
            pieces.append("<ul>" + "".join(f"<li>{k}: {v}</li>" for k, v in value.items()) + "<ul>")
        else:
            pieces.append(f"<div>{','.join(map(str, value)) if isinstance(value, list) else value}</div>")
    return pieces


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """report.html of a run with a crafted target name, inventory labels, --metadata and target output."""
    root = tmp_path_factory.mktemp("injection")
    inventory = root / "fleet.yml"
    inventory.write_text(INVENTORY)
    proc = run_in(root, f"--hosts=local://,ssh://{ADDRESS}", f"--inventory={inventory}", "--metadata", *METADATA,
                  checks=CHECKS, fail="latency")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return bundle(root) / "report.html"


def test_crafted_names_and_metadata_are_escaped_in_the_page_and_its_data(report):
    page = report.read_text()
    blob = re.search(r'data-jsonblob="(.*?)"></div>', page, re.S).group(1)
    data = json.loads(html.unescape(blob))

    static = Markup(page.replace(blob, ""))
    assert [t for t, _ in static.tags if t == "script"] == ["script"]  # pytest-html's own app, nothing else
    assert not injected(page.replace(blob, ""))
    pieces = rendered(data)
    assert not [(p, injected(p)) for p in pieces if injected(p)]

    # Escaped, not dropped: the reader sees the crafted text as text.
    shown = " ".join(" ".join(Markup(p).text) for p in pieces) + " ".join(static.text)
    for text in (ADDRESS, METADATA[1], OUTPUT, "<svg onload=alert(2)>"):
        assert text in shown, text
    # The fleet grid still lands on the rows: each link's target is the id app.js gives a row's <tbody>.
    ids = {row["testId"] for rows in data["tests"].values() for row in rows}
    links = [a["href"] for t, a in static.tags if t == "a" and a.get("href", "").startswith("#")]
    assert len(links) == 3 * 5 and all(urllib.parse.unquote(href[1:]) in ids for href in links), (links, ids)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: `apt-get install chromium`")
def test_the_page_a_browser_renders_holds_none_of_the_payloads(report, tmp_path):
    """Headless Chromium runs app.js; a payload that ran would hold the page in an alert() dialog."""
    try:
        dumped = chromium(tmp_path, "--dump-dom", report.as_uri())
    except subprocess.TimeoutExpired:
        pytest.fail("the page did not finish rendering: a payload's alert() holds it")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert not injected(dumped.stdout)
    assert "results-table-row" in dumped.stdout and ADDRESS in " ".join(Markup(dumped.stdout).text)

"""The pytest-html report's additions: conformance columns, evidence extras, the verdict summary and the fleet grid."""
from __future__ import annotations

import html
import urllib.parse
from pathlib import Path

from conformance import outcomes
from conformance.masking import redact
from conformance.report import EXIT_MEANINGS, VERDICTS, Results, host_verdict

CSS = Path(__file__).parent / "report.css"
# Sortable columns after pytest-html's Result and Test: (data key, title). Keys become the row's sort keys.
COLUMNS = (("status", "Status"), ("requirement", "Requirement"), ("level", "Level"), ("section", "Section"),
           ("host", "Host"), ("claim", "Claim"), ("description", "Description"))
FIRST = 2


def header(cells: list[str]) -> None:
    for offset, (key, title) in enumerate(COLUMNS):
        cells.insert(FIRST + offset, f'<th class="sortable" data-column-type="{key}">{title}</th>')


def row(report, cells: list[str]) -> None:
    """Conformance cells; pytest-html also calls this for collection errors, which have no conformance data.

    pytest-html puts the test id into its cell unescaped, and its JavaScript renders every cell as HTML: the id
    holds the target's name (an inventory address, a --hosts spec), so the cell is written again, escaped.
    A row pytest-html would build and then drop is emptied instead (it then skips it): two of each check's three.
    """
    if dropped(report):
        cells.clear()
        return
    for n, cell in enumerate(cells):
        if cell.startswith('<td class="col-testId">'):
            cells[n] = f'<td class="col-testId">{html.escape(row_id(report))}</td>'
    data = dict(getattr(report, "conformance", None) or {})
    data.setdefault("host", data.get("name", ""))
    for offset, (key, _) in enumerate(COLUMNS):
        # pytest-html reads a cell's text up to its first newline
        value = " ".join(redact(str(data.get(key, ""))).split())
        css = f" {html.escape(value)}" if key == "status" else ""
        cells.insert(FIRST + offset, f'<td class="col-{key}{css}">{html.escape(value)}</td>')


def dropped(report) -> bool:
    """pytest-html (4.2, ReportData.add_test) shows no passed setup, nor a passed teardown, whose captured teardown
    sections it adds to the call's row: only one that has none is dropped here."""
    if not report.passed or report.when not in ("setup", "teardown"):
        return False
    return report.when == "setup" or not any("teardown" in header for header, _ in report.sections)


def row_id(report) -> str:
    """pytest-html's id of a report's row: the node id, with ::setup, ::teardown or ::collect unless a call."""
    when = getattr(report, "when", "call")
    return report.nodeid if when == "call" else f"{report.nodeid}::{when}"


def log(report, data: list[str]) -> None:
    """A row's log without what its Reason block (plugin/checks.py _html_evidence) shows already: pytest's skip tuple
    ('/…/plugin/checks.py', 41, 'Skipped: …') of a blocked or not-applicable row, and an error's message when it has no
    traceback (pytest.fail(..., pytrace=False)). Captured output and real tracebacks stay."""
    if getattr(report, "conformance", None) is None or not data or not report.longreprtext:
        return
    if data[0] != html.escape(report.longreprtext) + "\n":  # pytest-html puts the failure text first
        return
    chain = getattr(report.longrepr, "chain", None) or []
    message_only = bool(chain) and all(getattr(tb, "style", None) == "value" for tb, _, _ in chain)
    if report.skipped or (report.failed and report.when != "call" and message_only):
        del data[0]


def evidence_extra(title: str, text: str) -> str:
    """Evidence as readable, escaped HTML for the row's detail area."""
    return (f'<div class="conformance-evidence"><h4>{html.escape(title)}</h4>'
            f"<pre>{html.escape(text or '(none)')}</pre></div>")


def anchor(test_id: str) -> str:
    """href of a results-table row: pytest-html 4 gives each row's <tbody> the text of its test-id cell as its
    id, and row() writes that cell escaped."""
    return "#" + urllib.parse.quote(html.escape(test_id), safe="/:@[]|.,-_=+~!$()*;")


def summary(prefix: list[str], postfix: list[str], results: Results, order: list[str], exit_status: int | None,
            strict: bool) -> None:
    """The verdict and per-host counts at the top, the fleet grid below the filters."""
    prefix.append(_verdict(results, exit_status, strict))
    postfix.append(fleet_grid(results, order))


def _verdict(results: Results, exit_status: int | None, strict: bool) -> str:
    heads = "".join(f"<th>{s}</th>" for s in outcomes.STATUSES)
    rows = []
    for target, counts in results.counts().items():
        verdict = host_verdict(results.hosts[target]["requirements"], strict)
        cells = "".join(f'<td class="count {s}">{counts[s]}</td>' for s in outcomes.STATUSES)
        rows.append(f'<tr><td class="host">{html.escape(results.name(target))}</td>{cells}'
                    f'<td class="verdict {VERDICTS[verdict]}">{verdict}</td></tr>')
    code = "?" if exit_status is None else int(exit_status)
    meaning = EXIT_MEANINGS.get(code, "pytest exit status")
    overall = outcomes.PASSED if code == 0 else outcomes.FAILED
    return (f'<div id="conformance-verdict"><p class="overall {overall}">Overall: {html.escape(meaning)} '
            f"(exit status {code}{', SHOULD counts under --strict-should' if strict else ''})</p>"
            f'<table id="conformance-counts"><tr><th>Host</th>{heads}<th>Verdict</th></tr>{"".join(rows)}</table>'
            "</div>")


def fleet_grid(results: Results, order: list[str]) -> str:
    """Requirement ids (by seed section, catalogue order) x hosts; each cell links to the check's row."""
    targets = list(results.hosts)
    names = {t: html.escape(results.name(t), quote=True) for t in targets}
    seen = {i: e for h in results.hosts.values() for i, e in h["requirements"].items()}
    ids = sorted(seen, key=lambda i: (seen[i]["section"], order.index(i) if i in order else len(order), i))
    heads = "".join(f'<th class="host">{names[t]}</th>' for t in targets)
    rows = []
    for req_id in ids:
        cells = []
        for target in targets:
            entry = results.hosts[target]["requirements"].get(req_id)
            if entry is None:
                cells.append(f'<td class="cell not-run" data-host="{names[target]}">not run</td>')
                continue
            href = anchor(results.rows[(target, req_id)])
            cells.append(f'<td class="cell {entry["status"]}" data-host="{names[target]}" '
                         f'title="{html.escape(entry["message"] or entry["status"])}">'
                         f'<a href="{html.escape(href)}">{entry["status"]}</a></td>')
        e = seen[req_id]
        rows.append(f'<tr><td>{html.escape(e["section"])}</td><td class="requirement">{html.escape(req_id)}</td>'
                    f'<td>{html.escape(e["level"])}</td>{"".join(cells)}</tr>')
    return (f'<div id="fleet"><h2>Fleet grid</h2><p>Each cell links to the check\'s row in the results table '
            f'(expand a row for its evidence).</p><table id="fleet-grid"><thead><tr><th>Section</th>'
            f'<th>Requirement</th><th>Level</th>{heads}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')

"""report.html of a merged bundle: the run report's verdict and fleet grid, then one row per host and requirement."""
from __future__ import annotations

import html
from pathlib import Path

from conformance import bundle, html_report
from conformance.evidence import render
from conformance.masking import redact
from conformance.report import Results

COLUMNS = ("Status", "Requirement", "Level", "Section", "Host", "Claim", "Description", "Message")


def _row(results: Results, target: str, req_id: str, entry: dict) -> str:
    """One <tbody> whose id is the row id the grid links to (html_report.anchor), as pytest-html's rows are."""
    name = results.name(target)
    cells = (entry["status"], req_id, entry["level"], entry["section"], name, entry.get("claim", ""),
             entry.get("description", ""), entry.get("message") or "")
    tds = "".join(f'<td class="col-{c.lower()}{" " + html.escape(entry["status"]) if c == "Status" else ""}">'
                  f"{html.escape(redact(str(v)))}</td>" for c, v in zip(COLUMNS, cells))
    href = html.escape(bundle.evidence_path(name, req_id))
    detail = html_report.evidence_extra("Evidence", redact(render(entry.get("evidence") or [])))
    row_id = html.escape(results.rows[(target, req_id)], quote=True)
    return (f'<tbody id="{row_id}"><tr class="collapsible">{tds}</tr><tr><td colspan="{len(COLUMNS)}">'
            f'<details><summary>evidence</summary>{detail}<a href="{href}">evidence file</a></details></td></tr></tbody>')


def page(results: Results, order: list[str], exit_status: int | None) -> str:
    prefix: list[str] = []
    postfix: list[str] = []
    html_report.summary(prefix, postfix, results, order, exit_status, results.strict)
    rows = "".join(_row(results, t, i, e) for t, h in results.hosts.items()
                   for i, e in sorted(h["requirements"].items(), key=lambda kv: order.index(kv[0])
                                      if kv[0] in order else len(order)))
    heads = "".join(f"<th>{c}</th>" for c in COLUMNS)
    css = html_report.CSS.read_text(encoding="utf-8")
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Docker host conformance (merged)</title>'
            f"<style>{css}\ntable#results td {{ border-top: 1px solid #ddd; vertical-align: top; }}</style></head>"
            f"<body><h1>Docker host conformance (merged from {len(results.hosts)} host(s))</h1>{''.join(prefix)}"
            f'{"".join(postfix)}<h2>Results</h2><table id="results"><thead><tr>{heads}</tr></thead>{rows}</table>'
            "</body></html>\n")


def write(path: Path, results: Results, order: list[str], exit_status: int | None) -> None:
    path.write_text(page(results, order, exit_status), encoding="utf-8")

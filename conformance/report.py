"""The run's reports: run folder, results.json, HTML columns, terminal summary and the exit status."""
from __future__ import annotations

import datetime
import html
import json
import os
from pathlib import Path
from typing import Any

import pytest

from conformance import outcomes
from conformance.outcomes import BLOCKED, ERROR, FAILED, NOT_APPLICABLE, PASSED

SCHEMA = 1
COLUMNS = (("requirement", "Requirement"), ("level", "Level"), ("section", "Section"), ("description", "Description"))


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def run_folder(report_dir: str | os.PathLike, run_id: str, started: datetime.datetime) -> Path:
    return Path(report_dir) / f"{started:%Y%m%dT%H%M%SZ}-{run_id}"


def update_latest(run_dir: Path) -> None:
    """Point <report-dir>/latest at this run folder (relative link, replaced atomically)."""
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest-{run_dir.name}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, link)


class Results:
    """Outcomes per (target, requirement), aggregated from the reports (also those xdist workers send)."""

    def __init__(self, run_id: str, started: datetime.datetime):
        self.run_id = run_id
        self.started = started
        self.hosts: dict[str, dict[str, Any]] = {}
        self.other_failures = 0  # failed items outside suites/ (self-tests)
        self._pending: dict[str, list[pytest.TestReport]] = {}

    def add(self, report: pytest.TestReport) -> tuple[str, str, str, str] | None:
        """Take one phase report; after the teardown report return (target, id, status, message)."""
        data = getattr(report, "conformance", None)
        if data is None:
            if report.failed:
                self.other_failures += 1
            return None
        key = f"{report.nodeid}@{getattr(report, 'node', '')}"
        self._pending.setdefault(key, []).append(report)
        if data.get("facts"):
            self._host(data["target"])["facts"] = data["facts"]
        if report.when != "teardown":
            return None
        reports = self._pending.pop(key)
        status, message = outcomes.classify(reports)
        evidence = [e for r in reports for e in (getattr(r, "conformance", {}).get("evidence") or [])]
        self._record(data, status, message, evidence)
        return data["target"], data["requirement"], status, message

    def _host(self, target: str) -> dict[str, Any]:
        return self.hosts.setdefault(target, {"facts": {}, "requirements": {}})

    def _record(self, data: dict, status: str, message: str, evidence: list) -> None:
        entries = self._host(data["target"])["requirements"]
        entry = entries.get(data["requirement"])
        if entry is None:
            entries[data["requirement"]] = {"status": status, "level": data["level"], "section": data["section"],
                                            "message": message, "evidence": evidence}
            return
        entry["evidence"] += evidence
        if outcomes.worst(entry["status"], status) != entry["status"]:
            entry["status"], entry["message"] = status, message

    def as_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "run_id": self.run_id, "started": self.started.isoformat(timespec="seconds"),
                "hosts": self.hosts}

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def counts(self) -> dict[str, dict[str, int]]:
        table = {}
        for target, host in self.hosts.items():
            row = dict.fromkeys(outcomes.STATUSES, 0)
            for entry in host["requirements"].values():
                row[entry["status"]] += 1
            table[target] = row
        return table

    def should_failures(self) -> list[tuple[str, str, str]]:
        return [(t, i, e["message"]) for t, h in self.hosts.items() for i, e in h["requirements"].items()
                if e["level"] == "SHOULD" and e["status"] in (FAILED, BLOCKED, ERROR)]


def exit_status(results: Results, strict: bool, pytest_status: int) -> int:
    """The session's exit status, computed from the recorded outcomes.

    0  every MUST requirement passed (or was not applicable) on every target; SHOULD
       failures only warn, unless --strict.
    1  some MUST requirement failed, was blocked or errored on some target (also a
       SHOULD one under --strict), or a check errored on one target while others ran.
    2  interrupted; 3 internal error (pytest's own codes, passed through).
    4  nothing could run: bad input (options, catalogue, collection lint), nothing
       collected or selected (pytest's 5 becomes 4), or every target ended in error.
    """
    if pytest_status in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        return pytest_status
    if pytest_status == pytest.ExitCode.NO_TESTS_COLLECTED:
        return pytest.ExitCode.USAGE_ERROR
    if not results.hosts:
        return pytest_status
    statuses = {t: [e["status"] for e in h["requirements"].values()] for t, h in results.hosts.items()}
    if all(ERROR in s and not {PASSED, FAILED} & set(s) for s in statuses.values()):
        return pytest.ExitCode.USAGE_ERROR
    bad = (FAILED, BLOCKED, ERROR)
    for host in results.hosts.values():
        for entry in host["requirements"].values():
            if entry["status"] == ERROR or (entry["status"] in bad and (entry["level"] == "MUST" or strict)):
                return pytest.ExitCode.TESTS_FAILED
    if results.other_failures:
        return pytest.ExitCode.TESTS_FAILED
    return pytest.ExitCode.OK


def summary(terminal, results: Results, run_dir: Path | None, strict: bool, status: int) -> None:
    """A compact per-target count table, SHOULD warnings and where the reports are."""
    terminal.section("conformance summary")
    table = results.counts()
    width = max([len("target"), *map(len, table)])
    terminal.write_line(f"{'target':<{width}}  " + "  ".join(outcomes.STATUSES))
    for target, row in table.items():
        terminal.write_line(f"{target:<{width}}  " + "  ".join(f"{row[s]:>{len(s)}}" for s in outcomes.STATUSES))
    for target, req_id, message in results.should_failures():
        verdict = "fails the run (--strict)" if strict else "warning"
        terminal.write_line(f"SHOULD {req_id} on {target}: {message} [{verdict}]", yellow=True)
    if run_dir is not None:
        terminal.write_line(f"reports: {run_dir}/ (report.html, junit.xml, results.json); exit status {int(status)}")


def html_header(cells: list[str]) -> None:
    for offset, (key, title) in enumerate(COLUMNS):
        cells.insert(2 + offset, f'<th class="sortable" data-column-type="{key}">{title}</th>')


def html_row(report, cells: list[str]) -> None:
    data = getattr(report, "conformance", None) or {}
    for offset, (key, _) in enumerate(COLUMNS):
        cells.insert(2 + offset, f'<td class="col-{key}">{html.escape(str(data.get(key, "")))}</td>')

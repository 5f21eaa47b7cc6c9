"""The run's results: aggregation per target and requirement, results.json, terminal summary and the exit status."""
from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conformance import outcomes
from conformance.masking import redact, redact_lines
from conformance.outcomes import BLOCKED, ERROR, FAILED, NOT_APPLICABLE, PASSED
from conformance.targets import display_name

SCHEMA = 1
SCHEMA_PATH = Path(__file__).parent / "schema" / "results.schema.json"
TOOLS = ("docker-host-conformance", "pytest", "pytest-html", "pytest-metadata", "pytest-xdist", "pytest-testinfra",
         "docker", "paramiko")
EXIT_MEANINGS = {
    0: "conforms: every MUST requirement passed or was not applicable on every target",
    1: "does not conform: a MUST requirement (or a SHOULD one under --strict-should) failed, was blocked or errored",
    2: "interrupted",
    3: "suite error: pytest or a plugin crashed (INTERNALERROR)",
    4: "could not run: bad input, nothing selected, or no target reachable",
}
VERDICTS = {"conforms": PASSED, "does not conform": FAILED, "could not be checked": ERROR}
WIDTH = 100  # columns of the terminal summary


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


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TOOLS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def host_verdict(entries: dict[str, dict], strict: bool) -> str:
    """'conforms', 'does not conform' or 'could not be checked' for one target's requirement entries."""
    statuses = {e["status"] for e in entries.values()}
    if ERROR in statuses and not {PASSED, FAILED} & statuses:
        return "could not be checked"
    bad = (FAILED, BLOCKED, ERROR)
    if any(e["status"] == ERROR or (e["status"] in bad and (e["level"] == "MUST" or strict)) for e in entries.values()):
        return "does not conform"
    return "conforms"


class Results:
    """Outcomes per (target, requirement), aggregated from the reports (also those xdist workers send)."""

    def __init__(self, run_id: str, started: datetime.datetime):
        self.run_id = run_id
        self.started = started
        self.finished: datetime.datetime | None = None
        self.exit_status: int | None = None
        self.strict = False
        self.hosts: dict[str, dict[str, Any]] = {}  # target id (spec) -> name, facts, requirements
        self.rows: dict[tuple[str, str], str] = {}  # (target, id) -> test id of the HTML row that speaks for it
        self.other_failures = 0  # failed items outside suites/ (self-tests)
        self.catalogue: dict | None = None  # catalogue.fingerprint of the catalogue the run used
        self._pending: dict[str, list[pytest.TestReport]] = {}
        self._facts_read: dict[str, dict] = {}  # target id -> the facts last redacted into hosts, as reported

    def add(self, report: pytest.TestReport) -> tuple[str, str, str, str] | None:
        """Take one phase report; after the teardown report return (target, id, status, message)."""
        data = getattr(report, "conformance", None)
        if data is None:
            if report.failed:
                self.other_failures += 1
            return None
        key = f"{report.nodeid}@{getattr(report, 'node', '')}"
        self._pending.setdefault(key, []).append(report)
        host = self.host(data["target"], data.get("name"))
        if data.get("facts") and data["facts"] != self._facts_read.get(data["target"]):  # most teardowns: the same
            self._facts_read[data["target"]] = data["facts"]
            host["facts"] = redact(data["facts"])
        if report.when != "teardown":
            return None
        reports = self._pending.pop(key)
        status, message, named = outcomes.classify(reports)
        message = redact(message)
        for phase in reports:  # the HTML row hook runs after this and shows the item's outcome
            phase.conformance.update(status=status, message=message)
        evidence = [e for r in reports for e in (getattr(r, "conformance", {}).get("evidence") or [])]
        if status != PASSED and (not evidence or status in (BLOCKED, NOT_APPLICABLE, ERROR)):
            reason = message if named else f"{status}: {message}"
            evidence.append({"kind": "note", "text": reason})  # the reason is the evidence
        row = report.nodeid if any(r.when == "call" for r in reports) else f"{report.nodeid}::setup"
        self._record(data, status, message, redact(evidence), report.nodeid, row)
        return data["target"], data["requirement"], status, message

    def host(self, target: str, name: str | None = None) -> dict[str, Any]:
        """The target's entry; name is its display name (targets.display_names), given by the report data."""
        return self.hosts.setdefault(target, {"name": name or display_name(target), "facts": {}, "requirements": {}})

    def name(self, target: str) -> str:
        return self.host(target)["name"]

    def _record(self, data: dict, status: str, message: str, evidence: list, nodeid: str, row: str) -> None:
        entries = self.host(data["target"])["requirements"]
        entry = entries.get(data["requirement"])
        if entry is None:
            entries[data["requirement"]] = {
                "status": status, "level": data["level"], "section": data["section"], "claim": data.get("claim", ""),
                "description": data.get("description", ""), "message": message, "evidence": evidence,
                "checks": [nodeid]}
            if data.get("by_construction"):
                entries[data["requirement"]]["by_construction"] = data["by_construction"]
            self.rows[(data["target"], data["requirement"])] = row
            return
        entry["evidence"] += evidence
        entry["checks"].append(nodeid)
        if outcomes.worst(entry["status"], status) != entry["status"]:
            entry["status"], entry["message"] = status, message
            self.rows[(data["target"], data["requirement"])] = row

    def as_json(self) -> dict[str, Any]:
        hosts = {}
        for target, host in self.hosts.items():
            hosts[redact(target)] = {**host, "counts": self.counts()[target],
                                     "verdict": host_verdict(host["requirements"], self.strict)}
        data = {"schema": SCHEMA, "run_id": self.run_id, "started": _when(self.started),
                "finished": _when(self.finished), "exit_status": _exit(self.exit_status),
                "strict_should": self.strict, "tools": tool_versions(), "hosts": hosts}
        if self.catalogue is not None:
            data["catalogue"] = self.catalogue
        return redact(data)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def counts(self) -> dict[str, dict[str, int]]:
        return {target: _count(host["requirements"].values()) for target, host in self.hosts.items()}

    def section_counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """target -> seed section -> status -> count."""
        table: dict[str, dict[str, dict[str, int]]] = {}
        for target, host in self.hosts.items():
            sections: dict[str, list[dict]] = {}
            for entry in host["requirements"].values():
                sections.setdefault(entry["section"], []).append(entry)
            table[target] = {s: _count(sections[s]) for s in sorted(sections, key=_section_key)}
        return table

    def should_failures(self) -> list[tuple[str, str, str]]:
        return [(t, i, e["message"]) for t, h in self.hosts.items() for i, e in h["requirements"].items()
                if e["level"] == "SHOULD" and e["status"] in (FAILED, BLOCKED, ERROR)]


def _count(entries) -> dict[str, int]:
    row = dict.fromkeys(outcomes.STATUSES, 0)
    for entry in entries:
        row[entry["status"]] += 1
    return row


def _section_key(section: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in section.split("."))


def _when(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _exit(code: int | None) -> dict[str, Any] | None:
    if code is None:
        return None
    return {"code": int(code), "meaning": EXIT_MEANINGS.get(int(code), "pytest exit status")}


def mask_report(report: pytest.TestReport) -> None:
    """Mask credentials in a report's failure text, captured output and properties (terminal, JUnit, HTML log)."""
    longrepr = report.longrepr
    if isinstance(longrepr, str):
        report.longrepr = redact(longrepr)
    elif isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, lineno, reason)
        report.longrepr = (longrepr[0], longrepr[1], redact(longrepr[2]))
    elif longrepr is not None:
        chain = getattr(longrepr, "chain", None) or [(getattr(longrepr, "reprtraceback", None),
                                                      getattr(longrepr, "reprcrash", None), None)]
        for traceback, crash, _ in chain:
            if crash is not None:
                crash.message = redact(crash.message)
            for entry in getattr(traceback, "reprentries", None) or []:
                entry.lines = redact_lines(list(entry.lines))
                if getattr(entry, "reprlocals", None) is not None:
                    entry.reprlocals.lines = redact_lines(list(entry.reprlocals.lines))
                if getattr(entry, "reprfuncargs", None) is not None:
                    entry.reprfuncargs.args = [(n, redact(v)) for n, v in entry.reprfuncargs.args]
                if getattr(entry, "reprfileloc", None) is not None:
                    entry.reprfileloc.message = redact(entry.reprfileloc.message)
        if hasattr(longrepr, "sections"):
            longrepr.sections = [(n, redact(c), sep) for n, c, sep in longrepr.sections]
    report.sections = [(h, redact(c)) for h, c in report.sections]
    report.user_properties = [(k, redact(v) if isinstance(v, str) else v) for k, v in report.user_properties]


def exit_status(results: Results, strict: bool, pytest_status: int) -> int:
    """The session's exit status, computed from the recorded outcomes (README: Exit status).

    0  every MUST requirement passed (or was not applicable) on every target; SHOULD
       failures only warn, unless --strict-should.
    1  some MUST requirement failed, was blocked or errored on some target (also a
       SHOULD one under --strict-should), or a check errored on one target while others ran.
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
    verdicts = {t: host_verdict(h["requirements"], strict) for t, h in results.hosts.items()}
    if all(v == "could not be checked" for v in verdicts.values()):
        return pytest.ExitCode.USAGE_ERROR
    if any(v != "conforms" for v in verdicts.values()) or results.other_failures:
        return pytest.ExitCode.TESTS_FAILED
    return pytest.ExitCode.OK


def say(terminal):
    """write_line of the terminal reporter for lines that hold what targets said: redacted (credentials masked,
    control characters visible), so no target can move the cursor, clear a line or print a fake verdict."""
    def write(line: str, **markup) -> None:
        terminal.write_line(redact(line), **markup)
    return write


def summary(terminal, results: Results, run_dir: Path | None, strict: bool, status: int, signed: bool = False) -> None:
    """A compact per-target, per-section count table, SHOULD warnings and where the reports are, in WIDTH columns
    (a line naming the run folder is as long as its path needs)."""
    terminal.section("conformance summary")
    write = say(terminal)
    table = results.section_counts()
    heads = ("passed", "failed", "blocked", "n/a", "error")
    counts_width = len("  " + "  ".join(heads))
    width = min(max([len("target"), *(len(redact(results.name(t))) for t in table)]),
                WIDTH - len(f"  {'section':<7}") - counts_width - len("  could not be checked"))
    write(f"{'target':<{width}}  {'section':<7}  " + "  ".join(heads) + "  verdict")
    for target, sections in table.items():
        name = redact(results.name(target))
        if len(name) > width:  # a long name gets a line of its own rather than widening the table
            write(name if len(name) <= WIDTH else name[:WIDTH - 1] + "…")
            name = ""
        total = results.counts()[target]
        verdict = host_verdict(results.hosts[target]["requirements"], strict)
        for n, (section, row) in enumerate([*sections.items(), ("all", total)]):
            cells = "  ".join(f"{row[s]:>{len(h)}}" for s, h in zip(outcomes.STATUSES, heads))
            last = n == len(sections)
            line = f"{name if n == 0 else '':<{width}}  {section:<7}  {cells}" + (f"  {verdict}" if last else "")
            colour = {"green": verdict == "conforms", "red": verdict != "conforms"} if last else {}
            write(line, **colour)
    for target, req_id, message in results.should_failures():
        verdict = "fails the run (--strict-should)" if strict else "warning"
        name = results.name(target)
        write_wrapped(terminal, f"SHOULD {req_id} on {name}: {message.removeprefix(name + ': ')} [{verdict}]",
                      yellow=True)
    if run_dir is not None:
        write(f"reports: {run_dir}/")
        write("  report.html, results.json, junit.xml, evidence/, MANIFEST.sha256"
              f"{', MANIFEST.sha256.sig' if signed else ''}; exit status {int(status)}")
        write(f"verify the bundle later with: conformance-lab verify-report {run_dir}"
              + (" --allowed-signers FILE" if signed else ""))
    write_wrapped(terminal, f"exit status {int(status)}: {EXIT_MEANINGS.get(int(status), 'pytest exit status')}")


def write_wrapped(terminal, text: str, **markup) -> None:
    """text, redacted, in lines of at most WIDTH columns (a word is cut only where it is wider than that)."""
    for line in textwrap.wrap(redact(text), WIDTH, subsequent_indent="  ", break_on_hyphens=False):
        terminal.write_line(line, **markup)

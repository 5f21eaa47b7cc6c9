"""The proof matrix: expected verdicts per lab variant (fixtures/verdicts.toml) against what the suite reported.

Every catalogue id gets exactly one expected status per target: failed or blocked when verdicts.toml says so,
not-applicable when the catalogue or the profile data make it so (computed here, never listed), else passed.
"""
from __future__ import annotations

import dataclasses
import datetime
import html
import json
import tomllib
from pathlib import Path

from conformance import catalogue as catalogues
from conformance.lab import paths, variants
from conformance.lab.progress import LabError
from conformance.outcomes import BLOCKED, ERROR, FAILED, NOT_APPLICABLE, PASSED, BlockedByState
from conformance.profiles import NAMES as profile_names, profiles

REPO = paths.FIXTURES.parents[1]
VERDICTS = REPO / "fixtures" / "verdicts.toml"
# blocked by the target's state (outcomes.blocked_by_state: "blocked by state: ..."), not by a dependency
BLOCKED_BY_STATE = "blocked-by-state"
TARGET_KEYS = {"profile", "fail", "error", "blocked", "blocked_by_state", "policy", "spec", "after"}


@dataclasses.dataclass(frozen=True)
class Case:
    """One column of the proof: a lab variant (started for the run) or a fixed target such as local://."""
    name: str
    profile: str
    fail: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()
    spec: str = ""            # fixed targets only
    policy: dict = dataclasses.field(default_factory=dict)  # fixed targets only; variants use variants.toml
    after: dict = dataclasses.field(default_factory=dict)   # variants only: unit -> `systemctl is-active` after the run
    blocked_by_state: tuple[str, ...] = ()  # ids blocked because the observation they need cannot be made there
    error: tuple[str, ...] = ()  # ids that must end as error: the suite cannot observe them there (issue #12)
    matrix: str = "proof"  # "engines": the slow engine x store matrix (verdicts.toml [engines.*], tox -e engines)

    @property
    def red(self) -> tuple[str, ...]:
        """The ids whose dependents are blocked: failed and error alike (outcomes.BLOCKING)."""
        return self.fail + self.error

    @property
    def is_variant(self) -> bool:
        return not self.spec


def catalogue():
    return catalogues.load(catalogues.installed_path())


def load(path: Path | None = None) -> tuple[dict, list[Case]]:
    """(profile table, cases) from verdicts.toml, validated against the catalogue and variants.toml."""
    path = path or VERDICTS
    data = tomllib.loads(path.read_text())
    known_ids = set(catalogue().ids())
    known_variants = variants.load()
    profile_table = data.get("profiles", {})
    unknown = [p for p in profile_table if p not in profile_names]
    if unknown:
        raise LabError(f"{path}: [profiles] names {', '.join(unknown)}: a profile is one of {', '.join(profile_names)} "
                       "(conformance/profiles.toml)")
    state = data.get("state", {})
    bad = [i for i in state if i not in known_ids]
    if bad:
        raise LabError(f"{path}: state names unknown id(s) {', '.join(bad)}")
    cases = []
    for group in ("variants", "targets", "engines"):
        for name, table in data.get(group, {}).items():
            where = f"{path}: {group}.{name}"
            unknown = set(table) - TARGET_KEYS
            if unknown:
                raise LabError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
            if group != "targets" and name not in known_variants:
                raise LabError(f"{where}: no such variant in {paths.recipe(variants.FILE)}")
            if group != "targets" and ("spec" in table or "policy" in table):
                raise LabError(f"{where}: a variant's policy lives in {paths.recipe(variants.FILE)}")
            if group == "targets" and "after" in table:
                raise LabError(f"{where}: `after` is read inside a lab host: variants only")
            if group == "targets" and not table.get("spec"):
                raise LabError(f"{where}: needs spec")
            if table.get("profile") not in profile_table:
                raise LabError(f"{where}: profile must be one of {', '.join(profile_table)}")
            for key in ("fail", "error", "blocked", "blocked_by_state"):
                bad = [i for i in table.get(key, []) if i not in known_ids]
                if bad:
                    raise LabError(f"{where}: {key} names unknown id(s) {', '.join(bad)}")
            lists = {key: set(table.get(key, [])) for key in ("fail", "error", "blocked", "blocked_by_state")}
            twice = {i for a in lists for b in lists if a < b for i in lists[a] & lists[b]}
            if twice:
                raise LabError(f"{where}: {', '.join(sorted(twice))} in more than one of fail, error, blocked and "
                               "blocked_by_state")
            not_state = [i for i in lists["blocked_by_state"] if i not in state]
            if not_state:
                raise LabError(f"{where}: blocked_by_state names id(s) the [state] table does not list: "
                               f"{', '.join(not_state)}")
            cases.append(Case(name, table["profile"], tuple(table.get("fail", ())), tuple(table.get("blocked", ())),
                              table.get("spec", ""), table.get("policy", {}), table.get("after", {}),
                              tuple(table.get("blocked_by_state", ())), tuple(table.get("error", ())),
                              "engines" if group == "engines" else "proof"))
    return profile_table, cases


def state_images(path: Path | None = None) -> dict[str, str]:
    """verdicts.toml [state]: id -> the image that must be absent before the run for the id to observe a pull."""
    return tomllib.loads((path or VERDICTS).read_text()).get("state", {})


def untold_here() -> tuple[str, ...]:
    """The ids the suite cannot tell on this machine (local://), read from what it is, never listed: service.enabled
    where /sbin/init is systemd but PID 1 is not (a container, a microVM, WSL2 without systemd: not booted by
    /sbin/init, so nothing says what starts docker at its boot)."""
    systemd_is_init = Path("/sbin/init").resolve().name == "systemd"
    return ("service.enabled",) if systemd_is_init and Path("/proc/1/comm").read_text().strip() != "systemd" else ()


def observed(status: str, message: str) -> str:
    """The status the matrix compares: blocked by the target's state is told apart from blocked by a dependency."""
    return BLOCKED_BY_STATE if status == BLOCKED and BlockedByState.said_in(message) else status


def applicable(req, profile: str, engine_package: str, profile_data: dict) -> bool:
    """Whether a requirement applies to a host of `profile` whose engine package is `engine_package`."""
    if req.profile not in ("any", profile):
        return False
    if req.id == "install.repo":  # profiles.toml <profile>.repo.needed_for: the repo matters only for those engines
        needed_for = profile_data.get(profile, {}).get("repo", {}).get("needed_for", [])
        return not needed_for or engine_package in needed_for
    return True


def expected(case: Case, profile_table: dict, cat=None, profile_data=None) -> dict[str, str]:
    """Every catalogue id -> the status the suite must report for this case."""
    cat = cat or catalogue()
    profile_data = profile_data if profile_data is not None else profiles()
    engine_package = profile_table[case.profile]["engine_package"]
    out = {}
    for req in cat:
        if req.id in case.fail:
            out[req.id] = FAILED
        elif req.id in case.error:
            out[req.id] = ERROR
        elif req.id in case.blocked:
            out[req.id] = BLOCKED
        elif req.id in case.blocked_by_state:
            out[req.id] = BLOCKED_BY_STATE
        elif not applicable(req, case.profile, engine_package, profile_data):
            out[req.id] = NOT_APPLICABLE
        else:
            out[req.id] = PASSED
    return out


def dependents(cat, failing) -> list[str]:
    """Ids transitively depending on any of `failing` (what the plugin reports blocked), in catalogue order."""
    red = set(failing)
    out = []
    for req in cat:  # depends always names earlier ids
        if req.id not in red and red & set(req.depends):
            red.add(req.id)
            out.append(req.id)
    return out


def suite_options(case: Case, values: dict) -> list[str]:
    if case.is_variant:
        return variants.get(case.name).suite_options(values)
    return [f"{variants.POLICY_OPTIONS[k][0]}={v}" for k, v in case.policy.items()]


@dataclasses.dataclass
class Outcome:
    """What one case produced: the suite's statuses and messages, and what else went wrong (problem: the suite could
    not be run, its run left something behind on the host, a unit is not as expected after it)."""
    case: Case
    spec: str = ""
    got: dict = dataclasses.field(default_factory=dict)        # id -> status
    messages: dict = dataclasses.field(default_factory=dict)   # id -> one-line message
    problem: str = ""
    run_dir: str = ""
    seconds: float = 0.0


def differences(outcome: Outcome, want: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(id, expected, got, message) for every id whose status is not the expected one."""
    return [(i, status, outcome.got.get(i, "missing"), outcome.messages.get(i, ""))
            for i, status in want.items() if outcome.got.get(i, "missing") != status]


def explain(outcome: Outcome, want: dict[str, str]) -> str:
    """One readable block: the variant, then each requirement with expected and got."""
    head = f"variant {outcome.case.name}" + (f" ({outcome.spec})" if outcome.spec else "")
    if outcome.problem:
        return f"{head}: {outcome.problem}"
    diffs = differences(outcome, want)
    lines = [f"{head}: {len(diffs)} verdict(s) differ from {VERDICTS.relative_to(REPO)}"]
    width = max((len(d[0]) for d in diffs), default=0)
    for req_id, exp, got, message in diffs:
        lines.append(f"  {req_id:<{width}}  expected {exp:<14} got {got:<14} {message[:240]}")
    if outcome.run_dir:
        lines.append(f"  suite report: {outcome.run_dir}/ (report.html, results.json)")
    return "\n".join(lines)


def write_matrix(outcomes: list[Outcome], wants: dict[str, dict[str, str]], folder: Path, wall_s: float,
                 workers: int) -> tuple[Path, Path]:
    """reports/proof-matrix.json and .html: cases x ids, each cell expected vs got."""
    ids = catalogue().ids()
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for o in outcomes:
        want = wants[o.case.name]
        cells = {i: {"expected": want[i], "got": o.got.get(i, "missing"), "message": o.messages.get(i, "")}
                 for i in ids}
        rows.append({"case": o.case.name, "spec": o.spec, "profile": o.case.profile, "seconds": round(o.seconds, 1),
                     "problem": o.problem, "run_dir": o.run_dir, "ok": not o.problem and not differences(o, want),
                     "cells": cells})
    data = {"generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "wall_time_s": round(wall_s, 1), "workers": workers, "ids": ids, "rows": rows,
            "mismatches": sum(1 for r in rows for c in r["cells"].values() if c["expected"] != c["got"])}
    json_path, html_path = folder / "proof-matrix.json", folder / "proof-matrix.html"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    html_path.write_text(render_html(data), encoding="utf-8")
    return json_path, html_path


SHORT = {PASSED: "pass", FAILED: "FAIL", BLOCKED: "blk", BLOCKED_BY_STATE: "blk:state", NOT_APPLICABLE: "n/a", "error": "ERR", "missing": "—"}


def render_html(data: dict) -> str:
    e = html.escape
    head = "".join(f'<th class="id"><div>{e(i)}</div></th>' for i in data["ids"])
    body = []
    for row in data["rows"]:
        cells = []
        for i in data["ids"]:
            c = row["cells"][i]
            match = c["expected"] == c["got"]
            text = SHORT.get(c["got"], c["got"]) if match else f'{SHORT.get(c["expected"], c["expected"])}≠{SHORT.get(c["got"], c["got"])}'
            title = f'{i}: expected {c["expected"]}, got {c["got"]}' + (f' — {c["message"]}' if c["message"] else "")
            cls = ("ok " if match else "bad ") + c["got"]
            cells.append(f'<td class="{e(cls)}" title="{e(title)}">{e(text)}</td>')
        verdict = "ok" if row["ok"] else (row["problem"] or "MISMATCH")
        body.append(f'<tr><th class="case" title="{e(row["spec"])}">{e(row["case"])}<br><small>{e(row["profile"])}, '
                    f'{row["seconds"]} s, {e(verdict)}</small></th>{"".join(cells)}</tr>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Proof matrix</title>
<style>
body{{font:13px sans-serif}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:2px 4px;text-align:center}}
th.id{{height:150px;white-space:nowrap;vertical-align:bottom}} th.id div{{writing-mode:vertical-rl;transform:rotate(180deg)}}
th.case{{text-align:left;white-space:nowrap}} td.ok.passed{{background:#e6f4e6}} td.ok.failed{{background:#f7c6c6;font-weight:bold}}
td.ok.blocked,td.ok.blocked-by-state{{background:#fbe3b5}} td.ok.not-applicable{{background:#eee;color:#777}} td.bad{{background:#c00;color:#fff;font-weight:bold}}
</style></head><body>
<h1>Proof matrix: every lab variant against fixtures/verdicts.toml</h1>
<p>Generated {e(data["generated"])}; wall time {data["wall_time_s"]} s with {data["workers"]} host(s) at a time;
{data["mismatches"]} cell(s) differ from the expectation. A cell shows the verdict the suite reported; a red cell shows
expected≠got. Hover a cell for the suite's message.</p>
<table><thead><tr><th>target</th>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""

"""conformance-merge: join the run folders of --shard jobs into one fleet bundle (results, JUnit, report, manifest)."""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import secrets
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance import bundle, config as configs, merge_html, report as reports
from conformance.masking import redact

VERSION_TOOL = "docker-host-conformance"
REFUSED = 4  # the exit status of a merge that was refused: bad input, as for a run


class Refused(Exception):
    """The folders cannot be joined: one line saying which and why."""


@dataclasses.dataclass(frozen=True)
class Shard:
    """One run folder, verified against its manifest, and its results.json."""
    folder: Path
    results: dict

    @property
    def version(self) -> str:
        return self.results.get("tools", {}).get(VERSION_TOOL, "unknown")

    @property
    def catalogue(self) -> str | None:
        return (self.results.get("catalogue") or {}).get("sha256")


def load(folder: str) -> Shard:
    path = Path(folder)
    if not path.is_dir():
        raise Refused(f"{folder}: not a folder")
    problems = bundle.verify(path)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise Refused(f"{folder}: fails its manifest check: {problems[0]}{more} "
                      f"(conformance-lab verify-report {folder} lists them)")
    try:
        results = json.loads((path / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise Refused(f"{folder}: cannot read results.json: {getattr(e, 'strerror', None) or e}") from None
    if not isinstance(results, dict) or results.get("schema") != reports.SCHEMA or not isinstance(results.get("hosts"), dict):
        raise Refused(f"{folder}: results.json is not schema {reports.SCHEMA} with hosts")
    if "catalogue" not in results:
        raise Refused(f"{folder}: results.json names no catalogue (written by a suite before conformance-merge); "
                      "run the shards again with this version")
    return Shard(path, results)


def _same(shards: list[Shard], what: str, value) -> None:
    found: dict = {}
    for shard in shards:
        found.setdefault(value(shard), []).append(str(shard.folder))
    if len(found) > 1:
        raise Refused(f"different {what}: " + "; ".join(f"{v}: {', '.join(f)}" for v, f in found.items()))


def check(shards: list[Shard]) -> None:
    """One suite version, one catalogue, one --strict-should, each host in one folder only."""
    _same(shards, f"suite versions ({VERSION_TOOL})", lambda s: s.version)
    _same(shards, "catalogues (sha256 of requirements.toml's content)", lambda s: s.catalogue)
    _same(shards, "--strict-should settings", lambda s: bool(s.results.get("strict_should")))
    for key, what in ((lambda spec, host: spec, "target"), (lambda spec, host: host.get("name"), "host name")):
        seen: dict[str, Path] = {}
        for shard in shards:
            for spec, host in shard.results["hosts"].items():
                if key(spec, host) in seen:
                    raise Refused(f"duplicate {what} {key(spec, host)!r}: in {seen[key(spec, host)]} and {shard.folder}")
                seen[key(spec, host)] = shard.folder


def _when(text: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(text) if text else None


def combine(shards: list[Shard]) -> reports.Results:
    """One Results over every shard's hosts, in the order the folders were given."""
    starts = [t for t in (_when(s.results.get("started")) for s in shards) if t]
    ends = [t for t in (_when(s.results.get("finished")) for s in shards) if t]
    merged = reports.Results(secrets.token_hex(4), min(starts) if starts else reports.utc_now())
    merged.finished = max(ends) if len(ends) == len(shards) else None
    merged.strict = bool(shards[0].results.get("strict_should"))
    merged.catalogue = shards[0].results["catalogue"]
    for shard in shards:
        for spec, host in shard.results["hosts"].items():
            merged.hosts[spec] = {k: v for k, v in host.items() if k not in ("counts", "verdict")}
            for req_id, entry in host["requirements"].items():
                merged.rows[(spec, req_id)] = (entry.get("checks") or [f"{spec} {req_id}"])[0]
    merged.exit_status = exit_status(merged, [s.results.get("exit_status") or {} for s in shards])
    return merged


def exit_status(merged: reports.Results, shard_statuses: list[dict]) -> int:
    """As one run over every host would end: interrupted or crashed if a shard was; else from the hosts' outcomes,
    and 1 where a shard did not conform for a reason beyond them (a leak audit, a report it could not write)."""
    codes = [int(s.get("code", 3)) for s in shard_statuses]
    for code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.INTERRUPTED):
        if code in codes:
            return int(code)
    status = int(reports.exit_status(merged, merged.strict, pytest.ExitCode.OK))
    audits = [c.get("status") for h in merged.hosts.values() for c in (h.get("run_checks") or {}).values()]
    if status == 0 and (any(codes) or {"failed", "error"} & set(audits)):
        return int(pytest.ExitCode.TESTS_FAILED)
    return status


def write_results(out: Path, merged: reports.Results, shards: list[Shard]) -> None:
    data = merged.as_json()
    data["tools"] = shards[0].results["tools"]  # the shards' versions, not the merging machine's
    data["merged_from"] = [{"folder": s.folder.resolve().name, "run_id": s.results.get("run_id"),
                            "started": s.results.get("started"), "finished": s.results.get("finished"),
                            "exit_status": s.results.get("exit_status"), "tools": s.results.get("tools")}
                           for s in shards]
    (out / "results.json").write_text(json.dumps(redact(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_junit(out: Path, shards: list[Shard]) -> None:
    """Every shard's <testsuite> under one <testsuites>, each named by its run folder."""
    root = ET.Element("testsuites")
    for shard in shards:
        path = shard.folder / "junit.xml"
        if not path.is_file():
            continue
        try:
            found = ET.parse(path).getroot()
        except ET.ParseError as e:
            raise Refused(f"{shard.folder}: junit.xml is not XML: {e}") from None
        for suite in ([found] if found.tag == "testsuite" else found.iter("testsuite")):
            suite.set("name", f"{suite.get('name', 'pytest')} ({shard.folder.resolve().name})")
            root.append(suite)
    ET.ElementTree(root).write(out / "junit.xml", encoding="utf-8", xml_declaration=True)


def merge(folders: list[str], out: str, sign_key: str | None = None) -> reports.Results:
    """Check the folders, then write the fleet bundle into out (a new or empty folder); Refused says why not."""
    if len(set(Path(f).resolve() for f in folders)) != len(folders):
        raise Refused("a folder is given twice")
    shards = [load(f) for f in folders]
    check(shards)
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise Refused(f"--out {out}: exists and is not an empty folder")
    merged = combine(shards)
    target.mkdir(parents=True, exist_ok=True)
    write_results(target, merged, shards)
    bundle.write_evidence(target, merged)
    write_junit(target, shards)
    merge_html.write(target / "report.html", merged, merged.catalogue["ids"], merged.exit_status)
    bundle.write_manifest(target)
    if sign_key:
        bundle.sign(target, sign_key)
    return merged


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="conformance-merge",
        description="Join the run folders of --shard jobs into one fleet bundle: results.json, junit.xml, report.html "
                    "with the fleet grid, evidence/, MANIFEST.sha256 (and its signature with --sign-key). Refuses "
                    "folders from different suite versions or catalogues, a host in two folders, and a folder that "
                    "fails its manifest check. Exit status: the merged run's (0 conforms, 1 does not, ...), 4 refused.")
    parser.add_argument("folders", nargs="+", metavar="DIR", help="Run folders, e.g. shard-1/latest shard-2/latest")
    parser.add_argument("--out", required=True, metavar="DIR", help="The bundle's folder (new or empty)")
    parser.add_argument("--sign-key", metavar="KEY",
                        help="Sign MANIFEST.sha256 with this SSH key (as the suite's --sign-key)")
    args = parser.parse_args(argv)
    if args.sign_key:
        try:
            args.sign_key = configs.BY_NAME["sign-key"].parse(args.sign_key)
        except ValueError as e:
            parser.error(f"--sign-key: {e}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        merged = merge(args.folders, args.out, args.sign_key)
    except Refused as e:
        print(redact(f"conformance-merge: refused: {e}"), file=sys.stderr)
        return REFUSED
    except (OSError, bundle.SigningError) as e:
        print(redact(f"conformance-merge: could not write {args.out}: {getattr(e, 'strerror', None) or e}"),
              file=sys.stderr)
        return 1
    code = int(merged.exit_status)
    print(redact(f"conformance-merge: {len(merged.hosts)} host(s) from {len(args.folders)} folder(s) in {args.out}; "
                 f"exit status {code}: {reports.EXIT_MEANINGS.get(code, 'pytest exit status')}"))
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The audit bundle of a run folder: evidence/ files, MANIFEST.sha256 over every file, and its verification."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from conformance.evidence import redact, render
from conformance.report import Results
from conformance.targets import path_safe

MANIFEST = "MANIFEST.sha256"
EVIDENCE = "evidence"


def evidence_path(name: str, req_id: str) -> str:
    """Path of one check's evidence file, relative to the run folder (the HTML row links to it), by the target's
    display name (targets.display_names: unique in the run also in this form)."""
    return f"{EVIDENCE}/{path_safe(name)}/{req_id}.txt"


def evidence_text(target: str, name: str, req_id: str, entry: dict) -> str:
    head = [f"requirement: {req_id} ({entry['level']}, seed section {entry['section']})",
            f"claim:       {entry.get('claim', '')}", f"description: {entry.get('description', '')}",
            f"host:        {name}" + (f" ({target})" if target != name else ""), f"status:      {entry['status']}",
            f"message:     {entry['message'] or '-'}",
            f"checks:      {', '.join(entry.get('checks', []))}"]
    if entry.get("by_construction"):
        head.append(f"by construction: {entry['by_construction']}")
    return redact("\n".join(head) + "\n\n" + render(entry["evidence"]) + "\n")


def write_evidence(run_dir: Path, results: Results) -> None:
    """One text file per requirement and target under evidence/."""
    for target, host in results.hosts.items():
        for req_id, entry in host["requirements"].items():
            path = run_dir / evidence_path(host["name"], req_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(evidence_text(redact(target), host["name"], req_id, entry), encoding="utf-8")


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(run_dir: Path) -> list[str]:
    return sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
                  if (p.is_file() or p.is_symlink()) and p.name != MANIFEST)


def write_manifest(run_dir: Path) -> Path:
    """MANIFEST.sha256 in `sha256sum` format over every other file of the run folder."""
    lines = [f"{_digest(run_dir / name)}  {name}\n" for name in _files(run_dir)]
    path = run_dir / MANIFEST
    tmp = run_dir / f".{MANIFEST}.tmp"
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(path)
    return path


def verify(run_dir: Path) -> list[str]:
    """Every file that changed, is missing or is extra compared with the manifest; empty when the bundle is intact."""
    manifest = run_dir / MANIFEST
    try:
        text = manifest.read_text(encoding="utf-8")
    except OSError as e:
        return [f"{manifest}: cannot read the manifest: {e.strerror or e}"]
    listed: dict[str, str] = {}
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest) or not name:
            problems.append(f"{MANIFEST} line {n}: not `<sha256>  <file>`")
            continue
        listed[name] = digest
    for name, digest in listed.items():
        path = run_dir / name
        if not path.is_file():
            problems.append(f"missing: {name}")
        elif _digest(path) != digest:
            problems.append(f"changed: {name}")
    problems += [f"extra: {name}" for name in _files(run_dir) if name not in listed]
    return problems


def verify_command(folder: str) -> int:
    """conformance-lab verify-report: print the problems; 0 when intact, 1 when not."""
    run_dir = Path(folder)
    if not run_dir.is_dir():
        print(f"verify-report: {folder} is not a folder")
        return 2
    problems = verify(run_dir)
    for problem in problems:
        print(f"verify-report: {run_dir}: {problem}")
    if not problems:
        print(f"verify-report: {run_dir}: intact ({len(_files(run_dir))} files match {MANIFEST})")
    return 1 if problems else 0

"""The audit bundle of a run folder: evidence/ files, MANIFEST.sha256 over every file, and its verification."""
from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
from pathlib import Path

from conformance.evidence import redact, render
from conformance.report import Results
from conformance.targets import path_safe

MANIFEST = "MANIFEST.sha256"
SIGNATURE = MANIFEST + ".sig"
UNLISTED = (MANIFEST, SIGNATURE)  # the manifest does not list itself nor its signature
EVIDENCE = "evidence"
NAMESPACE = "docker-host-conformance"  # ssh-keygen -Y namespace of the signature: it signs nothing else
SSH_KEYGEN_TIMEOUT = 120  # seconds; signing may wait for the key's passphrase


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
    # Masked apart: the body is the text the check's JUnit property masked already (masking.shown's cache), and
    # the head ends with this suite's own lines, so no credential can run from one into the other.
    return redact("\n".join(head)) + "\n\n" + redact(render(entry["evidence"])) + "\n"


def write_evidence(run_dir: Path, results: Results) -> None:
    """One text file per requirement and target under evidence/."""
    for target, host in results.hosts.items():
        for req_id, entry in host["requirements"].items():
            path = run_dir / evidence_path(host["name"], req_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(evidence_text(redact(target), host["name"], req_id, entry), encoding="utf-8")


def _digest(path: Path) -> str:
    """sha256 of a regular file inside the bundle; never follows a symlink (O_NOFOLLOW) nor reads a FIFO or device."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{path}: not a regular file")
        h = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _walk(run_dir: Path) -> tuple[list[str], list[str]]:
    """(regular files, anything else: symlinks, FIFOs, devices) under run_dir, never following a symlink."""
    files, others = [], []
    for folder, dirs, names in os.walk(run_dir, followlinks=False):
        here = Path(folder)
        for name in [*names, *(d for d in dirs if (here / d).is_symlink())]:
            rel = (here / name).relative_to(run_dir).as_posix()
            mode = os.lstat(here / name).st_mode
            if rel in UNLISTED:
                continue
            (files if stat.S_ISREG(mode) else others).append(rel)
    return sorted(files), sorted(others)


def _files(run_dir: Path) -> list[str]:
    return _walk(run_dir)[0]


def write_manifest(run_dir: Path) -> Path:
    """MANIFEST.sha256 in `sha256sum` format over every other regular file of the run folder (a symlink is not
    followed and not listed; verify() refuses it)."""
    lines = [f"{_digest(run_dir / name)}  {name}\n" for name in _files(run_dir)]
    path = run_dir / MANIFEST
    tmp = run_dir / f".{MANIFEST}.tmp"
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(path)
    return path


def _refused(run_dir: Path, name: str) -> str | None:
    """Why a manifest name is not read: absolute, outside the folder, not a plain relative path, or a symlink
    on the way. None for a name verify() may read."""
    parts = name.split("/")
    if name.startswith("/"):
        return "an absolute name"
    if ".." in parts:
        return "outside the bundle"
    if "" in parts or "." in parts or name.startswith("\\") or "\0" in name:
        return "not a plain relative name"
    for n in range(1, len(parts) + 1):
        if run_dir.joinpath(*parts[:n]).is_symlink():
            return "a symlink"
    return None


def verify(run_dir: Path) -> list[str]:
    """Every file that changed, is missing, is extra or may not be read, compared with the manifest; empty when
    the bundle is intact. Only names inside run_dir are read, never through a symlink."""
    run_dir = Path(run_dir)
    manifest = run_dir / MANIFEST
    if manifest.is_symlink():
        return [f"refused: {MANIFEST} is a symlink"]
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return [f"{manifest}: cannot read the manifest: {getattr(e, 'strerror', None) or e}"]
    listed: dict[str, str] = {}  # name -> sha256, for the names that may be read
    named: set[str] = set()
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest) or not name:
            problems.append(f"{MANIFEST} line {n}: not `<sha256>  <file>`")
            continue
        if name in named:
            problems.append(f"{MANIFEST} line {n}: {name} listed twice")
        elif (why := _refused(run_dir, name)) is not None:
            problems.append(f"refused: {name}: {why} (not read)")
        else:
            listed[name] = digest
        named.add(name)
    for name, digest in listed.items():
        try:
            mode = os.lstat(run_dir / name).st_mode
        except OSError:
            problems.append(f"missing: {name}")
            continue
        if not stat.S_ISREG(mode):
            problems.append(f"refused: {name}: not a regular file (not read)")
        elif _digest(run_dir / name) != digest:
            problems.append(f"changed: {name}")
    files, others = _walk(run_dir)
    problems += [f"extra: {name}" for name in files if name not in named]
    problems += [f"extra: {name} ({'a symlink' if (run_dir / name).is_symlink() else 'not a regular file'}; not read)"
                 for name in others if name not in named]
    return problems


class SigningError(Exception):
    """ssh-keygen could not sign or check a signature (missing, failed or timed out): one line saying why."""


def _ssh_keygen(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["ssh-keygen", *args], input=stdin if stdin is not None else b"", capture_output=True,
                              timeout=SSH_KEYGEN_TIMEOUT)
    except FileNotFoundError:
        raise SigningError("ssh-keygen not found (install openssh-client)") from None
    except subprocess.TimeoutExpired:
        raise SigningError(f"ssh-keygen {args[0]} {args[1]} did not end within {SSH_KEYGEN_TIMEOUT} s") from None


def _said(result: subprocess.CompletedProcess) -> str:
    """ssh-keygen's own reason: its last line on stderr, else on stdout."""
    for stream in (result.stderr, result.stdout):
        lines = [line.strip() for line in stream.decode(errors="replace").splitlines()
                 if line.strip() and not line.startswith(("Signing file", "Write signature"))]
        if lines:
            return lines[-1]
    return f"exit status {result.returncode}"


def sign(run_dir: Path, key: str) -> Path:
    """MANIFEST.sha256.sig: `ssh-keygen -Y sign -f KEY -n docker-host-conformance MANIFEST.sha256`."""
    signature = run_dir / SIGNATURE
    signature.unlink(missing_ok=True)  # ssh-keygen would ask before it overwrites one
    result = _ssh_keygen(["-Y", "sign", "-f", key, "-n", NAMESPACE, str(run_dir / MANIFEST)])
    if result.returncode != 0 or not signature.is_file():
        raise SigningError(f"ssh-keygen -Y sign -f {key}: {_said(result)}")
    return signature


def check_signature(run_dir: Path, allowed_signers: str, identity: str | None = None) -> tuple[bool, str]:
    """(good, what to say): MANIFEST.sha256.sig was made over this manifest, in this suite's namespace, by a key
    that allowed_signers lists for identity (without one: for a principal `ssh-keygen -Y find-principals` names)."""
    run_dir = Path(run_dir)
    signature = run_dir / SIGNATURE
    if signature.is_symlink() or (run_dir / MANIFEST).is_symlink():
        return False, f"refused: {SIGNATURE} or {MANIFEST} is a symlink (not read)"
    if not signature.is_file():
        return False, f"not signed: there is no {SIGNATURE}, so nothing shows who wrote {MANIFEST}"
    try:
        with os.fdopen(os.open(run_dir / MANIFEST, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
            manifest = f.read()
    except OSError as e:
        return False, f"{MANIFEST}: cannot read it: {e.strerror or e}"
    if identity:
        principals = [identity]
    else:
        found = _ssh_keygen(["-Y", "find-principals", "-s", str(signature), "-f", allowed_signers])
        principals = found.stdout.decode(errors="replace").split() if found.returncode == 0 else []
        if not principals:
            return False, f"signature not accepted: no principal in {allowed_signers} has its key ({_said(found)})"
    for principal in principals:
        result = _ssh_keygen(["-Y", "verify", "-f", allowed_signers, "-I", principal, "-n", NAMESPACE,
                              "-s", str(signature)], stdin=manifest)
        if result.returncode == 0:
            return True, f"signature good: {MANIFEST} signed by {principal} (a key in {allowed_signers})"
    reason = _said(result)
    hint = f" ({MANIFEST} or its signature changed since it was signed)" if "incorrect signature" in reason else ""
    return False, f"signature not accepted for {', '.join(principals)} in {allowed_signers}: {reason}{hint}"


def verify_command(folder: str, allowed_signers: str | None = None, identity: str | None = None) -> int:
    """conformance-lab verify-report: print the problems; 0 when intact (and, with allowed_signers, signed by an
    allowed key), 1 when not."""
    run_dir = Path(folder)
    if not run_dir.is_dir():
        print(f"verify-report: {folder} is not a folder")
        return 2
    if allowed_signers and not os.access(allowed_signers, os.R_OK):
        print(f"verify-report: --allowed-signers {allowed_signers}: cannot read it")
        return 2
    problems = verify(run_dir)
    said = ""
    if allowed_signers:
        try:
            good, said = check_signature(run_dir, allowed_signers, identity)
        except SigningError as e:
            good, said = False, f"signature not checked: {e}"
        if not good:
            problems.append(said)
    for problem in problems:
        print(f"verify-report: {run_dir}: {problem}")
    if problems:
        return 1
    if not allowed_signers:
        said = (f"signed ({SIGNATURE}), signature not checked: give --allowed-signers FILE"
                if (run_dir / SIGNATURE).exists() else
                "unsigned: this shows accidental change only, since whoever edits a file can rewrite the manifest "
                "to match (sign runs with --sign-key)")
    print(f"verify-report: {run_dir}: intact ({len(_files(run_dir))} files match {MANIFEST}); {said}")
    return 0

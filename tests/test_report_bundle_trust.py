"""What verify-report trusts: only names inside the bundle, never through a symlink; an unsigned manifest shows
accidental change only, a signed one (--sign-key, --allowed-signers) also a file edited with its manifest."""
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance import bundle
from report_project import bundle as bundle_of, run_in

pytestmark = pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="ssh-keygen missing (openssh-client)")


def verify(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["conformance-lab", "verify-report", str(folder), *args], capture_output=True, text=True,
                          timeout=60)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def made(root: Path) -> Path:
    """A small bundle: files in the run folder and in evidence/, and its manifest."""
    run_dir = root / "run"
    (run_dir / "evidence" / "local").mkdir(parents=True)
    (run_dir / "report.html").write_text("<p>does not conform</p>\n")
    (run_dir / "results.json").write_text('{"verdict": "does not conform"}\n')
    (run_dir / "evidence" / "local" / "service.running.txt").write_text("status: failed\n")
    bundle.write_manifest(run_dir)
    return run_dir


def key(root: Path, name: str) -> Path:
    path = root / f"{name}_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True)
    return path


def allowed(root: Path, *signers: tuple[str, Path]) -> Path:
    """An allowed_signers file (ssh-keygen(1)): each principal's public key, for this suite's namespace only."""
    path = root / "allowed_signers"
    path.write_text("".join(f'{who} namespaces="{bundle.NAMESPACE}" '
                            + " ".join(Path(f"{k}.pub").read_text().split()[:2]) + "\n" for who, k in signers))
    return path


def forged(run_dir: Path) -> None:
    """The edit no manifest alone can show: a verdict changed and the manifest written again to match."""
    (run_dir / "report.html").write_text("<p>conforms</p>\n")
    bundle.write_manifest(run_dir)


def test_names_outside_the_bundle_are_refused_and_not_read(tmp_path, monkeypatch):
    run_dir = made(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of the run\n")
    with open(run_dir / bundle.MANIFEST, "a") as manifest:
        manifest.write(f"{sha256(Path('/etc/hostname'))}  /etc/hostname\n"
                       f"{sha256(outside)}  ../outside.txt\n"
                       f"{'0' * 64}  evidence/../../outside.txt\n")
    read = []
    digest = bundle._digest
    monkeypatch.setattr(bundle, "_digest", lambda path: read.append(Path(path)) or digest(path))
    assert bundle.verify(run_dir) == ["refused: /etc/hostname: an absolute name (not read)",
                                      "refused: ../outside.txt: outside the bundle (not read)",
                                      "refused: evidence/../../outside.txt: outside the bundle (not read)"]
    assert read and all(run_dir in p.parents for p in read), read
    assert verify(run_dir).returncode == 1


def test_symlinks_are_refused_and_not_followed(tmp_path):
    run_dir = made(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(run_dir / "evidence", elsewhere)
    link = run_dir / "results.json"  # a listed file replaced by a link to a copy: same bytes, outside the bundle
    (tmp_path / "results.json").write_bytes(link.read_bytes())
    link.unlink()
    link.symlink_to(tmp_path / "results.json")
    shutil.rmtree(run_dir / "evidence")  # a listed folder replaced by a link to a copy
    (run_dir / "evidence").symlink_to(elsewhere)
    (run_dir / "notes.txt").symlink_to("/etc/hostname")  # an unlisted link
    proc = verify(run_dir)
    assert proc.returncode == 1
    assert set(proc.stdout.splitlines()) == {
        f"verify-report: {run_dir}: refused: evidence/local/service.running.txt: a symlink (not read)",
        f"verify-report: {run_dir}: refused: results.json: a symlink (not read)",
        f"verify-report: {run_dir}: extra: evidence (a symlink; not read)",
        f"verify-report: {run_dir}: extra: notes.txt (a symlink; not read)"}, proc.stdout
    bundle.write_manifest(run_dir)  # a manifest written now lists no link
    assert set((run_dir / bundle.MANIFEST).read_text().split()[1::2]) == {"report.html"}


def test_an_unsigned_manifest_says_it_shows_accidental_change_only(tmp_path):
    run_dir = made(tmp_path)
    forged(run_dir)
    proc = verify(run_dir)
    assert proc.returncode == 0 and "unsigned: this shows accidental change only" in proc.stdout, proc.stdout
    signers = allowed(tmp_path, ("alice", key(tmp_path, "alice")))
    refused = verify(run_dir, f"--allowed-signers={signers}")  # asked for a signature, there is none
    assert refused.returncode == 1 and "not signed: there is no MANIFEST.sha256.sig" in refused.stdout
    assert verify(run_dir, f"--allowed-signers={tmp_path / 'none'}").returncode == 2  # bad input, said so


def test_a_signed_bundle_shows_a_file_edited_with_its_manifest(tmp_path):
    run_dir = made(tmp_path)
    alice = key(tmp_path, "alice")
    signers = allowed(tmp_path, ("alice", alice))
    bundle.sign(run_dir, str(alice))
    good = verify(run_dir, f"--allowed-signers={signers}")
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"signature good: MANIFEST.sha256 signed by alice (a key in {signers})" in good.stdout
    assert verify(run_dir, f"--allowed-signers={signers}", "--identity=alice").returncode == 0
    assert "signature not checked: give --allowed-signers FILE" in verify(run_dir).stdout

    forged(run_dir)
    assert verify(run_dir).returncode == 0  # the files match the rewritten manifest
    bad = verify(run_dir, f"--allowed-signers={signers}")
    assert bad.returncode == 1 and "signature not accepted for alice" in bad.stdout, bad.stdout


def test_a_signature_by_a_key_not_allowed_is_rejected(tmp_path):
    run_dir = made(tmp_path)
    alice, mallory = key(tmp_path, "alice"), key(tmp_path, "mallory")
    signers = allowed(tmp_path, ("alice", alice))
    forged(run_dir)
    bundle.sign(run_dir, str(mallory))  # the forger signs the rewritten manifest with a key of their own
    anyone = verify(run_dir, f"--allowed-signers={signers}")
    assert anyone.returncode == 1 and "signature not accepted: no principal in" in anyone.stdout, anyone.stdout
    as_alice = verify(run_dir, f"--allowed-signers={signers}", "--identity=alice")
    assert as_alice.returncode == 1 and "signature not accepted for alice" in as_alice.stdout, as_alice.stdout


def test_a_run_signs_its_bundle_with_sign_key(tmp_path):
    alice = key(tmp_path, "alice")
    proc = run_in(tmp_path, f"--sign-key={alice}", fail="service")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = bundle_of(tmp_path)
    assert (run_dir / bundle.SIGNATURE).is_file() and bundle.verify(run_dir) == []
    assert f"conformance-lab verify-report {run_dir} --allowed-signers FILE" in proc.stdout.replace("\n", " ")
    good = verify(run_dir, f"--allowed-signers={allowed(tmp_path, ('alice', alice))}")
    assert good.returncode == 0 and "signed by alice" in good.stdout, good.stdout



def test_a_missing_sign_key_is_a_usage_error(tmp_path):
    proc = run_in(tmp_path, f"--sign-key={tmp_path / 'nokey'}")
    assert proc.returncode == 4 and "no readable key file" in proc.stderr, proc.stderr
    assert not (tmp_path / "reports").exists()  # refused before any check ran
